"""Production's shape, on loopback: `wabox sim` standing in for Meta, one or more `wabox serve` processes (hosts)
on one database, configured by a TOML file and environment secrets; inboxes (`wabox`) under tmux with the
config's path and nothing secret. The database is the test's `db_target`: an SQLite file, or a PostgreSQL
database of the tests' own server (trust authentication on loopback: no password anywhere)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.core.receiver_process import free_port
from tests.e2e.tmux import Tmux

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


def cli(env: dict, *args: str) -> str:
    return subprocess.run([WABOX, *args], env=env, capture_output=True, text=True, check=True, timeout=60).stdout


@dataclass
class Production:
    env: dict[str, str]           # what `wabox serve` and the scripting CLI run with (the secrets included)
    sim: str                      # the simulator's base URL
    serve_ports: list[int]        # one `wabox serve` a host; the simulator posts its webhooks to the first
    directory: Path
    inboxes: list[Tmux] = field(default_factory=list)

    def open_inbox(self, agent: str) -> Tmux:
        """`wabox --agent AGENT` under tmux (160x48): the config's path only, never the secrets."""
        env = {"WABOX_CONFIG": self.env["WABOX_CONFIG"], "TERM": "xterm-256color", "HOME": str(self.directory)}
        screen = Tmux([WABOX, "--agent", agent], env=env)
        self.inboxes.append(screen)
        return screen


@contextmanager
def production(directory: Path, db: Path | str, *, hosts: int = 1, config: str = "") -> Iterator[Production]:
    """`hosts` `wabox serve` processes (each with its sender) and the simulator on `db`; `config`: more TOML."""
    serve_ports, sim_port = [free_port() for _ in range(hosts)], free_port()
    path = directory / "config.toml"
    path.write_text(f'db = "{db}"\nmedia_dir = "{directory / "media"}"\n'
                    f'[meta]\ngraph_url = "http://127.0.0.1:{sim_port}/v23.0"\n'
                    f'[[channels]]\nname = "Ogrody"\nwaba_id = "310492887654321"\n'
                    f'phone_number_id = "{NUMBER}"\ndisplay_phone_number = "48221234567"\n' + config)
    env = {**os.environ, **SECRETS, "WABOX_CONFIG": str(path)}
    logs = [(directory / "sim.log").open("wb")] + [(directory / f"serve-{n}.log").open("wb") for n in range(hosts)]
    processes = [subprocess.Popen([WABOX, "sim", "--port", str(sim_port),
                                   "--webhook-url", f"http://127.0.0.1:{serve_ports[0]}/webhook"],
                                  env=env, stdout=logs[0], stderr=logs[0])]
    processes += [subprocess.Popen([WABOX, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
                  for port, log in zip(serve_ports, logs[1:])]
    running = Production(env, f"http://127.0.0.1:{sim_port}", serve_ports, directory)
    try:
        for port in serve_ports:
            wait_until(lambda p=port: httpx.get(f"http://127.0.0.1:{p}/healthz").status_code == 200)
        wait_until(lambda: httpx.get(f"{running.sim}/_sim/health").status_code == 200)
        yield running
    finally:
        for screen in running.inboxes:
            screen.send("C-q")
        if running.inboxes:
            time.sleep(0.5)
        for screen in running.inboxes:
            screen.close()
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        for log in logs:
            log.close()
        for log in logs:  # nothing secret is ever logged
            text = Path(log.name).read_text(errors="replace")
            assert not any(secret in text for secret in SECRETS.values()), log.name
