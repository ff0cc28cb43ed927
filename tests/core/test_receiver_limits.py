"""What a public endpoint needs: deadlines for headers and bodies, a connection cap, the size cap while streaming,
quiet logs under a flood, and no request that can forge a log line or a reflected handshake."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
import pytest

from core import raw_events
from core.asgi import Limits, serve_asgi
from core.server import MAX_BODY, create_receiver
from core.webhooks import sign
from tests.conftest import APP_SECRET, VERIFY_TOKEN
from tests.core.ingest_helpers import CHANNELS
from tests.app.helpers import db_rows as query

LIMITS = Limits(header_timeout=0.5, keep_alive=0.5, max_connections=8)


@contextlib.asynccontextmanager
async def receiver(db_target, limits: Limits = LIMITS):
    app = create_receiver(db_target, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN,
                          channels=CHANNELS, clock=lambda: 1795600000, read_timeout=0.5)
    async with serve_asgi(app, limits=limits) as port:
        yield port


def request(raw: bytes, *, extra: bytes = b"") -> bytes:
    return (b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-Hub-Signature-256: " + sign(raw, APP_SECRET).encode() + b"\r\n" + extra +
            b"Content-Length: " + str(len(raw)).encode() + b"\r\n\r\n")


async def test_a_connection_that_sends_nothing_is_closed(db_target):
    async with receiver(db_target) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await reader.read() == b""  # the server hung up: an idle connection costs it nothing for long
        writer.close()


async def test_a_kept_alive_connection_left_idle_is_closed(db_target):
    async with receiver(db_target) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.1 200 ")
        rest = await reader.read()  # the answer, then the server hangs up: no further request came
        assert rest.endswith(b"}") and b"Connection: close" not in rest
        writer.close()


async def test_headers_sent_a_byte_at_a_time_are_cut_off(db_target, fixtures_dir):
    raw = (fixtures_dir / "text.json").read_bytes()
    async with receiver(db_target) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        closed = asyncio.create_task(reader.read())
        for byte in request(raw):
            if closed.done():
                break
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)
        assert await closed == b""  # closed before the headers were through, though bytes kept coming
        writer.close()
    assert query(db_target, "SELECT count(*) FROM raw_event") == [(0,)]


async def test_a_body_that_arrives_too_slowly_is_answered_408(db_target, fixtures_dir):
    raw = (fixtures_dir / "text.json").read_bytes()
    async with receiver(db_target) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request(raw) + raw[:20])
        answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 408 ")
        writer.close()
    assert query(db_target, "SELECT count(*) FROM raw_event") == [(0,)]


async def test_a_chunked_body_over_3_mb_is_refused_while_it_streams(db_target):
    async with receiver(db_target) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                     b"X-Hub-Signature-256: sha256=" + b"0" * 64 + b"\r\n\r\n")
        answer = asyncio.create_task(reader.readline())  # the status line; the rest may be cut by a reset
        sent, chunk = 0, b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        with contextlib.suppress(ConnectionError):
            while not answer.done() and sent < 10 * MAX_BODY:  # an endless body, as fast as it is taken
                writer.write(chunk)
                await writer.drain()
                sent += 0x10000
        assert (await answer).startswith(b"HTTP/1.1 413 ")
        writer.close()
    assert sent < 10 * MAX_BODY  # answered while the body was still coming, not after it ended (it never does)


async def test_beyond_the_connection_cap_requests_are_answered_503_and_go_in_once_it_clears(db_target, fixtures_dir):
    raw = (fixtures_dir / "text.json").read_bytes()
    limits = Limits(header_timeout=30, keep_alive=30, max_connections=4)
    async with receiver(db_target, limits) as port:
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
        async with httpx.AsyncClient() as http:
            url, headers = f"http://127.0.0.1:{port}/webhook", {"X-Hub-Signature-256": sign(raw, APP_SECRET)}
            refused = await http.post(url, content=raw, headers=headers)
            assert refused.status_code == 503  # Meta retries a 503
            assert query(db_target, "SELECT count(*) FROM message") == [(0,)]
            for _, writer in idle:
                writer.close()
            for _ in range(200):
                if (accepted := await http.post(url, content=raw, headers=headers)).status_code == 200:
                    break
                await asyncio.sleep(0.02)
            assert accepted.status_code == 200
    assert query(db_target, "SELECT count(*) FROM message") == [(1,)]


async def test_a_client_leaving_mid_body_logs_no_traceback(db_target, fixtures_dir, caplog):
    raw = (fixtures_dir / "text.json").read_bytes()
    caplog.set_level(logging.INFO)
    async with receiver(db_target) as port:
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request(raw) + raw[:100])
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        await asyncio.sleep(0.2)
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert "3 client gone mid-body" in caplog.text


async def test_rejected_requests_are_logged_as_one_summary(db_target, fixtures_dir, caplog):
    raw = (fixtures_dir / "text.json").read_bytes()
    caplog.set_level(logging.INFO)
    async with receiver(db_target, Limits()) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for i in range(200):
            forged = raw + b" " * i
            await http.post("/webhook", content=forged,
                            headers={"X-Hub-Signature-256": f"sha256={i:064x}"})
        for _ in range(3):
            await http.post("/webhook", content=b"x" * (MAX_BODY + 1), headers={"X-Hub-Signature-256": "sha256=0"})
        await http.post("/webhook", content=raw)
        for _ in range(2):  # not HTTP at all: uvicorn answers 400 itself, and would log a line each
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"\x16\x03\x01 not http\r\n\r\n")
            await reader.read()
            writer.close()
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines == ["rejected 206 requests in the last 10 s: 200 bad signature, 3 too large, 2 invalid HTTP,"
                     " 1 no signature"]


@pytest.mark.parametrize("challenge", ["²", "１２", "12\n", "٣"])
async def test_the_handshake_echoes_only_ascii_digits(db_target, challenge):
    async with receiver(db_target) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        response = await http.get("/webhook", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                                       "hub.challenge": challenge})
    assert response.status_code == 400 and challenge not in response.text


async def test_a_repeated_signature_header_is_refused(db_target, fixtures_dir):
    raw = (fixtures_dir / "text.json").read_bytes()
    async with receiver(db_target) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        good = sign(raw, APP_SECRET)
        for pair in ([good, "sha256=" + "0" * 64], ["sha256=" + "0" * 64, good], [good, good]):
            response = await http.post("/webhook", content=raw,
                                       headers=[("X-Hub-Signature-256", value) for value in pair])
            assert response.status_code == 400
    assert query(db_target, "SELECT count(*) FROM raw_event") == [(0,)]


@pytest.mark.sqlite_only(reason="reads SQLite's query plan (EXPLAIN QUERY PLAN)")
async def test_healthz_reads_the_last_webhook_without_scanning(db_target, fixtures_dir):
    raw = (fixtures_dir / "text.json").read_bytes()
    async with receiver(db_target) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.get("/healthz")).json()["last_webhook_at"] is None
        await http.post("/webhook", content=raw, headers={"X-Hub-Signature-256": sign(raw, APP_SECRET)})
        health = (await http.get("/healthz")).json()
    assert health == {"ok": True, "last_webhook_at": 1795600000, "pending_webhooks": 0, "oldest_pending_at": None,
                      "last_pending_error": None}
    plans = [query(db_target, "EXPLAIN QUERY PLAN " + sql) for sql in (
        "SELECT received_at FROM raw_event ORDER BY id DESC LIMIT 1", raw_events.BACKLOG_SQL)]
    assert [plan[0][3] for plan in plans] == ["SCAN raw_event", "SCAN raw_event USING INDEX raw_event_pending"]


async def test_bodies_held_at_once_have_a_memory_budget(db_target, fixtures_dir):
    raw = (fixtures_dir / "text.json").read_bytes() + b" " * 30_000  # a valid webhook of ~31 KB
    app = create_receiver(db_target, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN,
                          channels=CHANNELS, clock=lambda: 1795600000, body_budget=100_000)
    async with serve_asgi(app) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request(b"x" * 90_000) + b"x" * 80_000)  # most of a big body, then silence
        await writer.drain()
        headers = {"X-Hub-Signature-256": sign(raw, APP_SECRET)}
        for _ in range(200):  # once the server holds the 80 KB, a 31 KB body no longer fits
            if (busy := await http.post("/webhook", content=raw, headers=headers)).status_code != 200:
                break
            await asyncio.sleep(0.01)
        assert busy.status_code == 503
        writer.close()  # the slow client goes: what it held is given back
        for _ in range(200):
            if (accepted := await http.post("/webhook", content=raw, headers=headers)).status_code == 200:
                break
            await asyncio.sleep(0.01)
        assert accepted.status_code == 200
