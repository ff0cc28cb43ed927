"""core.store.reads over ingested fixtures: views, search, orders, paging, status histories."""

from __future__ import annotations

import pytest

from core.model import View
from core.store import reads
from core.store.threads import refresh_thread_summary
from core.views import BUILTIN_BY_KEY
from tests.core.ingest_helpers import CHANNEL_B, OUR_TEXT_TO_ANNA, add_outbound, apply, load

ANNA, MARIA, JAN = "48601234567", "48698765432", "4915112345678"


@pytest.fixture
async def inbox(store, fixtures_dir):
    await apply(store, *(load(fixtures_dir, n) for n in
                         ["text.json", "document.json", "batch_multiple_messages.json", "referral_ad.json"]))
    anna = await store.scalar("SELECT id FROM thread WHERE wa_id = ?", (ANNA,))
    await add_outbound(store, anna, OUR_TEXT_TO_ANNA, at=1795529000)
    await store.write(refresh_thread_summary, anna)  # as core/sending does after queueing
    await apply(store, *(load(fixtures_dir, n) for n in ["status_read.json", "status_sent.json",
                                                         "status_delivered.json"]))

    def arrange(db):
        db.execute("UPDATE thread SET owner = 'kasia' WHERE wa_id = ?", (JAN,))
        db.execute("UPDATE thread SET status = 'closed' WHERE wa_id = ? AND channel = ?", (MARIA, CHANNEL_B))
    await store.write(arrange)
    return store


async def names(store, view: View, **kw) -> list[str]:
    return [t.wa_id for t in await reads.list_threads(store, view, agent="kasia", **kw)]


async def test_builtin_views_and_their_counts(inbox):
    expected = {"open": [ANNA, JAN, MARIA], "closed": [MARIA], "sent": [ANNA], "mine": [JAN],
                "unassigned": [ANNA, MARIA]}
    for key, wa_ids in expected.items():
        view = BUILTIN_BY_KEY[key]
        assert await names(inbox, view) == wa_ids, key
        assert await reads.count_threads(inbox, view, agent="kasia") == len(wa_ids)


async def test_custom_filters_and_search_combine(inbox):
    attachments = View("custom:1", "Files", {"has_attachment": True}, builtin=False)
    assert sorted(await names(inbox, attachments)) == [MARIA, JAN]
    second_number = View("custom:2", "B", {"channel": [CHANNEL_B]}, builtin=False)
    assert await names(inbox, second_number) == [MARIA]
    assert await names(inbox, BUILTIN_BY_KEY["open"], search="zamówienie 104") == [ANNA]  # prefix on the last
    assert await names(inbox, BUILTIN_BY_KEY["open"], search="Müller") == [JAN]  # contact name
    assert await names(inbox, BUILTIN_BY_KEY["closed"], search="faktury") == [MARIA]
    assert await names(inbox, BUILTIN_BY_KEY["open"], search="faktury") == []
    assert await names(inbox, BUILTIN_BY_KEY["open"], search='" OR \x00 NEAR(') == []
    assert await reads.count_threads(inbox, BUILTIN_BY_KEY["open"], agent="kasia", search="601 234") == 1


async def test_expiring_puts_the_session_closing_soonest_first(inbox):
    now = 1795521600 + 24 * 3600 - 60  # Maria's document (channel A) has one minute left
    found = await reads.list_threads(inbox, BUILTIN_BY_KEY["open"], agent="kasia", order="expiring", now=now)
    assert [t.wa_id for t in found][0] == MARIA and found[0].session_expires_at == 1795521600 + 24 * 3600
    later = now + 3600  # Maria's window closed: she goes after the open ones
    found = await reads.list_threads(inbox, BUILTIN_BY_KEY["open"], agent="kasia", order="expiring", now=later)
    assert [t.wa_id for t in found][-1] == MARIA


async def test_offset_paging_walks_every_thread_once(inbox):
    view = BUILTIN_BY_KEY["open"]
    pages = [await names(inbox, view, offset=o, limit=1) for o in range(4)]
    assert pages == [[ANNA], [JAN], [MARIA], []]


async def test_messages_oldest_first_with_status_history_and_paging_back(inbox):
    anna = (await reads.list_threads(inbox, BUILTIN_BY_KEY["sent"], agent="kasia"))[0]
    messages = await reads.thread_messages(inbox, anna.id)
    assert [m.direction for m in messages] == ["in", "in", "in", "out"]
    assert [m.timestamp for m in messages] == sorted(m.timestamp for m in messages)
    ours = messages[-1]
    assert ours.status == "read" and [c.status for c in ours.status_history] == ["sent", "delivered", "read"]
    assert await reads.message_count(inbox, anna.id) == 4
    older = await reads.thread_messages(inbox, anna.id, before_id=messages[2].id, limit=1)
    assert [m.id for m in older] == [messages[1].id]
    contact = await reads.get_contact(inbox, anna.contact_id)
    assert contact.name == "Anna Kowalska"
    assert [t.id for t in await reads.contact_threads(inbox, anna.contact_id)] == [anna.id]
    assert await reads.get_thread(inbox, 10**9) is None
