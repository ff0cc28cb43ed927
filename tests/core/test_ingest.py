"""Ingest: every fixture lands as the right thread, message and status; repeats and shuffles change nothing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.store import Store
from tests.core.ingest_helpers import (CHANNEL_A, CHANNEL_B, OUR_TEXT_TO_ANNA, add_outbound, apply, load, state)

INBOUND = ["text.json", "text_reply_context.json", "image_with_caption.json", "audio_voice.json", "video.json",
           "document.json", "sticker.json", "location.json", "contacts.json", "interactive_button_reply.json",
           "interactive_list_reply.json", "button_template_reply.json", "reaction.json", "reaction_removed.json",
           "reaction_removed_empty_emoji.json", "unsupported.json", "referral_ad.json", "batch_multiple_messages.json",
           "system_number_change.json"]
STATUSES = ["status_sent.json", "status_delivered.json", "status_read.json", "status_failed_131047.json"]


async def message(store: Store, wamid: str):
    return await store.fetchone("SELECT * FROM message WHERE wamid = ?", (wamid,))


def wamid_of(body: dict, index: int = 0) -> str:
    return body["entry"][0]["changes"][0]["value"]["messages"][index]["id"]


@pytest.mark.parametrize("name, type_, raw_type, text", [
    ("text.json", "text", "text", "Dzień dobry, czy zamówienie nr 1043 zostało już wysłane? Pytam, bo jutro wyjeżdżam."),
    ("image_with_caption.json", "image", "image", None),
    ("audio_voice.json", "audio", "audio", ""),
    ("video.json", "video", "video", None),
    ("document.json", "document", "document", None),
    ("sticker.json", "sticker", "sticker", ""),
    ("location.json", "location", "location", None),
    ("contacts.json", "contacts", "contacts", None),
    ("interactive_button_reply.json", "interactive", "interactive", "Jutro 8–12"),
    ("button_template_reply.json", "button", "button", None),
    ("unsupported.json", "unsupported", "poll_creation", ""),
    ("referral_ad.json", "text", "text", None),
])
async def test_each_inbound_fixture_becomes_one_message_in_its_thread(store, fixtures_dir, name, type_, raw_type, text):
    body = load(fixtures_dir, name)
    result = await apply(store, body)
    assert result.new_messages == 1
    row = await message(store, wamid_of(body))
    assert (row["direction"], row["type"], row["raw_type"]) == ("in", type_, raw_type)
    raw_message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    assert json.loads(row["payload"]) == raw_message  # the raw object is kept for inspection
    assert row["timestamp"] == int(raw_message["timestamp"])  # Meta's clock, not ours
    if text is not None:
        assert row["text"] == text
    thread = await store.fetchone("SELECT * FROM thread WHERE id = ?", (row["thread_id"],))
    assert thread["channel"] == CHANNEL_A and thread["wa_id"] == raw_message["from"]
    assert thread["status"] == "open" and thread["unread"] == 1


async def test_media_keeps_its_mime_type_file_name_and_caption(store, fixtures_dir):
    body = load(fixtures_dir, "document.json")
    await apply(store, body)
    doc = body["entry"][0]["changes"][0]["value"]["messages"][0]["document"]
    row = await message(store, wamid_of(body))
    assert (row["mime_type"], row["file_name"], row["media_id"], row["sha256"]) == (
        doc["mime_type"], doc["filename"], doc["id"], doc["sha256"])
    assert row["text"] == doc.get("caption", "")
    assert await store.scalar("SELECT has_attachment FROM thread") == 1


async def test_one_thread_per_number_and_customer_and_a_contact_from_the_profile(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "batch_multiple_messages.json"))
    threads = await store.fetchall(
        "SELECT t.channel, t.wa_id, t.unread, c.name, c.e164 FROM thread t JOIN contact c ON c.id = t.contact_id"
        " ORDER BY t.channel, t.wa_id")
    assert [tuple(t) for t in threads] == [
        (CHANNEL_A, "48601234567", 2, "Anna Kowalska", "+48601234567"),
        (CHANNEL_A, "4915112345678", 1, "Jan Müller", "+4915112345678"),
        (CHANNEL_B, "48698765432", 1, "Maria Nowak", "+48698765432"),
    ]


async def test_the_session_is_24_hours_from_the_customers_last_message_by_metas_clock(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"), load(fixtures_dir, "sticker.json"))
    assert await store.scalar("SELECT last_inbound_at FROM thread") == 1795522200  # the sticker, the later one
    await apply(store, load(fixtures_dir, "reaction.json"))  # a reaction does not renew the window
    assert await store.scalar("SELECT last_inbound_at FROM thread") == 1795522200


async def test_an_inbound_message_reopens_a_closed_thread_but_a_reaction_does_not(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"))
    await store.write(lambda db: db.execute("UPDATE thread SET status = 'closed', unread = 0"))
    await apply(store, load(fixtures_dir, "reaction.json"))
    assert tuple(await store.fetchone("SELECT status, unread FROM thread")) == ("closed", 0)
    await apply(store, load(fixtures_dir, "image_with_caption.json"))
    assert tuple(await store.fetchone("SELECT status, unread FROM thread")) == ("open", 1)


async def test_reactions_point_at_their_message_and_removal_is_an_empty_emoji(store, fixtures_dir):
    for name in ("reaction.json", "reaction_removed.json", "reaction_removed_empty_emoji.json"):
        await apply(store, load(fixtures_dir, name))
    rows = await store.fetchall("SELECT context_wamid, text FROM message WHERE type = 'reaction' ORDER BY timestamp")
    assert [tuple(r) for r in rows] == [(OUR_TEXT_TO_ANNA, "❤️"), (OUR_TEXT_TO_ANNA, ""), (OUR_TEXT_TO_ANNA, "")]


async def test_an_unknown_type_is_kept_as_unsupported_naming_the_type(store, fixtures_dir):
    body = load(fixtures_dir, "text.json")
    msg = body["entry"][0]["changes"][0]["value"]["messages"][0]
    msg.update(type="hologram", hologram={"beam": 3})
    del msg["text"]
    await apply(store, body)
    row = await message(store, msg["id"])
    assert (row["type"], row["raw_type"]) == ("unsupported", "hologram")
    assert json.loads(row["payload"])["hologram"] == {"beam": 3}
    assert await store.scalar("SELECT preview FROM thread") == "Unsupported message (hologram)"


async def test_the_customer_changing_number_takes_the_contact_along(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"), load(fixtures_dir, "system_number_change.json"))
    thread = await store.fetchone("SELECT t.wa_id, c.wa_id AS contact_wa_id, c.e164 FROM thread t"
                                  " JOIN contact c ON c.id = t.contact_id")
    assert tuple(thread) == ("48601234567", "48609876543", "+48609876543")
    assert await store.scalar("SELECT count(*) FROM message WHERE type = 'system'") == 1
    # Her first message from the new number opens a thread linked to the same contact.
    body = load(fixtures_dir, "text.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0].update(wa_id="48609876543", user_id="PL.6601928374455012")
    value["messages"][0].update(id="wamid.FROM-NEW-NUMBER", timestamp="1795620100",
                                from_user_id="PL.6601928374455012", **{"from": "48609876543"})
    await apply(store, body)
    assert await store.scalar("SELECT count(DISTINCT contact_id) FROM thread") == 1
    assert await store.scalar("SELECT count(*) FROM thread") == 2


async def test_statuses_move_forward_only_and_keep_every_one_as_history(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"))
    message_id = await add_outbound(store, 1, OUR_TEXT_TO_ANNA)
    for name in ("status_read.json", "status_sent.json", "status_delivered.json"):  # out of order, as Meta may
        await apply(store, load(fixtures_dir, name))
    row = await store.fetchone("SELECT status, status_at FROM message WHERE id = ?", (message_id,))
    assert tuple(row) == ("read", 1795519565)
    history = await store.fetchall("SELECT status, timestamp FROM status_event WHERE wamid = ? ORDER BY timestamp",
                                   (OUR_TEXT_TO_ANNA,))
    assert [tuple(h) for h in history] == [("sent", 1795519500), ("delivered", 1795519503), ("read", 1795519565)]


async def test_a_failed_status_carries_the_apis_error(store, fixtures_dir):
    body = load(fixtures_dir, "audio_voice.json")  # Tomasz
    await apply(store, body)
    failed = load(fixtures_dir, "status_failed_131047.json")
    wamid = failed["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]
    message_id = await add_outbound(store, 1, wamid)
    await apply(store, failed)
    row = await store.fetchone("SELECT status, error_code, error_title, error_details FROM message WHERE id = ?",
                               (message_id,))
    assert (row["status"], row["error_code"], row["error_title"]) == ("failed", 131047, "Re-engagement message")
    assert row["error_details"].startswith("Message failed to send because more than 24 hours")


async def test_a_status_for_an_unknown_message_is_parked_then_applied(store, fixtures_dir):
    result = await apply(store, load(fixtures_dir, "status_delivered.json"))
    assert result.parked == 1
    assert await store.scalar("SELECT count(*) FROM thread") == 0  # never creates a thread or contact
    assert await store.scalar("SELECT count(*) FROM contact") == 0
    await apply(store, load(fixtures_dir, "text.json"))
    message_id = await add_outbound(store, 1, None)
    from core.ingest import apply_parked_statuses

    def store_wamid(db):
        db.execute("UPDATE message SET wamid = ? WHERE id = ?", (OUR_TEXT_TO_ANNA, message_id))
        apply_parked_statuses(db, message_id, OUR_TEXT_TO_ANNA)
    await store.write(store_wamid)
    assert await store.scalar("SELECT status FROM message WHERE id = ?", (message_id,)) == "delivered"


async def test_a_lost_send_response_is_reconciled_from_the_callback_data(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"))
    message_id = await add_outbound(store, 1, None, outbox_id=812)  # status_sent.json carries "outbox:812"
    await apply(store, load(fixtures_dir, "status_sent.json"))
    row = await store.fetchone("SELECT m.wamid, m.status, o.wamid AS outbox_wamid, o.state FROM message m"
                               " JOIN outbox o ON o.message_id = m.id WHERE m.id = ?", (message_id,))
    assert tuple(row) == (OUR_TEXT_TO_ANNA, "sent", OUR_TEXT_TO_ANNA, "sent")


async def test_a_post_with_a_known_and_a_new_message_stores_the_new_one(store, fixtures_dir):
    first = load(fixtures_dir, "text.json")
    await apply(store, first)
    both = load(fixtures_dir, "text.json")
    extra = dict(both["entry"][0]["changes"][0]["value"]["messages"][0], id="wamid.NEW", timestamp="1795519300")
    both["entry"][0]["changes"][0]["value"]["messages"].append(extra)
    result = await apply(store, both)
    assert (result.new_messages, result.duplicates) == (1, 1)
    assert await store.scalar("SELECT count(*) FROM message") == 2
    assert await store.scalar("SELECT unread FROM thread") == 2


async def test_an_unknown_phone_number_id_is_skipped_without_losing_the_rest(store, fixtures_dir):
    result = await apply(store, load(fixtures_dir, "batch_multiple_messages.json"), channels={CHANNEL_A})
    assert result.unknown_channels == {CHANNEL_B}
    assert await store.scalar("SELECT count(*) FROM message") == 3
    assert await store.scalar("SELECT count(*) FROM message WHERE channel = ?", (CHANNEL_B,)) == 0


async def test_value_level_errors_are_recorded_for_the_channel(store):
    body = {"object": "whatsapp_business_account", "entry": [{"id": "310492887654321", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": CHANNEL_A},
                      "errors": [{"code": 130429, "title": "Rate limit hit",
                                  "error_data": {"details": "Cloud API message throughput has been reached."}}]}}]}]}
    await apply(store, body)
    row = await store.fetchone("SELECT channel, code, title, details FROM channel_error")
    assert tuple(row) == (CHANNEL_A, 130429, "Rate limit hit", "Cloud API message throughput has been reached.")


async def test_phishing_and_card_numbers_are_quarantined(store, fixtures_dir):
    body = load(fixtures_dir, "text.json")
    msg = body["entry"][0]["changes"][0]["value"]["messages"]
    msg.append(dict(msg[0], id="wamid.CARD", text={"body": "karta 4111 1111 1111 1111 ważna do 12/28"}))
    msg.append(dict(msg[0], id="wamid.PHISH", text={"body": "zaloguj się: http://paypa1-login.example.xyz"}))
    await apply(store, body)
    rows = await store.fetchall("SELECT wamid, quarantined, quarantine_reason FROM message ORDER BY wamid")
    flagged = {r["wamid"]: r["quarantine_reason"] for r in rows if r["quarantined"]}
    assert flagged == {"wamid.CARD": "looks like a payment card number", "wamid.PHISH": "looks like a phishing link"}
    preview = await store.scalar("SELECT preview FROM thread")  # the last one was veiled: so is the list's preview
    assert preview == "Quarantined message (looks like a phishing link)" and "paypa1" not in preview


@pytest.mark.parametrize("stored_mobile, wa_id", [
    ("+48 601 234 567", "48601234567"),
    ("0048601234567", "48601234567"),
    ("+52 55 1234 5678", "5215512345678"),     # Mexico: WhatsApp's 521… id, stored as the valid +52 number
    ("+55 11 98765-4321", "551187654321"),     # Brazil: legacy id without the ninth digit
])
async def test_an_inbound_number_finds_the_contact_stored_in_any_format(store, fixtures_dir, stored_mobile, wa_id):
    from core.phones import to_e164
    def known(db):
        cursor = db.execute("INSERT INTO contact(name, mobile, created_at) VALUES ('Known', ?, 0)", (stored_mobile,))
        db.execute("INSERT INTO contact_number(contact_id, e164) VALUES (?, ?)", (cursor.lastrowid, to_e164(stored_mobile)))
    await store.write(known)
    body = load(fixtures_dir, "text.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = wa_id
    await apply(store, body)
    assert await store.scalar("SELECT c.name FROM thread t JOIN contact c ON c.id = t.contact_id") == "Known"
    assert await store.scalar("SELECT count(*) FROM contact") == 1


async def test_an_invalid_wa_id_is_kept_raw_and_never_normalised(store, fixtures_dir):
    body = load(fixtures_dir, "text.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = "999123"
    await apply(store, body)
    row = await store.fetchone("SELECT wa_id, e164 FROM contact")
    assert tuple(row) == ("999123", None)


async def test_a_customer_known_only_by_bsuid_gets_a_thread(store, fixtures_dir):
    body = load(fixtures_dir, "text.json")
    value = body["entry"][0]["changes"][0]["value"]
    del value["contacts"][0]["wa_id"]
    del value["messages"][0]["from"]
    await apply(store, body)
    row = await store.fetchone("SELECT wa_id, user_id FROM thread")
    assert tuple(row) == (None, "PL.4718290356123874")


# Identity and content shapes (issue 8): BSUID rotation, notices with no sender, edits, revokes, errors, flows.
NEW_SHAPES = ["text_contact_user_id.json", "system_user_changed_user_id.json", "text_bsuid_only.json",
              "system_no_sender.json", "edit_text.json", "revoke.json", "interactive_nfm_reply.json",
              "message_error_131026.json", "value_error_130429.json"]
ALL = INBOUND + STATUSES + NEW_SHAPES


@pytest.fixture(scope="module")
def all_bodies(request):
    from tests.conftest import FIXTURES
    if not FIXTURES.is_dir():
        pytest.skip("no fixtures")
    return [json.loads((FIXTURES / name).read_text(encoding="utf-8")) for name in ALL]


async def _final_state(tmp_path, bodies: list[dict], name: str) -> dict:
    store = await Store.open(tmp_path / f"{name}.db")
    try:
        # Our outbound messages exist before their statuses could matter (the sender stored their wamids).
        await apply(store, bodies[0])
        for wamid in (OUR_TEXT_TO_ANNA, "wamid.HBgLNDg1MTIzNDU2NzgVAgARGBJGOTExNjU1NDRFMEE0QUVBQzIA"):
            await add_outbound(store, 1, wamid)
        for body in bodies:
            await apply(store, body)
        return await state(store)
    finally:
        await store.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.randoms(use_true_random=False))
async def test_every_fixture_twice_in_any_order_gives_the_same_final_state(tmp_path_factory, all_bodies, order):
    tmp = tmp_path_factory.mktemp("order")
    expected = await _final_state(tmp, all_bodies, "in-order")
    shuffled = all_bodies * 2
    order.shuffle(shuffled)
    assert await _final_state(tmp, [all_bodies[0], *shuffled], "shuffled") == expected
