"""`wabox threads`: the threads of a view, for scripts (--json) or people."""

from __future__ import annotations

import argparse
import asyncio
import time

from app.commands._common import CommandError, agent_name, config_from, open_store
from app.commands.output import print_json, session_text, table, thread_json, when
from core.store.reads import list_threads
from core.views import BUILTIN_BY_KEY, search_problem


async def _threads(args: argparse.Namespace) -> int:
    if args.search and search_problem(args.search):
        raise CommandError(search_problem(args.search))
    store = await open_store(config_from(args))
    try:
        found = await list_threads(store, BUILTIN_BY_KEY[args.view], agent=agent_name(args), search=args.search,
                                   limit=args.limit)
    finally:
        await store.close()
    if args.json:
        print_json([thread_json(t) for t in found])
        return 0
    now = time.time()
    print(table(["ID", "CONTACT", "NUMBER", "STATUS", "SESSION", "UNREAD", "OWNER", "LAST", "PREVIEW"],
                [[str(t.id), t.contact_name, t.e164 or t.wa_id or t.user_id or "", t.status.value,
                  session_text(t, now), str(t.unread or ""), t.owner or "", when(t.last_message_at), t.preview]
                 for t in found],
                widths={1: 24, 8: 50}))
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_threads(args))
