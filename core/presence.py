"""Presence and collision (F28): who is viewing a thread and who is typing, from the database, and whether another
agent replied since this one started.

Each inbox writes its own row: viewing a thread (kept alive by a heartbeat; it expires by itself when the inbox
dies) and typing (a few seconds after the last keystroke). A row is logged in the change log only when what others
see changes, so a heartbeat does not wake every inbox.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from core.store.db import Store, log_changes

VIEWING_SECONDS = 30  # a heartbeat every HEARTBEAT_SECONDS keeps it
HEARTBEAT_SECONDS = 10
TYPING_SECONDS = 6


@dataclass(frozen=True, slots=True)
class Present:
    viewing: tuple[str, ...]  # other agents with the thread open
    typing: tuple[str, ...]   # other agents typing in it


def _viewing(conn: sqlite3.Connection, agent: str, thread_id: int | None, now: int) -> None:
    row = conn.execute("SELECT thread_id, viewing_until FROM presence WHERE agent = ?", (agent,)).fetchone()
    changed = row is None or row["thread_id"] != thread_id or row["viewing_until"] <= now
    conn.execute("INSERT INTO presence(agent, thread_id, viewing_until, typing_until) VALUES (?, ?, ?, 0)"
                 " ON CONFLICT (agent) DO UPDATE SET thread_id = excluded.thread_id,"
                 " viewing_until = excluded.viewing_until,"
                 " typing_until = CASE WHEN presence.thread_id = excluded.thread_id THEN presence.typing_until"
                 " ELSE 0 END", (agent, thread_id, now + VIEWING_SECONDS if thread_id is not None else 0))
    if changed:
        log_changes(conn, [("presence", t) for t in {thread_id, row["thread_id"] if row else None}
                           if t is not None] or [("presence", None)], at=now)


async def viewing(store: Store, agent: str, thread_id: int | None, *, now: int) -> None:
    """`agent` has `thread_id` open (None: none); called on open and as a heartbeat."""
    await store.write(_viewing, agent, thread_id, now)


def _typing(conn: sqlite3.Connection, agent: str, thread_id: int, now: int) -> int:
    row = conn.execute("SELECT thread_id, typing_until FROM presence WHERE agent = ?", (agent,)).fetchone()
    started = row is None or row["thread_id"] != thread_id or row["typing_until"] <= now
    conn.execute("INSERT INTO presence(agent, thread_id, viewing_until, typing_until, typing_since)"
                 " VALUES (?, ?, ?, ?, ?) ON CONFLICT (agent) DO UPDATE SET thread_id = excluded.thread_id,"
                 " viewing_until = excluded.viewing_until, typing_until = excluded.typing_until,"
                 " typing_since = CASE WHEN ? = 1 THEN excluded.typing_since ELSE presence.typing_since END",
                 (agent, thread_id, now + VIEWING_SECONDS, now + TYPING_SECONDS, now, started))
    if started:
        log_changes(conn, [("presence", thread_id)], at=now)
    return int(started)


async def typing(store: Store, agent: str, thread_id: int, *, now: int) -> bool:
    """`agent` typed in `thread_id` just now; True when this starts a stretch of typing."""
    return bool(await store.write(_typing, agent, thread_id, now))


def _stopped_typing(conn: sqlite3.Connection, agent: str, now: int) -> None:
    row = conn.execute("SELECT thread_id FROM presence WHERE agent = ? AND typing_until > ?", (agent, now)).fetchone()
    if row is not None:
        conn.execute("UPDATE presence SET typing_until = 0 WHERE agent = ?", (agent,))
        log_changes(conn, [("presence", row["thread_id"])], at=now)


async def stopped_typing(store: Store, agent: str, *, now: int) -> None:
    """The compose was sent or emptied: others stop seeing "typing" at once."""
    await store.write(_stopped_typing, agent, now)


async def present(store: Store, thread_id: int, *, agent: str, now: int) -> Present:
    found = await store.fetchall("SELECT agent, viewing_until, typing_until FROM presence"
                                 " WHERE thread_id = ? AND agent != ? AND viewing_until > ? ORDER BY agent",
                                 (thread_id, agent, now))
    return Present(tuple(r["agent"] for r in found), tuple(r["agent"] for r in found if r["typing_until"] > now))


async def last_message_id(store: Store, thread_id: int) -> int:
    return int(await store.scalar("SELECT coalesce(max(id), 0) FROM message WHERE thread_id = ?", (thread_id,)))


async def replied_since(store: Store, thread_id: int, *, agent: str, after_id: int) -> list[str]:
    """Other agents who sent the customer a message in this thread after message `after_id` (notes do not count)."""
    found = await store.fetchall("SELECT DISTINCT author FROM message WHERE thread_id = ? AND id > ?"
                                 " AND direction = 'out' AND type NOT IN ('note', 'reaction')"
                                 " AND coalesce(author, '') != ? ORDER BY author", (thread_id, after_id, agent))
    return [r["author"] or "someone" for r in found]
