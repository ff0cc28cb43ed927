"""A real `wabox serve` under the attacks that needed no credentials, and a full disk: every webhook answered 200 is
in the inbox, every other one was answered 5xx (or not at all, which Meta also retries), and once the pressure
is gone everything Meta keeps sending goes in."""

from __future__ import annotations

import asyncio
import json
import resource
import socket

import httpx
import pytest

from core.webhooks import sign
from tests.app.helpers import db_rows
from tests.core.receiver_process import APP_SECRET, ReceiverProcess, free_port, write_config

pytestmark = pytest.mark.slow

CHANNEL = "209837465112233"


def body(n: int, padding: int = 0) -> bytes:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "48221234567", "phone_number_id": CHANNEL},
             "contacts": [{"profile": {"name": f"Klient {n}"}, "wa_id": f"4860{n:07d}"}],
             "messages": [{"from": f"4860{n:07d}", "id": f"wamid.FLOOD-{n}", "timestamp": str(1795519200 + n),
                           "type": "text", "text": {"body": f"wiadomość {n} " + "x" * padding}}]}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "310492887654321", "changes": [{"field": "messages", "value": value}]}]
                       }).encode()


def stored(db) -> set[str]:
    return {row[0] for row in db_rows(db, "SELECT wamid FROM message")}


@pytest.fixture
def serve(tmp_path, db_target):
    started = []

    def start(*args: str, limits: dict[int, int] | None = None) -> ReceiverProcess:
        process = ReceiverProcess(write_config(tmp_path, {CHANNEL: "48221234567"}, db=db_target), free_port(),
                                  tmp_path / "serve.log", args=args, limits=limits)
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


async def post(http: httpx.AsyncClient, url: str, raw: bytes) -> int | None:
    """The status, or None when no answer came (refused, reset, timed out)."""
    try:
        response = await http.post(url + "/webhook", content=raw, timeout=3,
                                   headers={"X-Hub-Signature-256": sign(raw, APP_SECRET)})
    except httpx.TransportError:
        return None
    return response.status_code


async def flood_then_check(db, url: str, idle_connections: int, webhooks: int = 30) -> dict[int, int | None]:
    """Hold `idle_connections` open and silent, send `webhooks` signed bodies meanwhile, then retry each one not
    answered 200 (as Meta does) until it is. Returns the first answer each body got."""
    idle = []
    for _ in range(idle_connections):
        sock = socket.socket()
        sock.setblocking(False)
        try:
            sock.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
        except BlockingIOError:
            pass
        idle.append(sock)
    await asyncio.sleep(0.5)  # let the server take what it can of them
    async with httpx.AsyncClient() as http:
        first = dict(zip(range(webhooks), await asyncio.gather(*(post(http, url, body(n)) for n in range(webhooks)))))
        answered_200 = {f"wamid.FLOOD-{n}" for n, status in first.items() if status == 200}
        assert answered_200 <= stored(db)  # what was acknowledged is in the inbox
        assert all(status is None or status >= 500 for status in first.values() if status != 200)
        assert not {f"wamid.FLOOD-{n}" for n, s in first.items() if s != 200} & stored(db)
        for n, status in first.items():
            for _ in range(60):
                if status == 200:
                    break
                await asyncio.sleep(0.25)
                status = await post(http, url, body(n))
            assert status == 200
    assert stored(db) == {f"wamid.FLOOD-{n}" for n in range(webhooks)}
    for sock in idle:
        sock.close()
    return first


async def test_an_idle_connection_flood_cannot_starve_webhooks_for_long(serve, tmp_path, db_target):
    receiver = serve("--max-connections", "50", "--read-timeout", "2")
    first = await flood_then_check(db_target, receiver.url, idle_connections=300)
    assert 503 in first.values()  # while the flood held every slot, Meta was told to retry — not 200, not lost
    log = (tmp_path / "serve.log").read_text()
    assert "Exceeded concurrency limit" not in log  # counted into the periodic summary, not a line each


async def test_out_of_descriptors_nothing_acknowledged_is_lost(serve, db_target):
    receiver = serve("--max-connections", "1000", "--read-timeout", "2", limits={resource.RLIMIT_NOFILE: 96})
    first = await flood_then_check(db_target, receiver.url, idle_connections=200)
    assert None in first.values() or 503 in first.values()  # the flood did bite
    assert receiver.process.poll() is None  # and the receiver is still up


@pytest.mark.sqlite_only(reason="the full disk is RLIMIT_FSIZE on the database file")
async def test_a_full_disk_answers_503_and_keeps_nothing_half_stored(serve, tmp_path, db_target):
    receiver = serve(limits={resource.RLIMIT_FSIZE: 2 * 1024 * 1024})  # writes past 2 MB fail as on a full disk
    answers = {}
    async with httpx.AsyncClient() as http:
        for n in range(200):
            answers[n] = await post(http, receiver.url, body(n, padding=40_000))
            if list(answers.values())[-3:] == [503] * 3:
                break
    accepted = {f"wamid.FLOOD-{n}" for n, status in answers.items() if status == 200}
    assert accepted and 503 in answers.values()
    assert set(answers.values()) <= {200, 503}
    assert stored(db_target) == accepted  # every 200 in the inbox, no 503 half in it
    assert "OperationalError('disk I/O error')): answered 503" in (tmp_path / "serve.log").read_text()
    receiver.stop()
    receiver = serve()  # space freed: what Meta sends again goes in
    async with httpx.AsyncClient() as http:
        for n, status in answers.items():
            if status != 200:
                assert await post(http, receiver.url, body(n, padding=40_000)) == 200
    assert stored(db_target) == {f"wamid.FLOOD-{n}" for n in answers}


async def test_no_signed_field_can_forge_a_log_line(serve, tmp_path):
    receiver = serve()
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "1",
                                                           "phone_number_id": "999\nFORGED ERROR by the number"},
             "errors": [{"code": 131000, "title": "bad\nFORGED ERROR by the title\x1b[2J"}],
             "messages": [{"from": "48600000001", "id": "wamid.LOG", "timestamp": "1795519200", "type": "text",
                           "text": {"body": "hej"}}]}
    raw = json.dumps({"object": "whatsapp_business_account",
                      "entry": [{"id": "3\nFORGED ERROR by the waba", "changes": [{"field": "messages",
                                                                                  "value": value}]}]}).encode()
    async with httpx.AsyncClient() as http:
        assert await post(http, receiver.url, raw) == 200
    receiver.stop()
    log = (tmp_path / "serve.log").read_text()
    assert "FORGED ERROR by the title" in log and "FORGED ERROR by the number" in log  # logged, escaped:
    assert not [line for line in log.splitlines() if line.startswith("FORGED")]
    assert "\x1b" not in log
