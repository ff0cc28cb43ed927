"""The receiver's rarer paths: a commit that fails (locked, full, broken) is never acknowledged, a request that
goes away does not stop the writer, new media goes to the downloader, and the background retry outlives a
failing round."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sqlite3

import httpx
import pytest

from core import webhooks
from core.asgi import serve_asgi
from core.server import Writer, create_receiver
from core.webhooks import InboundMessage
from core.writer_process import WriterGone, WriterProcess
from tests.app.helpers import connect
from tests.conftest import APP_SECRET, VERIFY_TOKEN
from tests.core.ingest_helpers import CHANNELS
from tests.core.test_receiver_stores import NOW, POISON, cure, poison, post_headers, query, two_texts


def body_of(fixtures_dir, name: str, **message) -> bytes:
    """A fixture body, its (first) message's fields overridden."""
    body = json.loads((fixtures_dir / name).read_text())
    body["entry"][0]["changes"][0]["value"]["messages"][0].update(message)
    return json.dumps(body).encode()


def break_table(db, table: str, event: str) -> None:
    """Every `event` (INSERT/UPDATE) on `table` fails inside the database, as a bug or bad data would make it."""
    with connect(db) as conn:
        if isinstance(db, str):  # PostgreSQL
            conn.execute("CREATE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql AS"
                         " $$ BEGIN RAISE EXCEPTION 'broken'; END $$")
            conn.execute(f"CREATE TRIGGER broken BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION broken()")
        else:
            conn.execute(f"CREATE TRIGGER broken BEFORE {event} ON {table} BEGIN SELECT RAISE(ABORT, 'broken'); END")


def mend_table(db, table: str) -> None:
    with connect(db) as conn:
        conn.execute(f"DROP TRIGGER broken ON {table}" if isinstance(db, str) else "DROP TRIGGER broken")
        if isinstance(db, str):
            conn.execute("DROP FUNCTION broken()")


async def until(condition, what: str) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


@pytest.mark.parametrize(("secret", "token"), [("", VERIFY_TOKEN), (APP_SECRET, "")], ids=["secret", "token"])
def test_the_receiver_will_not_exist_without_its_secrets(tmp_path, secret, token):
    # An empty app secret would accept any body signed with the empty key.
    with pytest.raises(ValueError, match="app secret and the verify token"):
        create_receiver(tmp_path / "wabox.db", app_secret=secret, verify_token=token, channels=CHANNELS)


async def test_a_server_that_cannot_start_says_why_instead_of_waiting_forever(tmp_path):
    app = create_receiver(tmp_path / "wabox.db", app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, channels=CHANNELS)
    with pytest.raises(OverflowError, match="port must be 0-65535"):
        async with serve_asgi(app, port=70000):
            pass


# --- over HTTP ----------------------------------------------------------------------------------------------


async def test_new_inbound_media_goes_to_the_downloader_once_stored(db_target, fixtures_dir):
    db = db_target
    handed: list[tuple[list[str], list[tuple]]] = []

    async def download(media: list[InboundMessage]) -> None:
        handed.append(([m.media_id for m in media], query(db, "SELECT wamid, type FROM message")))

    app = create_receiver(db, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, channels=CHANNELS,
                          clock=lambda: NOW, on_committed=download)
    text, image = (fixtures_dir / "text.json").read_bytes(), (fixtures_dir / "image_with_caption.json").read_bytes()
    [picture] = [e for e in webhooks.parse(json.loads(image)) if isinstance(e, InboundMessage)]
    async with serve_asgi(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.post("/webhook", content=text, headers=post_headers(text))).status_code == 200
        assert (await http.post("/webhook", content=image, headers=post_headers(image))).status_code == 200
        await until(lambda: handed, "the image handed to the downloader")
        assert (await http.post("/webhook", content=image, headers=post_headers(image))).status_code == 200
    # Only the image, once (its retry is a duplicate), and only after it was committed.
    [(media_ids, stored)] = handed
    assert media_ids == [picture.media_id]
    assert (picture.wamid, "image") in stored


async def test_a_download_still_running_at_shutdown_is_cancelled(db_target, fixtures_dir):
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def download(media: list[InboundMessage]) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # a download that would never end
        except asyncio.CancelledError:
            cancelled.set()
            raise

    app = create_receiver(db_target, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN,
                          channels=CHANNELS, clock=lambda: NOW, on_committed=download)
    image = (fixtures_dir / "image_with_caption.json").read_bytes()
    async with serve_asgi(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.post("/webhook", content=image, headers=post_headers(image))).status_code == 200
        await started.wait()
    await asyncio.wait_for(cancelled.wait(), 5)  # shutdown did not wait for it, and it was told to stop


async def test_a_body_that_cannot_even_be_kept_is_answered_503_and_stored_when_sent_again(db_target, fixtures_dir,
                                                                                            caplog, capfd):
    db = db_target
    app = create_receiver(db, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, channels=CHANNELS, clock=lambda: NOW)
    raw = (fixtures_dir / "text.json").read_bytes()
    async with serve_asgi(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        # Keeping the raw body fails for a reason that is not the machine's (a real database error, not transient).
        break_table(db, "raw_event", "INSERT")
        refused = await http.post("/webhook", content=raw, headers=post_headers(raw))
        assert (refused.status_code, refused.headers["retry-after"]) == (503, "5")
        assert query(db, "SELECT count(*) FROM message") == [(0,)]  # its events were rolled back with it
        # Not a failure of the machine: its traceback is logged (by the writer process on SQLite, to its stderr).
        logged = caplog.text + capfd.readouterr().err
        assert "commit of 1 webhook bodies failed: answered 503\nTraceback" in logged
        mend_table(db, "raw_event")
        assert (await http.post("/webhook", content=raw, headers=post_headers(raw))).status_code == 200
    assert query(db, "SELECT count(*) FROM message") == [(1,)]
    assert query(db, "SELECT state FROM raw_event") == [("done",)]


async def test_rejections_are_summarised_every_period_while_the_receiver_runs(tmp_path, fixtures_dir, caplog):
    def summaries() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]

    def rejected(reason: str) -> int:  # the requests the summaries so far count for `reason`
        return sum(int(m[1]) for line in summaries() if (m := re.fullmatch(rf".*: (\d+) {reason}", line)))

    app = create_receiver(tmp_path / "wabox.db", app_secret=APP_SECRET, verify_token=VERIFY_TOKEN,
                          channels=CHANNELS, clock=lambda: NOW, summary_every=0.05)
    raw = (fixtures_dir / "text.json").read_bytes()
    async with serve_asgi(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for i in range(3):
            await http.post("/webhook", content=raw, headers={"X-Hub-Signature-256": f"sha256={i:064x}"})
        # while running, not only at shutdown; the three may straddle a period on a slow machine
        await until(lambda: rejected("bad signature") == 3, "the three counted in summaries")
        assert all(re.fullmatch(r"rejected \d+ requests? in the last 0\.05 s: \d+ bad signature", line)
                   for line in summaries()), summaries()
        logged = len(summaries())
        await http.post("/webhook", content=raw)
        await until(lambda: len(summaries()) == logged + 1, "the next one")
    assert summaries()[logged:] == ["rejected 1 request in the last 0.05 s: 1 no signature"]


async def test_the_background_retry_outlives_a_round_that_fails(db_target, fixtures_dir, caplog):
    db = db_target
    clock = [float(NOW)]
    app = create_receiver(db, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, channels=CHANNELS,
                          clock=lambda: clock[0], retry_every=0.02)
    raw = json.dumps(two_texts(fixtures_dir, {"id": POISON}, {"id": "wamid.FINE"})).encode()
    async with serve_asgi(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        poison(db)
        assert (await http.post("/webhook", content=raw, headers=post_headers(raw))).status_code == 200
        cure(db)
        # Recording how the retry went fails: the whole round rolls back and is logged, and the loop goes on.
        break_table(db, "raw_event", "UPDATE")
        clock[0] += 61
        await until(lambda: any("re-ingesting pending webhook bodies failed" in r.getMessage()
                                for r in caplog.records), "the failed round logged")
        assert query(db, "SELECT wamid FROM message") == [("wamid.FINE",)]
        assert query(db, "SELECT state FROM raw_event") == [("pending",)]
        mend_table(db, "raw_event")
        await until(lambda: query(db, "SELECT state FROM raw_event") == [("done",)], "the body gone in")
        assert (await http.get("/healthz")).json()["pending_webhooks"] == 0
    assert sorted(query(db, "SELECT wamid FROM message")) == [("wamid.FINE",), (POISON,)]


# --- the writer ---------------------------------------------------------------------------------------------


class OtherWriter:
    """Another process holding SQLite's write lock."""

    def __init__(self, db) -> None:
        self.conn = sqlite3.connect(db, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


@pytest.fixture
async def writer(store):
    w = Writer(store, CHANNELS, clock=lambda: NOW)
    await w.start()
    yield w
    await w.stop()


@pytest.mark.sqlite_only(reason="SQLite's file lock and busy_timeout")
async def test_nothing_is_acknowledged_while_another_process_holds_the_write_lock(store, writer, fixtures_dir,
                                                                                  caplog):
    await store.db.execute("PRAGMA busy_timeout = 0")  # "locked" at once instead of after ten seconds
    first = body_of(fixtures_dir, "text.json", id="wamid.FIRST")
    second = body_of(fixtures_dir, "text.json", id="wamid.SECOND")
    other = OtherWriter(store.path)
    try:
        gone = asyncio.create_task(writer.submit(first))
        await asyncio.sleep(0)
        gone.cancel()  # its client went away while it waited: the failure must not trip over it
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await asyncio.wait_for(writer.submit(second), 30)  # bounded: a dead writer never answers
    finally:
        other.release()
    assert await store.scalar("SELECT count(*) FROM raw_event") == 0
    assert any("answered 503" in r.getMessage() and r.exc_info is None for r in caplog.records)  # one line, no trace
    # The writer is still there: Meta's retry goes in.
    result = await asyncio.wait_for(writer.submit(second), 30)
    assert result.new_messages == 1
    assert [r["wamid"] for r in await store.fetchall("SELECT wamid FROM message")] == ["wamid.SECOND"]


@pytest.mark.sqlite_only(reason="the writer process is SQLite's")
async def test_when_the_writer_process_dies_what_it_held_is_refused_and_a_new_one_takes_the_next(store,
                                                                                                 fixtures_dir):
    writer = WriterProcess(store.path, CHANNELS, clock=lambda: NOW)
    await writer.start()
    try:
        first = body_of(fixtures_dir, "text.json", id="wamid.FIRST")
        second = body_of(fixtures_dir, "text.json", id="wamid.SECOND")
        os.kill(writer.pid, signal.SIGSTOP)  # it holds the first body, unread, when it dies
        held = asyncio.create_task(writer.submit(first))
        await asyncio.sleep(0.2)
        os.kill(writer.pid, signal.SIGKILL)
        with pytest.raises(WriterGone):  # the receiver answers 503: Meta sends it again
            await asyncio.wait_for(held, 30)
        for _ in range(300):  # a new writer starts within RESTART_SECONDS
            try:
                result = await asyncio.wait_for(writer.submit(second), 30)
                break
            except WriterGone:
                await asyncio.sleep(0.05)
        assert result.new_messages == 1
    finally:
        await writer.stop()
    assert [r["wamid"] for r in await store.fetchall("SELECT wamid FROM message")] == ["wamid.SECOND"]
    assert await store.scalar("SELECT count(*) FROM raw_event") == 1


@pytest.mark.sqlite_only(reason="SQLite's file lock held by another process")
async def test_while_another_process_holds_the_lock_past_the_busy_timeout_the_receiver_answers_503(
        tmp_path, fixtures_dir, capfd):
    """`wabox serve`'s own path: its writer process waits SQLite's busy timeout (10 s), then the webhook is
    refused with a 503 and nothing of it kept; once the lock is free, Meta's retry goes in."""
    db = tmp_path / "wabox.db"
    app = create_receiver(db, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, channels=CHANNELS, clock=lambda: NOW)
    raw = body_of(fixtures_dir, "text.json", id="wamid.LOCKED")
    async with serve_asgi(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
        other = OtherWriter(db)
        try:
            refused = await http.post("/webhook", content=raw, headers=post_headers(raw))
        finally:
            other.release()
        assert (refused.status_code, refused.headers["retry-after"]) == (503, "5")
        assert query(db, "SELECT count(*) FROM raw_event") == [(0,)]
        assert "database is locked" in capfd.readouterr().err  # one line from the writer process, why
        assert (await http.post("/webhook", content=raw, headers=post_headers(raw))).status_code == 200
    assert query(db, "SELECT wamid FROM message") == [("wamid.LOCKED",)]


@pytest.mark.sqlite_only(reason="SQLite's file lock held by another process")
async def test_a_request_that_goes_away_while_its_body_commits_does_not_stop_the_writer(store, writer, fixtures_dir):
    first = body_of(fixtures_dir, "text.json", id="wamid.FIRST")
    second = body_of(fixtures_dir, "text.json", id="wamid.SECOND")
    gone = asyncio.create_task(writer.submit(first))
    await asyncio.sleep(0)
    gone.cancel()
    # (a bound on the wait, not a timing assertion: a dead writer would leave this waiting forever)
    assert (await asyncio.wait_for(writer.submit(second), 30)).new_messages == 1
    with pytest.raises(asyncio.CancelledError):
        await gone
    # The first body was already queued, so it was committed (unanswered: Meta's retry will be a duplicate).
    assert sorted(r["wamid"] for r in await store.fetchall("SELECT wamid FROM message")) == [
        "wamid.FIRST", "wamid.SECOND"]


@pytest.mark.sqlite_only(reason="fills the disk with PRAGMA max_page_count")
@pytest.mark.parametrize("bad_event_first", [False, True], ids=["whole-body", "event-by-event"])
async def test_a_disk_that_fills_during_ingest_fails_the_commit_and_keeps_nothing(store, writer, fixtures_dir,
                                                                                  caplog, bad_event_first):
    # A message that needs more room than the "disk" has (SQLite's own page limit, at once); with a bad event
    # before it, the failure comes while the events are tried one by one.
    first = "wamid.FINE"
    if bad_event_first:
        poison(store.path)
        first = POISON
    raw = json.dumps(two_texts(fixtures_dir, {"id": first}, {"id": "wamid.BIG", "text": {"body": "x" * 300_000}}))
    page_count = await store.scalar("PRAGMA page_count")
    await store.db.execute(f"PRAGMA max_page_count = {page_count}")
    with caplog.at_level(logging.ERROR), pytest.raises(sqlite3.OperationalError, match="full"):
        await writer.submit(raw.encode())
    # Not recorded as "pending" (that would answer 200 for a body the machine could not store): nothing is kept.
    assert await store.scalar("SELECT count(*) FROM raw_event") == 0
    assert await store.scalar("SELECT count(*) FROM message") == 0
