"""core.inbox.Inbox without a screen: live changes, agent writes and their change log, custom views, veiling."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.inbox import QUARANTINED_PREVIEW, Inbox, ReplyRefused
from core.model import Draft
from core.store import Store
from core.views import BUILTIN_BY_KEY
from tests.app.helpers import AGENT, HOSTILE_NAME, NOW, connect, seed


@pytest.fixture
def seeded_db(db_target) -> Path | str:
    return seed(db_target)


@pytest.fixture
async def inbox(seeded_db: Path):
    store = await Store.open(seeded_db)
    yield Inbox(store, agent=AGENT, clock=lambda: NOW)
    await store.close()


async def test_changes_yield_what_another_connection_committed(inbox: Inbox, seeded_db: Path):
    changes = inbox.changes(poll=0.01)
    pending = asyncio.ensure_future(changes.__anext__())
    await asyncio.sleep(0.05)
    conn = connect(seeded_db)
    with conn:
        conn.execute("INSERT INTO message(thread_id, channel, direction, type, text, timestamp)"
                     " VALUES (2, '1110001', 'in', 'text', 'hi', ?)", (NOW,))
        conn.execute("INSERT INTO message(thread_id, channel, direction, type, text, timestamp)"
                     " VALUES (3, '1110001', 'in', 'text', 'hi', ?)", (NOW,))
        conn.executemany("INSERT INTO change_log(kind, thread_id, at) VALUES ('message', ?, 0)", [(2,), (3,)])
    conn.close()
    got = await asyncio.wait_for(pending, 2)
    assert got.thread_ids == {2, 3} and got.kinds == {"message"}
    assert got.new_inbound == (3,)  # thread 2 is marek's: no toast for this agent
    await inbox.close([5])  # our own write shows up too
    got = await asyncio.wait_for(changes.__anext__(), 2)
    assert got.thread_ids == {5} and got.kinds == {"thread"} and got.new_inbound == ()
    await changes.aclose()


async def test_agent_writes_log_their_changes(inbox: Inbox):
    await inbox.assign([1, 3], owner="ola")
    await inbox.assign([3], owner="")
    await inbox.assign([1], team="Support")  # to the team's queue: its least loaded available member takes it
    await inbox.mark_unread(4)  # this agent's own read state: nothing for the others to see
    threads = [await inbox.thread(i) for i in (1, 3, 4)]
    assert [(t.id, t.owner, t.team, t.unread) for t in threads] == [(1, "ola", "Support", 2), (3, None, None, 1),
                                                                     (4, "tester", None, 1)]
    logged = await inbox.store.fetchall("SELECT kind, thread_id FROM change_log ORDER BY seq")
    assert [tuple(r) for r in logged] == [("thread", 1), ("thread", 3), ("thread", 3), ("thread", 1), ("thread", 1)]
    history = await inbox.store.fetchall("SELECT thread_id, owner, team, by_agent, rule FROM assignment ORDER BY id")
    assert [tuple(r) for r in history] == [(1, "ola", None, "tester", None), (3, "ola", None, "tester", None),
                                           (3, None, None, "tester", None), (1, None, "Support", "tester", None),
                                           (1, "ola", "Support", None, "team queue")]


async def test_custom_views_are_validated_and_shared(inbox: Inbox):
    view = await inbox.create_view("Unread with files", {"unread": True, "has_attachment": True})
    assert view.key.startswith("custom:") and await inbox.count(view) == 0
    with pytest.raises(ReplyRefused, match="already exists"):
        await inbox.create_view("Unread with files", {})
    with pytest.raises(ReplyRefused, match="Unknown filter: colour"):
        await inbox.create_view("Odd", {"colour": "red"})
    names = [v.name for v in await inbox.views()]
    assert names[-2:] == ["WhatsApp", "Unread with files"]


async def test_quarantined_last_message_is_veiled_in_previews(inbox: Inbox):
    rows = await inbox.threads(BUILTIN_BY_KEY["open"])
    assert {t.id: t.preview for t in rows}[6] == QUARANTINED_PREVIEW
    assert (await inbox.thread(6)).preview == QUARANTINED_PREVIEW


async def test_templates_are_approved_only_and_quota_is_this_month(inbox: Inbox):
    assert [t.name for t in await inbox.templates()] == ["hostile_tpl", "order_update"]
    assert [t.name for t in await inbox.templates("order")] == ["order_update"]
    quota = await inbox.quota()
    assert (quota.used, quota.quota, quota.left) == (0, 1000, 1000)  # thread 4's one reply failed: not counted


async def test_settings_default_on_and_persist(inbox: Inbox):
    kinds = {"notify.mine", "notify.queue", "notify.mention", "notify.assigned"}
    assert await inbox.settings() == {"notify.toast": True, "notify.bell": True, "notify.desktop": True,
                                      **dict.fromkeys(kinds, True)}
    await inbox.set_setting("notify.bell", False)
    assert (await inbox.settings())["notify.bell"] is False and (await inbox.settings())["notify.toast"] is True
    with pytest.raises(KeyError):
        await inbox.set_setting("notify.fireworks", True)


async def test_open_thread_returns_what_the_screen_shows(inbox: Inbox):
    opened = await inbox.open_thread(1)
    assert opened.thread.id == 1 and opened.messages[-1].text == "Where is my order?" and not opened.more_before
    assert opened.contact.name == "Alice Nowak" and {t.id for t in opened.contact_threads} == {1, 4}
    assert [(t.thread_id, t.via) for t in opened.targets] == [(1, "+1 555 0100"), (4, "+1 555 0200")]
    here, other = opened.targets
    assert here.rules.text_refused is None and here.rules.text_opens == "customer"
    assert other.rules.text_opens is None  # thread 4's conversation is open already: a reply there costs nothing
    assert (opened.quota.used, opened.quota.quota) == (0, 1000)  # thread 4's one reply failed: not counted
    assert (await inbox.thread(1)).unread == 0  # opening reads it
    bob = await inbox.open_thread(2, mark_read=False)
    assert bob.targets[0].rules.text_refused.startswith("The 24-hour session ended 6h ago")


async def test_drafts_are_kept_per_agent_and_an_empty_one_is_deleted(inbox: Inbox, seeded_db: Path):
    await inbox.save_drafts([Draft(1, "k1", reply_text="Pani Anno"), Draft(3, "k3", mode="note", note_text="VIP")])
    other = Inbox(inbox.store, agent="ola", clock=lambda: NOW)
    assert await other.drafts() == {}
    assert await inbox.drafts() == {1: Draft(1, "k1", reply_text="Pani Anno"),
                                    3: Draft(3, "k3", mode="note", note_text="VIP")}
    await inbox.save_drafts([Draft(1, "k2")])
    assert list(await inbox.drafts()) == [3]
    assert await inbox.thread_names([3, 1, 99]) == [HOSTILE_NAME, "Alice Nowak"]
