"""core.webhooks.parse: every fixture type, odd-but-valid JSON never crashes, only an unusable envelope raises."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from core.webhooks import (ChannelError, InboundMessage, OtherChange, ParseError, StatusUpdate, envelope, parse,
                           sign, verify_signature)
from tests.conftest import FIXTURES as FIXTURES_DIR

FIXTURES = sorted(FIXTURES_DIR.glob("*.json"))
NUMBER = {"id": "209837465112233", "waba_id": "310492887654321", "display_phone_number": "48 22 100 20 30"}


def one(fixtures_dir: Path, name: str):
    events = parse(json.loads((fixtures_dir / name).read_text(encoding="utf-8")))
    assert len(events) == 1
    return events[0]


def message(m: dict, contacts: list | None = None) -> InboundMessage:
    base = {"from": "48601234567", "id": "wamid.T1", "timestamp": "1795519200"}
    [event] = parse(envelope(NUMBER, contacts=contacts, messages=[base | m]))
    assert isinstance(event, InboundMessage)
    return event


def test_text_is_kept_byte_exact_with_the_customer_and_metas_timestamp(fixtures_dir):
    raw = json.loads((fixtures_dir / "text.json").read_text(encoding="utf-8"))
    event = one(fixtures_dir, "text.json")
    sent = raw["entry"][0]["changes"][0]["value"]["messages"][0]
    assert (event.type, event.raw_type, event.text) == ("text", "text", sent["text"]["body"])
    assert event.timestamp == int(sent["timestamp"]) and event.customer.wa_id == sent["from"]
    assert event.customer.name == raw["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"]
    assert event.channel == "209837465112233" and event.waba_id == "310492887654321"


def test_media_carries_id_mime_type_hash_caption_file_name_and_flags(fixtures_dir):
    document = one(fixtures_dir, "document.json")
    assert document.type == "document" and document.media_id and document.mime_type == "application/pdf"
    assert document.file_name and document.text == "Formularz reklamacyjny w załączniku" and document.sha256
    voice = one(fixtures_dir, "audio_voice.json")
    assert voice.type == "audio" and voice.voice and voice.mime_type.startswith("audio/ogg")
    sticker = one(fixtures_dir, "sticker.json")
    assert sticker.type == "sticker" and sticker.mime_type == "image/webp" and sticker.text == ""


@pytest.mark.parametrize("name", ["reaction_removed.json", "reaction_removed_empty_emoji.json"])
def test_a_reaction_points_at_its_message_and_both_removal_forms_are_an_empty_emoji(fixtures_dir, name):
    added, removed = one(fixtures_dir, "reaction.json"), one(fixtures_dir, name)
    assert added.type == removed.type == "reaction" and added.text == "❤️" and removed.text == ""
    assert added.context_wamid == removed.context_wamid == "wamid.HBgLNDg2MDEyMzQ1NjcVAgARGBJBMzg4QUJDRDFDRkE2N0ZERkQA"


def test_replies_interactive_button_location_contacts_referral_and_system(fixtures_dir):
    assert one(fixtures_dir, "text_reply_context.json").context_wamid
    assert one(fixtures_dir, "interactive_button_reply.json").text == "Jutro 8–12"
    assert one(fixtures_dir, "interactive_list_reply.json").text == "Naprawa pompy — Serwis w ciągu 3 dni roboczych"
    assert one(fixtures_dir, "button_template_reply.json").text == "Zamów ponownie"
    assert "plac Defilad 1" in one(fixtures_dir, "location.json").text
    assert one(fixtures_dir, "contacts.json").text == "Piotr Zieliński"
    assert one(fixtures_dir, "referral_ad.json").referral["source_url"].startswith("https://")
    system = one(fixtures_dir, "system_number_change.json")
    assert system.type == "system" and system.new_wa_id == "48609876543"


def test_unsupported_and_never_seen_types_are_kept_with_their_raw_json(fixtures_dir):
    poll = one(fixtures_dir, "unsupported.json")
    assert (poll.type, poll.raw_type) == ("unsupported", "poll_creation") and poll.payload["type"] == "unsupported"
    hologram = message({"type": "hologram", "hologram": {"depth": 3}})
    assert (hologram.type, hologram.raw_type) == ("unsupported", "hologram")
    assert hologram.payload["hologram"] == {"depth": 3}
    order = message({"type": "order", "order": {"catalog_id": "1", "product_items": [{"product_retailer_id": "a"}] * 2}})
    assert order.type == "order" and order.text == "Order: 2 item(s)"


def test_statuses_carry_errors_pricing_and_callback_data(fixtures_dir):
    failed = one(fixtures_dir, "status_failed_131047.json")
    assert isinstance(failed, StatusUpdate) and failed.status == "failed"
    assert (failed.error_code, failed.error_title) == (131047, "Re-engagement message") and failed.error_details
    sent = one(fixtures_dir, "status_sent.json")
    assert sent.status == "sent" and sent.pricing and sent.conversation and sent.callback_data == "outbox:812"


def test_every_message_and_status_of_a_batch_is_visited(fixtures_dir):
    events = parse(json.loads((fixtures_dir / "batch_multiple_messages.json").read_text(encoding="utf-8")))
    assert [e.type for e in events] == ["text", "image", "text", "text"]
    assert {e.channel for e in events} == {"209837465112233", "209837465998877"}
    body = envelope(NUMBER, messages=[{"from": "1", "id": "wamid.A", "type": "text", "text": {"body": "a"}}],
                    statuses=[{"id": "wamid.B", "status": "read", "timestamp": "5"}])
    body["entry"].append(copy.deepcopy(body["entry"][0]))
    assert [type(e).__name__ for e in parse(body)] == ["InboundMessage", "StatusUpdate"] * 2


def test_other_fields_and_value_level_errors_become_their_own_events():
    template = {"object": "whatsapp_business_account", "entry": [{"id": "310", "changes": [
        {"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_id": 7}}]}]}
    [change] = parse(template)
    assert isinstance(change, OtherChange) and change.field == "message_template_status_update"
    body = envelope(NUMBER)
    body["entry"][0]["changes"][0]["value"]["errors"] = [
        {"code": 131000, "title": "Something went wrong", "error_data": {"details": "try later"}}]
    [error] = parse(body)
    assert isinstance(error, ChannelError) and (error.code, error.details) == (131000, "try later")


@pytest.mark.parametrize("payload", [None, [], "x", {}, {"entry": "x"}, {"entry": {}}])
def test_an_unusable_envelope_is_a_parse_error(payload):
    with pytest.raises(ParseError):
        parse(payload)


def test_messages_without_a_phone_number_id_are_a_parse_error():
    body = envelope(NUMBER, messages=[{"from": "1", "id": "wamid.A", "type": "text", "text": {"body": "a"}}])
    del body["entry"][0]["changes"][0]["value"]["metadata"]
    with pytest.raises(ParseError):
        parse(body)


ODD_VALUES = [None, 7, "x", [], {}, [1], True, float("inf"), 10**30]


def _paths(node, path=()):
    if path:
        yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, path + (index,))


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_any_field_replaced_by_odd_json_never_crashes_the_parser(fixture):
    """Lenient (reference §5): each value swapped for each odd JSON value either parses or is a ParseError."""
    body = json.loads(fixture.read_text(encoding="utf-8"))
    for path in list(_paths(body)):
        for odd in ODD_VALUES:
            mutated = copy.deepcopy(body)
            parent = mutated
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = odd
            try:
                events = parse(mutated)
            except ParseError:
                continue
            for event in events:  # numbers SQLite cannot hold are dropped, not stored
                for name in ("timestamp", "error_code"):
                    value = getattr(event, name, None)
                    assert value is None or -2**63 <= value < 2**63, (path, odd)


def test_sign_and_verify_are_over_the_exact_bytes():
    raw = b'{"entry": []}'
    header = sign(raw, "s3cret")
    assert verify_signature(raw, header, "s3cret")
    assert not verify_signature(raw + b" ", header, "s3cret")
    assert not verify_signature(raw, header.upper(), "s3cret")
    assert not verify_signature(raw, header, "")
    assert not verify_signature(raw, None, "s3cret")
