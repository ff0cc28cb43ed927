"""End to end, as a person drives it (issue 9): import contacts, companies and deals with the real `wabox import`
into the running demo's database; in the real `wabox demo` under tmux find the company in the records screen, start
a WhatsApp conversation with one of its contacts by template; the simulator receives it; the customer's reply threads
under that contact, and the context panel shows the company and the deal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.core.receiver_process import free_port
from tests.core.records_helpers import RECORDS_FIXTURES
from tests.e2e.tmux import Tmux

pytestmark = pytest.mark.e2e

WABOX = str(Path(sys.executable).with_name("wabox"))
TOMASZ = "48512000111"


def wabox(db: Path, *argv: str) -> subprocess.CompletedProcess:
    config = db.parent / "empty.toml"
    config.write_text("")
    return subprocess.run([WABOX, "--db", str(db), *argv], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "WABOX_CONFIG": str(config)})


def test_a_conversation_started_from_an_imported_company_threads_the_reply_under_its_contact(tmp_path):
    sim_port, db = free_port(), tmp_path / "demo.db"
    sim = f"http://127.0.0.1:{sim_port}"
    screen = Tmux([WABOX, "demo", "--db", str(db), "--sim-port", str(sim_port), "--agent", "kasia",
                   "--quiet-customers"], env={"TERM": "xterm-256color"})
    try:
        screen.wait_for("All open", timeout=60)
        for kind in ("companies", "contacts", "deals"):
            done = wabox(db, "import", kind, str(RECORDS_FIXTURES / f"e2e_{kind}.csv"))
            assert done.returncode == 0, done.stderr
        [tomasz] = json.loads(wabox(db, "contacts", "list", "--json", "--search", "Tomasz Bursztyn").stdout)

        screen.send("C")                                   # the records screen
        screen.wait_for("contacts")
        screen.send("]")                                     # companies
        screen.wait_for("companies")
        screen.send("/")
        screen.type("amber")
        screen.wait_for("1 companies matching 'amber'")
        screen.send("Enter")                                 # back to the list
        screen.send("Enter")                                 # the company's page
        page = screen.wait_for("Company  Amber Yachts")
        assert "Gdynia" in page and "Tomasz Bursztyn" in page and "Zofia Morska" in page
        screen.send("w")                                     # start a WhatsApp conversation
        screen.wait_for("Write to which contact?")
        screen.type("tomasz")
        screen.send("Enter")
        screen.wait_for("From which number?")
        screen.send("Enter")                                 # the first connected number
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
        threads = json.loads(wabox(db, "contacts", "show", str(tomasz["id"]), "--json").stdout)["threads"]
        [thread] = [t for t in json.loads(wabox(db, "threads", "--json").stdout) if t["id"] in threads]
        assert thread["contact"]["id"] == tomasz["id"] and thread["contact"]["name"] == "Tomasz Bursztyn"
        assert "Chętnie porozmawiam" in thread["preview"]
    finally:
        screen.send("C-q")
        try:
            screen.wait_for("The demo database stays at", timeout=10)
        finally:
            screen.close()
