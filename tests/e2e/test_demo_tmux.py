"""End to end, as a person drives it: the real `wabox demo` in tmux (160x48), keys typed, the screen read back.

A reply typed on the keyboard shows as queued, then sent and delivered (read), and reaches the simulator's
/_sim/outbound; a customer message injected through /_sim/inbound appears on screen without a keypress."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.core.receiver_process import free_port
from tests.e2e.tmux import Tmux

pytestmark = [pytest.mark.e2e,
              pytest.mark.sqlite_only(reason="`wabox demo` seeds and runs on an SQLite file of its own")]

WABOX = str(Path(sys.executable).with_name("wabox"))


@pytest.fixture
def demo(tmp_path):
    sim_port = free_port()
    screen = Tmux([WABOX, "demo", "--db", str(tmp_path / "demo.db"), "--sim-port", str(sim_port),
                   "--agent", "kasia", "--quiet-customers"], env={"TERM": "xterm-256color"})
    try:
        screen.wait_for("All open", timeout=60)
        yield screen, f"http://127.0.0.1:{sim_port}", tmp_path
    finally:
        screen.send("C-q")
        try:
            screen.wait_for("The demo database stays at", timeout=10)  # the inbox quit and stopped the back end
        finally:
            screen.close()


def test_a_typed_reply_goes_out_and_an_injected_message_appears_by_itself(demo):
    screen, sim, tmp_path = demo
    screen.send("Enter")                                    # open the newest thread
    opened = screen.wait_for("via ")
    reply = f"Paczka wyszła wczoraj {int(time.time()) % 10000}."
    screen.send("r")
    screen.wait_for(lambda s: "r Reply" not in footer(s))   # the composer has the focus: the list's keys are gone
    screen.type(reply)
    screen.wait_for(reply)
    screen.send("Enter")
    # Queued first (the sender may be quicker than the eye: then sent already), then delivered or read.
    seen = {screen.wait_for(lambda s: status_of(s, reply) in ("queued", "sent", "delivered", "read"), timeout=5)}
    final = screen.wait_for(lambda s: status_of(s, reply) in ("delivered", "read"), timeout=20)
    assert status_of(final, reply) in ("delivered", "read") and seen
    sent = httpx.get(f"{sim}/_sim/outbound").json()
    assert [o["body"]["text"]["body"] for o in sent if o["body"].get("type") == "text"] == [reply]

    # The open thread's customer writes: it shows up without a key being pressed.
    backend = json.loads((tmp_path / "demo.json").read_text())
    assert backend["sim"] == sim
    name_line = next(line for line in opened.splitlines() if "via " in line)
    number = name_line.split("via ")[1].split()[0]
    thread = next(t for t in json.loads(_threads(tmp_path)) if t["contact"]["name"] in name_line)
    httpx.post(f"{sim}/_sim/inbound", json={"from": thread["contact"]["wa_id"], "phone_number_id": thread["channel"],
                                             "text": "Dziękuję, czekam na kuriera!"}).raise_for_status()
    screen.wait_for("Dziękuję, czekam na kuriera!", timeout=5)
    assert number


def footer(screen: str) -> str:
    return screen.rstrip("\n").splitlines()[-1]


def status_of(screen: str, text: str) -> str | None:
    """The delivery state printed in the header line of the bubble that holds `text` ("You · kasia 12:01 ✓ sent")."""
    lines = screen.splitlines()
    for index, line in enumerate(lines):
        if text in line:
            for header in reversed(lines[max(0, index - 3):index]):
                if "You ·" in header:
                    for word in ("queued", "sent", "delivered", "read", "failed"):
                        if header.rstrip(" ▏").endswith(word) or f" {word}" in header.split("You ·")[1]:
                            return word
    return None


def _threads(tmp_path) -> str:
    import subprocess
    return subprocess.run([WABOX, "threads", "--json", "--db", str(tmp_path / "demo.db"), "--limit", "1000"],
                          capture_output=True, text=True, check=True).stdout
