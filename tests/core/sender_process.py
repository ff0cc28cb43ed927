"""A sender in its own process, so a test can SIGKILL it mid-send:
`python -m tests.core.sender_process DB SIM_URL OWNER RATE`."""

from __future__ import annotations

import asyncio
import sys

import httpx

from core.cloudapi import CloudApi
from core.outbox import Backoff, Sender
from core.store import Store
from tests.core.sim_helpers import TOKEN

FAST = Backoff(base=0.05, cap=0.2, pair_wait=0.1, in_doubt_wait=0.3, max_attempts=10)


async def main(db: str, sim_url: str, owner: str, rate: str) -> None:
    store = await Store.open(db)
    async with httpx.AsyncClient(timeout=0.4) as http:
        api = CloudApi(http, token=TOKEN, base_url=f"{sim_url}/v23.0", media_hosts=(httpx.URL(sim_url).netloc.decode(),))
        print("ready", flush=True)
        await Sender(store, api, owner=owner, lease_seconds=1.0, rate_per_second=float(rate), backoff=FAST).run(idle=0.01)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
