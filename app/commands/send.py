"""`wabox send`: queue a message through the same rules as the inbox; print its outbox id; optionally wait."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from app.commands._common import CommandError, agent_name, config_from, fail
from core import sending
from core.sending import ReplyRefused, SendingLimits
from core.store import Store
from core.templates import find_template
from core.text import printable

REFUSED = 1


async def _send(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.template and not args.lang:
        raise CommandError("--template needs --lang (the template's language code, e.g. pl_PL)")
    if args.param and not args.template:
        raise CommandError("--param goes with --template")
    if args.caption and not args.file:
        raise CommandError("--caption goes with --file")
    store = await Store.open(config.db)
    try:
        now = time.time()
        limits = SendingLimits(monthly_quota=config.monthly_quota)
        agent = agent_name(args)
        thread_id = await sending.thread_for_number(store, args.from_, args.to, now=now)
        if args.text is not None:
            message_id = await sending.queue_text(store, thread_id, args.text, agent=agent, now=now, config=limits)
        elif args.template:
            waba = await store.scalar("SELECT waba_id FROM channel WHERE phone_number_id = ?", (args.from_,))
            template = await find_template(store, args.template, args.lang, waba_id=waba)
            if template is None:
                raise ReplyRefused(f"No template {args.template!r} in {args.lang} for this number "
                                   "(see `wabox templates`, or sync with `wabox templates --sync`).")
            message_id = await sending.queue_template(store, thread_id, template, list(args.param), agent=agent,
                                                      now=now, config=limits)
        else:
            message_id = await sending.queue_media(store, thread_id, Path(args.file), caption=args.caption,
                                                   agent=agent, now=now, config=limits)
        outbox_id = await store.scalar("SELECT id FROM outbox WHERE message_id = ?", (message_id,))
        print(outbox_id, flush=True)
        if not args.wait:
            return 0
        return await _wait(store, message_id)
    finally:
        await store.close()


async def _wait(store: Store, message_id: int, poll: float = 0.2) -> int:
    """Until `wabox serve`'s sender has it accepted by Meta (sent) or it failed."""
    while True:
        row = await store.fetchone("SELECT o.state, o.wamid, m.status, coalesce(m.error_code, o.error_code) AS code,"
                                   " coalesce(m.error_title, o.error_title) AS title,"
                                   " coalesce(m.error_details, o.error_details) AS details"
                                   " FROM outbox o JOIN message m ON m.id = o.message_id WHERE o.message_id = ?",
                                   (message_id,))
        if row is None:
            raise CommandError("the message disappeared from the outbox")
        if row["state"] == "failed" or row["status"] == "failed":
            detail = f": {row['details']}" if row["details"] else ""
            print(printable(f"failed ({row['code']}) {row['title']}{detail}"), flush=True)
            return 1
        if row["state"] == "sent":
            print(printable(f"sent {row['wamid']}"), flush=True)
            return 0
        await asyncio.sleep(poll)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_send(args))
    except ReplyRefused as refused:
        return fail(f"refused: {refused.reason}", REFUSED)
    except CommandError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return 130
