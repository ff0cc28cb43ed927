"""`wabox teams add|members|list`: teams and who is in them (auto-assignment picks among a team's members)."""

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
            await agents.add_team(store, args.name, now=now)
            print(f"added team {args.name}")
        elif args.action == "members":
            await agents.set_members(store, args.name, add=args.add, remove=args.remove, now=now)
            await assignment.drain(store, now=now)  # a new member may take what waits
            team = next(t for t in await agents.list_teams(store) if t.name == args.name)
            print(f"{team.name}: {', '.join(team.members) or '(no members)'}")
        else:
            found = await agents.list_teams(store)
            if args.json:
                print_json([{"name": t.name, "members": list(t.members)} for t in found])
            else:
                print(table(["TEAM", "MEMBERS"], [[t.name, ", ".join(t.members)] for t in found]))
        return 0

    return with_store(args, job)


def add_parser(command, shared) -> None:
    p = command("teams", "teams: add, members, list")
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("add", parents=[shared], help="add a team").add_argument("name", help="letters, digits, . _ -")
    members = sub.add_parser("members", parents=[shared], help="add or remove members")
    members.add_argument("name", help="the team")
    members.add_argument("--add", nargs="+", default=[], metavar="AGENT", help="agents to add")
    members.add_argument("--remove", nargs="+", default=[], metavar="AGENT", help="agents to remove")
    listing = sub.add_parser("list", parents=[shared], help="list teams and their members")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
