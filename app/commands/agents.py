"""`wabox agents add|list|set|disable`: the agents who may sign in, their availability and capacity."""

from __future__ import annotations

import argparse
import time

from app.commands._team import with_store
from app.commands.output import print_json, table
from core import agents, assignment


def run(args: argparse.Namespace) -> int:
    now = int(time.time())

    async def job(store) -> int:
        if args.action == "add":
            await agents.add_agent(store, args.name, capacity=args.capacity, display_name=args.display_name, now=now)
            print(f"added agent {args.name} (available, capacity {args.capacity})")
        elif args.action == "set":
            if args.status is None and args.capacity is None:
                raise agents.TeamError("say what to set: --status available|away|offline and/or --capacity N")
            if args.status is not None:
                await agents.set_status(store, args.name, args.status, now=now)
            if args.capacity is not None:
                await agents.set_capacity(store, args.name, args.capacity, now=now)
            await assignment.drain(store, now=now)  # someone came back, or has room: the team queue moves
            print(f"{args.name}: " + ", ".join(p for p in (args.status, args.capacity is not None
                                                           and f"capacity {args.capacity}") if p))
        elif args.action == "disable":
            returned = await agents.disable_agent(store, args.name, now=now)
            await assignment.drain(store, now=now)
            print(f"disabled {args.name}; {returned} open thread(s) back to their team's queue")
        else:
            found = await agents.list_agents(store)
            if args.json:
                print_json([{"name": a.name, "display_name": a.display_name, "status": a.status,
                             "capacity": a.capacity, "disabled": a.disabled, "teams": list(a.teams),
                             "open_threads": a.open_threads} for a in found])
            else:
                print(table(["NAME", "STATUS", "OPEN", "CAPACITY", "TEAMS"],
                            [[a.name, "disabled" if a.disabled else a.status, str(a.open_threads), str(a.capacity),
                              ", ".join(a.teams)] for a in found]))
        return 0

    return with_store(args, job)


def add_parser(command, shared) -> None:
    p = command("agents", "agents: add, list, set availability, disable")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", parents=[shared], help="add an agent (starts available)")
    add.add_argument("name", help="letters, digits, . _ -")
    add.add_argument("--capacity", type=int, default=agents.DEFAULT_CAPACITY,
                     help="open threads auto-assignment gives them at most (default: %(default)s)")
    add.add_argument("--display-name", help="the name shown to other agents")
    listing = sub.add_parser("list", parents=[shared],
                             help="list agents with their status and open threads")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    change = sub.add_parser("set", parents=[shared], help="set an agent's availability or capacity")
    change.add_argument("name", help="the agent")
    change.add_argument("--status", choices=agents.STATUSES, help="availability (only available agents get threads)")
    change.add_argument("--capacity", type=int, help="open threads auto-assignment gives them at most")
    off = sub.add_parser("disable", parents=[shared],
                         help="disable an agent; their open threads go back to their team's queue")
    off.add_argument("name", help="the agent")
