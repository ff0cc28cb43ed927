"""`wabox demo`'s back end (simulator, receiver, sender) stops when the inbox dies, however it dies: the terminal
or SSH connection dropping (SIGHUP) or a SIGKILL. Before, it kept running and held its ports (issue 7, bug 12)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.core.receiver_process import free_port
from tests.e2e.tmux import Tmux

pytestmark = [pytest.mark.e2e,
              pytest.mark.sqlite_only(reason="`wabox demo` seeds and runs on an SQLite file of its own")]

WABOX = str(Path(sys.executable).with_name("wabox"))


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def wait_until(check, what: str, limit: float = 30.0) -> None:
    """Polls; the limit only keeps a broken build from hanging the suite."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.1)


def start_demo(tmp_path: Path) -> tuple[Tmux, int, int]:
    port, sim_port = free_port(), free_port()
    screen = Tmux([WABOX, "demo", "--db", str(tmp_path / "demo.db"), "--port", str(port), "--sim-port",
                   str(sim_port), "--agent", "kasia", "--quiet-customers"], env={"TERM": "xterm-256color"})
    screen.wait_for("All open", timeout=60)
    assert listening(port) and listening(sim_port)
    return screen, port, sim_port


def test_the_back_end_stops_when_the_terminal_hangs_up(tmp_path: Path):
    screen, port, sim_port = start_demo(tmp_path)
    screen.close()  # tmux kill-session: the inbox gets SIGHUP, as when an SSH connection drops
    wait_until(lambda: not listening(port) and not listening(sim_port), "the back end still holds its ports")


def test_the_back_end_stops_when_the_inbox_is_killed(tmp_path: Path):
    screen, port, sim_port = start_demo(tmp_path)
    try:
        pane = subprocess.run(["tmux", "display-message", "-p", "-t", screen.name, "#{pane_pid}"],
                              capture_output=True, text=True, check=True).stdout.strip()
        os.kill(int(pane), signal.SIGKILL)  # the pane runs `exec wabox demo`: this is the inbox itself
        wait_until(lambda: not listening(port) and not listening(sim_port), "the back end still holds its ports")
    finally:
        screen.close()
