"""Ingest paths the fixtures alone do not reach."""

from __future__ import annotations

import pytest

from core.ingest import ingest
from core.store.reads import thread_messages
from core.webhooks import StatusUpdate
from tests.core.ingest_helpers import CHANNEL_A, CHANNELS, NOW, add_outbound, apply, load


async def test_an_edit_that_adds_a_phishing_link_quarantines_the_message(store, fixtures_dir):
    edit = load(fixtures_dir, "edit_text.json")
    edited = edit["entry"][0]["changes"][0]["value"]["messages"][0]["edit"]["message"]["text"]
    edited["body"] = "Zmiana: zapłać tutaj http://paypa1-login.example.xyz/verify"
    await apply(store, load(fixtures_dir, "text.json"), edit)
    [message] = await thread_messages(store, 1)
    assert message.text == edited["body"]
    row = await store.fetchone("SELECT quarantined, quarantine_reason FROM message")
    assert tuple(row) == (1, "looks like a phishing link")  # the original had no link: the edit must not slip one in


async def test_a_number_change_without_a_bsuid_still_takes_the_contact_along(store, fixtures_dir):
    change = load(fixtures_dir, "system_number_change.json")
    del change["entry"][0]["changes"][0]["value"]["messages"][0]["system"]["user_id"]  # as before BSUIDs existed
    await apply(store, load(fixtures_dir, "text.json"), change)
    contact = await store.fetchone("SELECT id, wa_id, e164 FROM contact")
    assert (contact["wa_id"], contact["e164"]) == ("48609876543", "+48609876543")
    numbers = await store.fetchall("SELECT e164 FROM contact_number WHERE contact_id = ? ORDER BY e164",
                                   (contact["id"],))
    assert [r["e164"] for r in numbers] == ["+48601234567", "+48609876543"]
    bsuids = await store.fetchall("SELECT user_id FROM contact_user_id WHERE contact_id = ?", (contact["id"],))
    assert [r["user_id"] for r in bsuids] == ["PL.4718290356123874"]  # no new BSUID was invented


@pytest.mark.parametrize("callback_data", ["crm:1", "outbox:", "outbox:1x"])
async def test_a_status_whose_callback_data_is_not_ours_reconciles_nothing(store, fixtures_dir, callback_data):
    await apply(store, load(fixtures_dir, "text.json"))
    await add_outbound(store, 1, None, outbox_id=1)  # a send whose answer was lost
    status = StatusUpdate(CHANNEL_A, "wamid.SOMEONE-ELSES", "sent", NOW, callback_data=callback_data)
    result = await store.write(lambda db: ingest(db, [status], channels=CHANNELS, now=NOW))
    assert result.parked == 1
    assert tuple(await store.fetchone("SELECT state, wamid FROM outbox")) == ("sending", None)


@pytest.mark.parametrize(("field", "logged"), [("message_template_status_update", [("template", None)]),
                                               ("account_update", [])])
async def test_other_webhook_fields_store_no_message_and_a_template_change_tells_the_inboxes(store, field, logged):
    body = {"object": "whatsapp_business_account", "entry": [{"id": "310492887654321", "changes": [
        {"field": field, "value": {"event": "APPROVED", "message_template_id": 7}}]}]}
    seq = await store.last_change_seq()
    await apply(store, body)
    assert await store.changes_since(seq) == (seq + len(logged), logged)
    assert await store.scalar("SELECT count(*) FROM message") == 0
