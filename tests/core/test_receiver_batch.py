"""The receiver's writer commits the bodies that wait together in one transaction (one SAVEPOINT for them all);
a body that fails to ingest still costs only itself: the others go in, it is kept pending. Both writers: the
PostgreSQL receiver's (a task) and the SQLite receiver's (a process of its own)."""

from __future__ import annotations

import asyncio
import json

import pytest

from core.server import Writer
from core.writer_process import WriterProcess
from tests.core.ingest_helpers import CHANNELS, add_outbound
from tests.core.test_search_folding import found
from tests.core.test_receiver_stores import NOW, POISON, POISON_TRIGGER

# The same real failure inside the database as POISON_TRIGGER, in PostgreSQL's form.
PG_POISON = [
    "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " RAISE EXCEPTION 'poisoned by the test'; END $$",
    f"CREATE TRIGGER poison BEFORE INSERT ON message FOR EACH ROW WHEN (new.wamid = '{POISON}')"
    " EXECUTE FUNCTION poison()",
]


@pytest.fixture(params=["task", pytest.param("process", marks=pytest.mark.sqlite_only(
    reason="the writer process is SQLite's (PostgreSQL commits on the server)"))])
def make_writer(request, store):
    return (lambda: Writer(store, CHANNELS, clock=lambda: NOW)) if request.param == "task" else (
        lambda: WriterProcess(store.path, CHANNELS, clock=lambda: NOW))


def body_with(fixtures_dir, wamid: str) -> bytes:
    body = json.loads((fixtures_dir / "text.json").read_text())
    body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = wamid
    return json.dumps(body).encode()


async def test_a_body_that_fails_in_a_batch_costs_only_itself(store, make_writer, fixtures_dir):
    for sql in PG_POISON if store.dialect == "postgresql" else [POISON_TRIGGER]:
        await store.write(lambda db, sql=sql: db.execute(sql))
    writer = make_writer()
    await writer.start()
    try:
        raws = [body_with(fixtures_dir, wamid) for wamid in ("wamid.BEFORE", POISON, "wamid.AFTER")]
        # Queued before the writer runs, so it takes all three in one transaction.
        results = await asyncio.gather(*(writer.submit(raw) for raw in raws))
    finally:
        await writer.stop()
    assert [r.new_messages for r in results] == [1, 0, 1]
    assert sorted(r["wamid"] for r in await store.fetchall("SELECT wamid FROM message")) == [
        "wamid.AFTER", "wamid.BEFORE"]
    kept = await store.fetchall("SELECT body, state, outcome FROM raw_event ORDER BY id")
    assert [(bytes(r["body"]), r["state"], r["outcome"]) for r in kept] == [
        (raws[0], "done", "ok"), (raws[1], "pending", "failed"), (raws[2], "done", "ok")]
    # The unread counts hold only what went in.
    assert await store.scalar("SELECT sum(unread) FROM thread") == 2


async def test_search_finds_every_message_of_a_batch_and_every_message_written_after_it(store, make_writer,
                                                                                         fixtures_dir):
    """The batch indexes its new messages in one go (core.ingest.SearchLater): what went in is found, what failed
    is not, and the index keeps working for whatever writes a message next."""
    for sql in PG_POISON if store.dialect == "postgresql" else [POISON_TRIGGER]:
        await store.write(lambda db, sql=sql: db.execute(sql))
    raws = []
    for wamid, word in (("wamid.A", "alfa"), (POISON, "trujaca"), ("wamid.B", "bravo")):
        body = json.loads(body_with(fixtures_dir, wamid))
        body["entry"][0]["changes"][0]["value"]["messages"][0]["text"] = {"body": f"słowo {word}"}
        raws.append(json.dumps(body).encode())
    writer = make_writer()
    await writer.start()
    try:
        await asyncio.gather(*(writer.submit(raw) for raw in raws))
        await writer.submit(raws[0])  # a duplicate: indexed once, not twice
    finally:
        await writer.stop()
    [thread_id] = [r["id"] for r in await store.fetchall("SELECT id FROM thread")]
    await add_outbound(store, thread_id, "wamid.OUT", text="odpowiedź charlie")
    assert [await found(store, word) for word in ("alfa", "bravo", "charlie", "trujaca", "słowo")] == [1, 1, 1, 0, 1]
    assert await found(store, "slowo alfa") == 1
