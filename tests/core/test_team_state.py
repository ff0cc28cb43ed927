"""Per-agent state (issue 10): unread per agent, notifications only for what concerns the agent (mentions too),
presence and the collision check, snooze waking on time and on the customer's reply, saved replies with variables,
and the terminal notification sequences and notify_command hook."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from core import activity, agents, notify, presence, saved_replies, snooze
from core.inbox import Inbox
from core.model import View
from core.store import Store, log_changes
from core.views import BUILTIN_BY_KEY
from tests.core.team_helpers import NOW, customer_writes, team


def inbox(store: Store, agent: str, at: int = NOW) -> Inbox:
    return Inbox(store, agent=agent, clock=lambda: at)


async def test_read_and_unread_are_per_agent(store: Store):
    await team(store, "Wsparcie", {"ola": 5, "marek": 5}, rule_channel=None)
    thread = await customer_writes(store, "48600000001", "pierwsza", name="Anna Nowak")
    await customer_writes(store, "48600000001", "druga", at=NOW + 1)
    ola, marek = inbox(store, "ola"), inbox(store, "marek")
    assert (await ola.thread(thread)).unread == (await marek.thread(thread)).unread == 2
    await ola.open_thread(thread)  # opening reads it, for ola only
    assert (await ola.thread(thread)).unread == 0 and (await marek.thread(thread)).unread == 2
    unread = View("custom:1", "Unread", {"unread": True}, builtin=False)
    assert await ola.count(unread) == 0 and await marek.count(unread) == 1
    await customer_writes(store, "48600000001", "trzecia", at=NOW + 2)
    assert (await ola.thread(thread)).unread == 1 and (await marek.thread(thread)).unread == 3
    await ola.mark_unread(thread)
    assert (await ola.thread(thread)).unread == 1  # already unread: the count stays
    await ola.open_thread(thread)
    await ola.mark_unread(thread)
    assert (await ola.thread(thread)).unread == 1 and (await marek.thread(thread)).unread == 3


async def _first(changes, predicate):
    async for found in changes:
        if predicate(found):
            return found


async def test_notifications_only_for_what_concerns_the_agent_and_mentions(store: Store):
    await team(store, "Wsparcie", {"ola": 5}, rule_channel=None)
    await agents.add_team(store, "Sprzedaz", now=NOW)
    await agents.add_agent(store, "marek", now=NOW)
    await agents.set_members(store, "Sprzedaz", add=["marek"], now=NOW)
    mine = await customer_writes(store, "48600000001")
    theirs = await customer_writes(store, "48600000002")
    queue = await customer_writes(store, "48600000003")
    marek = inbox(store, "marek")
    await marek.assign([mine], owner="ola")
    await marek.assign([theirs], owner="marek")
    await store.write(lambda c: c.execute("UPDATE thread SET team = 'Wsparcie' WHERE id = ?", (queue,)))
    await store.write(lambda c: c.execute("UPDATE thread SET team = 'Sprzedaz' WHERE id = ?", (theirs,)))
    ola = inbox(store, "ola")
    changes = ola.changes(poll=0.01, since=await ola.live_marks())
    await store.write(lambda c: log_changes(c, [("view", None)]))
    await asyncio.wait_for(changes.__anext__(), 5)  # the follower runs: what comes next is news to it
    for wa_id in ("48600000001", "48600000002", "48600000003"):
        await customer_writes(store, wa_id, "halo", at=NOW + 10)
    found = (await asyncio.wait_for(_first(changes, lambda c: c.concerning.mine or c.concerning.queue), 5)).concerning
    assert (found.mine, found.queue) == ((mine,), (queue,))  # marek's thread of another team: not ola's business
    await marek.add_note(theirs, "@ola możesz zerknąć? (cc @nikt, @marek)", client_key="note-1")
    found = (await asyncio.wait_for(_first(changes, lambda c: c.concerning.mention), 5)).concerning
    assert found.mention == (theirs,)
    rows = await store.fetchall("SELECT agent, thread_id, by_agent FROM mention")
    assert [tuple(r) for r in rows] == [("ola", theirs, "marek")]  # unknown names and the author are not mentioned
    await marek.add_note(theirs, "@ola możesz zerknąć? (cc @nikt, @marek)", client_key="note-1")  # a retry
    assert await store.scalar("SELECT count(*) FROM mention") == 1
    await marek.assign([queue], owner="ola")
    assert (await asyncio.wait_for(_first(changes, lambda c: c.concerning.assigned), 5)).concerning.assigned == (
        queue,)
    await changes.aclose()


async def test_what_is_committed_between_the_screens_load_and_its_follower_start_is_still_notified(store: Store):
    """The inbox takes its marks when it loads, and its live follower starts a moment later: a mention, an
    assignment or a customer's message committed in between is news (CI once lost a mention there)."""
    await team(store, "Wsparcie", {"ola": 5}, rule_channel=None)
    await agents.add_agent(store, "marek", now=NOW)
    mine = await customer_writes(store, "48600000001")
    queue = await customer_writes(store, "48600000002")
    ola, marek = inbox(store, "ola"), inbox(store, "marek")
    loaded = await ola.live_marks()
    await marek.add_note(mine, "@ola spójrz", client_key="note-between")
    await marek.assign([mine], owner="ola")
    await customer_writes(store, "48600000002", "halo", at=NOW + 10)
    changes = ola.changes(poll=0.01, since=loaded)  # the follower starts only now
    found = (await asyncio.wait_for(changes.__anext__(), 5)).concerning
    await changes.aclose()
    assert (found.mention, found.assigned, found.queue) == ((mine,), (mine,), (queue,))


async def test_a_burst_from_more_customers_than_one_lookup_concerns_each_in_the_order_they_wrote(
        store: Store, monkeypatch: pytest.MonkeyPatch):
    """The threads of new messages are looked up by id, a few at a time: none is lost or misfiled between
    lookups, and each thread counts once however many messages it got."""
    monkeypatch.setattr(activity, "_IDS_A_QUERY", 2)
    await team(store, "Wsparcie", {"ola": 5}, rule_channel=None)
    await agents.add_team(store, "Sprzedaz", now=NOW)
    threads = [await customer_writes(store, f"4860000000{i}") for i in range(5)]
    marek = inbox(store, "marek")
    await marek.assign([threads[1], threads[4]], owner="ola")
    await store.write(lambda c: c.execute("UPDATE thread SET team = 'Sprzedaz' WHERE id = ?", (threads[2],)))
    since = await activity.marks(store)
    for i in (3, 4, 0, 3, 2, 1):
        await customer_writes(store, f"4860000000{i}", "halo", at=NOW + 10 + i)
    found, after = await activity.concerning(store, "ola", since)
    assert found.mine == (threads[4], threads[1])
    assert found.queue == (threads[3], threads[0])  # the other team's unassigned thread is not ola's queue
    assert after == await activity.marks(store)


async def test_presence_and_the_collision_check(store: Store):
    await team(store, "Wsparcie", {"ola": 5, "marek": 5}, rule_channel=None)
    thread = await customer_writes(store, "48600000001")
    await presence.viewing(store, "ola", thread, now=NOW)
    await presence.viewing(store, "marek", thread, now=NOW)
    assert await presence.present(store, thread, agent="ola", now=NOW + 1) == presence.Present(("marek",), ())
    opened_at = await presence.last_message_id(store, thread)
    assert await presence.typing(store, "marek", thread, now=NOW + 2) is True
    assert await presence.typing(store, "marek", thread, now=NOW + 3) is False  # the same stretch of typing
    assert await presence.present(store, thread, agent="ola", now=NOW + 4) == presence.Present(("marek",),
                                                                                            ("marek",))
    assert (await presence.present(store, thread, agent="ola", now=NOW + 3 + presence.TYPING_SECONDS)).typing == ()
    assert await presence.present(store, thread, agent="ola", now=NOW + presence.VIEWING_SECONDS + 5) == \
        presence.Present((), ())  # an inbox that stopped beating is gone by itself
    await inbox(store, "marek", NOW + 5).add_note(thread, "notatka")  # a note is no collision
    assert await presence.replied_since(store, thread, agent="ola", after_id=opened_at) == []
    await store.write(lambda c: c.execute("UPDATE thread SET last_inbound_at = ? WHERE id = ?", (NOW, thread)))
    await inbox(store, "marek", NOW + 6).queue_text(thread, "Już sprawdzam!")
    assert await presence.replied_since(store, thread, agent="ola", after_id=opened_at) == ["marek"]
    assert await presence.replied_since(store, thread, agent="marek", after_id=opened_at) == []  # their own


async def test_snooze_wakes_on_time_and_on_the_customers_reply(store: Store):
    await team(store, "Wsparcie", {"ola": 5}, rule_channel=None)
    later = await customer_writes(store, "48600000001")
    reply = await customer_writes(store, "48600000002")
    ola = inbox(store, "ola")
    await snooze.snooze(store, [later], snooze.parse_until("2h", NOW), agent="ola", now=NOW)
    await snooze.snooze(store, [reply], snooze.parse_until("reply", NOW), agent="ola", now=NOW)
    assert [t.id for t in await ola.threads(BUILTIN_BY_KEY["snoozed"])] == [reply, later]
    assert await ola.count(BUILTIN_BY_KEY["open"]) == 0
    assert await snooze.wake_due(store, now=NOW + 7199) == []
    assert await snooze.wake_due(store, now=NOW + 7200) == [later]
    assert [t.id for t in await ola.threads(BUILTIN_BY_KEY["open"])] == [later]
    await customer_writes(store, "48600000002", "jest ktoś?", at=NOW + 9000)
    assert await ola.count(BUILTIN_BY_KEY["snoozed"]) == 0 and await ola.count(BUILTIN_BY_KEY["open"]) == 2
    shown = [(e.kind, e.agent, e.detail) for e in await activity.for_thread(store, reply)]
    assert shown == [("snoozed", "ola", "snoozed until the customer writes"), ("woke", None, "the customer wrote")]
    with pytest.raises(snooze.SnoozeError, match="try 30m, 2h"):
        snooze.parse_until("soon", NOW)


async def test_saved_replies_fill_in_their_variables_and_round_trip_as_json(store: Store):
    await saved_replies.save(store, "Powitanie", "Dzień dobry {{contact.first_name}}, tu {{ agent.name }}. "
                             "{{contact.unknown}}", now=NOW)
    await saved_replies.save(store, "Moja", "Pozdrawiam, {{agent.display_name}}", owner="ola", now=NOW)
    assert [r.name for r in await saved_replies.available(store, "marek")] == ["Powitanie"]  # not ola's own
    replies = await saved_replies.available(store, "ola")
    assert [r.name for r in saved_replies.search(replies, "pwt")] == ["Powitanie", "Moja"]  # the name's match first
    assert [r.name for r in saved_replies.search(replies, "xyz")] == []
    assert [r.name for r in saved_replies.search(replies, "pozdr")] == ["Moja"]  # found in the text
    values = saved_replies.variables(contact_name="Anna Maria Nowak", phone="+48600100200", agent="ola",
                                     agent_display="Ola K.")
    assert saved_replies.render(replies[1].body, values) == "Dzień dobry Anna, tu ola. {{contact.unknown}}"
    assert saved_replies.render(replies[0].body, values) == "Pozdrawiam, Ola K."
    exported = await saved_replies.export(store)
    await saved_replies.save(store, "Powitanie", "zmienione", now=NOW)
    assert await saved_replies.import_replies(store, json.dumps(exported), now=NOW) == 2
    assert await saved_replies.export(store) == exported
    with pytest.raises(saved_replies.SavedReplyError, match="entry 1: needs"):
        await saved_replies.import_replies(store, '[{"name": "x"}]', now=NOW)


def test_the_desktop_notification_is_chosen_by_the_terminal():
    assert notify.protocol({"TERM": "xterm-kitty"}) == "osc99"
    assert notify.protocol({"TERM_PROGRAM": "iTerm.app"}) == "osc9"
    assert notify.protocol({"TERM": "xterm-256color", "VTE_VERSION": "7600"}) == "osc777"
    assert notify.protocol({"TERM": "screen-256color"}) == "bell"
    title, hostile = "New message", "Anna;\x1b]0;pwned\x07 \x1b[31m"
    sent = notify.sequence(title, hostile, {"TERM": "rxvt-unicode"})
    assert sent.startswith("\x1b]777;notify;New message;Anna,") and sent.endswith("\x1b\\")
    assert "\x07" not in sent and sent.count("\x1b") == 2  # the customer's text cannot end or start a sequence
    assert notify.sequence(title, "x", {"TERM": "dumb"}) == "\a"
    wrapped = notify.sequence(title, "x", {"TERM_PROGRAM": "WezTerm", "TMUX": "/tmp/tmux-0/default,1,0"})
    assert wrapped == "\x1bPtmux;\x1b\x1b]9;New message: x\x1b\x1b\\\x1b\\"


async def test_notify_command_gets_the_event_as_json(tmp_path):
    out = tmp_path / "event.json"
    script = tmp_path / "hook.py"
    script.write_text(f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())")
    event = {"kind": "mention", "title": "You were mentioned", "thread_id": 7}
    assert await notify.run_hook(f"{sys.executable} {script}", event) == 0
    assert json.loads(out.read_text()) == event
    assert await notify.run_hook("/nonexistent/hook", event) is None  # a broken hook never stops the inbox
