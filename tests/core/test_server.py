"""The receiver over real HTTP: handshake, signatures, size limit, commit-before-200, raw keeping."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from core.asgi import serve_asgi
from core.server import create_receiver
from core.store import Store
from core.webhooks import sign
from tests.conftest import APP_SECRET, VERIFY_TOKEN
from tests.core.ingest_helpers import CHANNELS


@pytest.fixture
async def receiver(db_target):
    db = db_target
    app = create_receiver(db, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, channels=CHANNELS,
                          clock=lambda: 1795600000)
    async with serve_asgi(app) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield http, db


async def count(db, table: str) -> int:
    store = await Store.open(db)
    try:
        return await store.scalar(f"SELECT count(*) FROM {table}")
    finally:
        await store.close()


def signed(raw: bytes, secret: str = APP_SECRET) -> dict:
    return {"X-Hub-Signature-256": sign(raw, secret), "Content-Type": "application/json"}


def test_the_signature_matches_the_documented_vectors(fixtures_dir):
    raw = (fixtures_dir / "text.json").read_bytes()
    assert sign(raw, APP_SECRET) == "sha256=2510663167ea2e10b83c7d8fe2283681c96b9a91feca567992314185ada7970a"
    assert sign(b'{"object":"whatsapp_business_account","entry":[]}', "test_app_secret") == (
        "sha256=dec6a680679a968e7e0319355b23599cbfc54502c0784668e9618baa0c633756")


@pytest.mark.parametrize("query, status, body", [
    ("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wabox-verify-7Qe2", 200, "1158201444"),
    ("hub.mode=subscribe&hub.challenge=0042&hub.verify_token=wabox%2Dverify%2D7Qe2", 200, "0042"),
    ("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong-token", 403, None),
    ("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=WABOX-VERIFY-7QE2", 403, None),
    ("hub.mode=subscribe&hub.challenge=1158201444", 400, None),
    ("hub.mode=unsubscribe&hub.challenge=1158201444&hub.verify_token=wabox-verify-7Qe2", 403, None),
    ("hub.mode=subscribe&hub.verify_token=wabox-verify-7Qe2", 400, None),
    ("hub_mode=subscribe&hub_challenge=1158201444&hub_verify_token=wabox-verify-7Qe2", 400, None),
    ("hub.mode=subscribe&hub.challenge=<script>&hub.verify_token=wabox-verify-7Qe2", 400, None),
])
async def test_the_verification_handshake(receiver, query, status, body, caplog):
    http, _ = receiver
    response = await http.get(f"/webhooks/whatsapp?{query}")
    assert response.status_code == status
    if body is not None:
        assert response.text == body and response.headers["content-type"].startswith("text/plain")
    else:
        assert "1158201444" not in response.text
    assert VERIFY_TOKEN not in caplog.text


async def test_a_signed_post_is_committed_before_the_200(receiver, fixtures_dir):
    http, db = receiver
    raw = (fixtures_dir / "text.json").read_bytes()
    response = await http.post("/webhook", content=raw, headers=signed(raw))
    assert response.status_code == 200
    assert await count(db, "message") == 1  # readable by another connection the moment the 200 arrived
    store = await Store.open(db)
    try:
        row = await store.fetchone("SELECT body, outcome FROM raw_event")
        assert (bytes(row["body"]), row["outcome"]) == (raw, "ok")  # the exact bytes, for inspection
    finally:
        await store.close()


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 403),
    ({"X-Hub-Signature-256": "sha1=abc"}, 403),
    ({"X-Hub-Signature-256": "sha256=zz"}, 403),
])
async def test_a_bad_signature_changes_nothing(receiver, fixtures_dir, headers, status):
    http, db = receiver
    raw = (fixtures_dir / "text.json").read_bytes()
    response = await http.post("/webhook", content=raw, headers=headers)
    assert response.status_code == status
    assert await count(db, "message") == 0 and await count(db, "raw_event") == 0


async def test_a_body_signed_with_another_secret_is_refused(receiver, fixtures_dir):
    http, db = receiver
    raw = (fixtures_dir / "text.json").read_bytes()
    response = await http.post("/webhook", content=raw, headers=signed(raw, "not-our-secret"))
    assert response.status_code == 403 and await count(db, "raw_event") == 0


async def test_a_body_over_3_mb_is_refused(receiver):
    http, db = receiver
    raw = b'{"object":"whatsapp_business_account","entry":[]}' + b" " * (3 * 1024 * 1024)
    response = await http.post("/webhook", content=raw, headers=signed(raw))
    assert response.status_code == 413 and await count(db, "raw_event") == 0


@pytest.mark.parametrize("raw", [b"not json at all", b'{"object": "whatsapp_business_account"}', b"[1, 2]",
                                 b'{"entry": "\xff\xfe"}', b"[" * 100_000 + b"]" * 100_000],
                         ids=["text", "no-entry", "list", "bad-utf8", "nested-too-deep"])
async def test_a_signed_body_that_does_not_parse_is_kept_raw_and_answered_200(receiver, raw):
    http, db = receiver
    response = await http.post("/webhook", content=raw, headers=signed(raw))
    assert response.status_code == 200
    store = await Store.open(db)
    try:
        row = await store.fetchone("SELECT body, outcome, note FROM raw_event")
        assert bytes(row["body"]) == raw and row["outcome"] == "unparsed" and row["note"]
    finally:
        await store.close()


async def test_an_unknown_number_is_kept_raw_without_losing_the_rest(receiver, fixtures_dir):
    http, db = receiver
    body = json.loads((fixtures_dir / "batch_multiple_messages.json").read_text())
    body["entry"][0]["changes"][1]["value"]["metadata"]["phone_number_id"] = "999999999999999"
    raw = json.dumps(body).encode()
    assert (await http.post("/webhook", content=raw, headers=signed(raw))).status_code == 200
    assert await count(db, "message") == 3
    store = await Store.open(db)
    try:
        assert await store.scalar("SELECT outcome FROM raw_event") == "partial"
    finally:
        await store.close()


async def test_concurrent_posts_are_all_committed(receiver, fixtures_dir):
    http, db = receiver
    template = json.loads((fixtures_dir / "text.json").read_text())
    bodies = []
    for i in range(60):
        template["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.CONCURRENT{i}"
        bodies.append(json.dumps(template).encode())
    responses = await asyncio.gather(*(http.post("/webhook", content=b, headers=signed(b)) for b in bodies))
    assert {r.status_code for r in responses} == {200}
    assert await count(db, "message") == 60


async def test_healthz(receiver):
    http, _ = receiver
    response = await http.get("/healthz")
    assert response.status_code == 200 and response.json()["ok"] is True


@pytest.mark.parametrize("env, missing", [({}, "app_secret and verify_token"),
                                          ({"WABOX_APP_SECRET": APP_SECRET}, "verify_token")])
def test_serve_refuses_to_start_without_its_secrets(tmp_path, env, missing):
    import os
    import subprocess
    import sys

    from tests.core.receiver_process import free_port, write_config
    config = write_config(tmp_path, {"209837465112233": "48221234567"})
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WABOX_")}
    done = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--config", str(config), "--port",
                           str(free_port())], env={**clean, **env}, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and f"without {missing}" in done.stderr
    assert APP_SECRET not in done.stdout + done.stderr
