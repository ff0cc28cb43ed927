"""The sidebar's counts come from a tally the triggers keep (schema._PERF_TABLES): after any mix of
writes — new threads, closes, reassignments, reads, replies, deletions — every view counts what it lists."""

from __future__ import annotations

import random
import sqlite3

from core.model import View
from core.store.reads import count_threads
from core.views import BUILTIN_VIEWS, where

CHANNELS = ("583920174655001", "583920174655002")
OWNERS = (None, "ola", "jan")
TEAMS = (None, "sales")
VIEWS = [*BUILTIN_VIEWS, *(View(f"custom:{i}", "Custom", f, builtin=False) for i, f in enumerate([
    {}, {"source": ["whatsapp"]}, {"source": ["sms"]}, {"unread": True}, {"has_attachment": True},
    {"channel": [CHANNELS[1]], "status": "open"}, {"owner": ["ola", "jan"], "team": ["sales"]},
    {"owner": None, "unread": True, "last_direction": "in"}]))]


def write_at_random(conn: sqlite3.Connection, rng: random.Random, steps: int) -> None:
    for _ in range(steps):
        ids = [r[0] for r in conn.execute("SELECT id FROM thread")]
        choice = rng.random()
        if choice < 0.35 or not ids:
            conn.execute("INSERT INTO thread(channel, wa_id, status, owner, team, last_direction, unread,"
                         " has_attachment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                         (rng.choice(CHANNELS), f"48{rng.randrange(10**10)}", rng.choice(("open", "closed")),
                          rng.choice(OWNERS), rng.choice(TEAMS), rng.choice((None, "in", "out")),
                          rng.choice((0, 0, 1, 3)), rng.choice((0, 1))))
        elif choice < 0.9:
            column, value = rng.choice([("status", "open"), ("status", "closed"), ("owner", rng.choice(OWNERS)),
                                        ("team", rng.choice(TEAMS)), ("last_direction", rng.choice(("in", "out"))),
                                        ("unread", rng.choice((0, 1, 2))), ("has_attachment", rng.choice((0, 1))),
                                        ("preview", "hello")])
            conn.execute(f"UPDATE thread SET {column} = ? WHERE id = ?", (value, rng.choice(ids)))
        else:
            conn.execute("DELETE FROM thread WHERE id = ?", (rng.choice(ids),))


async def test_every_view_counts_what_it_lists_after_any_writes(store):
    rng = random.Random(12)
    for _ in range(4):
        await store.write(write_at_random, rng, 150)
        for view in VIEWS:
            clause, params = where(view, "ola")
            listed = await store.scalar(f"SELECT count(*) FROM thread t WHERE {clause}", params)
            assert await count_threads(store, view, agent="ola") == listed, view.filters
    assert await store.scalar("SELECT count(*) FROM thread") > 50  # the writes left threads to count
