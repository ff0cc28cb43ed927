"""Production's shape, on loopback (tests/e2e/production.py), driven by the scripting CLI; on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.production import NUMBER, WABOX, cli, production, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def deployment(tmp_path, db_target):
    with production(tmp_path, db_target) as running:
        yield running.env, running.sim, tmp_path


def test_a_customer_writes_an_agent_answers_from_the_cli_and_media_is_kept(deployment):
    env, sim, tmp_path = deployment
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
