"""Issue 10 end to end: `wabox sim` and `wabox serve` as in production (an [[assignment]] rule in the config), two
real inboxes under tmux as two agents of one team, on SQLite and on PostgreSQL (tests/e2e/production.py). A customer
writes; serve assigns the thread to the less loaded agent; the other sees it live; both open it and see each other
viewing; one types and the other sees it; the second to send is warned that the first replied."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.production import NUMBER, cli, production, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def shift(tmp_path, db_target):
    rule = f'[[assignment]]\nchannel = "{NUMBER}"\nteam = "Wsparcie"\n'
    with production(tmp_path, db_target, config=rule) as running:
        for args in (("agents", "add", "kasia"), ("agents", "add", "ola"), ("teams", "add", "Wsparcie"),
                     ("teams", "members", "Wsparcie", "--add", "kasia", "ola")):
            cli(running.env, *args)
        yield running.env, running.sim, running.open_inbox


def writes(sim: str, number: str, name: str, text: str) -> None:
    httpx.post(f"{sim}/_sim/inbound", json={"from": number, "name": name, "phone_number_id": NUMBER, "type": "text",
                                            "text": text}).raise_for_status()


def owner_of(env: dict, name: str) -> str | None:
    found = [t for t in json.loads(cli(env, "threads", "--json")) if t["contact"]["name"] == name]
    return found[0]["owner"] if found and found[0]["owner"] else None


def test_two_agents_share_a_thread_without_answering_twice_unknowingly(shift):
    env, sim, open_inbox = shift
    writes(sim, "48601111111", "Beata Las", "Pierwsze pytanie")
    assert wait_until(lambda: owner_of(env, "Beata Las")) == "kasia"  # a tie goes to the first name
    kasia, ola = open_inbox("kasia"), open_inbox("ola")
    kasia.wait_for("All open", timeout=30)
    ola.wait_for("All open", timeout=30)

    writes(sim, "48602222222", "Anna Kowalska", "Czy paczka już wyszła?")
    assert wait_until(lambda: owner_of(env, "Anna Kowalska")) == "ola"  # kasia holds one already
    kasia.wait_for(lambda s: "Anna Kowalska" in s and "@ola" in s)  # kasia sees it, assigned, live

    for screen in (kasia, ola):  # the newest thread is the top row: open it
        screen.send("g", "Enter")
        screen.wait_for("Anna Kowalska  via")
    kasia.wait_for("👁 @ola viewing")
    ola.wait_for("👁 @kasia viewing")

    ola.send("r")
    ola.type("Dzień dobry, sprawdzam")
    kasia.wait_for("✎ @ola typing…")
    kasia.send("r")
    kasia.type("Już wysłana!")
    ola.wait_for("✎ @kasia typing…")

    ola.send("Enter")  # ola first: no warning
    kasia.wait_for("Dzień dobry, sprawdzam")
    kasia.send("Enter")  # kasia second: warned
    kasia.wait_for("@ola replied since you opened this thread. Send yours anyway?")
    kasia.send("y")
    wait_until(lambda: len([m for m in httpx.get(f"{sim}/_sim/outbound").json()
                            if m["body"].get("type") == "text"]) == 2, timeout=30)
    sent = [m["body"]["text"]["body"] for m in httpx.get(f"{sim}/_sim/outbound").json()
            if m["body"].get("type") == "text"]
    assert sent == ["Dzień dobry, sprawdzam", "Już wysłana!"]
