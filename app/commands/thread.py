"""`wabox thread ID`: one thread and its messages, for scripts (--json) or people."""

from __future__ import annotations

import argparse
import asyncio
import time

from app.commands._common import CommandError, config_from, open_store
from app.commands.output import message_json, message_text, print_json, session_text, table, thread_json, when
from core.store.reads import get_thread, message_count, thread_messages
from core.text import printable


async def _thread(args: argparse.Namespace) -> int:
    store = await open_store(config_from(args))
    try:
        thread = await get_thread(store, args.id)
        if thread is None:
            raise CommandError(f"no thread {args.id}", 1)
        messages = await thread_messages(store, args.id, limit=max(1, await message_count(store, args.id)))
    finally:
        await store.close()
    if args.json:
        print_json({**thread_json(thread), "messages": [message_json(m) for m in messages]})
        return 0
    now = time.time()
    print(printable(f"{thread.contact_name}  {thread.e164 or thread.wa_id or ''}  "
                    f"(thread {thread.status.value} · session {session_text(thread, now)})"))
    print(table(["TIME", "DIR", "TYPE", "STATUS", "TEXT"],
                [[when(m.timestamp), m.direction.value, m.raw_type if m.type.value == "unsupported" else m.type.value,
                  (m.status.value if m.status else "") + (f" {m.error_code}" if m.error_code else ""),
                  message_text(m)] for m in messages], widths={4: 100}))
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_thread(args))
