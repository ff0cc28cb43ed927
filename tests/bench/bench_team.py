"""Issue 10's cost where the agent feels it: the thread list and counts with per-agent unread (a lookup per row)
and the snooze filter, on 100,000 threads of which this agent has read 30,000; and one drain of a queue of 2,000
new threads over 8 agents."""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from core import assignment
from core.config import AssignmentRule
from core.model import View
from core.store import Store
from core.store.reads import count_threads, list_threads
from core.views import BUILTIN_BY_KEY

THREADS = 100_000
READ = 30_000
QUEUED = 2_000


def build(path: Path) -> None:
    asyncio.run(_migrate(path))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP TRIGGER thread_queued_new")  # the bulk rows are old history, not new threads
        conn.execute(f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {THREADS})
            INSERT INTO thread(id, channel, wa_id, status, owner, created_at, last_message_at, last_direction,
                               preview, unread)
            SELECT i, '1', '48' || i, CASE WHEN i % 5 = 0 THEN 'closed' ELSE 'open' END,
                   CASE WHEN i % 3 = 0 THEN 'agent' || (i % 8) END, 0, i, 'in', 'preview ' || i, i % 4 FROM n""")
        conn.execute(f"INSERT INTO thread_read(agent, thread_id, seen) SELECT 'agent1', id, unread FROM thread"
                     f" WHERE id % 3 = 1 LIMIT {READ}")
        conn.execute("UPDATE thread SET snoozed_until = 2000000000 WHERE id % 50 = 0")
        conn.execute("INSERT INTO team(name, created_at) VALUES ('T', 0)")
        conn.executemany("INSERT INTO agent(name, capacity) VALUES (?, 100000)", [(f"q{i}",) for i in range(8)])
        conn.executemany("INSERT INTO team_member(team, agent) VALUES ('T', ?)", [(f"q{i}",) for i in range(8)])
        conn.execute(f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {QUEUED})
            INSERT INTO thread(channel, wa_id, status, created_at) SELECT '2', '49' || i, 'open', i FROM n""")
        conn.execute("INSERT INTO assignment_queue(thread_id, reason, since)"
                     " SELECT id, 'new', created_at FROM thread WHERE channel = '2'")
    conn.close()


async def _migrate(path: Path) -> None:
    store = await Store.open(path)
    await store.close()


async def measure(path: Path) -> None:
    store = await Store.open(path)
    unread = View("u", "Unread", {"status": "open", "unread": True}, builtin=False)
    try:
        for label, view in (("All open", BUILTIN_BY_KEY["open"]), ("Snoozed", BUILTIN_BY_KEY["snoozed"]),
                            ("Unread (agent1)", unread)):
            page, count = [], []
            for _ in range(5):
                started = time.perf_counter()
                await list_threads(store, view, agent="agent1", limit=100)
                page.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await count_threads(store, view, agent="agent1")
                count.append((time.perf_counter() - started) * 1000)
            print(f"{label:16} first page {statistics.median(page):6.1f} ms (worst {max(page):.1f}),"
                  f" count {statistics.median(count):6.1f} ms (worst {max(count):.1f})", flush=True)
        await store.write(assignment.save_rules, [AssignmentRule(team="T", channel="2")])
        started = time.perf_counter()
        done = await assignment.drain(store, now=1)
        print(f"drain: {len(done)} new threads over 8 agents in {(time.perf_counter() - started) * 1000:.0f} ms",
              flush=True)
    finally:
        await store.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "team.db"
        build(path)
        asyncio.run(measure(path))


if __name__ == "__main__":
    main()
