"""Assignment (F10, F11): by an agent (checked names, recorded) and by rules (new and reopened threads to a team,
then to its available agent with the fewest open threads, never over capacity).

New and reopened threads are put in `assignment_queue` by triggers (core/store/schema.py), whoever wrote them.
`drain()` empties what it can in ONE write transaction (BEGIN IMMEDIATE: writers are serialised), and claims each
thread with `UPDATE … WHERE owner IS NULL`, so two `wabox serve` processes, or an agent and a rule, never assign a
thread twice, and loads are counted inside the transaction that uses them. A thread nobody can take waits in its
team's queue (team set, owner NULL) and is assigned as soon as a drain finds capacity: serve drains every second,
and closing a thread or changing an agent's status drains at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from core.agents import known_agent, known_team
from core.config import AssignmentRule as Rule
from core.model import View
from core.snooze import wake_due
from core.store.db import Store, log_changes
from core.views import where


def describe(rule: Rule) -> str:
    return f"{'channel ' + rule.channel if rule.channel else 'view ' + str(rule.view)} -> {rule.team}"


@dataclass(frozen=True, slots=True)
class Assigned:
    thread_id: int
    owner: str | None
    team: str | None


def save_rules(conn: sqlite3.Connection, rules: tuple[Rule, ...] | list[Rule]) -> None:
    """The config's [[assignment]] rules, copied where every process can apply them (serve writes them at start)."""
    conn.execute("DELETE FROM assignment_rule")
    conn.executemany("INSERT INTO assignment_rule(position, channel, view, team) VALUES (?, ?, ?, ?)",
                     [(i, r.channel, r.view, r.team) for i, r in enumerate(rules)])


def _rules(conn: sqlite3.Connection) -> list[Rule]:
    return [Rule(r["team"], r["channel"], r["view"])
            for r in conn.execute("SELECT * FROM assignment_rule ORDER BY position")]


def _view_filters(conn: sqlite3.Connection, name: str) -> dict | None:
    import json

    row = conn.execute("SELECT filters FROM custom_view WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    try:
        filters = json.loads(row[0])
    except ValueError:
        return None
    return filters if isinstance(filters, dict) else None


def _matching_rule(conn: sqlite3.Connection, rules: list[Rule], thread: sqlite3.Row) -> Rule | None:
    for rule in rules:
        if rule.channel is not None and rule.channel == thread["channel"]:
            return rule
        if rule.view is not None:
            filters = _view_filters(conn, rule.view)
            if filters is None:
                continue
            clause, params = where(View("rule", rule.view, {k: v for k, v in filters.items() if k != "status"}), "")
            if conn.execute(f"SELECT 1 FROM thread t WHERE {clause} AND t.id = :me", {**params, "me": thread["id"]}
                            ).fetchone():
                return rule
    return None


def _candidates(conn: sqlite3.Connection, team: str) -> dict[str, tuple[int, int]]:
    """Available, enabled members of `team`: name -> (open threads, capacity)."""
    rows = conn.execute(
        "SELECT a.name, a.capacity, (SELECT count(*) FROM thread t WHERE t.owner = a.name AND t.status = 'open')"
        " AS load FROM team_member m JOIN agent a ON a.name = m.agent"
        " WHERE m.team = ? AND a.disabled = 0 AND a.status = 'available'", (team,)).fetchall()
    return {r["name"]: (r["load"], r["capacity"]) for r in rows}


def _record(conn: sqlite3.Connection, thread_id: int, owner: str | None, team: str | None, *, by: str | None,
            rule: str | None, now: int) -> None:
    conn.execute("INSERT INTO assignment(thread_id, owner, team, by_agent, rule, at) VALUES (?, ?, ?, ?, ?, ?)",
                 (thread_id, owner, team, by, rule, now))
    said = f"@{owner}" if owner else (f"team {team} (waiting)" if team else "nobody")
    how = f" by @{by}" if by else (f" by rule {rule}" if rule else "")
    conn.execute("INSERT INTO activity(thread_id, kind, agent, detail, at) VALUES (?, 'assigned', ?, ?, ?)",
                 (thread_id, by, f"assigned to {said}{how}", now))


BATCH = 100  # queued threads per write transaction: a burst never holds the write lock for long


def drain_in(conn: sqlite3.Connection, now: int, after: tuple[int, int] = (-1, -1),
             limit: int = 1_000_000) -> list[Assigned]:
    """Assign what can be assigned now, of the queued threads after `after` (since, thread id) in queue order, at
    most `limit` of them (run inside a write transaction)."""
    rules = _rules(conn)
    if not rules:  # nothing routes new or reopened threads: only what an agent sent to a team waits
        conn.execute("DELETE FROM assignment_queue WHERE reason != 'returned'")
    queued = conn.execute("SELECT q.thread_id, q.reason, q.since, t.id, t.channel, t.status, t.owner, t.team"
                          " FROM assignment_queue q JOIN thread t ON t.id = q.thread_id"
                          " WHERE q.since > :since OR (q.since = :since AND q.thread_id > :id)"
                          " ORDER BY q.since, q.thread_id LIMIT :limit",
                          {"since": after[0], "id": after[1], "limit": limit}).fetchall()
    if not queued:
        return []
    loads: dict[str, dict[str, tuple[int, int]]] = {}
    done: list[Assigned] = []

    def dequeue(thread_id: int) -> None:
        conn.execute("DELETE FROM assignment_queue WHERE thread_id = ?", (thread_id,))

    for row in queued:
        thread_id = row["thread_id"]
        if row["status"] != "open":
            dequeue(thread_id)
            continue
        rule = _matching_rule(conn, rules, row)
        if rule is None and row["reason"] != "returned":
            dequeue(thread_id)  # no rule for it: it stays with whoever has it, or unassigned
            continue
        if row["reason"] == "reopened":
            previous = row["owner"] or _last_owner(conn, thread_id)
            if previous and _available(conn, previous):
                dequeue(thread_id)
                conn.execute("UPDATE thread SET owner = ? WHERE id = ? AND owner IS NULL", (previous, thread_id))
                _record(conn, thread_id, previous, row["team"], by=None, rule="reopened: previous owner", now=now)
                log_changes(conn, [("thread", thread_id)], at=now)
                done.append(Assigned(thread_id, previous, row["team"]))
                continue
        elif row["owner"] is not None:
            dequeue(thread_id)  # an agent took it meanwhile
            continue
        # Sent back to a team (by an agent, or its owner was disabled): that team; else the rule's.
        team = row["team"] if row["reason"] == "returned" and row["team"] else (rule.team if rule else None)
        if team is None or conn.execute("SELECT 1 FROM team WHERE name = ?", (team,)).fetchone() is None:
            dequeue(thread_id)  # a rule naming a team that does not exist (yet): left as it is
            continue
        if row["owner"] is not None:  # reopened, its owner away or gone: back to the team
            conn.execute("UPDATE thread SET owner = NULL WHERE id = ?", (thread_id,))
        pool = loads.setdefault(team, _candidates(conn, team))
        free = sorted((load, name) for name, (load, capacity) in pool.items() if load < capacity)
        if not free:
            if row["team"] != team or row["owner"] is not None:
                conn.execute("UPDATE thread SET team = ? WHERE id = ?", (team, thread_id))
                _record(conn, thread_id, None, team, by=None, rule=describe(rule) if rule else None, now=now)
                log_changes(conn, [("thread", thread_id)], at=now)
            continue  # waits in the team's queue
        load, agent = free[0]
        claimed = conn.execute("UPDATE thread SET owner = ?, team = ? WHERE id = ? AND owner IS NULL",
                               (agent, team, thread_id)).rowcount
        dequeue(thread_id)
        if claimed != 1:
            continue
        pool[agent] = (load + 1, pool[agent][1])
        _record(conn, thread_id, agent, team, by=None, rule=describe(rule) if rule else "team queue", now=now)
        log_changes(conn, [("thread", thread_id)], at=now)
        done.append(Assigned(thread_id, agent, team))
    return done


def _last_owner(conn: sqlite3.Connection, thread_id: int) -> str | None:
    row = conn.execute("SELECT owner FROM assignment WHERE thread_id = ? AND owner IS NOT NULL ORDER BY id DESC"
                       " LIMIT 1", (thread_id,)).fetchone()
    return row[0] if row else None


def _available(conn: sqlite3.Connection, agent: str) -> bool:
    row = conn.execute("SELECT status, disabled FROM agent WHERE name = ?", (agent,)).fetchone()
    return row is not None and row["status"] == "available" and not row["disabled"]


async def drain(store: Store, *, now: int) -> list[Assigned]:
    """One pass over the queue, BATCH threads per transaction (cheap when it is empty: one read, no write lock)."""
    done: list[Assigned] = []
    after = (-1, -1)
    while True:
        batch = await store.fetchall("SELECT since, thread_id FROM assignment_queue"
                                     " WHERE since > ? OR (since = ? AND thread_id > ?)"
                                     " ORDER BY since, thread_id LIMIT ?", (after[0], after[0], after[1], BATCH))
        if not batch:
            return done
        done += await store.write(drain_in, now, after, BATCH)  # the same rows, read again under the lock
        if len(batch) < BATCH:
            return done
        after = (batch[-1]["since"], batch[-1]["thread_id"])


ASSIGN_POLL_SECONDS = 1.0


async def run_assigner(store: Store, rules: tuple[Rule, ...], *, clock=None) -> None:
    """`wabox serve`'s loop: the config's rules copied for every process, then, every second, snoozes whose time
    came are woken and the queue is drained (new threads, reopened ones, and team queues as capacity frees)."""
    clock = clock or time.time
    await store.write(save_rules, rules)
    while True:
        now = int(clock())
        await wake_due(store, now=now)
        await drain(store, now=now)
        await asyncio.sleep(ASSIGN_POLL_SECONDS)


def assign_in(conn: sqlite3.Connection, ids: list[int], target: str, by: str, now: int) -> Assigned:
    """An agent assigns: `target` is an agent name, `team:NAME`, or "" for nobody. Unknown names raise TeamError."""
    target = target.strip()
    owner: str | None = None
    team: str | None = None
    values: dict[str, Any]
    if target.lower().startswith("team:") and not target[5:].strip():
        sql, values = "team = NULL", {}  # "team:" alone: no team
    elif target.lower().startswith("team:"):
        team = known_team(conn, target[5:])
        sql, values = "owner = NULL, team = :team", {"team": team}
    elif target:
        owner = known_agent(conn, target.lstrip("@"))
        sql, values = "owner = :owner", {"owner": owner}
    else:
        sql, values = "owner = NULL", {}
    for thread_id in ids:
        if conn.execute(f"UPDATE thread SET {sql} WHERE id = :id", {**values, "id": thread_id}).rowcount:
            conn.execute("DELETE FROM assignment_queue WHERE thread_id = ?", (thread_id,))
            if team is not None:  # to a team: its rules pick an agent when one is free
                conn.execute("INSERT INTO assignment_queue(thread_id, reason, since) VALUES (?, 'returned', ?)",
                             (thread_id, now))
            current = conn.execute("SELECT team FROM thread WHERE id = ?", (thread_id,)).fetchone()
            _record(conn, thread_id, owner, team or current["team"], by=by, rule=None, now=now)
    log_changes(conn, [("thread", i) for i in ids], at=now)
    return Assigned(ids[0] if ids else 0, owner, team)


async def assign(store: Store, ids: list[int], target: str, *, by: str, now: int) -> Assigned:
    assigned = await store.write(assign_in, list(dict.fromkeys(ids)), target, by, now)
    await drain(store, now=now)
    return assigned


async def history(store: Store, thread_id: int) -> list[dict]:
    return [dict(r) for r in await store.fetchall("SELECT owner, team, by_agent, rule, at FROM assignment"
                                                  " WHERE thread_id = ? ORDER BY id", (thread_id,))]
