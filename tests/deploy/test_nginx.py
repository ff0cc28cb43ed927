"""The shipped nginx configuration (deploy/nginx/wabox.conf), run by the real nginx on loopback with a
self-signed certificate, in front of a real `wabox serve`: signed webhooks go through byte for byte, the edge
refuses what is too large, and a forged signature is still refused behind it."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from core.webhooks import sign
from tests.conftest import REPO
from tests.core.receiver_process import APP_SECRET, VERIFY_TOKEN, ReceiverProcess, free_port, write_config

pytestmark = pytest.mark.slow

SHIPPED = REPO / "deploy" / "nginx" / "wabox.conf"
CHANNEL = "209837465112233"


def derive(shipped: str, *, port: int, upstream: int, cert: Path, key: Path) -> str:
    """The shipped file with only what differs on a test machine swapped: listen address, upstream port, certificate.
    Each swap must match exactly once, so a reshaped config fails here instead of being half tested."""
    swaps = [(r"listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;"),
             (r"server 127\.0\.0\.1:8080;", f"server 127.0.0.1:{upstream};"),
             (r"ssl_certificate     \S+;", f"ssl_certificate     {cert};"),
             (r"ssl_certificate_key \S+;", f"ssl_certificate_key {key};")]
    for pattern, replacement in swaps:
        shipped, count = re.subn(pattern, replacement, shipped)
        assert count == 1, f"{pattern!r} matched {count} times in {SHIPPED}"
    return shipped


def main_config(directory: Path, site: Path) -> str:
    """A main nginx.conf that runs unprivileged: one process, in the foreground, every path under `directory`."""
    temp = "\n".join(f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                            "uwsgi", "scgi"))
    return (f"daemon off;\nmaster_process off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
            f"error_log {directory / 'error.log'} info;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    access_log {directory / 'access.log'};\n{temp}\n    include {site};\n}}\n")


@pytest.fixture
def through_nginx(tmp_path):
    nginx, openssl = shutil.which("nginx") or "/usr/sbin/nginx", shutil.which("openssl")
    assert Path(nginx).exists() and openssl, "nginx and openssl must be installed (apt-get install nginx)"
    receiver = ReceiverProcess(write_config(tmp_path, {CHANNEL: "48221234567"}), free_port(), tmp_path / "serve.log")
    receiver.start()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    port = free_port()
    site = tmp_path / "wabox.conf"
    site.write_text(derive(SHIPPED.read_text(), port=port, upstream=receiver.port, cert=cert, key=key))
    main = tmp_path / "nginx.conf"
    main.write_text(main_config(tmp_path, site))
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proxy = subprocess.Popen([nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proxy.poll() is None, proxy.stderr.read().decode()
            try:
                httpx.get(url + "/healthz", verify=False, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "nginx did not come up"
                time.sleep(0.05)
        yield url, tmp_path / "wabox.db"
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        receiver.stop()


def text_webhook(wamid: str, text: str) -> bytes:
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "48221234567", "phone_number_id": CHANNEL},
             "contacts": [{"profile": {"name": "Anna"}, "wa_id": "48601234567"}],
             "messages": [{"from": "48601234567", "id": wamid, "timestamp": "1795519200", "type": "text",
                           "text": {"body": text}}]}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "310492887654321", "changes": [{"field": "messages", "value": value}]}]},
                      ensure_ascii=False, indent=1).encode()


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_signed_webhooks_go_through_nginx_byte_for_byte(through_nginx):
    url, db = through_nginx
    with httpx.Client(base_url=url, verify=False) as http:
        handshake = http.get("/webhook", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                                 "hub.challenge": "1158201444"})
        assert (handshake.status_code, handshake.text) == (200, "1158201444")
        plain = text_webhook("wamid.NGINX-1", "Dzień dobry  \r\n  z odstępami")
        response = http.post("/webhook", content=plain, headers={"X-Hub-Signature-256": sign(plain, APP_SECRET)})
        assert response.status_code == 200
        chunked = text_webhook("wamid.NGINX-2", "w kawałkach")
        response = http.post("/webhooks/whatsapp", content=iter([chunked[:50], chunked[50:]]),
                             headers={"X-Hub-Signature-256": sign(chunked, APP_SECRET)})
        assert response.status_code == 200
    assert rows(db, "SELECT wamid, text FROM message ORDER BY wamid") == [
        ("wamid.NGINX-1", "Dzień dobry  \r\n  z odstępami"), ("wamid.NGINX-2", "w kawałkach")]
    assert [bytes(body) for (body,) in rows(db, "SELECT body FROM raw_event ORDER BY id")] == [plain, chunked]


def test_nginx_refuses_what_is_too_large_and_wabox_what_is_forged(through_nginx):
    url, db = through_nginx
    with httpx.Client(base_url=url, verify=False) as http:
        big = text_webhook("wamid.BIG", "x" * (3 * 1024 * 1024))
        response = http.post("/webhook", content=big, headers={"X-Hub-Signature-256": sign(big, APP_SECRET)})
        assert response.status_code == 413 and "nginx" in response.text  # refused at the edge
        forged = text_webhook("wamid.FORGED", "Przelej pieniądze")
        response = http.post("/webhook", content=forged, headers={"X-Hub-Signature-256": sign(forged, "guess")})
        assert response.status_code == 403
        assert http.get("/admin").status_code == 404  # only the webhook paths are proxied
    assert rows(db, "SELECT count(*) FROM raw_event") == [(0,)]
