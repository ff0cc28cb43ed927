"""Chaos: thousands of webhook events, 20% duplicates, shuffled, the receiver SIGKILLed mid-load while the sender
retries every non-200 — and nothing is lost, nothing duplicated, every status the furthest, the database sound."""

from __future__ import annotations

import asyncio
import json
import random
import time

import httpx
import pytest

from core.store import Store
from core.webhooks import sign
from tests.core.receiver_process import APP_SECRET, ReceiverProcess, free_port, write_config

pytestmark = pytest.mark.slow

CHANNEL = "209837465112233"
RANK = {"sent": 1, "delivered": 3, "read": 4}


def envelope(messages=(), statuses=(), contacts=()) -> dict:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "48221234567", "phone_number_id": CHANNEL}}
    if messages:
        value.update(messages=list(messages), contacts=list(contacts))
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "310492887654321", "changes": [{"field": "messages", "value": value}]}]}


def build_load(rng: random.Random, customers: int, per_customer: int, outbound: list[tuple[int, str, str]]):
    bodies, inbound_ids = [], set()
    for c in range(customers):
        wa_id = f"4860{c:07d}"
        contact = {"profile": {"name": f"Klient {c}"}, "wa_id": wa_id}
        for i in range(per_customer):
            wamid = f"wamid.CHAOS-{c}-{i}"
            inbound_ids.add(wamid)
            bodies.append(envelope(messages=[{"from": wa_id, "id": wamid, "timestamp": str(1795519200 + c + i * 60),
                                              "type": "text", "text": {"body": f"wiadomość {i} od {c}"}}],
                                   contacts=[contact]))
    expected = {}
    for _, wamid, wa_id in outbound:
        chosen = rng.sample(["sent", "delivered", "read"], rng.randint(1, 3))
        expected[wamid] = max(chosen, key=RANK.get)
        for status in chosen:
            bodies.append(envelope(statuses=[{"id": wamid, "status": status, "recipient_id": wa_id,
                                              "timestamp": str(1795600000 + RANK[status])}]))
    return bodies, inbound_ids, expected


async def post_until_accepted(http: httpx.AsyncClient, url: str, raw: bytes, stats: dict) -> None:
    headers = {"X-Hub-Signature-256": sign(raw, APP_SECRET), "Content-Type": "application/json"}
    while True:  # like Meta: anything but a 200 (or no answer at all) is tried again
        try:
            response = await http.post(url, content=raw, headers=headers, timeout=5)
            if response.status_code == 200:
                stats["accepted"] += 1
                return
            stats["refused"] += 1
        except httpx.HTTPError:
            stats["errors"] += 1
        await asyncio.sleep(0.05)


async def test_kill_the_receiver_mid_load_and_lose_nothing(tmp_path):
    rng = random.Random(2026)
    config = write_config(tmp_path, {CHANNEL: "48221234567"})
    db = tmp_path / "wabox.db"
    # Outbound messages the sender already stored, whose statuses arrive in the storm.
    store = await Store.open(db)
    outbound = []

    def sent_earlier(conn):
        for n in range(150):
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

    bodies, inbound_ids, expected = build_load(rng, customers=300, per_customer=8, outbound=outbound)
    raws = [json.dumps(b).encode() for b in bodies]
    load = raws + rng.sample(raws, len(raws) // 5)  # 20% delivered twice
    rng.shuffle(load)

    receiver = ReceiverProcess(config, free_port(), tmp_path / "serve.log")
    receiver.start()
    stats = {"accepted": 0, "refused": 0, "errors": 0}
    kills = 0

    async def killer():
        nonlocal kills
        for _ in range(4):
            await asyncio.sleep(rng.uniform(0.4, 0.9))
            receiver.kill()
            kills += 1
            await asyncio.sleep(0.1)
            await asyncio.to_thread(receiver.start)

    async def sender():
        queue = list(load)
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(limits=limits) as http:
            async def worker():
                while queue:
                    await post_until_accepted(http, receiver.url + "/webhook", queue.pop(), stats)
            await asyncio.gather(*(worker() for _ in range(16)))

    started = time.monotonic()
    chaos = asyncio.create_task(killer())
    await sender()
    await chaos
    receiver.stop()
    events = sum(len(b["entry"][0]["changes"][0]["value"].get(k, [])) for b in bodies for k in ("messages", "statuses"))
    print(f"\n{len(load)} POSTs ({len(raws)} unique, {events} events) in {time.monotonic() - started:.1f} s;"
          f" {kills} SIGKILLs; retries: {stats['refused']} refused, {stats['errors']} connection errors")
    assert kills == 4 and stats["errors"] > 0  # the kills really happened mid-load

    store = await Store.open(db)
    try:
        assert await store.scalar("PRAGMA integrity_check") == "ok"
        stored = {r[0] for r in await store.fetchall("SELECT wamid FROM message WHERE direction = 'in'")}
        assert stored == inbound_ids                                       # 0 lost
        assert await store.scalar("SELECT count(*) FROM message WHERE direction = 'in'") == len(inbound_ids)  # 0 dup
        assert await store.scalar("SELECT count(*) FROM thread") == 300 + 150 - 150  # customers 0..149 had threads
        finals = {r["wamid"]: r["status"] for r in await store.fetchall(
            "SELECT wamid, status FROM message WHERE direction = 'out'")}
        assert finals == expected                                          # the furthest status won
        unread = await store.scalar("SELECT sum(unread) FROM thread")
        assert unread == len(inbound_ids)                                  # each message counted once
    finally:
        await store.close()
