"""What a customer's message says, kept whole: Meta's errors on it, list and flow replies, edits and deletions."""

from __future__ import annotations

import json

import pytest

from core import webhooks
from core.store.reads import thread_messages
from tests.core.ingest_helpers import apply, load

ANNA_FIRST = "wamid.HBgLNDg2MDEyMzQ1NjcVAgASGBQ2MDNGMUFDOEQ1NEFCNkFEOTc3NAA="
ORIGINAL = "Dzień dobry, czy zamówienie nr 1043 zostało już wysłane? Pytam, bo jutro wyjeżdżam."
EDITED = "Dzień dobry, czy zamówienie nr 1044 zostało już wysłane?"


async def only_message(store):
    [thread_id] = [r["id"] for r in await store.fetchall("SELECT id FROM thread")]
    [message] = await thread_messages(store, thread_id)
    return message


async def test_a_messages_own_errors_are_kept_for_the_agent(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "unsupported.json"))
    message = await only_message(store)
    assert (message.error_code, message.error_title, message.error_details) == (
        131051, "Message type unknown", "Message type is currently not supported.")
    assert message.error_reason == "(131051) Message type unknown — Message type is currently not supported."


async def test_an_error_on_an_otherwise_readable_message_is_kept_with_its_text(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "message_error_131026.json"))
    message = await only_message(store)
    assert message.text == "Tak" and message.error_code == 131026
    assert message.error_reason == "(131026) Message Undeliverable — Message could not be delivered in full."


async def test_a_value_level_error_sent_again_is_stored_once(store, fixtures_dir):
    body = load(fixtures_dir, "value_error_130429.json")
    for _ in range(3):
        await apply(store, body)
    rows = await store.fetchall("SELECT code, title, details FROM channel_error")
    assert [tuple(r) for r in rows] == [(130429, "Rate limit hit", "Cloud API message throughput has been reached.")]
    await apply(store, body, now=1795620000 + 3600 + 2 * 86400)  # the same error two days later is news
    assert await store.scalar("SELECT count(*) FROM channel_error") == 2


def test_a_list_reply_keeps_its_description(fixtures_dir):
    [message] = webhooks.parse(load(fixtures_dir, "interactive_list_reply.json"))
    assert message.text == "Naprawa pompy — Serwis w ciągu 3 dni roboczych"


def test_a_flow_reply_shows_the_customers_answers_not_sent(fixtures_dir):
    [message] = webhooks.parse(load(fixtures_dir, "interactive_nfm_reply.json"))
    assert message.text.split("\n") == [
        "termin: 2026-12-03", "adres: ul. Łódzka 5", "\x1b[31mRED", "uwagi: Proszę dzwonić przed przyjazdem",
        "zgoda: true"]  # kept byte-exact; drawing neutralises the escape (see the CLI test below)


@pytest.mark.parametrize("answer", ["{oops", "[" * 100_000 + "]" * 100_000, '["not", "an object"]'])
def test_a_flow_reply_that_is_not_a_json_object_keeps_the_raw_answer(fixtures_dir, answer):
    body = load(fixtures_dir, "interactive_nfm_reply.json")
    body["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["nfm_reply"]["response_json"] = answer
    [message] = webhooks.parse(body)
    assert message.text == answer


async def test_an_edit_replaces_the_text_keeps_the_history_and_is_marked(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"), load(fixtures_dir, "edit_text.json"))
    message = await only_message(store)
    assert message.text == EDITED and message.edited_at == 1795519800
    assert json.loads(message.payload)["text"]["body"] == ORIGINAL  # the first version stays
    history = await store.fetchall("SELECT kind, text FROM message_change WHERE original_wamid = ?", (ANNA_FIRST,))
    assert [tuple(r) for r in history] == [("edit", EDITED)]
    assert await store.scalar("SELECT preview FROM thread") == EDITED
    assert await store.scalar("SELECT count(*) FROM message") == 1  # not an "unsupported" message of its own


async def test_an_edit_that_arrives_before_its_message_is_applied_when_the_message_comes(store, fixtures_dir):
    result = await apply(store, load(fixtures_dir, "edit_text.json"))
    assert result.parked == 1 and await store.scalar("SELECT count(*) FROM thread") == 0
    await apply(store, load(fixtures_dir, "text.json"), load(fixtures_dir, "edit_text.json"))
    message = await only_message(store)
    assert message.text == EDITED and message.edited_at == 1795519800


async def test_a_revoke_marks_the_message_deleted_by_the_customer(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"), load(fixtures_dir, "revoke.json"))
    message = await only_message(store)
    assert message.revoked_at == 1795520400
    assert await store.scalar("SELECT preview FROM thread") == "Deleted by the customer"
