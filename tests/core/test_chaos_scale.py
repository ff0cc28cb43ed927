"""Chaos with several hosts on one database (issue 11): two `wabox serve` receivers behind a round-robin "proxy",
each SIGKILLed mid-load, a shuffled storm with 20% duplicates; then two senders on one number against a faulty
simulator, one SIGKILLed. Nothing lost or duplicated, every status the furthest, no row sent twice unless flagged
in doubt, and the number's rate kept at the simulator. Runs on the backend the suite runs on (db_target)."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
import time
from collections import defaultdict

import httpx
import pytest

from core import sending
from core.store import Store
from tests.core.receiver_process import ReceiverProcess, free_port, write_config
from tests.core.sim_helpers import NUMBER_A, running_loop
from tests.core.test_chaos import CHANNEL, build_load, post_until_accepted

pytestmark = pytest.mark.slow
RATE = 20  # sends a second on one number, for both senders together


async def test_two_receivers_killed_in_turn_lose_and_duplicate_nothing(tmp_path, db_target):
    rng = random.Random(2027)
    config = write_config(tmp_path, {CHANNEL: "48221234567"}, db=db_target)
    store = await Store.open(db_target)
    outbound = []

    def sent_earlier(conn):
        for n in range(100):
            wa_id = f"4860{n:07d}"
            thread = conn.execute("INSERT INTO thread(channel, wa_id, created_at) VALUES (?,?,0)",
                                  (CHANNEL, wa_id)).lastrowid
            wamid = f"wamid.OUT-{n}"
            message = conn.execute(
                "INSERT INTO message(thread_id, channel, wamid, direction, type, text, timestamp, status)"
                " VALUES (?,?,?, 'out', 'text', 'odp', 1795519000, 'queued')", (thread, CHANNEL, wamid)).lastrowid
            outbound.append((message, wamid, wa_id))
    await store.write(sent_earlier)
    await store.close()

    bodies, inbound_ids, expected = build_load(rng, customers=200, per_customer=6, outbound=outbound)
    raws = [json.dumps(b).encode() for b in bodies]
    load = raws + rng.sample(raws, len(raws) // 5)
    rng.shuffle(load)
    receivers = [ReceiverProcess(config, free_port(), tmp_path / f"serve{n}.log") for n in range(2)]
    for receiver in receivers:
        receiver.start()
    stats = {"accepted": 0, "refused": 0, "errors": 0}
    kills = [0, 0]

    async def killer():
        for n in range(4):
            await asyncio.sleep(rng.uniform(0.3, 0.7))
            victim = receivers[n % 2]
            victim.kill()
            kills[n % 2] += 1
            await asyncio.sleep(0.1)
            await asyncio.to_thread(victim.start)

    async def proxy():
        queue = list(load)
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=16)) as http:
            async def worker(n: int):
                while queue:  # like a proxy in front of two hosts: each POST to either
                    receiver = receivers[(n + len(queue)) % 2]
                    await post_until_accepted(http, receiver.url + "/webhook", queue.pop(), stats)
            await asyncio.gather(*(worker(n) for n in range(16)))

    chaos = asyncio.create_task(killer())
    await proxy()
    await chaos
    for receiver in receivers:
        receiver.stop()
    print(f"\n{len(load)} POSTs to two receivers; SIGKILLs {kills}; retries: {stats['refused']} refused, "
          f"{stats['errors']} connection errors")
    assert kills == [2, 2] and stats["errors"] > 0

    store = await Store.open(db_target)
    try:
        stored = [r[0] for r in await store.fetchall("SELECT wamid FROM message WHERE direction = 'in'")]
        assert set(stored) == inbound_ids and len(stored) == len(inbound_ids)      # 0 lost, 0 duplicated
        assert await store.scalar("SELECT count(*) FROM thread") == 200             # one per customer
        finals = {r["wamid"]: r["status"] for r in await store.fetchall(
            "SELECT wamid, status FROM message WHERE direction = 'out'")}
        assert finals == expected                                                   # the furthest status
        assert await store.scalar("SELECT sum(unread) FROM thread") == len(inbound_ids)
    finally:
        await store.close()


async def test_two_senders_on_one_number_keep_its_rate_and_send_each_row_once(tmp_path, db_target):
    rng = random.Random(12)
    async with running_loop(tmp_path, timeout=0.4, db=db_target) as loop:
        await loop.http.post(f"{loop.sim_url}/_sim/customers", json={"enabled": False})
        store = await Store.open(loop.db)
        try:
            now = loop.world.clock()
            for n in range(30):
                wa_id = f"4870{n:07d}"
                await loop.http.post(f"{loop.sim_url}/_sim/window",
                                     json={"phone_number_id": NUMBER_A, "wa_id": wa_id, "at": now})
                thread = await sending.thread_for_number(store, NUMBER_A, "+" + wa_id, now=now)
                await store.write(lambda db, t=thread: db.execute(
                    "UPDATE thread SET last_inbound_at = ? WHERE id = ?", (int(now), t)))
                for round_ in range(4):
                    await sending.queue_text(store, thread, f"odpowiedź {round_}", agent="kasia", now=now)
            await loop.http.post(f"{loop.sim_url}/_sim/faults", json={
                "rates": {"500": 0.1, "429": 0.05, "400": 0.02}, "hang_seconds": 1.0})

            async def start(name: str):
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "tests.core.sender_process", str(loop.db), loop.sim_url, name, str(RATE),
                    stdout=asyncio.subprocess.PIPE)
                assert (await asyncio.wait_for(process.stdout.readline(), 20)).strip() == b"ready"
                return process

            senders = [await start("host-1"), await start("host-2")]
            await asyncio.sleep(rng.uniform(1.0, 2.0))
            senders[0].send_signal(signal.SIGKILL)  # one host dies mid-send; its leases run out, the other goes on
            await senders[0].wait()
            senders[0] = await start("host-1-again")
            deadline = time.monotonic() + 90
            while await store.scalar("SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')"):
                assert time.monotonic() < deadline, "the senders never finished"
                await asyncio.sleep(0.1)
            for process in senders:
                process.send_signal(signal.SIGTERM)
                await process.wait()

            rows = [dict(r) for r in await store.fetchall("SELECT * FROM outbox ORDER BY id")]
            sent = await loop.outbound()
            sends = defaultdict(list)
            for item in sent:
                sends[int(item["body"]["biz_opaque_callback_data"].split(":")[1])].append(item["wamid"])
            assert {r["state"] for r in rows} <= {"sent", "failed"} and len(rows) == 120     # none lost or stuck
            for r in rows:
                if r["state"] == "sent":
                    assert len(sends[r["id"]]) == 1 or r["ambiguous"], r                  # no unflagged double send
            times = sorted(item["at"] for item in sent if item["phone_number_id"] == NUMBER_A)
            busiest = max(sum(1 for t in times[i:] if t < start_at + 1.0) for i, start_at in enumerate(times))
            doubles = sum(len(w) > 1 for w in sends.values())
            print(f"\n{len(rows)} rows by two senders (one SIGKILLed): {len(sent)} requests at the simulator, "
                  f"{doubles} resent in doubt; busiest second {busiest} at a shared limit of {RATE}/s")
            # The slots are 1/RATE apart; a second can hold RATE + 1 of them, and loopback jitter one more.
            assert busiest <= RATE + 2
        finally:
            await store.close()
