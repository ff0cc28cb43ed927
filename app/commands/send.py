"""`wabox send`: queue a message through the same rules as the inbox; print its outbox id; optionally wait."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from app.commands._common import REFUSED, CommandError, agent_name, config_from, open_store
from core import sending
from core.sending import ReplyRefused, SendingLimits
from core.records.properties import PropertyError
from core.records.service import Records
from core.store import Store
from core.templates import find_template
from core.text import printable

TIMED_OUT = 3
NOBODY_SENDING_AFTER = 5.0  # seconds still queued before we say that no `wabox serve` seems to be sending


async def _send(args: argparse.Namespace) -> int:
    config = config_from(args)
    if args.template and not args.lang:
        raise CommandError("--template needs --lang (the template's language code, e.g. pl_PL)")
    if args.param and not args.template:
        raise CommandError("--param goes with --template")
    if args.caption and not args.file:
        raise CommandError("--caption goes with --file")
    if args.timeout <= 0:
        raise CommandError("--timeout must be more than 0 seconds")
    store = await open_store(config)
    try:
        try:
            message_id = await _queue(store, args, SendingLimits(monthly_quota=config.monthly_quota))
        except ReplyRefused as refused:
            raise CommandError(f"refused: {refused.reason}", REFUSED) from None
        outbox_id = await store.scalar("SELECT id FROM outbox WHERE message_id = ?", (message_id,))
        print(outbox_id, flush=True)
        if not args.wait:
            return 0
        return await wait_for_outcome(store, message_id, timeout=args.timeout)
    finally:
        await store.close()


async def _queue(store: Store, args: argparse.Namespace, limits: SendingLimits) -> int:
    now = time.time()
    agent = agent_name(args)
    if args.to_contact is not None:
        try:
            started = await Records(store).start_conversation(args.to_contact, args.from_, record_id=None, now=now)
        except PropertyError as error:
            raise ReplyRefused(str(error)) from None
        thread_id = started.thread_id
    else:
        thread_id = await sending.thread_for_number(store, args.from_, args.to, now=now)
    if args.text is not None:
        return await sending.queue_text(store, thread_id, args.text, agent=agent, now=now, config=limits)
    if args.template:
        waba = await store.scalar("SELECT waba_id FROM channel WHERE phone_number_id = ?", (args.from_,))
        template = await find_template(store, args.template, args.lang, waba_id=waba)
        if template is None:
            raise ReplyRefused(f"No template {args.template!r} in {args.lang} for this number "
                               "(see `wabox templates`, or sync with `wabox templates --sync`).")
        consent = None if args.force else await Records(store).consent_problem(thread_id, now)
        if consent:
            raise ReplyRefused(f"{consent} (record it with `wabox contacts` import/edit, or send with --force).")
        return await sending.queue_template(store, thread_id, template, list(args.param), agent=agent, now=now,
                                            config=limits)
    return await sending.queue_media(store, thread_id, Path(args.file), caption=args.caption, agent=agent, now=now,
                                     config=limits)


async def wait_for_outcome(store: Store, message_id: int, *, timeout: float, poll: float = 0.2,
                           clock: Callable[[], float] = time.monotonic,
                           sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> int:
    """Until `wabox serve`'s sender has it accepted by Meta (0) or it failed (1), or `timeout` passes (3).

    Says once on stderr what it waits for, and again if nothing has picked the message up for a few seconds."""
    started = clock()
    print(f"waiting up to {timeout:g} s for `wabox serve` to send it …", file=sys.stderr, flush=True)
    hinted = False
    while True:
        row = await store.fetchone("SELECT o.state, o.attempts, o.wamid, m.status,"
                                   " coalesce(m.error_code, o.error_code) AS code,"
                                   " coalesce(m.error_title, o.error_title) AS title,"
                                   " coalesce(m.error_details, o.error_details) AS details"
                                   " FROM outbox o JOIN message m ON m.id = o.message_id WHERE o.message_id = ?",
                                   (message_id,))
        if row is None:
            raise CommandError("the message disappeared from the outbox", REFUSED)
        if row["state"] == "failed" or row["status"] == "failed":
            detail = f": {row['details']}" if row["details"] else ""
            print(printable(f"failed ({row['code']}) {row['title']}{detail}"), flush=True)
            return REFUSED
        if row["state"] == "sent":
            print(printable(f"sent {row['wamid']}"), flush=True)
            return 0
        waited = clock() - started
        if not hinted and row["state"] == "queued" and not row["attempts"] and waited >= NOBODY_SENDING_AFTER:
            print("still queued: is `wabox serve` running on this database?", file=sys.stderr, flush=True)
            hinted = True
        if waited >= timeout:
            raise CommandError(f"not sent after {timeout:g} s (outbox state: {row['state']}); it stays queued and "
                               "`wabox serve` sends it when it runs", TIMED_OUT)
        await sleep(poll)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_send(args))
