"""Inbound media: downloaded under a name wabox makes, sha256 checked in either encoding, refused if it differs."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from core.cloudapi import CloudApi
from core.media import download_inbound, extension_for, sha256_matches
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
