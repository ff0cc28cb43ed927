"""A 200 means stored: what the receiver acknowledged reaches the inbox, now or — for a body that fails for a
reason of its own — once it is re-ingested (in the background by `wabox serve`, or by `wabox reingest`)."""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3

import httpx
import pytest

from app.cli import main
from core.asgi import serve_asgi
from core.server import create_receiver
from core.store import Store
from core.webhooks import sign
from tests.app.helpers import connect, db_rows
from tests.conftest import APP_SECRET, VERIFY_TOKEN
from tests.core.ingest_helpers import CHANNELS
from tests.core.receiver_process import write_config

NOW = 1795600000
POISON = "wamid.POISONED-BY-THE-TEST"
# A real failure inside the real database, for one event only: the kind of error a bug or unexpected data raises.
POISON_TRIGGER = (f"CREATE TRIGGER poison BEFORE INSERT ON message WHEN new.wamid = '{POISON}'"
                  " BEGIN SELECT RAISE(ABORT, 'poisoned by the test'); END")
POISON_PG = ("CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS"
             " $$ BEGIN RAISE EXCEPTION 'poisoned by the test'; END $$",
             f"CREATE TRIGGER poison BEFORE INSERT ON message FOR EACH ROW WHEN (NEW.wamid = '{POISON}')"
             " EXECUTE FUNCTION poison()")


def two_texts(fixtures_dir, first: dict, second: dict) -> dict:
    """text.json with two messages from the same customer; each dict overrides that message's fields."""
    body = json.loads((fixtures_dir / "text.json").read_text())
    value = body["entry"][0]["changes"][0]["value"]
    [message] = value["messages"]
    value["messages"] = [{**copy.deepcopy(message), **first}, {**copy.deepcopy(message), **second}]
    return body


def post_headers(raw: bytes) -> dict:
    return {"X-Hub-Signature-256": sign(raw, APP_SECRET), "Content-Type": "application/json"}


def query(db, sql: str, params=()) -> list[tuple]:
    return [tuple(row) for row in db_rows(db, sql, params)]


def poison(db) -> None:
    with connect(db) as conn:
        for statement in POISON_PG if isinstance(db, str) else (POISON_TRIGGER,):
            conn.execute(statement)


def cure(db) -> None:
    """What an upgrade that fixes the bug does."""
    with connect(db) as conn:
        conn.execute("DROP TRIGGER poison ON message" if isinstance(db, str) else "DROP TRIGGER poison")


@pytest.fixture
async def receiving(db_target):
    db = db_target
    clock = [float(NOW)]
    app = create_receiver(db, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, channels=CHANNELS,
                          clock=lambda: clock[0], retry_every=0.05)
    async with serve_asgi(app) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield http, db, clock


@pytest.mark.parametrize("half_an_emoji", [b"\\ud83d", b"\\uDE00", b"\xed\xa0\xbd"],
                         ids=["escaped", "escaped-upper", "utf-8-bytes"])
async def test_a_lone_surrogate_costs_nothing_and_becomes_a_replacement_character(receiving, fixtures_dir,
                                                                                   half_an_emoji):
    http, db, _ = receiving
    body = two_texts(fixtures_dir, {"id": "wamid.SURROGATE", "text": {"body": "PLACEHOLDER"}},
                     {"id": "wamid.NORMAL", "text": {"body": "Dzień dobry"}})
    raw = json.dumps(body).encode().replace(b"PLACEHOLDER", b"Hej " + half_an_emoji + b"!")
    response = await http.post("/webhook", content=raw, headers=post_headers(raw))
    assert response.status_code == 200
    assert sorted(query(db, "SELECT wamid, text FROM message")) == [("wamid.NORMAL", "Dzień dobry"),
                                                                     ("wamid.SURROGATE", "Hej \ufffd!")]
    assert query(db, "SELECT outcome, state FROM raw_event") == [("ok", "done")]


async def test_one_bad_event_costs_only_itself_and_goes_in_once_the_cause_is_fixed(receiving, fixtures_dir):
    http, db, clock = receiving
    poison(db)
    raw = json.dumps(two_texts(fixtures_dir, {"id": POISON}, {"id": "wamid.FINE"})).encode()
    response = await http.post("/webhook", content=raw, headers=post_headers(raw))
    assert response.status_code == 200  # the body is kept and will go in: Meta need not send it again
    assert query(db, "SELECT wamid FROM message") == [("wamid.FINE",)]
    [(state, outcome, note)] = query(db, "SELECT state, outcome, note FROM raw_event")
    assert (state, outcome) == ("pending", "failed") and "poisoned by the test" in note
    health = (await http.get("/healthz")).json()
    assert (health["pending_webhooks"], health["oldest_pending_at"]) == (1, NOW)
    assert "poisoned by the test" in health["last_pending_error"]

    cure(db)
    clock[0] += 61  # past the first backoff: the background retry takes it
    for _ in range(400):
        if query(db, "SELECT state FROM raw_event") == [("done",)]:
            break
        await asyncio.sleep(0.025)
    assert sorted(query(db, "SELECT wamid FROM message")) == [("wamid.FINE",), (POISON,)]
    assert query(db, "SELECT count(*) FROM thread") == [(1,)]  # re-ingesting the whole body duplicated nothing
    assert (await http.get("/healthz")).json()["pending_webhooks"] == 0


async def test_a_failing_body_is_retried_with_growing_capped_backoff(receiving, fixtures_dir):
    http, db, clock = receiving
    poison(db)
    raw = json.dumps(two_texts(fixtures_dir, {"id": POISON}, {"id": "wamid.FINE"})).encode()
    assert (await http.post("/webhook", content=raw, headers=post_headers(raw))).status_code == 200
    waits = []
    for _ in range(9):
        [(attempts, next_at)] = query(db, "SELECT attempts, next_attempt_at FROM raw_event")
        waits.append(next_at - int(clock[0]))
        clock[0] = float(next_at)  # due now: the loop tries it again, and it fails again
        for _ in range(400):
            if query(db, "SELECT attempts FROM raw_event") != [(attempts,)]:
                break
            await asyncio.sleep(0.025)
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert query(db, "SELECT state FROM raw_event") == [("pending",)]


async def test_a_signed_body_that_does_not_parse_is_pending_and_shown_in_channel_health(tmp_path, db_target, capsys):
    config = write_config(tmp_path, {"209837465112233": "48221234567"}, db=db_target)
    app = create_receiver(db_target, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN,
                          channels=CHANNELS, clock=lambda: NOW)
    async with serve_asgi(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        raw = b'{"object": "whatsapp_business_account", "entry": {"not": "a list"}}'
        assert (await http.post("/webhook", content=raw, headers=post_headers(raw))).status_code == 200
    assert await asyncio.to_thread(main, ["channels", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "webhooks not yet in the inbox: 1" in out and "did not parse" in out and "wabox reingest" in out


async def test_wabox_reingest_ingests_what_was_kept_pending(tmp_path, db_target, fixtures_dir, capsys):
    config = write_config(tmp_path, {"209837465112233": "48221234567"}, db=db_target)
    db = db_target
    app = create_receiver(db, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, channels=CHANNELS,
                          clock=lambda: NOW)
    async with serve_asgi(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        poison(db)
        raw = json.dumps(two_texts(fixtures_dir, {"id": POISON}, {"id": "wamid.FINE"})).encode()
        assert (await http.post("/webhook", content=raw, headers=post_headers(raw))).status_code == 200
    assert await asyncio.to_thread(main, ["reingest", "--config", str(config)]) == 1  # still failing: says so
    out = capsys.readouterr().out
    assert "0 webhook bodies ingested" in out and "1 still pending" in out and "poisoned by the test" in out

    cure(db)
    assert await asyncio.to_thread(main, ["reingest", "--config", str(config)]) == 0  # no backoff wait
    assert "1 webhook body ingested (1 new messages" in capsys.readouterr().out
    assert sorted(query(db, "SELECT wamid FROM message")) == [("wamid.FINE",), (POISON,)]
    assert query(db, "SELECT state, outcome, note FROM raw_event") == [("done", "ok", None)]


async def test_bodies_the_old_receiver_acknowledged_but_never_ingested_become_pending(tmp_path, fixtures_dir):
    from core.store.schema import MIGRATIONS, script_for
    db = tmp_path / "wabox.db"
    raw = (fixtures_dir / "text.json").read_bytes()
    with sqlite3.connect(db) as conn:  # a database as the previous release left it
        conn.executescript(script_for(MIGRATIONS[0], "sqlite") + "; PRAGMA user_version = 1;")
        conn.executemany("INSERT INTO raw_event(received_at, body, outcome, note) VALUES (?, ?, ?, ?)",
                         [(NOW, raw, "ok", "ingest failed: OSError(24, 'Too many open files')"),
                          (NOW, b"{}", "unparsed", "did not parse: no entry[] list"), (NOW, raw, "ok", None)])
    store = await Store.open(db)
    await store.close()
    assert query(db, "SELECT state FROM raw_event ORDER BY id") == [("pending",), ("pending",), ("done",)]
    config = write_config(tmp_path, {"209837465112233": "48221234567"})
    assert await asyncio.to_thread(main, ["reingest", "--config", str(config)]) == 1  # the "{}" never will
    assert query(db, "SELECT count(*) FROM message") == [(1,)]
