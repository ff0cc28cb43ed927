"""Agents and teams (F27): who may sign in, their availability and capacity, and which teams they are in.

Names are checked here, once, for every caller (CLI, TUI prompts, assignment): a name that is not a known agent or
team is refused with a message that says so, instead of assigning a thread to nobody real.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from core.store.db import Store, log_changes

STATUSES = ("available", "away", "offline")
DEFAULT_CAPACITY = 20
_NAME = re.compile(r"[^\W_][\w.-]{0,39}")  # letters of any language ("Sprzedaż"), digits, . _ -


class TeamError(ValueError):
    """A name or a change that cannot be accepted; the message is for the person who typed it."""


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    display_name: str
    status: str
    capacity: int
    disabled: bool
    teams: tuple[str, ...] = ()
    open_threads: int = 0


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    members: tuple[str, ...]


def check_name(name: str, what: str = "agent") -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise TeamError(f"{what} name {name!r} is not valid: letters, digits, '.', '_' or '-', at most 40, "
                        "starting with a letter or digit")
    return name


def _agent_row(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM agent WHERE name = ?", (name,)).fetchone()


def known_agent(conn: sqlite3.Connection, name: str, *, enabled: bool = True) -> str:
    """`name` if it is an agent (an enabled one unless `enabled=False`), else TeamError naming the known ones."""
    row = _agent_row(conn, name.strip())
    if row is None:
        names = [r[0] for r in conn.execute("SELECT name FROM agent WHERE disabled = 0 ORDER BY name LIMIT 12")]
        known = f" (known: {', '.join(names)})" if names else " (none yet: `wabox agents add NAME`)"
        raise TeamError(f"no agent named {name.strip()!r}{known}")
    if enabled and row["disabled"]:
        raise TeamError(f"agent {row['name']!r} is disabled")
    return row["name"]


def known_team(conn: sqlite3.Connection, name: str) -> str:
    if conn.execute("SELECT 1 FROM team WHERE name = ?", (name.strip(),)).fetchone() is None:
        names = [r[0] for r in conn.execute("SELECT name FROM team ORDER BY name LIMIT 12")]
        known = f" (known: {', '.join(names)})" if names else " (none yet: `wabox teams add NAME`)"
        raise TeamError(f"no team named {name.strip()!r}{known}")
    return name.strip()


async def add_agent(store: Store, name: str, *, capacity: int = DEFAULT_CAPACITY, display_name: str | None = None,
                    now: int) -> None:
    name = check_name(name)
    if capacity < 0:
        raise TeamError("capacity must be 0 or more")

    def write(conn: sqlite3.Connection) -> None:
        row = _agent_row(conn, name)
        if row is not None and not row["disabled"]:
            raise TeamError(f"agent {name!r} already exists")
        # Adding a disabled agent again enables them: their history (authorship, assignments) is theirs.
        conn.execute("INSERT INTO agent(name, display_name, status, capacity, disabled)"
                     " VALUES (?, ?, 'available', ?, 0) ON CONFLICT (name) DO UPDATE SET disabled = 0,"
                     " status = 'available', capacity = excluded.capacity,"
                     " display_name = coalesce(excluded.display_name, agent.display_name)",
                     (name, display_name, capacity))
        log_changes(conn, [("agent", None)], at=now)

    await store.write(write)


async def list_agents(store: Store, *, include_disabled: bool = True) -> list[Agent]:
    found = await store.fetchall(
        "SELECT a.*, (SELECT count(*) FROM thread t WHERE t.owner = a.name AND t.status = 'open') AS open_threads"
        " FROM agent a" + ("" if include_disabled else " WHERE a.disabled = 0") + " ORDER BY a.name")
    members = await store.fetchall("SELECT team, agent FROM team_member ORDER BY team")
    teams: dict[str, list[str]] = {}
    for row in members:
        teams.setdefault(row["agent"], []).append(row["team"])
    return [Agent(r["name"], r["display_name"] or r["name"], r["status"], r["capacity"], bool(r["disabled"]),
                  tuple(teams.get(r["name"], ())), r["open_threads"]) for r in found]


async def get_agent(store: Store, name: str) -> Agent | None:
    return next((a for a in await list_agents(store) if a.name == name), None)


async def signed_in(store: Store, name: str) -> Agent:
    """The agent who opens the inbox: known and enabled, else TeamError saying why."""
    await store.run(known_agent, name)
    agent = await get_agent(store, name)
    assert agent is not None
    return agent


async def set_status(store: Store, name: str, status: str, *, now: int) -> None:
    if status not in STATUSES:
        raise TeamError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")

    def write(conn: sqlite3.Connection) -> None:
        who = known_agent(conn, name)
        conn.execute("UPDATE agent SET status = ? WHERE name = ?", (status, who))
        log_changes(conn, [("agent", None)], at=now)

    await store.write(write)


async def set_capacity(store: Store, name: str, capacity: int, *, now: int) -> None:
    if capacity < 0:
        raise TeamError("capacity must be 0 or more")

    def write(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE agent SET capacity = ? WHERE name = ?", (capacity, known_agent(conn, name)))
        log_changes(conn, [("agent", None)], at=now)

    await store.write(write)


async def disable_agent(store: Store, name: str, *, now: int) -> int:
    """Disable an agent; their open threads go back to their team's queue (or to nobody). Returns how many."""

    def write(conn: sqlite3.Connection) -> int:
        who = known_agent(conn, name)
        conn.execute("UPDATE agent SET disabled = 1, status = 'offline' WHERE name = ?", (who,))
        first_team = conn.execute("SELECT team FROM team_member WHERE agent = ? ORDER BY team LIMIT 1",
                                  (who,)).fetchone()
        threads = [r[0] for r in conn.execute("SELECT id FROM thread WHERE owner = ? AND status = 'open'", (who,))]
        for thread_id in threads:
            conn.execute("UPDATE thread SET owner = NULL, team = coalesce(team, ?) WHERE id = ?",
                         (first_team[0] if first_team else None, thread_id))
            conn.execute("INSERT INTO assignment_queue(thread_id, reason, since) VALUES (?, 'returned', ?)"
                         " ON CONFLICT (thread_id) DO NOTHING", (thread_id, now))
            conn.execute("INSERT INTO activity(thread_id, kind, agent, detail, at) VALUES (?, 'assigned', NULL, ?, ?)",
                         (thread_id, f"back to the team queue: @{who} was disabled", now))
        log_changes(conn, [("agent", None), *(("thread", t) for t in threads)], at=now)
        return len(threads)

    return await store.write(write)


async def add_team(store: Store, name: str, *, now: int) -> None:
    name = check_name(name, "team")

    def write(conn: sqlite3.Connection) -> None:
        if conn.execute("SELECT 1 FROM team WHERE name = ?", (name,)).fetchone():
            raise TeamError(f"team {name!r} already exists")
        conn.execute("INSERT INTO team(name, created_at) VALUES (?, ?)", (name, now))
        log_changes(conn, [("agent", None)], at=now)

    await store.write(write)


async def set_members(store: Store, team: str, *, add: Sequence[str] = (), remove: Sequence[str] = (),
                      now: int) -> None:
    def write(conn: sqlite3.Connection) -> None:
        name = known_team(conn, team)
        for agent in add:
            conn.execute("INSERT INTO team_member(team, agent) VALUES (?, ?) ON CONFLICT (team, agent) DO NOTHING",
                         (name, known_agent(conn, agent)))
        for agent in remove:
            conn.execute("DELETE FROM team_member WHERE team = ? AND agent = ?",
                         (name, known_agent(conn, agent, enabled=False)))
        log_changes(conn, [("agent", None)], at=now)

    await store.write(write)


async def list_teams(store: Store) -> list[Team]:
    teams = [r["name"] for r in await store.fetchall("SELECT name FROM team ORDER BY name")]
    members: dict[str, list[str]] = {t: [] for t in teams}
    for row in await store.fetchall("SELECT m.team, m.agent FROM team_member m JOIN agent a ON a.name = m.agent"
                                    " WHERE a.disabled = 0 ORDER BY m.agent"):
        members.setdefault(row["team"], []).append(row["agent"])
    return [Team(t, tuple(members[t])) for t in teams]


async def teams_of(store: Store, agent: str) -> list[str]:
    return [r[0] for r in await store.fetchall("SELECT team FROM team_member WHERE agent = ? ORDER BY team",
                                               (agent,))]
