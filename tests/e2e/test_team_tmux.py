"""Issue 10 end to end: `wabox sim` and `wabox serve` as in production (an [[assignment]] rule in the config), two
real inboxes under tmux as two agents of one team. A customer writes; serve assigns the thread to the less loaded
agent; the other sees it live; both open it and see each other viewing; one types and the other sees it; the second
to send is warned that the first replied."""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx
import pytest

from tests.core.receiver_process import free_port
from tests.e2e.test_serve_processes import NUMBER, SECRETS, WABOX, cli, wait_until
from tests.e2e.tmux import Tmux

pytestmark = pytest.mark.e2e


@pytest.fixture
def shift(tmp_path):
    serve_port, sim_port = free_port(), free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'db = "{tmp_path / "wabox.db"}"\nmedia_dir = "{tmp_path / "media"}"\n'
                      f'[meta]\ngraph_url = "http://127.0.0.1:{sim_port}/v23.0"\n'
                      f'[[channels]]\nname = "Ogrody"\nwaba_id = "310492887654321"\n'
                      f'phone_number_id = "{NUMBER}"\ndisplay_phone_number = "48221234567"\n'
                      f'[[assignment]]\nchannel = "{NUMBER}"\nteam = "Wsparcie"\n')
    env = {**os.environ, **SECRETS, "WABOX_CONFIG": str(config)}
    logs = (tmp_path / "sim.log").open("wb"), (tmp_path / "serve.log").open("wb")
    sim = subprocess.Popen([WABOX, "sim", "--port", str(sim_port),
                            "--webhook-url", f"http://127.0.0.1:{serve_port}/webhook"], env=env,
                           stdout=logs[0], stderr=logs[0])
    serve = subprocess.Popen([WABOX, "serve", "--port", str(serve_port)], env=env, stdout=logs[1], stderr=logs[1])
    inboxes: list[Tmux] = []
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{serve_port}/healthz").status_code == 200)
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{sim_port}/_sim/health").status_code == 200)
        cli(env, "agents", "add", "kasia")
        cli(env, "agents", "add", "ola")
        cli(env, "teams", "add", "Wsparcie")
        cli(env, "teams", "members", "Wsparcie", "--add", "kasia", "ola")
        # The inbox never holds the secrets: only the config's path.
        inbox_env = {"WABOX_CONFIG": str(config), "TERM": "xterm-256color", "HOME": str(tmp_path)}

        def open_inbox(agent: str) -> Tmux:
            screen = Tmux([WABOX, "--agent", agent], env=inbox_env)
            inboxes.append(screen)
            return screen

        yield env, f"http://127.0.0.1:{sim_port}", open_inbox
    finally:
        for screen in inboxes:
            screen.send("C-q")
        time.sleep(0.5)
        for screen in inboxes:
            screen.close()
        for process in (serve, sim):
            process.terminate()
            process.wait(timeout=10)
        for log in logs:
            log.close()


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
