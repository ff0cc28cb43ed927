"""Ingest paths the fixtures alone do not reach."""

from __future__ import annotations

from core.store.reads import thread_messages
from tests.core.ingest_helpers import apply, load


async def test_an_edit_that_adds_a_phishing_link_quarantines_the_message(store, fixtures_dir):
    edit = load(fixtures_dir, "edit_text.json")
    edited = edit["entry"][0]["changes"][0]["value"]["messages"][0]["edit"]["message"]["text"]
    edited["body"] = "Zmiana: zapłać tutaj http://paypa1-login.example.xyz/verify"
    await apply(store, load(fixtures_dir, "text.json"), edit)
    [message] = await thread_messages(store, 1)
    assert message.text == edited["body"]
    row = await store.fetchone("SELECT quarantined, quarantine_reason FROM message")
    assert tuple(row) == (1, "looks like a phishing link")  # the original had no link: the edit must not slip one in
