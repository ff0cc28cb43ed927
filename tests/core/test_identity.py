"""One customer per person: BSUIDs from contacts[], rotations, notices with no sender (issue 8)."""

from __future__ import annotations

import itertools

import pytest

from core import webhooks
from tests.core.ingest_helpers import apply, load, state

OLD_BSUID, NEW_BSUID = "PL.4718290356123874", "PL.8830127746519023"
ROTATION = ["text.json", "system_user_changed_user_id.json", "text_bsuid_only.json"]


async def people(store) -> tuple[int, int, list[str]]:
    """(contacts, threads, contact names)."""
    names = [r["name"] for r in await store.fetchall("SELECT name FROM contact ORDER BY id")]
    return len(names), await store.scalar("SELECT count(*) FROM thread"), names


def test_the_bsuid_is_read_from_contacts_when_the_message_lacks_it(fixtures_dir):
    [message] = webhooks.parse(load(fixtures_dir, "text_contact_user_id.json"))
    assert (message.customer.wa_id, message.customer.user_id, message.customer.name) == (
        "48601234567", OLD_BSUID, "Anna Kowalska")


async def test_a_thread_first_seen_with_contacts_user_id_only_keeps_the_bsuid(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text_contact_user_id.json"))
    assert await store.scalar("SELECT user_id FROM thread") == OLD_BSUID
    assert await store.scalar("SELECT user_id FROM contact") == OLD_BSUID


async def test_a_bsuid_rotation_stays_one_contact_and_one_thread(store, fixtures_dir):
    await apply(store, *(load(fixtures_dir, name) for name in ROTATION))
    assert await people(store) == (1, 1, ["Anna Kowalska"])
    thread = await store.fetchone("SELECT * FROM thread")
    assert (thread["wa_id"], thread["user_id"]) == ("48601234567", NEW_BSUID)  # replies go to the current BSUID
    texts = [r["text"] for r in await store.fetchall("SELECT text FROM message WHERE thread_id = ? ORDER BY timestamp",
                                                     (thread["id"],))]
    assert texts == ["Dzień dobry, czy zamówienie nr 1043 zostało już wysłane? Pytam, bo jutro wyjeżdżam.",
                     f"User changed from {OLD_BSUID} to {NEW_BSUID}", "To znowu ja, Anna."]
    assert thread["unread"] == 3 and thread["last_inbound_at"] == 1795526400


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
async def test_a_bsuid_rotation_gives_the_same_customer_in_any_arrival_order(store, fixtures_dir, order):
    for index in order:
        await apply(store, load(fixtures_dir, ROTATION[index]))
    contacts, threads, _ = await people(store)
    assert (contacts, threads) == (1, 1)
    assert await store.scalar("SELECT count(*) FROM message") == 3
    assert await store.scalar("SELECT user_id FROM thread") == NEW_BSUID
    assert await store.scalar("SELECT wa_id FROM thread") == "48601234567"
    await apply(store, *(load(fixtures_dir, name) for name in ROTATION))  # Meta retrying: nothing changes
    assert (await people(store))[:2] == (1, 1) and await store.scalar("SELECT count(*) FROM message") == 3


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
async def test_the_contact_ends_with_the_number_and_name_in_any_arrival_order(store, fixtures_dir, order):
    """Found by the fuzz: a rotation notice first made a nameless contact that the later message with the number
    joined by BSUID without giving it the number or the profile name."""
    for index in order:
        await apply(store, load(fixtures_dir, ROTATION[index]))
    contact = await store.fetchone("SELECT name, wa_id, e164 FROM contact")
    assert (contact["wa_id"], contact["e164"]) == ("48601234567", "+48601234567")
    assert contact["name"] in {"Anna Kowalska", "Anna K."}  # a profile name the customer gave, not an identifier
    assert await store.scalar("SELECT count(*) FROM contact_number WHERE e164 = '+48601234567'") == 1


async def test_a_message_from_the_old_bsuid_arriving_after_the_rotation_finds_the_same_thread(store, fixtures_dir):
    await apply(store, *(load(fixtures_dir, name) for name in ROTATION))
    late = load(fixtures_dir, "text_bsuid_only.json")
    value = late["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["user_id"] = OLD_BSUID
    value["messages"][0].update(id="wamid.LATE-OLD-BSUID", from_user_id=OLD_BSUID, timestamp="1795520000")
    await apply(store, late)
    assert (await people(store))[:2] == (1, 1) and await store.scalar("SELECT count(*) FROM message") == 4


async def test_a_system_notice_with_no_sender_makes_no_unknown_contact_or_thread(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"))
    before = await state(store)
    for _ in range(3):  # each retry used to add another "Unknown" contact and thread
        result = await apply(store, load(fixtures_dir, "system_no_sender.json"))
        assert result.unattributed == 1 and result.new_messages == 0
    assert await people(store) == (1, 1, ["Anna Kowalska"])
    assert await state(store) == before


async def test_a_bsuid_rotation_notice_with_no_sender_joins_the_customer_it_names(store, fixtures_dir):
    await apply(store, load(fixtures_dir, "text.json"), load(fixtures_dir, "system_user_changed_user_id.json"))
    assert await people(store) == (1, 1, ["Anna Kowalska"])
    assert await store.scalar("SELECT count(*) FROM message WHERE type = 'system'") == 1


async def test_a_number_change_without_from_moves_the_known_customer_not_an_unknown(store, fixtures_dir):
    change = load(fixtures_dir, "system_number_change.json")
    del change["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    await apply(store, load(fixtures_dir, "text.json"), change)
    assert await people(store) == (1, 1, ["Anna Kowalska"])
    contact = await store.fetchone("SELECT wa_id, e164 FROM contact")
    assert tuple(contact) == ("48609876543", "+48609876543")  # the new number went to Anna



async def test_a_number_change_notice_gives_the_thread_its_bsuid_whichever_message_came_first(db_target,
                                                                                                fixtures_dir):
    """Found by the fuzz: the notice names the customer's BSUID (previous_user_id); a thread it created kept it, a
    thread that another message from the same number (with no BSUID) had created first never got it."""
    from core.store import Store

    notice = load(fixtures_dir, "system_number_change.json")
    other = load(fixtures_dir, "system_number_change.json")
    [message] = other["entry"][0]["changes"][0]["value"]["messages"]
    message.update(id="wamid.OTHER", type="sticker_pack")  # unsupported, from the same number, no BSUID
    del message["system"]
    seen = set()
    for order in ((notice, other), (other, notice)):
        store = await Store.open(db_target)
        try:
            await store.write(lambda db: [db.execute(f"DELETE FROM {t}") for t in (
                "message", "thread_digits", "assignment_queue", "thread", "contact_number", "contact_user_id",
                "contact", "change_log")])
            for body in order:
                await apply(store, body)
            seen.add(tuple(tuple(r) for r in await store.fetchall("SELECT wa_id, user_id FROM thread")))
        finally:
            await store.close()
    assert seen == {(("48601234567", OLD_BSUID),)}
