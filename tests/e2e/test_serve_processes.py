"""Production's shape, on loopback: `wabox sim` standing in for Meta and `wabox serve` as real processes, configured
by a TOML file and environment secrets, driven by the scripting CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.core.receiver_process import free_port

pytestmark = pytest.mark.e2e
WABOX = str(Path(sys.executable).with_name("wabox"))
NUMBER = "209837465112233"
SECRETS = {"WABOX_APP_SECRET": "proc-app-secret", "WABOX_VERIFY_TOKEN": "proc-verify", "WABOX_ACCESS_TOKEN": "proc-tok"}


def wait_until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if value := check():
                return value
        except (httpx.HTTPError, json.JSONDecodeError, subprocess.CalledProcessError):
            pass
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def production(tmp_path):
    serve_port, sim_port = free_port(), free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'db = "{tmp_path / "wabox.db"}"\nmedia_dir = "{tmp_path / "media"}"\n'
                      f'[meta]\ngraph_url = "http://127.0.0.1:{sim_port}/v23.0"\n'
                      f'[[channels]]\nname = "Ogrody"\nwaba_id = "310492887654321"\n'
                      f'phone_number_id = "{NUMBER}"\ndisplay_phone_number = "48221234567"\n')
    env = {**os.environ, **SECRETS, "WABOX_CONFIG": str(config)}
    logs = (tmp_path / "sim.log").open("wb"), (tmp_path / "serve.log").open("wb")
    sim = subprocess.Popen([WABOX, "sim", "--port", str(sim_port),
                            "--webhook-url", f"http://127.0.0.1:{serve_port}/webhook"], env=env,
                           stdout=logs[0], stderr=logs[0])
    serve = subprocess.Popen([WABOX, "serve", "--port", str(serve_port)], env=env, stdout=logs[1], stderr=logs[1])
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{serve_port}/healthz").status_code == 200)
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{sim_port}/_sim/health").status_code == 200)
        yield env, f"http://127.0.0.1:{sim_port}", tmp_path
    finally:
        for process in (serve, sim):
            process.terminate()
            process.wait(timeout=10)
        for log in logs:
            log.close()
        for name in ("serve.log", "sim.log"):  # nothing secret is ever logged
            text = (tmp_path / name).read_text(errors="replace")
            assert not any(secret in text for secret in SECRETS.values()), name


def cli(env: dict, *args: str) -> str:
    return subprocess.run([WABOX, *args], env=env, capture_output=True, text=True, check=True, timeout=60).stdout


def test_a_customer_writes_an_agent_answers_from_the_cli_and_media_is_kept(production):
    env, sim, tmp_path = production
    httpx.post(f"{sim}/_sim/inbound", json={"from": "48601234567", "name": "Anna Kowalska", "phone_number_id": NUMBER,
                                            "type": "text", "text": "Czy paczka wyszła?"}).raise_for_status()
    httpx.post(f"{sim}/_sim/inbound", json={"from": "48601234567", "phone_number_id": NUMBER, "type": "image",
                                            "caption": "Uszkodzona", "size": 5000}).raise_for_status()
    [thread] = wait_until(lambda: json.loads(cli(env, "threads", "--json")) or None)
    assert thread["contact"]["name"] == "Anna Kowalska" and thread["unread"] == 2

    # wabox serve downloads inbound media into the media directory right after the commit.
    def image_kept():
        messages = json.loads(cli(env, "thread", str(thread["id"]), "--json"))["messages"]
        image = next(m for m in messages if m["type"] == "image")
        return image if image["media"]["path"] else None
    image = wait_until(image_kept)
    assert Path(image["media"]["path"]).parent == tmp_path / "media" and Path(image["media"]["path"]).stat().st_size == 5000

    # The templates were synced from the Graph API by wabox serve.
    assert "order_update" in wait_until(lambda: cli(env, "templates", "--json") if "order_update" in
                                        cli(env, "templates", "--json") else None)

    # An agent answers from the command line; wabox serve's sender sends it; Meta's statuses come back.
    out = subprocess.run([WABOX, "send", "--from", NUMBER, "--to", "+48 601 234 567", "--text", "Tak, wczoraj.",
                          "--wait"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    [sent] = httpx.get(f"{sim}/_sim/outbound").json()
    assert sent["body"]["text"]["body"] == "Tak, wczoraj." and sent["to"] == "48601234567"

    def read():
        messages = json.loads(cli(env, "thread", str(thread["id"]), "--json"))["messages"]
        mine = next(m for m in messages if m["direction"] == "out")
        return mine if mine["status"] == "read" else None
    mine = wait_until(read)
    assert {s["status"] for s in mine["status_history"]} == {"sent", "delivered", "read"}
