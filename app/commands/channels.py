"""`wabox channels`: each connected number's health, for people or (--json) scripts."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time

from app.commands._common import config_from, open_store
from app.commands.output import print_json, table, when
from core import raw_events
from core.channels import channel_health
from core.text import one_line


async def _channels(args: argparse.Namespace) -> int:
    store = await open_store(config_from(args))
    try:
        found = await channel_health(store, now=time.time())
        backlog = await raw_events.backlog(store)
    finally:
        await store.close()
    if args.json:
        print_json([dataclasses.asdict(h) for h in found])
        return 0
    if backlog.pending:  # answered 200 to Meta, not in the inbox yet: serve retries them, or `wabox reingest`
        print(f"webhooks not yet in the inbox: {backlog.pending} (oldest {when(backlog.oldest_at)}; last error: "
              f"{one_line(backlog.last_error or '-', 200)}); `wabox reingest` tries them now")
    if not found:
        print("no connected numbers (run `wabox connect --waba-id W --phone-number-id P`)")
        return 0
    print(table(["PHONE NUMBER ID", "NAME", "NUMBER", "QUALITY", "TIER", "TOKEN", "LAST WEBHOOK", "BACKLOG",
                 "FAILED 24H", "LAST ERROR"],
                [[h.phone_number_id, h.name, h.display_phone_number, h.quality_rating or "-",
                  h.messaging_limit_tier or "-", h.token, when(h.last_webhook_at), str(h.backlog), str(h.failed_24h),
                  _error(h.recent_errors[0]) if h.recent_errors else "-"] for h in found],
                widths={1: 24, 9: 60}))
    return 0


def _error(error: dict) -> str:
    return f"{when(error['at'])} ({error['code']}) {error['message'] or error['title'] or ''}"


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_channels(args))
