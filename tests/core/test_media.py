"""Inbound media: downloaded under a name wabox makes, sha256 checked in either encoding, refused if it differs."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from core.cloudapi import CloudApi
from core.media import download_inbound, extension_for, retry_delay, retry_due, sha256_matches
from core.store.reads import thread_messages
from core.webhooks import parse
from tests.core.ingest_helpers import apply, load

PDF = b"%PDF-1.7\n" + bytes(3000)


def graph(content: bytes, *, host: str = "lookaside.fbsbx.com") -> CloudApi:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "graph.facebook.com":
            return httpx.Response(200, json={"id": "m1", "url": f"https://{host}/whatsapp_business/m1",
                                             "mime_type": "application/pdf", "file_size": len(content),
                                             "sha256": hashlib.sha256(content).hexdigest()})
        assert request.headers["Authorization"].startswith("Bearer ")
        return httpx.Response(200, content=content)

    return CloudApi(httpx.AsyncClient(transport=httpx.MockTransport(handler)), token="t",
                    base_url="https://graph.facebook.com/v23.0")


@pytest.fixture
async def document(store, fixtures_dir):
    body = load(fixtures_dir, "document.json")
    await apply(store, body)
    [event] = parse(body)
    return event


def test_meta_sha256_is_accepted_as_base64_or_hex_and_anything_else_refused():
    digest = hashlib.sha256(PDF).digest()
    assert sha256_matches(digest, base64.b64encode(digest).decode())
    assert sha256_matches(digest, digest.hex())
    assert not sha256_matches(digest, base64.b64encode(hashlib.sha256(b"other").digest()).decode())


def test_the_extension_comes_from_the_mime_type_never_the_file_name():
    assert extension_for("application/pdf") == ".pdf"
    assert extension_for("audio/ogg; codecs=opus") == ".ogg"
    assert extension_for("application/x-made-up") == ".bin"


async def test_a_download_whose_sha256_differs_is_discarded(store, document, tmp_path):
    media = tmp_path / "media"
    assert document.sha256  # the fixture's hash is of Meta's file, not of these bytes
    path = await download_inbound(store, graph(PDF), media, document)
    assert path is None and list(media.iterdir()) == []
    assert await store.scalar("SELECT media_path FROM message WHERE wamid = ?", (document.wamid,)) is None


async def test_a_good_download_is_stored_under_our_name_and_recorded(store, document, tmp_path):
    matching = type(document)(**{**{f: getattr(document, f) for f in document.__slots__},
                                 "sha256": base64.b64encode(hashlib.sha256(PDF).digest()).decode()})
    path = await download_inbound(store, graph(PDF), tmp_path / "media", matching)
    assert path is not None and path.parent == tmp_path / "media" and path.suffix == ".pdf"
    assert document.file_name and document.file_name not in path.name
    row = await store.fetchone("SELECT media_path, file_size FROM message WHERE wamid = ?", (document.wamid,))
    assert tuple(row) == (str(path), len(PDF)) and path.read_bytes() == PDF


async def test_the_token_never_goes_to_a_host_we_do_not_trust(store, document, tmp_path):
    assert await download_inbound(store, graph(PDF, host="evil.example"), tmp_path / "media", document) is None
    assert await store.scalar("SELECT media_path FROM message WHERE wamid = ?", (document.wamid,)) is None


def flaky_graph(content: bytes, failures: list[int]) -> CloudApi:
    """Graph answers each media request with the next status in `failures` (a 5xx, or a permanent error), then
    serves the file."""
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "graph.facebook.com":
            if failures:
                status = failures.pop(0)
                code = 131052 if status == 400 else 2
                return httpx.Response(status, json={"error": {"message": "Media download error", "code": code}})
            return httpx.Response(200, json={"id": "m1", "url": "https://lookaside.fbsbx.com/whatsapp_business/m1",
                                             "mime_type": "application/pdf", "file_size": len(content),
                                             "sha256": hashlib.sha256(content).hexdigest()})
        return httpx.Response(200, content=content)

    return CloudApi(httpx.AsyncClient(transport=httpx.MockTransport(handler)), token="t",
                    base_url="https://graph.facebook.com/v23.0")


async def media_state(store, wamid: str) -> tuple:
    row = await store.fetchall("SELECT media_path, media_error, media_attempts, media_retry_at FROM message"
                               " WHERE wamid = ?", (wamid,))
    return tuple(row[0])


async def test_a_failed_download_is_recorded_with_its_reason_and_retried_with_backoff(store, document, tmp_path):
    media = tmp_path / "media"
    plain = replace(document, sha256=None)  # these bytes are not Meta's file: no hash to hold them to
    api = flaky_graph(PDF, [503, 503])
    assert await download_inbound(store, api, media, plain, now=1000) is None
    path, error, attempts, retry_at = await media_state(store, document.wamid)
    assert path is None and "Media download error" in error and attempts == 1 and retry_at == 1000 + 30
    assert await retry_due(store, api, media, now=1029) == 0  # not due yet
    await store.write(lambda db: db.execute("UPDATE message SET sha256 = NULL WHERE wamid = ?", (document.wamid,)))
    assert await retry_due(store, api, media, now=1030) == 1  # fails again: the wait grows
    assert (await media_state(store, document.wamid))[2:] == (2, 1030 + 120)
    assert await retry_due(store, api, media, now=1150) == 1  # now it works
    path, error, attempts, retry_at = await media_state(store, document.wamid)
    assert Path(path).read_bytes() == PDF and error is None and retry_at is None
    [message] = [m for m in await thread_messages(store, 1, limit=50) if m.wamid == document.wamid]
    assert message.media_path == path and not message.media_retrying


async def test_a_permanent_failure_is_shown_and_not_retried(store, document, tmp_path):
    api = flaky_graph(PDF, [400])
    assert await download_inbound(store, api, tmp_path / "media", document, now=1000) is None
    path, error, attempts, retry_at = await media_state(store, document.wamid)
    assert path is None and attempts == 1 and retry_at is None and "131052" in error
    [message] = [m for m in await thread_messages(store, 1, limit=50) if m.wamid == document.wamid]
    assert message.media_error == error and not message.media_retrying
    assert await retry_due(store, api, tmp_path / "media", now=10**10) == 0


def test_the_backoff_grows_and_ends():
    assert [retry_delay(n) for n in range(1, 7)] == [30, 120, 480, 1920, 7680, None]
