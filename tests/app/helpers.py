"""A seeded inbox database for the TUI tests, written with plain SQL at a fixed NOW, and Pilot helpers."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import suppress
from pathlib import Path

from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from core.store import Store

NOW = 1_764_072_000  # 2025-11-25 12:00:00 UTC
HOUR = 3600
AGENT = "tester"
MODAL_GROUPS = {"follow-changes", "template", "attach", "assign", "view", "settings", "team", "send-check"}  # wait on a person
CH1, CH2 = "1110001", "2220002"
HOSTILE_NAME = "[bold red]EVIL[/] [@click=app.quit]x[/] \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\ \u202eevil"
HOSTILE_TEXT = ("[bold]bold?[/bold] [@click=app.quit]quit[/] [link=http://evil.example]link[/link] [/ "
                "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x9b31m c1 \u202eRTL\u202c \u200bzw")
QUARANTINED_TEXT = "Verify your account at http://192.168.4.7/login now"


def seed(path: Path | str, *, big_thread: int = 0) -> Path | str:
    """Seed threads in every state the screens draw. `big_thread` adds that many messages to thread 1.
    `path`: an SQLite file or a PostgreSQL URL (conftest's db_target)."""
    asyncio.run(_migrate(path))
    conn = connect(path)
    with conn:
        _fill(conn, big_thread)
        if isinstance(path, str):  # the rows above name their ids: the identities continue after them
            for table in ("contact", "thread", "message"):
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                             f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
    conn.close()
    return path


class _PgConnection:
    """What the tests use of a sqlite3 connection (execute, executemany, commit, `with` = commit), on PostgreSQL."""

    def __init__(self, url: str) -> None:
        import psycopg

        from core.store import pg

        self.raw = psycopg.connect(url, **pg.connect_kwargs())
        self.raw.adapters.register_dumper(bool, pg._BoolAsInt)
        self._conn = pg.PgConnection(self.raw)

    def execute(self, sql: str, params=()):
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows):
        return self._conn.executemany(sql, rows)

    def commit(self) -> None:
        self.raw.commit()

    def close(self) -> None:
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, kind, *_) -> None:
        self.raw.commit() if kind is None else self.raw.rollback()


def connect(target: Path | str):
    """A plain connection to the test's database, whichever the backend."""
    return _PgConnection(target) if isinstance(target, str) else sqlite3.connect(target)


async def _migrate(path: Path) -> None:
    store = await Store.open(path)
    await store.close()


def _fill(db: sqlite3.Connection, big_thread: int) -> None:
    db.executemany("INSERT INTO agent(name, status, capacity) VALUES (?, 'available', 20)",
                   [(AGENT,), ("marek",), ("ola",)])
    db.execute("INSERT INTO team(name, created_at) VALUES ('Support', 0)")
    db.executemany("INSERT INTO team_member(team, agent) VALUES ('Support', ?)", [(AGENT,), ("ola",)])
    db.executemany("INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, health)"
                   " VALUES (?, 'waba1', ?, ?, 'ok')",
                   [(CH1, "Sales", "+1 555 0100"), (CH2, "Support", "+1 555 0200")])
    contacts = [
        (1, "Alice Nowak", "+48 600 100 200", "600100200", "alice@example.com", "tester", "48600100200"),
        (2, "Bob Kowalski", "+48 600 300 400", None, None, "marek", "48600300400"),
        (3, HOSTILE_NAME, HOSTILE_TEXT, None, "[link=x]mail[/link]", None, "48600500600"),
        (4, "Carol Zielinska", None, None, None, None, "48600700800"),
        (5, "Dan Mazur", None, None, None, None, "48600900100"),
    ]
    db.executemany("INSERT INTO contact(id, name, phone, mobile, email, owner, wa_id, e164, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, '+' || ?, 0)",
                   [(i, n, p, m, e, o, w, w) for i, n, p, m, e, o, w in contacts])
    # Customers who opted in to WhatsApp, so a template is not a consent question (the hostile contact never did).
    db.execute("UPDATE contact SET opt_in_source = 'web form', opt_in_date = '2025-01-15' WHERE id != 3")
    # id, channel, wa_id, contact, status, owner, last_message_at, last_inbound_at, last_direction, preview, unread
    threads = [
        (1, CH1, "48600100200", 1, "open", None, NOW - 600, NOW - 3 * HOUR, "in", "Where is my order?", 2),
        (2, CH1, "48600300400", 2, "open", "marek", NOW - 1200, NOW - 30 * HOUR, "out", "We sent it", 0),
        (3, CH1, "48600500600", 3, "open", None, NOW - 1800, NOW - 1800, "in", HOSTILE_TEXT, 1),
        (4, CH2, "48600100200", 1, "open", "tester", NOW - 2400, NOW - 5 * HOUR, "in", "Second number", 0),
        (5, CH1, "48600700800", 4, "closed", "tester", NOW - 3000, NOW - 50 * HOUR, "in", "Thanks, bye", 0),
        (6, CH2, "48600900100", 5, "open", None, NOW - 3600, NOW - 23 * HOUR - 1800, "in", QUARANTINED_TEXT, 1),
    ]
    db.executemany("INSERT INTO thread(id, channel, wa_id, contact_id, status, owner, created_at, last_message_at,"
                   " last_inbound_at, last_direction, preview, unread) VALUES (?,?,?,?,?,?,0,?,?,?,?,?)", threads)

    def msg(thread: int, channel: str, direction: str, type_: str, text: str, ts: int, **more) -> None:
        columns = {"thread_id": thread, "channel": channel, "direction": direction, "type": type_, "text": text,
                   "timestamp": ts, **more}
        names = ", ".join(columns)
        db.execute(f"INSERT INTO message({names}) VALUES ({', '.join('?' * len(columns))})", list(columns.values()))

    base = NOW - 3 * HOUR - 600
    for i in range(big_thread):
        msg(1, CH1, "in" if i % 2 else "out", "text", f"older message {i}", base - big_thread + i,
            wamid=f"wamid.big{i}", **({"status": "read"} if i % 2 == 0 else {}))
    msg(1, CH1, "in", "text", "Hello, is my order shipped?", base, wamid="wamid.A1")
    msg(1, CH1, "out", "text", "Let me check.", base + 60, wamid="wamid.A2", status="delivered", author="tester")
    msg(1, CH1, "in", "reaction", "👍", base + 70, wamid="wamid.A3", context_wamid="wamid.A2")
    msg(1, CH1, "in", "image", "my receipt", base + 120, wamid="wamid.A4", media_id="m1", mime_type="image/jpeg",
        file_size=123_456, file_name="receipt.jpg")
    msg(1, CH1, "in", "location", "", base + 130, wamid="wamid.A5",
        payload=json.dumps({"type": "location", "location": {"latitude": 52.23, "longitude": 21.01,
                                                             "name": "Warsaw office"}}))
    msg(1, CH1, "in", "contacts", "", base + 140, wamid="wamid.A6",
        payload=json.dumps({"contacts": [{"name": {"formatted_name": "Eve Card"}, "phones": [{"phone": "+48 1"}]}]}))
    msg(1, CH1, "in", "unsupported", "", base + 150, wamid="wamid.A7", raw_type="poll")
    msg(1, CH1, "in", "text", "Where is my order?", NOW - 3 * HOUR, wamid="wamid.A8", context_wamid="wamid.A2")
    msg(2, CH1, "in", "text", "Can I change the date?", NOW - 30 * HOUR, wamid="wamid.B1")
    msg(2, CH1, "out", "text", "We sent it", NOW - 1200, wamid="wamid.B2", status="failed", error_code=131047,
        error_title="Re-engagement message", error_details="More than 24 hours have passed", author="tester")
    msg(3, CH1, "in", "text", HOSTILE_TEXT, NOW - 1800, wamid="wamid.C1")
    msg(3, CH1, "in", "document", HOSTILE_TEXT, NOW - 1790, wamid="wamid.C2", media_id="m2",
        mime_type="application/pdf", file_size=2048, file_name="[bold]x[/bold]\x1b[2J.pdf")
    msg(4, CH2, "in", "text", "Second number", NOW - 5 * HOUR, wamid="wamid.D1")
    msg(4, CH2, "out", "text", "Retry me", NOW - 5 * HOUR + 60, wamid=None, status="failed", error_code=131000,
        error_title="Something went wrong", author="tester")
    for wamid_or_id, thread, channel, state in (("wamid.B2", 2, CH1, "failed"), (None, 4, CH2, "failed")):
        message_id = db.execute("SELECT id FROM message WHERE (wamid = ? OR wamid IS NULL AND CAST(? AS TEXT) IS NULL)"
                                " AND thread_id = ? AND direction = 'out'",
                                (wamid_or_id, wamid_or_id, thread)).fetchone()[0]
        db.execute("INSERT INTO outbox(message_id, thread_id, channel, recipient, kind, request, state, created_at)"
                   " VALUES (?, ?, ?, '+48600', 'text', '{}', ?, 0)", (message_id, thread, channel, state))
    msg(5, CH1, "in", "text", "Thanks, bye", NOW - 50 * HOUR, wamid="wamid.E1")
    msg(6, CH2, "in", "text", QUARANTINED_TEXT, NOW - 3600, wamid="wamid.F1", quarantined=1,
        quarantine_reason="link to an IP address")
    templates = [
        ("t1", "order_update", "en_US", "APPROVED", "UTILITY",
         [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way."}]),
        ("t2", "hostile_tpl", "en_US", "APPROVED", "MARKETING",
         [{"type": "BODY", "text": "[link=http://evil]click[/link] \x1b[31m{{1}}"}]),
        ("t3", "pending_one", "en_US", "PENDING", "UTILITY", [{"type": "BODY", "text": "not yet"}]),
    ]
    db.executemany("INSERT INTO template(id, waba_id, name, language, status, category, components, synced_at)"
                   " VALUES (?, 'waba1', ?, ?, ?, ?, ?, 0)",
                   [(i, n, lang, s, c, json.dumps(comp)) for i, n, lang, s, c, comp in templates])
    db.execute("INSERT INTO conversation(thread_id, channel, origin, started_at, expires_at, month)"
               " VALUES (4, ?, 'customer', ?, ?, '2025-11')", (CH2, NOW - 5 * HOUR, NOW + 19 * HOUR))


async def settle(pilot: Pilot) -> None:
    """Wait for every finite worker (not the live follower, which never ends)."""
    for _ in range(3):
        await pilot.pause()
        finite = [w for w in pilot.app.workers if w.group not in MODAL_GROUPS and not w.is_finished]
        if finite:
            with suppress(WorkerCancelled):
                await pilot.app.workers.wait_for_complete(finite)
    await pilot.pause()


def db_rows(path: Path | str, sql: str, params: tuple = ()) -> list[tuple]:
    conn = connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def screen_text(pilot: Pilot) -> str:
    """What the terminal shows, as plain text (for assertions and for looking at a state while debugging)."""
    strips = pilot.app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


SIZE = (160, 44)


def make_app(db: Path):
    from app.wabox_app import WaboxApp  # Textual loads only for the tests that draw
    return WaboxApp(db, agent=AGENT, clock=lambda: NOW)


async def open_row(pilot: Pilot, row: int) -> None:
    """Move the thread list's cursor to `row` and open it, as an agent would with j/k and enter."""
    from widgets.thread_list import ThreadList
    pilot.app.screen.query_one(ThreadList).move_to(row)
    await pilot.press("enter")
    await settle(pilot)
