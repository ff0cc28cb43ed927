"""The sender's rarer paths: the running loop, a database that fails or is locked for a moment, a file to send
that is gone, and a sender whose lease ran out while another took its row."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from pathlib import Path

import httpx
import pytest

from core import sending
from core.cloudapi import CloudApi
from core.ingest import ingest
from core.outbox import Sender
from core.webhooks import StatusUpdate
from tests.core.ingest_helpers import CHANNEL_A, CHANNELS, apply, load
from tests.core.test_outbox import IN_SESSION, LAST_INBOUND, Clock, Graph, queue, row, sender


@pytest.fixture
async def anna(store, fixtures_dir) -> int:
    """Anna's thread (text.json), her session open at IN_SESSION, on a connected channel."""
    await apply(store, load(fixtures_dir, "text.json"))
    await store.write(lambda db: db.execute(
        "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, health)"
        " VALUES (?, 'w', 'Sklep', '+48 22 123 45 67', 'ok')", (CHANNEL_A,)))
    return 1


async def customers(store, anna: int, count: int) -> list[int]:
    """Anna and `count - 1` more customers with an open session, one queued text each."""
    threads = [anna]
    for i in range(count - 1):
        thread = await sending.thread_for_number(store, CHANNEL_A, f"+48 501 000 {i:03d}", now=IN_SESSION)
        await store.write(lambda db, t=thread: db.execute("UPDATE thread SET last_inbound_at = ? WHERE id = ?",
                                                          (LAST_INBOUND, t)))
        threads.append(thread)
    for i, thread in enumerate(threads):
        await queue(store, thread, f"wiadomość {i}")
    return threads


def trigger(db_path, sql: str) -> None:
    """A real failure inside the real database (what a bug, a full disk or a broken file makes SQLite raise)."""
    with sqlite3.connect(db_path) as conn:
        conn.execute(sql)


async def until(condition, what: str) -> None:
    for _ in range(2000):
        if await condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


class HeldGraph(Graph):
    """A Graph API whose answers wait until the test lets them go: sends stay in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        answer = self.handler(request)
        await self.go.wait()
        return answer

    def api(self) -> CloudApi:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.async_handler))
        return CloudApi(http, token="t0ken", base_url="https://graph.facebook.com/v23.0")


# --- the running loop ---------------------------------------------------------------------------------------


async def test_the_running_sender_keeps_at_most_its_concurrency_in_flight(store, anna):
    await customers(store, anna, 3)
    graph = HeldGraph()
    s = sender(store, graph, concurrency=2)
    loop = asyncio.create_task(s.run(idle=0.01))
    await until(lambda: _sent_count(graph, 2), "two sends in flight")
    for _ in range(20):  # a few more rounds of the loop: the third customer must wait for a free slot
        await asyncio.sleep(0.01)
    assert len(graph.sent) == 2
    assert await store.scalar("SELECT count(*) FROM outbox WHERE state = 'queued'") == 1
    graph.go.set()
    await until(lambda: _all_sent(store), "every row sent")
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    assert sorted(r["text"]["body"] for r in graph.sent) == ["wiadomość 0", "wiadomość 1", "wiadomość 2"]


async def test_stopping_the_sender_cancels_its_sends_in_flight_and_leaves_them_in_doubt(store, anna):
    await queue(store, anna, "Hej")
    graph = HeldGraph()
    loop = asyncio.create_task(sender(store, graph).run(idle=0.01))
    await until(lambda: _sent_count(graph, 1), "the send in flight")
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    # The request went out and its answer never came: still leased, so it is reconciled or resent later.
    assert (await row(store, "SELECT state, lease_owner, wamid FROM outbox")) == {
        "state": "sending", "lease_owner": "s1", "wamid": None}


@pytest.mark.sqlite_only(reason="breaks the claim with a SQLite trigger (RAISE(ABORT))")
async def test_a_failing_claim_does_not_stop_the_sender(store, anna, caplog):
    await queue(store, anna, "Hej")
    trigger(store.path, "CREATE TRIGGER broken BEFORE UPDATE ON outbox BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    graph = Graph()
    clock = Clock()
    loop = asyncio.create_task(sender(store, graph, clock=clock, sleep=clock.sleep).run(idle=0.01))
    await until(lambda: _logged(caplog, "outbox claim failed"), "the failed claim logged")
    assert graph.sent == []
    trigger(store.path, "DROP TRIGGER broken")
    await until(lambda: _all_sent(store), "the row sent once the database works again")
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    assert [r["text"]["body"] for r in graph.sent] == ["Hej"]


@pytest.mark.sqlite_only(reason="breaks one write with a SQLite trigger (RAISE(ABORT))")
async def test_a_send_that_crashes_is_logged_and_the_others_still_go_out(store, anna, caplog):
    await customers(store, anna, 2)
    # Recording Meta's answer for the first row fails (a real SQLite error); the second row is unaffected.
    trigger(store.path, "CREATE TRIGGER broken BEFORE UPDATE OF state ON outbox WHEN new.state = 'sent'"
                        " AND new.id = 1 BEGIN SELECT RAISE(ABORT, 'cannot record'); END")
    graph = Graph()
    loop = asyncio.create_task(sender(store, graph).run(idle=0.01))
    await until(lambda: _logged(caplog, "outbox send crashed"), "the crash logged")
    await until(lambda: _state(store, 2, "sent"), "the other customer's row sent")
    loop.cancel()
    await asyncio.gather(loop, return_exceptions=True)
    # The answer was lost to the error: the row stays leased and in doubt, for its webhook or a flagged resend.
    assert (await row(store, "SELECT state, wamid FROM outbox WHERE id = 1")) == {"state": "sending", "wamid": None}


async def _sent_count(graph: Graph, n: int) -> bool:
    return len(graph.sent) >= n


async def _all_sent(store) -> bool:
    return await store.scalar("SELECT count(*) FROM outbox WHERE state != 'sent'") == 0


async def _state(store, outbox_id: int, state: str) -> bool:
    return await store.scalar("SELECT state FROM outbox WHERE id = ?", (outbox_id,)) == state


async def _logged(caplog, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


# --- claiming -----------------------------------------------------------------------------------------------


async def test_a_claim_takes_no_more_rows_than_asked(store, anna):
    await customers(store, anna, 3)
    s = sender(store, Graph())
    assert [c.recipient for c in await s.claim(2)] == ["+48601234567", "+48501000000"]
    assert await store.scalar("SELECT count(*) FROM outbox WHERE state = 'queued'") == 1


# --- a database locked for a moment -------------------------------------------------------------------------


class OtherWriter:
    """Another process holding SQLite's write lock (BEGIN IMMEDIATE), released when the test says."""

    def __init__(self, db_path) -> None:
        self.conn = sqlite3.connect(db_path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
        self.conn.close()


@pytest.mark.sqlite_only(reason="SQLite's file lock and busy_timeout")
async def test_metas_answer_is_recorded_after_the_database_was_locked_for_a_moment(store, anna):
    [message_id] = await queue(store, anna, "Hej")
    await store.db.execute("PRAGMA busy_timeout = 0")  # "locked" at once instead of after ten seconds
    clock = Clock()
    slept: list[float] = []
    other: list[OtherWriter] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:  # the other writer commits while the sender waits for its second retry
            other[0].release()
        await clock.sleep(seconds)

    s = sender(store, Graph(), clock=clock, sleep=sleep)
    [claimed] = await s.claim(1)
    other.append(OtherWriter(store.path))
    await s.handle(claimed)
    assert slept == [0.01, 0.02]
    assert (await row(store, "SELECT state, wamid FROM outbox")) == {"state": "sent", "wamid": "wamid.1"}
    assert await store.scalar("SELECT wamid FROM message WHERE id = ?", (message_id,)) == "wamid.1"


@pytest.mark.sqlite_only(reason="SQLite's file lock and busy_timeout")
async def test_a_database_locked_for_long_leaves_the_row_in_doubt_not_lost(store, anna):
    await queue(store, anna, "Hej")
    await store.db.execute("PRAGMA busy_timeout = 0")
    clock = Clock()
    s = sender(store, Graph(), clock=clock, sleep=clock.sleep)
    [claimed] = await s.claim(1)
    other = OtherWriter(store.path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await s.handle(claimed)
    finally:
        other.release()
    # Six tries, then the error surfaces; the row is still leased, so after the lease it is resent, flagged.
    assert (await row(store, "SELECT state, lease_owner FROM outbox")) == {"state": "sending", "lease_owner": "s1"}
    clock.advance(60)
    assert await s.run_once() == 1
    assert (await row(store, "SELECT state, ambiguous FROM outbox")) == {"state": "sent", "ambiguous": 1}


@pytest.mark.sqlite_only(reason="PRAGMA query_only")
async def test_a_database_that_turned_read_only_is_not_retried_as_if_locked(store, anna):
    await queue(store, anna, "Hej")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    s = sender(store, Graph(), sleep=sleep)
    [claimed] = await s.claim(1)
    await store.db.execute("PRAGMA query_only = ON")  # SQLite refuses every write, as on a read-only file
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await s.handle(claimed)
    finally:
        await store.db.execute("PRAGMA query_only = OFF")
    assert slept == []  # raised at once: only a lock is worth waiting for
    assert (await row(store, "SELECT state, lease_owner FROM outbox")) == {"state": "sending", "lease_owner": "s1"}


# --- one row's answers ---------------------------------------------------------------------------------------


async def test_a_file_gone_before_it_was_sent_fails_the_message_with_the_reason(store, anna, tmp_path):
    picture = tmp_path / "faktura.jpg"
    picture.write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 100)
    message_id = await sending.queue_media(store, anna, picture, agent="kasia", now=IN_SESSION)
    # The sender sends its own copy (the agent may delete the original); here the media folder was cleared.
    Path(await store.scalar("SELECT media_file FROM outbox")).unlink()
    graph = Graph()
    await sender(store, graph).run_once()
    assert graph.sent == []
    message = await row(store, "SELECT status, error_code, error_title FROM message WHERE id = ?", (message_id,))
    assert message["status"] == "failed" and message["error_code"] == 131053
    assert message["error_title"].startswith("the file to send is gone: No such file")


async def test_a_template_sync_that_fails_is_logged_and_the_row_still_fails(store, anna, caplog):
    await queue(store, anna, "x")

    async def resync() -> None:
        raise httpx.ConnectError("Graph API unreachable")

    graph = Graph((404, 132001, "(#132001) Template name does not exist in the translation", "order_update pl_PL"))
    with caplog.at_level(logging.ERROR, logger="wabox.outbox"):
        await sender(store, graph, on_unknown_template=resync).run_once()
    assert (await row(store, "SELECT state, error_code FROM outbox")) == {"state": "failed", "error_code": 132001}
    assert any("template sync after 132001 failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("answer", "expected"), [
    ("timeout", {"state": "sending", "lease_until": IN_SESSION + 42.0, "next_attempt_at": 0}),
    ((500, 131000, "Something went wrong", None),
     {"state": "queued", "lease_until": None, "next_attempt_at": IN_SESSION + 42.0}),
], ids=["lost-answer", "retryable-error"])
async def test_a_plain_backoff_function_decides_every_wait(store, anna, answer, expected):
    await queue(store, anna, "Hej")
    clock = Clock()
    s = Sender(store, Graph(answer).api(), owner="s1", rate_per_second=1000, clock=clock, sleep=clock.sleep,
               backoff=lambda attempts, error: 42.0, rng=random.Random(1))
    await s.run_once()
    assert (await row(store, "SELECT state, lease_until, next_attempt_at FROM outbox")) == expected


# --- a sender whose lease ran out ---------------------------------------------------------------------------


async def slow_and_fast(store, clock):
    """Sender "slow" claimed the row and its lease ran out before Meta answered; sender "fast" took it over."""
    slow = sender(store, Graph(prefix="wamid.slow"), owner="slow", lease_seconds=5, clock=clock, sleep=clock.sleep)
    [claimed] = await slow.claim(1)
    clock.advance(6)
    return slow, claimed


async def test_an_answer_after_the_row_was_sent_again_keeps_the_first_wamid_and_flags_it(store, anna, caplog):
    [message_id] = await queue(store, anna, "Hej")
    clock = Clock()
    slow, claimed = await slow_and_fast(store, clock)
    fast = Graph(prefix="wamid.fast")
    assert await sender(store, fast, owner="fast", clock=clock, sleep=clock.sleep).run_once() == 1
    await slow.handle(claimed)  # Meta's answer to the first copy comes at last
    assert (await row(store, "SELECT state, wamid, ambiguous FROM outbox")) == {
        "state": "sent", "wamid": "wamid.fast.1", "ambiguous": 1}
    assert await store.scalar("SELECT wamid FROM message WHERE id = ?", (message_id,)) == "wamid.fast.1"
    assert any("sent twice" in r.getMessage() for r in caplog.records)


async def test_an_answer_after_the_row_failed_gives_the_message_its_wamid_so_its_statuses_apply(store, anna):
    [message_id] = await queue(store, anna, "Hej")
    clock = Clock()
    slow, claimed = await slow_and_fast(store, clock)
    refused = Graph((400, 131026, "Message undeliverable", None))
    await sender(store, refused, owner="fast", clock=clock, sleep=clock.sleep).run_once()
    assert (await row(store, "SELECT state FROM outbox")) == {"state": "failed"}
    await slow.handle(claimed)  # ...but Meta had accepted the first copy
    assert (await row(store, "SELECT state, wamid FROM outbox")) == {"state": "failed", "wamid": None}
    assert await store.scalar("SELECT wamid FROM message WHERE id = ?", (message_id,)) == "wamid.slow.1"
    delivered = StatusUpdate(CHANNEL_A, "wamid.slow.1", "delivered", IN_SESSION + 10)
    await store.write(lambda db: ingest(db, [delivered], channels=CHANNELS, now=IN_SESSION + 10))
    assert await store.scalar("SELECT status FROM message WHERE id = ?", (message_id,)) == "delivered"


@pytest.mark.parametrize("answer", ["timeout", (500, 131000, "Something went wrong", None),
                                    (400, 131026, "Message undeliverable", None),
                                    (401, 190, "Error validating access token", None)],
                         ids=["lost-answer", "retryable", "permanent", "token-refused"])
async def test_a_sender_whose_lease_ran_out_leaves_the_row_to_its_new_holder(store, anna, answer):
    [message_id] = await queue(store, anna, "Hej")
    clock = Clock()
    late = sender(store, Graph(answer), owner="late", lease_seconds=5, clock=clock, sleep=clock.sleep)
    [claimed] = await late.claim(1)
    clock.advance(6)
    [taken] = await sender(store, Graph(), owner="holder", clock=clock, sleep=clock.sleep).claim(1)
    await late.handle(claimed)  # its error answer comes after the row changed hands
    assert (await row(store, "SELECT state, lease_owner, attempts, error_code FROM outbox")) == {
        "state": "sending", "lease_owner": "holder", "attempts": 2, "error_code": None}
    assert await store.scalar("SELECT status FROM message WHERE id = ?", (message_id,)) == "queued"
    if answer[1] == 190:  # the refused token is about the channel, whoever holds the row: it is still recorded
        assert await store.scalar("SELECT health FROM channel") == "token_invalid"
    assert taken.id == claimed.id
