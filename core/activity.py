"""Activity shown inline in a thread (assignment, close/reopen, snooze, wake-up), @mentions in internal notes, and
what concerns one agent for notifications (their threads, their teams' unassigned ones, mentions of them)."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from core.model import Activity
from core.store.db import Store

_IDS_A_QUERY = 500  # threads looked up in one statement (a burst of webhooks can bring thousands)
MENTION = re.compile(r"(?<![\w.])@([^\W_][\w.-]{0,39})")  # agent names as core.agents allows them


def record(conn: sqlite3.Connection, thread_ids: list[int], kind: str, agent: str | None, detail: str,
           now: int) -> None:
    conn.executemany("INSERT INTO activity(thread_id, kind, agent, detail, at) VALUES (?, ?, ?, ?, ?)",
                     [(t, kind, agent, detail, now) for t in thread_ids])


async def for_thread(store: Store, thread_id: int, *, since: int | None = None) -> list[Activity]:
    found = await store.fetchall("SELECT * FROM activity WHERE thread_id = ? AND at >= ? ORDER BY at, id",
                                 (thread_id, since or 0))
    return [Activity(r["id"], r["thread_id"], r["kind"], r["agent"], r["detail"], r["at"]) for r in found]


def record_mentions(conn: sqlite3.Connection, thread_id: int, message_id: int, text: str, by: str,
                    now: int) -> list[str]:
    """The known, enabled agents a note names with @name (not its author); each mentioned once per note."""
    names = list(dict.fromkeys(m.rstrip(".") for m in MENTION.findall(text)))
    found = []
    for name in names:
        row = conn.execute("SELECT name FROM agent WHERE name = ? AND disabled = 0", (name,)).fetchone()
        if row is None or row[0] == by:
            continue
        conn.execute("INSERT INTO mention(agent, thread_id, message_id, by_agent, at) VALUES (?, ?, ?, ?, ?)"
                     " ON CONFLICT (message_id, agent) DO NOTHING", (row[0], thread_id, message_id, by, now))
        found.append(row[0])
    return found


@dataclass(frozen=True, slots=True)
class Concerning:
    """What happened since the last look that concerns one agent, by kind (each kind can be switched off)."""

    mine: tuple[int, ...] = ()      # a customer wrote in a thread they own
    queue: tuple[int, ...] = ()     # ... in an unassigned thread of their team (or of no team)
    mention: tuple[int, ...] = ()   # a note mentions them
    assigned: tuple[int, ...] = ()  # someone (or a rule) gave them a thread


@dataclass(frozen=True, slots=True)
class Marks:
    """Where a reader is: the change log's position and the newest message, mention and assignment it has
    looked at. Read together (one statement, one snapshot), so nothing committed after them is missed."""

    change: int = 0
    message: int = 0
    mention: int = 0
    assignment: int = 0


async def marks(store: Store) -> Marks:
    row = await store.fetchone("SELECT (SELECT coalesce(max(seq), 0) FROM change_log),"
                               " (SELECT coalesce(max(id), 0) FROM message),"
                               " (SELECT coalesce(max(id), 0) FROM mention),"
                               " (SELECT coalesce(max(id), 0) FROM assignment)")
    return Marks(row[0], row[1], row[2], row[3])


async def concerning(store: Store, agent: str, since: Marks) -> tuple[Concerning, Marks]:
    """What concerns `agent` after `since`, up to the marks returned (taken first, so what commits during the
    look is the next look's, never skipped)."""
    upto = await marks(store)
    # The new messages first, then their threads by id: as one join, SQLite builds a Bloom filter over every
    # thread for the few new messages (5-10 ms a look on 100k threads).
    wrote = [r[0] for r in await store.fetchall("SELECT thread_id FROM message WHERE id > ? AND id <= ?"
                                                " AND direction = 'in' AND type != 'reaction' ORDER BY id",
                                                (since.message, upto.message))]
    threads = list(dict.fromkeys(wrote))
    owners: dict[int, str | None] = {}
    for at in range(0, len(threads), _IDS_A_QUERY):
        ids = threads[at:at + _IDS_A_QUERY]
        owners.update((r[0], r[1]) for r in await store.fetchall(
            f"SELECT id, owner FROM thread WHERE id IN ({','.join('?' * len(ids))}) AND (owner = ? OR (owner IS NULL"
            " AND (team IS NULL OR team IN (SELECT team FROM team_member WHERE agent = ?))))", [*ids, agent, agent]))
    mentions = await store.fetchall("SELECT thread_id FROM mention WHERE agent = ? AND id > ? AND id <= ?"
                                    " ORDER BY id", (agent, since.mention, upto.mention))
    assigned = await store.fetchall("SELECT thread_id FROM assignment WHERE owner = ? AND id > ? AND id <= ?"
                                    " AND coalesce(by_agent, '') != ? ORDER BY id",
                                    (agent, since.assignment, upto.assignment, agent))
    found = Concerning(
        mine=tuple(t for t in threads if t in owners and owners[t] == agent),
        queue=tuple(t for t in threads if t in owners and owners[t] != agent),
        mention=tuple(dict.fromkeys(r["thread_id"] for r in mentions)),
        assigned=tuple(dict.fromkeys(r["thread_id"] for r in assigned)))
    return found, upto
