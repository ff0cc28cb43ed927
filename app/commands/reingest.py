"""`wabox reingest`: every webhook body answered 200 but not ingested whole, ingested again now.

`wabox serve` retries them by itself with backoff; this is for right after an upgrade that fixes what stopped them.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from app.commands._common import REFUSED, config_from, open_store
from core import raw_events
from core.text import one_line


async def _reingest(args: argparse.Namespace) -> int:
    config = config_from(args)
    store = await open_store(config)
    try:
        result, done, still = await raw_events.reingest_pending(
            store, {c.phone_number_id for c in config.channels}, now=time.time(), due_only=False)
        backlog = await raw_events.backlog(store)
    finally:
        await store.close()
    print(f"{done} webhook bod{'y' if done == 1 else 'ies'} ingested ({result.new_messages} new messages, "
          f"{result.statuses} statuses); {still} still pending")
    if still:
        print(f"last error: {one_line(backlog.last_error or '-', 500)}")
        return REFUSED
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_reingest(args))
