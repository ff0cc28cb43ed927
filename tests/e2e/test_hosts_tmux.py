"""Two hosts, one database, end to end: two `wabox serve` processes (each with its sender) and an inbox under tmux
(160x48). A customer's message reaching either receiver is on the inbox's screen without a keypress (on
PostgreSQL by LISTEN/NOTIFY: no process shares memory or a file with another); the agent's typed reply is sent
once although two senders watch the outbox, and shows delivered. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from core.webhooks import sign
from tests.e2e.production import NUMBER, SECRETS, cli, production, wait_until
from tests.e2e.test_demo_tmux import status_of

pytestmark = pytest.mark.e2e


def customer_writes_to(port: int, wamid: str, text: str) -> None:
    """A signed webhook, as Meta posts it, straight to one receiver (sent now: the session is open)."""
    body = {"object": "whatsapp_business_account", "entry": [{"id": "310492887654321", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "48221234567", "phone_number_id": NUMBER},
            "contacts": [{"profile": {"name": "Anna Kowalska"}, "wa_id": "48601234567"}],
            "messages": [{"from": "48601234567", "id": wamid, "timestamp": str(int(time.time())), "type": "text",
                          "text": {"body": text}}]}}]}]}
    raw = json.dumps(body).encode()
    response = httpx.post(f"http://127.0.0.1:{port}/webhook", content=raw,
                          headers={"X-Hub-Signature-256": sign(raw, SECRETS["WABOX_APP_SECRET"]),
                                   "Content-Type": "application/json"})
    assert response.status_code == 200


def writes_through_the_simulator(sim: str, text: str) -> None:
    httpx.post(f"{sim}/_sim/inbound", json={"from": "48601234567", "name": "Anna Kowalska", "phone_number_id": NUMBER,
                                            "type": "text", "text": text}).raise_for_status()


def test_a_webhook_into_either_host_is_on_the_screen_and_a_reply_goes_out_once(tmp_path, db_target):
    with production(tmp_path, db_target, hosts=2) as hosts:
        second = hosts.serve_ports[1]
        cli(hosts.env, "agents", "add", "kasia")
        writes_through_the_simulator(hosts.sim, "Czy paczka wyszła?")  # into the first host
        wait_until(lambda: json.loads(cli(hosts.env, "threads", "--json")))
        screen = hosts.open_inbox("kasia")
        screen.wait_for("Anna Kowalska", timeout=30)
        screen.send("Enter")
        screen.wait_for("Czy paczka wyszła?")

        customer_writes_to(second, "wamid.HOSTS-2", "Napiszę jeszcze przez drugi serwer")
        screen.wait_for("Napiszę jeszcze przez drugi serwer", timeout=10)  # no key pressed

        screen.send("r")
        screen.wait_for("To Anna Kowalska")
        screen.type("Tak, wyszła wczoraj.")
        screen.wait_for("Tak, wyszła wczoraj.")
        screen.send("Enter")
        final = screen.wait_for(lambda s: status_of(s, "Tak, wyszła wczoraj.") in ("delivered", "read"), timeout=30)
        assert status_of(final, "Tak, wyszła wczoraj.") in ("delivered", "read")
        sent = [o["body"]["text"]["body"] for o in httpx.get(f"{hosts.sim}/_sim/outbound").json()
                if o["body"].get("type") == "text"]
        assert sent == ["Tak, wyszła wczoraj."]

        writes_through_the_simulator(hosts.sim, "Dziękuję!")
        screen.wait_for("Dziękuję!", timeout=10)
