"""Search as agents type it: letters without their marks (ł, ø, æ, ß, ı …), bounded cost, clear errors."""

from __future__ import annotations

import sqlite3

import pytest

from core.model import View
from core.store import Store
from core.store.reads import count_threads, list_threads
from core.store.schema import MIGRATIONS, script_for
from core.views import MAX_SEARCH_TERMS, SearchError, fts_query, search_problem
from tests.core.ingest_helpers import apply, load

ALL = View("all", "All", {})


async def say(store, fixtures_dir, wamid: str, text: str, name: str = "Anna Kowalska") -> None:
    body = load(fixtures_dir, "text.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["profile"]["name"] = name
    value["messages"][0].update(id=wamid, text={"body": text})
    await apply(store, body)


async def found(store, query: str) -> int:
    return len(await list_threads(store, ALL, agent="kasia", search=query))


@pytest.mark.parametrize("query", ["Michal", "michał", "MICHAL", "lodzi", "Łodzi", "lodz", "strasse", "Straße",
                                   "aero", "soren", "Igdir", "istanbul", "dakovo", "Zolkiewski"])
async def test_letters_typed_without_their_marks_find_the_text(store, fixtures_dir, query):
    await say(store, fixtures_dir, "wamid.PL", "Michał tu, płynę łodzią do Łodzi", name="Michał Żółkiewski")
    await say(store, fixtures_dir, "wamid.EU", "Straße, Ærø, Søren, Iğdır, İstanbul, Đakovo")
    assert await found(store, query) == 1


async def test_a_contact_name_is_folded_too(store, fixtures_dir):
    await say(store, fixtures_dir, "wamid.1", "dzień dobry", name="Łukasz Błaszczykowski")
    assert await found(store, "lukasz blaszczykowski") == 1


async def test_an_edited_message_is_found_by_its_new_words(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"), load(fixtures_dir, "edit_text.json"))
    assert await found(store, "1044") == 1 and await found(store, "1043") == 0


async def test_the_upgrade_rebuilds_the_index_so_old_messages_fold(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # a database made by the previous release
        db.executescript(script_for(MIGRATIONS[0], "sqlite") + "; PRAGMA user_version = 1;")
        db.execute("INSERT INTO contact(id, name, created_at) VALUES (1, 'Bjørn Łęcki', 0)")
        db.execute("INSERT INTO thread(id, channel, wa_id, contact_id, created_at) VALUES (1, '1', '4860', 1, 0)")
        db.execute("INSERT INTO message(thread_id, channel, direction, type, text, timestamp)"
                   " VALUES (1, '1', 'in', 'text', 'Przyjadę z Łodzi', 0)")
    store = await Store.open(path)
    try:
        assert await found(store, "lodzi") == 1 and await found(store, "bjorn lecki") == 1
    finally:
        await store.close()


def test_a_query_of_thousands_of_terms_is_refused_before_it_runs():
    assert search_problem(" ".join(["ab"] * MAX_SEARCH_TERMS)) is None
    assert "query too broad" in search_problem(" ".join(["ab"] * (MAX_SEARCH_TERMS + 1)))
    assert "query too broad" in search_problem("x" * 5000)
    with pytest.raises(SearchError, match="query too broad"):
        fts_query(" ".join(f"w{i}" for i in range(5000)))


async def test_the_store_refuses_a_broad_query_with_the_reason(store, fixtures_dir):
    await say(store, fixtures_dir, "wamid.1", "hello")
    with pytest.raises(SearchError, match="query too broad"):
        await count_threads(store, ALL, agent="kasia", search="a " * 3000)


def test_text_that_is_not_utf8_is_an_error_not_a_traceback():
    broken = b"Micha\xc5".decode("utf-8", "surrogateescape")
    assert search_problem(broken) == "the search text is not valid UTF-8"
    with pytest.raises(SearchError):
        fts_query(broken)
