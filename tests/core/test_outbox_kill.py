"""Senders SIGKILLed mid-send while the simulator injects faults (20% 500, 10% 429, 5% hangs past the client
timeout, 2% permanent 400): every row ends sent once or failed with the API's error; none lost, none stuck;
duplicates only where flagged ambiguous; each customer's messages leave in the order they were queued."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from collections import defaultdict

import httpx
import pytest

from core import sending
from core.cloudapi import CloudApi
from core.outbox import Sender
from core.store import Store
from tests.core.sender_process import FAST
from tests.core.sim_helpers import NUMBER_A, TOKEN, running_loop

CUSTOMERS, ROUNDS = 20, 4


async def wait_for(predicate, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_sigkilled_senders_under_faults_lose_nothing_duplicate_nothing_unflagged_keep_order(tmp_path, db_target):
    rng = random.Random(11)
    async with running_loop(tmp_path, db=db_target, timeout=0.4) as loop:
        await loop.http.post(f"{loop.sim_url}/_sim/customers", json={"enabled": False})
        store = await Store.open(loop.db)
        try:
            now = loop.world.clock()
            threads = []
            for n in range(CUSTOMERS):
                wa_id = f"4869{n:07d}"
                await loop.http.post(f"{loop.sim_url}/_sim/window",
                                     json={"phone_number_id": NUMBER_A, "wa_id": wa_id, "at": now})
                thread = await sending.thread_for_number(store, NUMBER_A, "+" + wa_id, now=now)
                await store.write(lambda db, t=thread: db.execute("UPDATE thread SET last_inbound_at = ? WHERE id = ?",
                                                                  (int(now), t)))
                threads.append(thread)
            for round_ in range(ROUNDS):
                for thread in threads:
                    await sending.queue_text(store, thread, f"odpowiedź {round_}", agent="kasia", now=now)
            await loop.http.post(f"{loop.sim_url}/_sim/faults", json={
                "rates": {"500": 0.2, "429": 0.1, "hang": 0.05, "400": 0.02}, "hang_seconds": 1.0})

            kills = 0
            for n in range(3):
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "tests.core.sender_process", str(loop.db), loop.sim_url, f"proc-{n}", "40",
                    stdout=asyncio.subprocess.PIPE)
                assert (await asyncio.wait_for(process.stdout.readline(), 20)).strip() == b"ready"
                await asyncio.sleep(rng.uniform(0.4, 0.8))
                if process.returncode is None:
                    process.send_signal(signal.SIGKILL)
                    kills += 1
                await process.wait()
            async with httpx.AsyncClient(timeout=0.4) as http:
                api = CloudApi(http, token=TOKEN, base_url=loop.graph_url,
                               media_hosts=(httpx.URL(loop.sim_url).netloc.decode(),))
                survivor = asyncio.create_task(Sender(store, api, owner="survivor", lease_seconds=1.0,
                                                      rate_per_second=500, backoff=FAST).run(idle=0.01))
                try:
                    await wait_for(lambda: store.scalar(
                        "SELECT count(*) = 0 FROM outbox WHERE state IN ('queued', 'sending')"), timeout=45)
                finally:
                    survivor.cancel()
                    await asyncio.gather(survivor, return_exceptions=True)

            rows = [dict(r) for r in await store.fetchall("SELECT * FROM outbox ORDER BY id")]
            print(f"\n{len(rows)} rows, {kills} SIGKILLs: {sum(r['state'] == 'sent' for r in rows)} sent, "
                  f"{sum(r['state'] == 'failed' for r in rows)} failed, {sum(r['ambiguous'] for r in rows)} ambiguous, "
                  f"{len(await loop.outbound())} sends seen by the simulator")
            assert kills == 3 and len(rows) == CUSTOMERS * ROUNDS
            assert {r["state"] for r in rows} <= {"sent", "failed"}                  # none lost, none stuck
            sends, order = defaultdict(list), defaultdict(list)
            for item in await loop.outbound():
                outbox_id = int(item["body"]["biz_opaque_callback_data"].split(":")[1])
                sends[outbox_id].append(item["wamid"])
                if outbox_id not in order[item["to"]]:
                    order[item["to"]].append(outbox_id)
            for r in rows:
                if r["state"] == "sent":
                    assert r["wamid"] and (len(sends[r["id"]]) == 1 or r["ambiguous"]), r  # dupes only flagged
                else:
                    assert r["error_code"] not in (None, -1) and r["error_title"], r    # the API's own error
            for recipient, ids in order.items():
                assert ids == sorted(ids), recipient                                   # per-customer order
            failed_messages = await store.scalar("SELECT count(*) FROM message WHERE status = 'failed'"
                                                 " AND error_code IS NOT NULL")
            assert failed_messages >= sum(r["state"] == "failed" for r in rows)
        finally:
            await store.close()
