"""The whole loop over loopback (inbox -> outbox -> simulator -> status webhooks -> receiver): a reply goes out,
statuses come back, faults and killed
senders lose nothing, duplicate nothing unflagged, and keep each customer's order."""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict

import pytest

from core import sending
from core.outbox import Sender
from core.store import Store
from tests.core.sim_helpers import NUMBER_A, running_loop


async def wait_for(predicate, timeout: float = 10.0, step: float = 0.02):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if value := await predicate():
            return value
        await asyncio.sleep(step)
    raise AssertionError("timed out")


async def thread_of(store: Store, wa_id: str) -> int:
    return await wait_for(lambda: store.scalar("SELECT id FROM thread WHERE wa_id = ?", (wa_id,)))


async def test_a_reply_is_sent_and_its_statuses_come_back(tmp_path, db_target):
    async with running_loop(tmp_path, db=db_target) as loop:
        store = await Store.open(loop.db)
        try:
            await loop.inbound(phone_number_id=NUMBER_A, **{"from": "48601234567"}, name="Anna", text="Dzień dobry")
            thread = await thread_of(store, "48601234567")
            now = loop.world.clock()
            message_id = await sending.queue_text(store, thread, "Już wysłane!", agent="kasia", now=now)
            sender = Sender(store, loop.api(), owner="test")
            assert await sender.run_once() == 1
            status = await wait_for(lambda: store.scalar(
                "SELECT status FROM message WHERE id = ? AND status = 'read'", (message_id,)))
            assert status == "read"
            [sent] = await loop.outbound()
            assert sent["body"]["to"] == "+48601234567"
            assert sent["body"]["text"] == {"body": "Już wysłane!", "preview_url": False}
            assert sent["body"]["biz_opaque_callback_data"] == "outbox:1"
            history = await store.fetchall("SELECT status FROM status_event WHERE wamid = ?", (sent["wamid"],))
            assert {h["status"] for h in history} == {"sent", "delivered", "read"}  # every one kept as history
        finally:
            await store.close()


async def test_outside_the_window_it_is_refused_first_and_meta_says_131047_if_forced(tmp_path, db_target):
    async with running_loop(tmp_path, db=db_target) as loop:
        store = await Store.open(loop.db)
        try:
            await loop.inbound(phone_number_id=NUMBER_A, **{"from": "48512345678"}, text="Halo")
            thread = await thread_of(store, "48512345678")
            later = loop.world.clock() + 86400 + 60
            with pytest.raises(sending.ReplyRefused, match="24-hour session ended"):
                await sending.queue_text(store, thread, "Halo?", agent="kasia", now=later)
            assert await store.scalar("SELECT count(*) FROM outbox") == 0
            # Forced through (as if the clock lied): the simulator answers as Meta does.
            message_id = await sending.queue_text(store, thread, "Halo?", agent="kasia", now=loop.world.clock())
            await loop.http.post(f"{loop.sim_url}/_sim/window", json={"phone_number_id": NUMBER_A,
                                                                       "wa_id": "48512345678", "at": 0})
            await Sender(store, loop.api(), owner="test").run_once()
            row = await store.fetchone("SELECT status, error_code, error_title, error_details FROM message WHERE id = ?",
                                       (message_id,))
            assert (row["status"], row["error_code"]) == ("failed", 131047)
            assert row["error_title"] == "(#131047) Re-engagement message"
            assert "more than 24 hours have passed" in row["error_details"]
        finally:
            await store.close()


async def test_a_template_and_a_photo_go_out_the_way_meta_expects(tmp_path, db_target):
    from core.templates import list_templates, sync_templates
    async with running_loop(tmp_path, db=db_target) as loop:
        store = await Store.open(loop.db)
        try:
            api = loop.api()
            assert await sync_templates(store, api, {"310492887654321"}) == 7
            templates = {(t.name, t.language): t for t in await list_templates(store, approved_only=True)}
            assert ("spring_sale", "pl_PL") not in templates  # pending: never offered
            await loop.inbound(phone_number_id=NUMBER_A, **{"from": "48601234567"}, text="Hej")
            thread = await thread_of(store, "48601234567")
            await sending.queue_template(store, thread, templates[("order_update", "pl_PL")], ["Anna", "A-1043"],
                                         agent="kasia", now=loop.world.clock() + 3 * 86400)
            photo = tmp_path / "paczka.jpg"
            photo.write_bytes(b"\xff\xd8\xff" + bytes(2000))
            await sending.queue_media(store, thread, photo, caption="Zdjęcie", agent="kasia", now=loop.world.clock())
            sender = Sender(store, api, owner="test")
            while await sender.run_once():
                pass
            sent = [o["body"] for o in await loop.outbound()]
            assert sent[0]["template"]["name"] == "order_update"
            assert sent[1]["type"] == "image" and sent[1]["image"]["caption"] == "Zdjęcie"
            assert sent[1]["image"]["id"] in loop.world.media  # uploaded first, sent by id
            assert await store.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'") == 2
        finally:
            await store.close()


async def test_inbound_media_is_downloaded_under_our_own_name_and_checked(tmp_path, db_target):
    from core.media import download_inbound
    from core.webhooks import parse
    async with running_loop(tmp_path, db=db_target) as loop:
        store = await Store.open(loop.db)
        try:
            await loop.inbound(phone_number_id=NUMBER_A, **{"from": "48601234567"}, type="document",
                               filename="../../etc/passwd", caption="Faktura", size=3000)
            await thread_of(store, "48601234567")
            raw = await store.scalar("SELECT body FROM raw_event ORDER BY id DESC LIMIT 1")
            [event] = parse(json.loads(raw))
            path = await download_inbound(store, loop.api(), tmp_path / "media", event)
            assert path is not None and path.parent == tmp_path / "media" and path.suffix == ".pdf"
            assert "passwd" not in path.name and path.stat().st_size == 3000
            row = await store.fetchone("SELECT media_path, file_size, file_name FROM message WHERE type = 'document'")
            assert tuple(row) == (str(path), 3000, "../../etc/passwd")  # the name is data, never a path
        finally:
            await store.close()


async def test_a_bad_token_pauses_the_number_instead_of_failing_rows(tmp_path, db_target):
    from core.cloudapi import CloudApi
    async with running_loop(tmp_path, db=db_target) as loop:
        store = await Store.open(loop.db)
        try:
            await loop.inbound(phone_number_id=NUMBER_A, **{"from": "48601234567"}, text="Hej")
            thread = await thread_of(store, "48601234567")
            await sending.queue_text(store, thread, "Odp", agent="kasia", now=loop.world.clock())
            bad = CloudApi(loop.http, token="expired", base_url=loop.graph_url)
            await Sender(store, bad, owner="test").run_once()
            row = await store.fetchone("SELECT o.state, o.attempts, c.health FROM outbox o"
                                       " JOIN channel c ON c.phone_number_id = o.channel")
            assert tuple(row) == ("queued", 0, "token_invalid")
            assert await store.scalar("SELECT status FROM message WHERE direction = 'out'") == "queued"
        finally:
            await store.close()


@pytest.mark.slow
async def test_faults_and_killed_senders_lose_nothing_and_keep_order(tmp_path, db_target):
    rng = random.Random(7)
    async with running_loop(tmp_path, db=db_target, timeout=0.4, status_delays=(0.01, 0.02, 0.03)) as loop:
        store = await Store.open(loop.db)
        try:
            customers = [f"4860{n:07d}" for n in range(25)]
            for wa_id in customers:
                await loop.inbound(phone_number_id=NUMBER_A, **{"from": wa_id}, text="Pytanie")
            threads = [await thread_of(store, wa_id) for wa_id in customers]
            now = loop.world.clock()
            for round_ in range(5):
                for thread in threads:
                    await sending.queue_text(store, thread, f"odpowiedź {round_}", agent="kasia", now=now)
            await loop.http.post(f"{loop.sim_url}/_sim/faults", json={
                "rates": {"500": 0.2, "429": 0.1, "hang": 0.05, "400": 0.02}, "hang_seconds": 1.0})

            def sender(name: str) -> Sender:
                return Sender(store, loop.api(), owner=name, lease_seconds=1.0, rate_per_second=500,
                              backoff=lambda attempts, error: 0.05 * rng.uniform(1, 2))

            for kill in range(4):  # run a sender, then kill it mid-flight
                task = asyncio.create_task(sender(f"sender-{kill}").run(idle=0.01))
                await asyncio.sleep(rng.uniform(0.3, 0.7))
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            last = asyncio.create_task(sender("survivor").run(idle=0.01))
            await wait_for(lambda: store.scalar(
                "SELECT count(*) = 0 FROM outbox WHERE state IN ('queued', 'sending')"), timeout=60)
            last.cancel()
            await asyncio.gather(last, return_exceptions=True)

            rows = [dict(r) for r in await store.fetchall("SELECT * FROM outbox ORDER BY id")]
            assert len(rows) == 125
            assert {r["state"] for r in rows} <= {"sent", "failed"}                      # none lost, none stuck
            for r in rows:
                if r["state"] == "failed":
                    assert r["error_code"] is not None and r["error_title"]            # the API's own error
                else:
                    assert r["wamid"]
            sends = defaultdict(list)
            order = defaultdict(list)
            for item in await loop.outbound():
                outbox_id = int(item["body"]["biz_opaque_callback_data"].split(":")[1])
                sends[outbox_id].append(item["wamid"])
                if outbox_id not in order[item["to"]]:
                    order[item["to"]].append(outbox_id)
            for r in rows:
                if r["state"] == "sent":
                    assert len(sends[r["id"]]) == 1 or r["ambiguous"], r             # dupes only if flagged
            for recipient, ids in order.items():
                assert ids == sorted(ids), recipient                                # per-customer order kept
            failed = sum(r["state"] == "failed" for r in rows)
            print(f"\n125 rows: {125 - failed} sent, {failed} failed, "
                  f"{sum(r['ambiguous'] for r in rows)} ambiguous, {len(await loop.outbound())} sends seen by Meta")
        finally:
            await store.close()


async def test_a_crashed_background_loop_is_logged_and_started_again(caplog, monkeypatch):
    from core import service
    monkeypatch.setattr(service, "RESTART_SECONDS", 0)
    runs = []

    async def flaky(*args):
        runs.append(args)
        if len(runs) < 3:
            raise RuntimeError("the database went away")

    await service._supervised("flaky", flaky, "config")
    assert len(runs) == 3
    assert caplog.text.count("flaky crashed; starting it again") == 2
