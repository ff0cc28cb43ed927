"""Issue 7's shift, end to end: the real `wabox demo` in tmux (160x48), keys typed as an agent types them, and what
the simulator received read back from /_sim/outbound.

Drafts on two threads (each stays with its customer), double Enter (one copy per compose), a thread opened from the
command palette and closed (that thread, not the highlighted row). Nothing may reach the wrong customer.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time

import httpx
import pytest

from tests.core.receiver_process import free_port
from tests.e2e.test_demo_tmux import WABOX
from tests.e2e.tmux import Tmux

pytestmark = [pytest.mark.e2e,
              pytest.mark.sqlite_only(reason="`wabox demo` seeds and runs on an SQLite file of its own")]

TO_A = "Pani Anno, zwrot 120 zł przelejemy jutro."
TO_B = "Panie Janie, paczka wyjdzie w poniedziałek."


@pytest.fixture
def demo(tmp_path):
    sim_port = free_port()
    screen = Tmux([WABOX, "demo", "--db", str(tmp_path / "demo.db"), "--sim-port", str(sim_port),
                   "--agent", "kasia", "--quiet-customers"],
                  env={"TERM": "xterm-256color", "HOME": str(tmp_path / "home")})  # S saves to ~/Downloads
    try:
        screen.wait_for("All open", timeout=60)
        yield screen, f"http://127.0.0.1:{sim_port}", tmp_path / "demo.db"
    finally:
        screen.send("C-q")
        time.sleep(0.5)
        screen.close()


def test_a_shift_sends_each_compose_once_to_its_own_customer(demo):
    screen, sim, db = demo
    a, b, c = _three_customers(db)

    # 1. Drafts on two threads: each stays with its own customer.
    screen.send("Enter")
    screen.wait_for(f"{a['contact']['name']}  via")
    _compose(screen, a, TO_A)
    _leave(screen)
    screen.send("j", "Enter")
    screen.wait_for(f"{b['contact']['name']}  via")
    _reply(screen, b)
    assert TO_A not in _composer(screen.screen())  # B's composer is B's: empty
    screen.type(TO_B)
    screen.wait_for(TO_B)
    _leave(screen)
    screen.send("k", "Enter")
    screen.wait_for(f"{a['contact']['name']}  via")
    _reply(screen, a)
    screen.wait_for(lambda s: TO_A in _composer(s))  # A's draft came back with A

    # 2. Double Enter: one copy.
    screen.send("Enter", "Enter")
    screen.wait_for(lambda s: TO_A not in _composer(s) and TO_A in s)
    _leave(screen)
    screen.send("j", "Enter")
    screen.wait_for(f"{b['contact']['name']}  via")
    _reply(screen, b)
    screen.wait_for(lambda s: TO_B in _composer(s))
    screen.send("Enter", "Enter")
    screen.wait_for(lambda s: TO_B not in _composer(s) and TO_B in s)

    # 3. Open a thread from the palette, then close it: that thread closes, and the toast names it.
    _leave(screen)
    time.sleep(0.3)  # escape then ctrl+p typed together reach Textual as ctrl+p alone (its parser drops the escape)
    screen.send("C-p")
    time.sleep(0.3)
    screen.type(c["contact"]["name"])
    screen.wait_for(f"Open thread: {c['contact']['name']}")
    screen.send("Enter")
    screen.wait_for(f"{c['contact']['name']}  via")
    screen.send("c")
    screen.wait_for(f"Closed: {c['contact']['name']}")
    statuses = dict(_rows(db, "SELECT id, status FROM thread WHERE id IN (?, ?, ?)", (a["id"], b["id"], c["id"])))
    assert statuses == {a["id"]: "open", b["id"]: "open", c["id"]: "closed"}

    # 4. Save a document whose customer-given name is 300 characters long: the inbox stays up and the file lands in
    #    ~/Downloads (made, 0700) under a safe, shortened name.
    hostile = "../" * 30 + "\x1b[2J" + "ż" * 100 + "a" * 110 + ".pdf"
    httpx.post(f"{sim}/_sim/inbound", json={"from": a["contact"]["wa_id"], "phone_number_id": a["channel"],
                                             "type": "document", "filename": hostile, "size": 2048}
               ).raise_for_status()
    screen.send("C-p")
    time.sleep(0.3)
    screen.type(a["contact"]["name"])
    screen.wait_for(f"Open thread: {a['contact']['name']}")
    screen.send("Enter")
    screen.wait_for(lambda s: "📎 document" in s and "S save" in s)  # downloaded: the real keys are offered
    screen.send("S")
    screen.wait_for("Saved to")
    downloads = db.parent / "home" / "Downloads"
    [saved] = list(downloads.iterdir())
    assert saved.name.endswith(".pdf") and len(saved.name.encode()) <= 120 and "\x1b" not in saved.name
    assert saved.stat().st_size == 2048 and (downloads.stat().st_mode & 0o777) == 0o700
    assert "All open" in screen.screen()  # still running

    # What the simulator received: each compose once, to its own customer, and nothing else.
    for text in (TO_A, TO_B):
        assert _rows(db, "SELECT count(*) FROM outbox o JOIN message m ON m.id = o.message_id WHERE m.text = ?",
                     (text,)) == [(1,)]
    deadline = time.monotonic() + 20
    while _rows(db, "SELECT count(*) FROM outbox WHERE state != 'sent'") != [(0,)]:
        assert time.monotonic() < deadline, _rows(db, "SELECT id, state, error_title FROM outbox")
        time.sleep(0.2)
    sent = [(o["to"], o["body"]["text"]["body"]) for o in httpx.get(f"{sim}/_sim/outbound").json()
            if o["body"].get("type") == "text"]
    assert sorted(sent) == sorted([(a["contact"]["wa_id"], TO_A), (b["contact"]["wa_id"], TO_B)])


def _three_customers(db) -> list[dict]:
    """The top two rows of "All open" (A and B, sessions open) and a third thread further down (C); each a different
    customer with a plain name that appears once, so the screen and the palette name them unambiguously."""
    threads = json.loads(subprocess.run([WABOX, "threads", "--json", "--db", str(db), "--limit", "1000"],
                                        capture_output=True, text=True, check=True).stdout)
    names = [t["contact"]["name"] for t in threads]

    def plain(t: dict) -> bool:
        return bool(t["contact"]["wa_id"]) and names.count(t["contact"]["name"]) == 1 and \
            t["contact"]["name"].replace(" ", "").isalpha()

    a, b = threads[:2]
    assert plain(a) and plain(b) and min(a["session_expires_at"], b["session_expires_at"]) > time.time() + 3600, \
        threads[:2]
    c = next(t for t in threads[5:] if plain(t) and t["contact"]["name"] not in (a["contact"]["name"],
                                                                                   b["contact"]["name"]))
    return [a, b, c]


def _compose(screen: Tmux, who: dict, text: str) -> None:
    _reply(screen, who)
    screen.type(text)
    screen.wait_for(text)


def _reply(screen: Tmux, who: dict) -> None:
    screen.send("r")
    screen.wait_for(f"To {who['contact']['name']}")
    time.sleep(0.3)  # let the composer take focus, as a person would (keys typed faster: issue 7 item 6)


def _leave(screen: Tmux) -> None:
    """Escape back to the list. No pause: the next key may reach the inbox with the escape as one alt+key, which
    the composer must take as "leave, then that key" (not type it into the draft)."""
    screen.send("Escape")


def _composer(screen_text: str) -> str:
    """The lines below the composer's "To …" status line: what is written there now."""
    lines = screen_text.splitlines()
    starts = [i for i, line in enumerate(lines) if " To " in line and " via " in line]
    return "\n".join(lines[starts[-1] + 1:]) if starts else ""


def _rows(db, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
