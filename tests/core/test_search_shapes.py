"""Search picks the query shape by how common the term is; both shapes must find exactly the same threads."""

from __future__ import annotations

from core.model import View
from core.store.reads import COMMON, list_threads
from core.views import search_clause, where

OPEN = View("open", "All open", {"status": "open"})


async def seed(store) -> None:
    def write(db):
        for n in range(40):
            db.execute("INSERT INTO thread(id, channel, wa_id, status, created_at, last_message_at)"
                       " VALUES (?, 'P', ?, 'open', 0, ?)", (n + 1, f"4860000{n:04d}", n))
        rows = [(1 + i % 30, "P", f"wamid.{i}", "in", "text", f"paczka numer {i}", i) for i in range(COMMON + 100)]
        rows += [(35, "P", "wamid.rare", "in", "text", "reklamacja uszkodzonej doniczki", 5)]
        db.executemany("INSERT INTO message(thread_id, channel, wamid, direction, type, text, timestamp)"
                       " VALUES (?,?,?,?,?,?,?)", rows)
    await store.write(write)


async def ids_with_shape(store, text: str, common: bool) -> set[int]:
    clause, params = where(OPEN, "kasia")
    found, more = search_clause(text, common=common, dialect=store.dialect)
    rows = await store.fetchall(f"SELECT t.id FROM thread t WHERE {clause} AND {found}", {**params, **more})
    return {r[0] for r in rows}


async def test_both_shapes_agree_and_the_list_uses_them(store):
    await seed(store)
    for term in ("paczka", "reklamacja", "doniczk", "nic-takiego"):
        assert await ids_with_shape(store, term, common=True) == await ids_with_shape(store, term, common=False)
    common = await list_threads(store, OPEN, agent="kasia", search="paczka", limit=100)
    assert {t.id for t in common} == set(range(1, 31))
    rare = await list_threads(store, OPEN, agent="kasia", search="doniczk", limit=100)
    assert [t.id for t in rare] == [35]
