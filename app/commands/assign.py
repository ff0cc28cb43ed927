"""`wabox assign THREAD_ID (AGENT | team:NAME | --none)`: as an agent would, with names checked and recorded."""

from __future__ import annotations

import argparse
import time

from app.commands._common import REFUSED, CommandError, agent_name
from app.commands._team import with_store
from core import assignment


def run(args: argparse.Namespace) -> int:
    if args.none == (args.target is not None):
        raise CommandError("give an agent, team:NAME, or --none (one of them)")

    async def job(store) -> int:
        if await store.scalar("SELECT 1 FROM thread WHERE id = ?", (args.thread_id,)) is None:
            raise CommandError(f"no thread {args.thread_id}", REFUSED)
        await assignment.assign(store, [args.thread_id], "" if args.none else args.target, by=agent_name(args),
                                now=int(time.time()))
        row = await store.fetchone("SELECT owner, team FROM thread WHERE id = ?", (args.thread_id,))
        print(f"thread {args.thread_id}: owner {row['owner'] or '(none)'}, team {row['team'] or '(none)'}")
        return 0

    return with_store(args, job)


def add_parser(command, _shared) -> None:
    p = command("assign", "assign a thread to an agent, a team (team:NAME) or nobody (--none)")
    p.add_argument("thread_id", type=int, metavar="THREAD_ID", help="the thread id (see `wabox threads`)")
    p.add_argument("target", nargs="?", metavar="AGENT|team:NAME",
                   help="a known agent, or team:NAME (the team's least loaded available member takes it)")
    p.add_argument("--none", action="store_true", help="unassign")
