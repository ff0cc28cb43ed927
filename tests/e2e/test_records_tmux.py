"""End to end, as a person drives it (issue 9): import contacts, companies and deals with the real `wabox import`
into the database of a running `wabox serve` (tests/e2e/production.py, on SQLite and on PostgreSQL); in the real
inbox under tmux find the company in the records screen, start a WhatsApp conversation with one of its contacts
by template; the simulator receives it; the customer's reply threads under that contact, and the context panel
shows the company and the deal."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.core.records_helpers import RECORDS_FIXTURES
from tests.e2e.production import cli, production

pytestmark = pytest.mark.e2e

TOMASZ = "48512000111"


def test_a_conversation_started_from_an_imported_company_threads_the_reply_under_its_contact(tmp_path, db_target):
    with production(tmp_path, db_target) as running:
        env, sim = running.env, running.sim
        cli(env, "agents", "add", "kasia")
        for kind in ("companies", "contacts", "deals"):
            cli(env, "import", kind, str(RECORDS_FIXTURES / f"e2e_{kind}.csv"))
        [tomasz] = json.loads(cli(env, "contacts", "list", "--json", "--search", "Tomasz Bursztyn"))
        screen = running.open_inbox("kasia")
        screen.wait_for("All open", timeout=60)

        screen.send("C")                                   # the records screen
        screen.wait_for("contacts")
        screen.send("]")                                     # companies
        screen.wait_for("companies")
        screen.send("/")
        time.sleep(0.3)  # let the search field take focus, as a person would
        screen.type("amber")
        screen.wait_for("1 companies matching 'amber'")
        screen.send("Enter")                                 # back to the list
        screen.send("Enter")                                 # the company's page
        page = screen.wait_for("Company  Amber Yachts")
        assert "Gdynia" in page and "Tomasz Bursztyn" in page and "Zofia Morska" in page
        screen.send("w")                                     # start a WhatsApp conversation
        screen.wait_for("Write to which contact?")
        screen.type("tomasz")
        screen.send("Enter")                                 # one connected number: no question which
        screen.wait_for("Template to")                       # no session with him: the template picker
        screen.type("hello")
        screen.send("Enter")
        screen.wait_for("Preview:")
        screen.send("C-s")

        def sent_to_tomasz() -> list[dict]:
            return [o for o in httpx.get(f"{sim}/_sim/outbound").json() if o["to"] == TOMASZ]

        screen.wait_for(lambda _: bool(sent_to_tomasz()), timeout=20)   # wabox serve sent it to the simulator
        screen.wait_for("Dzień dobry! Dziękujemy")
        [sent] = sent_to_tomasz()
        assert sent["body"]["type"] == "template" and sent["body"]["template"]["name"] == "hello"

        httpx.post(f"{sim}/_sim/inbound", json={"from": TOMASZ, "phone_number_id": sent["phone_number_id"],
                                                 "name": "Tomek", "text": "Chętnie porozmawiam o czarterze"}
                   ).raise_for_status()
        shown = screen.wait_for("Chętnie porozmawiam o czarterze", timeout=10)
        assert "Amber Yachts" in shown and "Amber fleet charter" in shown   # the context panel's records
        threads = json.loads(cli(env, "contacts", "show", str(tomasz["id"]), "--json"))["threads"]
        [thread] = [t for t in json.loads(cli(env, "threads", "--json")) if t["id"] in threads]
        assert thread["contact"]["id"] == tomasz["id"] and thread["contact"]["name"] == "Tomasz Bursztyn"
        assert "Chętnie porozmawiam" in thread["preview"]
