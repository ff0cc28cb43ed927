"""Search picks the query shape by how common the term is; both shapes must find exactly the same threads."""

from __future__ import annotations

from core.model import SESSION_SECONDS, View
from core.store.reads import COMMON, count_threads, list_threads
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


async def seed_sixty(store) -> None:
    """Threads 1..60, the newest activity on the highest id; two words in more than COMMON messages each:
    'paczka' only in the three oldest threads, 'zwrot' in every even thread."""
    def write(db):
        for n in range(1, 61):
            db.execute("INSERT INTO thread(id, channel, wa_id, status, created_at, last_message_at, last_inbound_at)"
                       " VALUES (?, 'P', ?, 'open', 0, ?, ?)", (n, f"4860000{n:04d}", 1000 + n, 1000 + n))
        rows = [(1 + i % 3, "P", f"wamid.p{i}", "in", "text", f"paczka numer {i}", i) for i in range(COMMON + 10)]
        rows += [(2 + 2 * (i % 30), "P", f"wamid.z{i}", "in", "text", f"zwrot {i}", i) for i in range(COMMON + 10)]
        db.executemany("INSERT INTO message(thread_id, channel, wamid, direction, type, text, timestamp)"
                       " VALUES (?,?,?,?,?,?,?)", rows)
    await store.write(write)


async def test_a_common_word_pages_newest_first_wherever_its_threads_are(store):
    # Common words, found by walking the threads newest first or (few threads match) by collecting the matches:
    # the same page on both backends, in the view's order.
    await seed_sixty(store)

    async def page(text: str, offset: int, limit: int, order: str = "recent") -> list[int]:
        found = await list_threads(store, OPEN, agent="kasia", search=text, offset=offset, limit=limit, order=order,
                                   now=1040 + SESSION_SECONDS)
        return [t.id for t in found]

    assert await page("paczka", 0, 2) == [3, 2]           # the 40 newest threads hold none of it
    assert await page("paczka", 2, 2) == [1]
    assert await page("zwrot", 0, 5) == [60, 58, 56, 54, 52]
    assert await page("zwrot", 25, 10) == [10, 8, 6, 4, 2]
    assert await page("zwrot", 0, 40) == list(range(60, 0, -2))
    # Sessions still open (inbound after 1040) first, the one closing soonest on top; then the rest, newest first.
    assert await page("zwrot", 0, 12, order="expiring") == [42, 44, 46, 48, 50, 52, 54, 56, 58, 60, 40, 38]
    assert await count_threads(store, OPEN, agent="kasia", search="zwrot") == 30
    assert await count_threads(store, OPEN, agent="kasia", search="paczka") == 3
