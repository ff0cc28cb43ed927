"""Queueing through the rules: what is refused queues nothing; what is queued is ready for the sender."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from core import policy, sending
from core.model import Template
from core.sending import ReplyRefused, SendingLimits
from core.store import Store
from core.store.db import integrity_errors
from tests.core.ingest_helpers import apply, load

LAST_INBOUND = 1795519200  # text.json: Anna's message, Meta's timestamp
IN_SESSION = LAST_INBOUND + 3600
AFTER_SESSION = LAST_INBOUND + 86400 + 3 * 3600

TEMPLATE = Template(id="1", waba_id="310492887654321", name="order_update", language="pl_PL", status="APPROVED",
                    category="UTILITY", parameter_format="POSITIONAL",
                    components=({"type": "BODY", "text": "Cześć {{1}}, zamówienie {{2}} jest gotowe."},))


@pytest.fixture
async def anna(store, fixtures_dir) -> int:
    await apply(store, load(fixtures_dir, "text.json"))
    return 1


async def outbox_rows(store):
    return [dict(r) for r in await store.fetchall("SELECT * FROM outbox ORDER BY id")]


async def test_a_reply_inside_the_session_is_queued_with_its_outbox_row(store, anna):
    message_id = await sending.queue_text(store, anna, "Już wysłane!", agent="kasia", now=IN_SESSION)
    row = await store.fetchone("SELECT * FROM message WHERE id = ?", (message_id,))
    assert (row["direction"], row["status"], row["author"], row["text"], row["wamid"]) == (
        "out", "queued", "kasia", "Już wysłane!", None)
    [outbox] = await outbox_rows(store)
    assert outbox["state"] == "queued" and outbox["message_id"] == message_id
    assert outbox["recipient"] == "+48601234567"
    assert json.loads(outbox["request"]) == {"messaging_product": "whatsapp", "recipient_type": "individual",
                                             "type": "text", "text": {"body": "Już wysłane!", "preview_url": False}}
    from core.store.reads import get_thread
    thread = await get_thread(store, anna, agent="kasia")
    assert (thread.last_direction, thread.preview, thread.unread) == ("out", "Już wysłane!", 0)  # kasia read it
    assert (await get_thread(store, anna, agent="ola")).unread == 1  # the others have not
    assert await store.scalar("SELECT count(*) FROM change_log WHERE kind = 'message'") >= 2


async def test_a_free_form_reply_after_the_session_is_refused_and_nothing_queued(store, anna):
    with pytest.raises(ReplyRefused) as refused:
        await sending.queue_text(store, anna, "Halo?", agent="kasia", now=AFTER_SESSION)
    assert refused.value.reason == "The 24-hour session ended 3h ago: only an approved template can be sent."
    assert await outbox_rows(store) == []
    assert await store.scalar("SELECT count(*) FROM message WHERE direction = 'out'") == 0


async def test_a_template_may_be_sent_after_the_session_and_shows_its_text(store, anna):
    message_id = await sending.queue_template(store, anna, TEMPLATE, ["Anna", "A-1043"], agent="kasia",
                                              now=AFTER_SESSION)
    row = await store.fetchone("SELECT type, text FROM message WHERE id = ?", (message_id,))
    assert tuple(row) == ("template", "Cześć Anna, zamówienie A-1043 jest gotowe.")
    request = json.loads((await outbox_rows(store))[0]["request"])
    assert request["template"] == {"name": "order_update", "language": {"code": "pl_PL"}, "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "Anna"}, {"type": "text", "text": "A-1043"}]}]}
    assert await store.scalar("SELECT origin FROM conversation") == "business"


@pytest.mark.parametrize("params, reason", [
    (["Anna"], "The template 'order_update' takes 2 parameter(s); 1 given."),
    (["Anna", "A\n1043"], "Parameter {{2}}: it may not contain new lines or tabs"),
    (["Anna", "A      1043"], "Parameter {{2}}: it may not contain more than 4 spaces in a row"),
])
async def test_template_parameters_are_checked_before_queueing(store, anna, params, reason):
    with pytest.raises(ReplyRefused) as refused:
        await sending.queue_template(store, anna, TEMPLATE, params, agent="kasia", now=AFTER_SESSION)
    assert refused.value.reason == reason and await outbox_rows(store) == []


async def test_named_templates_send_parameter_names(store, anna):
    named = Template(id="2", waba_id="w", name="greet", language="en_US", status="APPROVED", category="UTILITY",
                     parameter_format="NAMED", components=({"type": "BODY", "text": "Hi {{first_name}}!"},))
    await sending.queue_template(store, anna, named, ["Anna"], agent="kasia", now=AFTER_SESSION)
    request = json.loads((await outbox_rows(store))[0]["request"])
    assert request["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Anna", "parameter_name": "first_name"}]


async def test_a_template_that_is_not_approved_is_refused(store, anna):
    pending = dataclasses.replace(TEMPLATE, status="PENDING")
    with pytest.raises(ReplyRefused, match="only approved ones"):
        await sending.queue_template(store, anna, pending, ["a", "b"], agent="kasia", now=AFTER_SESSION)


async def test_a_session_counts_once_against_the_quota(store, anna):
    for text in ("Jeden", "Dwa", "Trzy"):
        await sending.queue_text(store, anna, text, agent="kasia", now=IN_SESSION)
    month = policy.month_key(IN_SESSION)
    assert await store.scalar("SELECT count(*) FROM conversation WHERE month = ?", (month,)) == 1


async def test_past_the_monthly_quota_new_conversations_are_refused(store, anna):
    with pytest.raises(ReplyRefused) as refused:
        await sending.queue_text(store, anna, "Hej", agent="kasia", now=IN_SESSION,
                                 config=SendingLimits(monthly_quota=0))
    assert refused.value.reason == ("This month's 0 conversations are used up: new conversations are refused "
                                    "until 1 December.")
    assert await outbox_rows(store) == []


async def test_the_messaging_tier_limits_business_initiated_conversations(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "batch_multiple_messages.json"))
    await store.write(lambda db: db.execute(
        "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, messaging_limit_tier)"
        " VALUES ('209837465112233', 'w', 'A', '48221234567', 'TIER_50')"))

    def fifty_reached_today(db):  # 50 other customers got a template in the last 24 h
        for i in range(50):
            thread = db.execute("INSERT INTO thread(channel, wa_id, created_at) VALUES ('209837465112233', ?, 0)",
                                (f"4850000{i:04d}",)).lastrowid
            db.execute("INSERT INTO conversation(thread_id, channel, origin, started_at, expires_at, month)"
                       " VALUES (?, '209837465112233', 'business', ?, ?, '2026-11')",
                       (thread, AFTER_SESSION - 60, AFTER_SESSION + 86000))
    await store.write(fifty_reached_today)
    with pytest.raises(ReplyRefused, match=r"50 customers a day \(TIER_50\)"):
        await sending.queue_template(store, 1, TEMPLATE, ["a", "b"], agent="kasia", now=AFTER_SESSION)


async def test_media_is_checked_and_copied_for_the_sender(store, anna, tmp_path):
    photo = tmp_path / "paczka.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + b"0" * 1000)
    message_id = await sending.queue_media(store, anna, photo, caption="Zdjęcie", agent="kasia", now=IN_SESSION)
    row = await store.fetchone("SELECT type, text, mime_type, file_name, file_size FROM message WHERE id = ?",
                               (message_id,))
    assert tuple(row) == ("image", "Zdjęcie", "image/jpeg", "paczka.jpg", 1003)
    [outbox] = await outbox_rows(store)
    assert outbox["kind"] == "media" and outbox["media_file"] != str(photo)
    assert open(outbox["media_file"], "rb").read() == photo.read_bytes()
    assert json.loads(outbox["request"])["image"] == {"caption": "Zdjęcie"}


@pytest.mark.parametrize("name, size, reason", [
    ("anim.gif", 1000, "anim.gif: image/gif is not a type WhatsApp can send"),
    ("big.jpg", 6 * 2**20, "big.jpg: image is 6.0 MB; WhatsApp takes at most 5.0 MB."),
    ("movie.mp4", 17 * 2**20, "movie.mp4: video is 17.0 MB; WhatsApp takes at most 16.0 MB."),
])
async def test_oversized_or_unsupported_attachments_are_refused_with_the_reason(store, anna, tmp_path, name, size,
                                                                              reason):
    path = tmp_path / name
    path.write_bytes(b"x" * size)
    with pytest.raises(ReplyRefused) as refused:
        await sending.queue_media(store, anna, path, agent="kasia", now=IN_SESSION)
    assert refused.value.reason.startswith(reason)
    assert await outbox_rows(store) == []


async def test_a_note_is_internal_and_never_queued(store, anna):
    await sending.add_note(store, anna, "Klient VIP", agent="kasia", now=IN_SESSION)
    row = await store.fetchone("SELECT type, direction, status FROM message WHERE type = 'note'")
    assert tuple(row) == ("note", "out", None)
    assert await outbox_rows(store) == []
    assert await store.scalar("SELECT preview FROM thread") != "Klient VIP"  # notes are not the conversation


async def test_a_failed_message_can_be_retried_through_the_rules(store, anna):
    message_id = await sending.queue_text(store, anna, "Hej", agent="kasia", now=IN_SESSION)
    await store.write(lambda db: (
        db.execute("UPDATE message SET status = 'failed', error_code = 131000 WHERE id = ?", (message_id,)),
        db.execute("UPDATE outbox SET state = 'failed', attempts = 5, error_code = 131000")))
    await sending.retry_failed(store, message_id, agent="kasia", now=IN_SESSION + 60)
    row = await store.fetchone("SELECT m.status, m.error_code, o.state, o.attempts FROM message m"
                               " JOIN outbox o ON o.message_id = m.id")
    assert tuple(row) == ("queued", None, "queued", 0)
    await store.write(lambda db: db.execute("UPDATE message SET status = 'failed'"))
    with pytest.raises(ReplyRefused, match="24-hour session ended"):
        await sending.retry_failed(store, message_id, agent="kasia", now=AFTER_SESSION)


async def test_a_new_number_gets_a_thread_where_only_a_template_may_go(store):
    await store.write(lambda db: db.execute(
        "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number) VALUES ('P1', 'W', 'A', '48')"))
    thread_id = await sending.thread_for_number(store, "P1", "+48 601 234 567", now=IN_SESSION)
    assert await sending.thread_for_number(store, "P1", "0048601234567", now=IN_SESSION) == thread_id
    with pytest.raises(ReplyRefused, match="has not written yet"):
        await sending.queue_text(store, thread_id, "Hej", agent="kasia", now=IN_SESSION)
    with pytest.raises(ReplyRefused, match="not a valid phone number"):
        await sending.thread_for_number(store, "P1", "12", now=IN_SESSION)


async def test_one_compose_is_queued_once_even_from_two_processes(store, anna):
    """Issue 7 bug 3: a double Enter (or a second inbox on the same compose) gives one message and one outbox row."""
    other = await Store.open(store.target)  # a second process's connection to the same database
    try:
        key = "compose-7f3a"
        first, second = await asyncio.gather(
            sending.queue_text(store, anna, "Zwrot jutro.", agent="kasia", now=IN_SESSION, client_key=key),
            sending.queue_text(other, anna, "Zwrot jutro.", agent="kasia", now=IN_SESSION, client_key=key))
        again = await sending.queue_text(store, anna, "Zwrot jutro.", agent="kasia", now=IN_SESSION,
                                         client_key=key)
    finally:
        await other.close()
    assert first == second == again
    assert [(r["client_key"], r["message_id"]) for r in await outbox_rows(store)] == [(key, first)]
    assert await store.scalar("SELECT count(*) FROM message WHERE direction = 'out'") == 1
    assert await store.scalar("SELECT count(*) FROM conversation") == 1  # counted once, too


async def test_the_outbox_itself_refuses_a_second_row_for_a_client_key(store, anna):
    await sending.queue_text(store, anna, "Raz.", agent="kasia", now=IN_SESSION, client_key="k1")
    with pytest.raises(integrity_errors()):
        await store.write(lambda db: db.execute(
            "INSERT INTO outbox(channel, recipient, kind, request, created_at, client_key)"
            " VALUES ('c', 'r', 'text', '{}', 0, 'k1')"))


async def test_a_note_submitted_twice_is_kept_once(store, anna):
    first = await sending.add_note(store, anna, "Oddzwonić", agent="kasia", now=IN_SESSION, client_key="n1")
    second = await sending.add_note(store, anna, "Oddzwonić", agent="kasia", now=IN_SESSION, client_key="n1")
    assert first == second
    assert await store.scalar("SELECT count(*) FROM message WHERE type = 'note'") == 1


async def test_reply_rules_say_what_the_queue_would_do(store, anna):
    inside = await store.run(sending.reply_rules, anna, IN_SESSION, SendingLimits())
    assert (inside.text_refused, inside.text_opens, inside.session_expires_at) == (
        None, "customer", LAST_INBOUND + 86400)
    after = await store.run(sending.reply_rules, anna, AFTER_SESSION, SendingLimits())
    assert after.text_refused == "The 24-hour session ended 3h ago: only an approved template can be sent."
    assert (after.template_refused, after.template_opens) == (None, "business")
    await sending.queue_text(store, anna, "Już.", agent="kasia", now=IN_SESSION)
    counted = await store.run(sending.reply_rules, anna, IN_SESSION + 60, SendingLimits())
    assert counted.text_opens is None  # the conversation is open: the next reply costs nothing
