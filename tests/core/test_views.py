"""core.views: filters become parameterised SQL; user search text never becomes FTS or SQL syntax."""

from __future__ import annotations

import sqlite3

import pytest

from core.model import View
from core.store.reads import count_threads, list_threads
from core.views import BUILTIN_BY_KEY, fts_query, search_clause, where


def custom(filters: dict) -> View:
    return View("custom:1", "Custom", filters, builtin=False)


def test_builtin_views_are_the_five_of_f4_and_snoozed():
    assert list(BUILTIN_BY_KEY) == ["open", "closed", "sent", "mine", "unassigned", "snoozed"]


def test_me_is_the_agent_and_every_value_is_a_parameter():
    clause, params = where(custom({"owner": ["me", "o'brien; DROP TABLE thread"], "channel": [123],
                                   "status": "open", "unread": True}), "kasia")
    assert "kasia" not in clause and "DROP" not in clause and "123" not in clause
    assert set(params.values()) == {"kasia", "o'brien; DROP TABLE thread", "123", "open"}
    assert "t.unread > coalesce((SELECT r.seen FROM thread_read r" in clause  # unread by this agent


def test_unassigned_is_owner_null_and_an_empty_list_matches_nothing():
    assert "t.owner IS NULL" in where(BUILTIN_BY_KEY["unassigned"], "kasia")[0]
    assert where(custom({"team": [], "owner": []}), "kasia")[0] == "1 = 0"
    assert where(custom({"source": ["sms"]}), "kasia")[0] == "1 = 0"
    assert where(custom({"source": ["whatsapp"]}), "kasia")[0] == "1 = 1"


@pytest.mark.parametrize("text, expected", [
    ("zamów", '"zamów"*'),
    ('a" OR b', '"a""" "OR" "b"*'),
    ("NEAR(x y)", '"NEAR(x" "y)"*'),
    ("  ", None),
    ("\x00", None),
    ("col:x\x00y", '"col:x" "y"*'),
])
def test_search_text_is_quoted_terms_with_a_prefix_on_the_last(text, expected):
    assert fts_query(text) == expected


@pytest.mark.parametrize("text", ['"', "*", "NEAR(", "a OR b", "-x", "^", "col:x", "()", "\x00", "' OR 1=1 --",
                                  "\u202e", "AND", "x" * 500])
def test_any_search_text_is_a_valid_fts5_query(text):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE message_fts USING fts5(text)")
    db.execute("INSERT INTO message_fts(text) VALUES ('hello world')")
    query = fts_query(text)
    if query is not None:
        assert db.execute("SELECT count(*) FROM message_fts WHERE message_fts MATCH ?", (query,)).fetchone()[0] == 0


async def test_digits_anywhere_in_the_customers_number_find_the_thread(store):
    def seed(conn: sqlite3.Connection) -> None:
        for wa_id in ("48601234567", "48700111222", "4479001"):
            conn.execute("INSERT INTO thread(channel, wa_id, created_at) VALUES ('583920174655001', ?, 0)", (wa_id,))

    await store.write(seed)
    everything = custom({})

    async def found(typed: str) -> list[str]:
        return sorted(t.wa_id for t in await list_threads(store, everything, agent="ola", search=typed))

    assert await found("+48 601-234") == ["48601234567"]  # the start, typed with marks
    assert await found("234567") == ["48601234567"]  # the end: the number without its country code
    assert await found("0111 222") == ["48700111222"]  # the middle
    assert await found("9001") == ["4479001"]
    assert await found("601 999") == []
    assert await count_threads(store, everything, agent="ola", search="4567") == 1

    def renumber(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE thread SET wa_id = '48609999999' WHERE wa_id = '48601234567'")
        conn.execute("DELETE FROM thread WHERE wa_id = '4479001'")

    await store.write(renumber)
    assert await found("234567") == []
    assert await found("9999999") == ["48609999999"]
    assert await found("9001") == []
    assert "digits" not in search_clause("order 12")[1]  # a word with a number is not a phone search


