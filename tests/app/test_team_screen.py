"""The inbox as one agent of a team (issue 10), driven with Pilot while other agents write from their own
connections: who else is viewing and typing, the warning before a colliding send, names checked in the assign
prompt, snooze and its view, saved replies from the composer, activity among the messages, mentions."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from pathlib import Path

import pytest

from app.screens.confirm import ConfirmScreen
from core import presence, saved_replies
from core.inbox import Inbox
from core.store import Store
from tests.app.helpers import AGENT, NOW, SIZE, connect, db_rows, make_app, open_row, screen_text, seed, settle
from tests.app.test_inbox_live import wait_for
from widgets.composer import Composer


@pytest.fixture
def seeded_db(db_target) -> Path | str:
    return seed(db_target)


async def as_ola(db: Path, job) -> None:
    """Another agent, in another process's shoes: their own connection."""
    store = await Store.open(db)
    try:
        await job(store, Inbox(store, agent="ola", clock=lambda: NOW))
    finally:
        await store.close()


async def test_who_else_is_viewing_and_typing_shows_live(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 0)  # thread 1
        line = app.screen.query_one("#thread-presence")
        assert not line.display
        await as_ola(seeded_db, lambda store, _: presence.viewing(store, "ola", 1, now=NOW))
        await wait_for(pilot, lambda: "👁 @ola viewing" in screen_text(pilot))
        await as_ola(seeded_db, lambda store, _: presence.typing(store, "ola", 1, now=NOW))
        await wait_for(pilot, lambda: "✎ @ola typing…" in screen_text(pilot))
        await as_ola(seeded_db, lambda store, _: presence.stopped_typing(store, "ola", now=NOW))
        await wait_for(pilot, lambda: "typing" not in screen_text(pilot) and "@ola viewing" in screen_text(pilot))
    # And ours, as the others see it: the inbox wrote that this agent views thread 1, and cleared it on quitting.
    assert db_rows(seeded_db, "SELECT thread_id FROM presence WHERE agent = ?", (AGENT,)) == [(None,)]


async def test_sending_after_another_agent_replied_asks_first(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 0)  # thread 1, in session
        await pilot.press("r", *"Sprawdzam")
        await settle(pilot)
        await as_ola(seeded_db, lambda _, inbox: inbox.queue_text(1, "Już wysłane, ola"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "@ola replied since you opened this thread. Send yours anyway?" in screen_text(pilot)
        await pilot.press("n")
        await settle(pilot)
        sent = "SELECT author, text FROM message WHERE thread_id = 1 AND direction = 'out' AND type = 'text'"
        before = [("tester", "Let me check.")]  # the seeded history
        assert db_rows(seeded_db, sent + " ORDER BY id") == [*before, ("ola", "Już wysłane, ola")]
        assert app.screen.query_one(Composer).area.text == "Sprawdzam"  # kept, not lost
        await pilot.press("enter")  # ola's reply is seen now: no second warning
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert db_rows(seeded_db, sent + " ORDER BY id") == [*before, ("ola", "Już wysłane, ola"), (AGENT, "Sprawdzam")]


async def test_the_assign_prompt_accepts_known_names_only(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"mrek", "enter")
        await pilot.pause()
        said = str(app.screen.query_one("#assign-known").render())
        assert said == "no agent or team named mrek; known: marek, ola, tester, team:Support"
        await pilot.press(*["backspace"] * 4, *"ol", "right", "enter")  # → accepts the completion
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT owner FROM thread WHERE id = 1") == [("ola",)]
        assert db_rows(seeded_db, "SELECT owner, by_agent FROM assignment WHERE thread_id = 1") == [("ola", AGENT)]
        await open_row(pilot, 0)
        assert "assigned to @ola by @tester" in screen_text(pilot)  # the activity, among the messages


async def test_snooze_hides_the_thread_until_the_customer_writes(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("z")
        await pilot.pause()
        await pilot.press(*"reply", "enter")
        await settle(pilot)
        await wait_for(pilot, lambda: "Snoozed  1" in screen_text(pilot) and "All open  4" in screen_text(pilot))
        assert db_rows(seeded_db, "SELECT snoozed_for_reply FROM thread WHERE id = 1") == [(1,)]
        with connect(seeded_db) as conn:  # the customer writes (another process stores it)
            conn.execute("INSERT INTO message(thread_id, channel, wamid, direction, type, text, timestamp)"
                         " VALUES (1, '1110001', 'wamid.wake', 'in', 'text', 'Jestem!', ?)", (NOW,))
            conn.execute("INSERT INTO change_log(kind, thread_id, at) VALUES ('message', 1, ?)", (NOW,))
        await wait_for(pilot, lambda: "Snoozed  0" in screen_text(pilot) and "All open  5" in screen_text(pilot))


async def test_a_saved_reply_is_inserted_with_its_variables(seeded_db: Path):
    async def add(store, _):
        await saved_replies.save(store, "Powitanie", "Dzień dobry {{contact.first_name}}, tu {{agent.name}}.",
                                 now=NOW)
    await as_ola(seeded_db, add)
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 0)  # Alice Nowak
        await pilot.press("r", *"Hej. ", "ctrl+r")
        await settle(pilot)
        await pilot.press(*"pwt", "enter")
        await settle(pilot)
        assert app.screen.query_one(Composer).area.text == "Hej. Dzień dobry Alice, tu tester."


async def test_a_mention_in_another_agents_note_notifies_only_the_mentioned(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await as_ola(seeded_db, lambda _, inbox: inbox.add_note(2, "@tester zobacz proszę"))  # marek's thread
        await wait_for(pilot, lambda: app.screen.notified == 1)
        assert [n.title for n in app._notifications] == ["You were mentioned"]
        await as_ola(seeded_db, lambda _, inbox: inbox.add_note(2, "@marek a ty?"))
        await asyncio.sleep(0.3)
        await settle(pilot)
        assert app.screen.notified == 1


async def test_availability_and_the_agents_and_teams_screen(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("P")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT status FROM agent WHERE name = ?", (AGENT,)) == [("away",)]
        assert [n.message for n in app._notifications] == ["You are away"]
        await pilot.press("T")
        await pilot.pause()
        assert "ola     available  0 / 20           Support" in screen_text(pilot)
        await pilot.press("down", "s")  # ola: available → away
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT status FROM agent WHERE name = 'ola'") == [("away",)]
        await pilot.press("T")
        await pilot.pause()
        await pilot.press("a", *"nowy", "enter")
        await settle(pilot)
        await pilot.press("T")
        await pilot.pause()
        await pilot.press("m", *"Support +nowy -ola", "enter")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT agent FROM team_member WHERE team = 'Support' ORDER BY agent") == [
            ("nowy",), (AGENT,)]
        await pilot.press("T")
        await pilot.pause()
        await pilot.press("a", *"zła nazwa", "enter")
        await settle(pilot)
        assert "agent name 'zła nazwa' is not valid" in list(app._notifications)[-1].message


async def test_a_saved_reply_is_edited_in_the_editor(seeded_db: Path, monkeypatch: pytest.MonkeyPatch):
    async def add(store, _):
        await saved_replies.save(store, "Powitanie", "stary tekst", now=NOW)
    await as_ola(seeded_db, add)
    monkeypatch.setenv("VISUAL", "sh -c 'printf \"Witaj {{contact.first_name}}!\" > \"$0\"'")
    app = make_app(seeded_db)
    app.suspend = nullcontext  # type: ignore[method-assign]  # headless: nothing to hand the terminal to
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 0)
        await pilot.press("r", "ctrl+r")
        await settle(pilot)
        await pilot.press("ctrl+e")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT owner, body FROM saved_reply") == [("", "Witaj {{contact.first_name}}!")]
        assert app.screen.query_one(Composer).area.has_focus  # back where the agent was writing
        await pilot.press("ctrl+r")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one(Composer).area.text == "Witaj Alice!"
