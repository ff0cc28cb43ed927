"""Issue 7, the exactness half: what is typed for one thread stays with it, actions hit the thread in view, a
compose is sent once, live updates survive the agent's keys, and no worker's failure ends the agent's shift."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.app.helpers import AGENT, SIZE, connect, db_rows, make_app, open_row, screen_text, seed, settle
from tests.app.test_inbox_live import another_process_writes, wait_for
from widgets.composer import Composer
from widgets.sidebar import ViewSidebar
from widgets.thread_list import ThreadList
from widgets.thread_pane import ThreadPane

REFUND = "Pani Anno, zwrot 120 zł przelejemy jutro."


@pytest.fixture
def seeded_db(db_target) -> Path | str:
    return seed(db_target)


def composer(app) -> Composer:
    return app.screen.query_one(Composer)


def sent_texts(db: Path) -> list[tuple]:
    """Every message the agent wrote (notes included), with the thread it went to."""
    return db_rows(db, "SELECT thread_id, type, text FROM message WHERE author = ? AND id > 16 ORDER BY id",
                   (AGENT,))


def toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


# ---- 1. drafts belong to their thread -----------------------------------------------------------------------


async def test_a_reply_typed_for_one_customer_never_reaches_the_next(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "enter")  # A: thread 3 (row 2), session open
        await settle(pilot)
        await pilot.press("r", *REFUND, "escape", "j", "enter", "r")  # B: thread 4 (row 3), session open
        await settle(pilot)
        assert app.screen.query_one(ThreadPane).thread.id == 4
        assert composer(app).area.text == "" and composer(app).thread_id == 4
        await pilot.press("enter")
        await settle(pilot)
        assert sent_texts(seeded_db) == []  # nothing went to B
        rows = screen_text(pilot)
        assert "✎" in rows  # A's row is marked as holding a draft
        await pilot.press("escape", "k", "enter", "r")  # back to A: the draft is there
        await settle(pilot)
        assert composer(app).thread_id == 3 and composer(app).area.text == REFUND
        await pilot.press("enter")
        await settle(pilot)
        assert sent_texts(seeded_db) == [(3, "text", REFUND)]
        assert "✎" not in screen_text(pilot)  # sent: no draft left


async def test_an_internal_note_stays_a_note_on_its_own_thread(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "enter")
        await settle(pilot)
        await pilot.press("N", *"Klientka grozi sądem", "escape", "j", "enter", "r")
        await settle(pilot)
        assert composer(app).area.text == "" and not composer(app).target.note  # B: a reply, empty
        await pilot.press("enter", "escape", "N")
        await settle(pilot)
        assert composer(app).area.text == ""  # B's note is B's own (empty)
        assert sent_texts(seeded_db) == []
        await pilot.press("escape", "k", "enter", "r")
        await settle(pilot)
        assert composer(app).target.note and composer(app).area.text == "Klientka grozi sądem"
        await pilot.press("ctrl+o")  # over to a reply: the note's text does not come along
        assert not composer(app).target.note and composer(app).area.text == ""
        await pilot.press("ctrl+o")  # this customer has one number with us: reply, note, reply, ...
        assert composer(app).target.note and composer(app).area.text == "Klientka grozi sądem"
        await pilot.press("enter")
        await settle(pilot)
        assert sent_texts(seeded_db) == [(3, "note", "Klientka grozi sądem")]
        assert db_rows(seeded_db, "SELECT count(*) FROM outbox WHERE state = 'queued'") == [(0,)]


async def test_drafts_are_stored_as_they_are_typed_and_come_back_after_a_restart(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "enter")
        await settle(pilot)
        await pilot.press("r", *"zwrot jutro")
        await wait_for(pilot, lambda: db_rows(seeded_db, "SELECT reply_text FROM draft") == [("zwrot jutro",)])
        await pilot.press("ctrl+o")  # the channel chosen (the note) is kept too
        await pilot.press(*"notatka")
        await wait_for(pilot, lambda: db_rows(seeded_db, "SELECT mode, note_text FROM draft") == [
            ("note", "notatka")])  # stored before quitting: a crash keeps it too
    assert db_rows(seeded_db, "SELECT agent, thread_id, reply_text, note_text FROM draft") == [
        (AGENT, 3, "zwrot jutro", "notatka")]
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one(ThreadList).drafted == {3} and "✎" in screen_text(pilot)
        await open_row(pilot, 2)
        assert composer(app).target.note and composer(app).area.text == "notatka"
        await pilot.press("r", "ctrl+o")
        assert composer(app).area.text == "zwrot jutro" and "To " in screen_text(pilot)


async def test_escape_and_a_key_typed_fast_leave_the_composer_instead_of_typing_it(seeded_db: Path):
    """A terminal delivers `esc` `j` typed fast as one alt+j: it must not land in the draft (and `enter` send it)."""
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "enter")
        await settle(pilot)
        await pilot.press("r", *REFUND, "alt+j", "enter")
        await settle(pilot)
        assert sent_texts(seeded_db) == []
        assert app.screen.query_one(ThreadPane).thread.id == 4  # left, moved down, opened the next thread
        await pilot.press("k", "enter", "r")
        await settle(pilot)
        assert composer(app).area.text == REFUND  # A's draft, without a stray "j"


# ---- 2. one thread in view, one target ----------------------------------------------------------------------


async def test_a_thread_opened_from_the_palette_is_the_one_closed_and_named(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"date")  # "Can I change the date?": Bob's thread (row 1); the highlight is on row 0
        for _ in range(40):
            await pilot.pause(0.05)
            if "Open thread: Bob Kowalski" in screen_text(pilot):
                break
        await pilot.press("enter")
        await settle(pilot)
        thread_list = app.screen.query_one(ThreadList)
        assert app.screen.query_one(ThreadPane).thread.id == 2
        assert thread_list.current.id == 2  # the highlight followed
        await pilot.press("c")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT id FROM thread WHERE status = 'closed' ORDER BY id") == [(2,), (5,)]
        assert "Closed: Bob Kowalski" in toasts(app)


async def test_on_the_thread_the_open_thread_is_the_target_not_the_selection(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space")  # rows 0 and 1 selected; the cursor on row 2
        await pilot.press("j", "enter")  # open Alice's second thread (4)
        await settle(pilot)
        await pilot.press("tab")
        assert app.screen.query_one(ThreadPane).has_focus
        await pilot.press("m")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT id FROM thread WHERE owner = ? ORDER BY id", (AGENT,)) == [(4,), (5,)]
        assert toasts(app)[-1] == "Assigned: Alice Nowak to @tester"
        await pilot.press("escape", "space", "space")  # on the list: the selection is the target
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"ola", "enter")
        await pilot.pause()
        await pilot.press("y")  # more than one thread: asked first
        await settle(pilot)
        assert toasts(app)[-1] == "Assigned 2 threads to @ola"


async def test_a_hostile_name_in_a_toast_stays_text(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 2)  # the hostile contact
        await pilot.press("u")
        await settle(pilot)
        [toast] = [n for n in app._notifications if n.message.startswith("Marked unread:")]
        assert not toast.markup and "[bold red]EVIL[/]" in toast.message and "\x1b" not in toast.message
        assert app.is_running


async def test_the_focused_pane_is_marked(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        list_title, thread_title = (app.screen.query_one(f"#{name}") for name in ("list-title", "thread-title"))
        on_list = (list_title.styles.background, thread_title.styles.background)
        await pilot.press("r")
        await pilot.pause()
        on_composer = (list_title.styles.background, thread_title.styles.background)
        assert on_list[0] != on_composer[0] and on_list[1] != on_composer[1]  # the mark moved with focus


# ---- 3. a compose is sent once ------------------------------------------------------------------------------


async def test_enter_pressed_twice_queues_one_message(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        inbox, gate = app.screen.inbox, asyncio.Event()
        real = inbox.queue_text

        async def slow(*args, **kwargs):  # a loaded machine: the first send is still being written
            await gate.wait()
            return await real(*args, **kwargs)

        inbox.queue_text = slow
        await pilot.press("r", *"Once only", "enter", "enter")
        gate.set()
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT count(*) FROM outbox o JOIN message m ON m.id = o.message_id"
                                  " WHERE m.text = 'Once only'") == [(1,)]
        assert composer(app).area.text == ""
        await pilot.press(*"Once only", "enter")  # the same words, a new compose: sent again, deliberately
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT count(*) FROM message WHERE text = 'Once only'") == [(2,)]


# ---- 4. live updates cannot be cancelled by the agent's keys ------------------------------------------------


async def test_keys_pressed_during_the_first_load_do_not_stop_live_updates(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("e", "n", "slash", "enter")  # all before the first load has finished
        app.screen.query_one(ViewSidebar).focus()
        await pilot.press("enter")
        await settle(pilot)
        another_process_writes(seeded_db, 3, "Czy ktoś tu jest?")
        await wait_for(pilot, lambda: "Czy ktoś tu jest?" in screen_text(pilot))


# ---- 5. one error policy for every worker -------------------------------------------------------------------


async def test_a_failing_load_is_shown_and_the_inbox_stays_usable(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        conn = connect(seeded_db)
        conn.execute("DROP TABLE template")
        conn.commit()
        conn.close()
        await pilot.press("t")
        await settle(pilot)
        # SQLite: "no such table: template"; PostgreSQL: 'relation "template" does not exist'
        assert any("template" in m and ("no such table" in m or "does not exist" in m) for m in toasts(app)), \
            toasts(app)
        assert app.is_running
        await pilot.press("c")  # still usable
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT status FROM thread WHERE id = 1") == [("closed",)]
        assert "Closed: Alice Nowak" in toasts(app)


@pytest.mark.sqlite_only(reason="any commit moves SQLite's data_version; on PostgreSQL only a change-log entry "
                               "notifies, so a commit elsewhere cannot make the follower read the renamed table")
async def test_live_updates_come_back_after_a_failed_read(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        conn = connect(seeded_db)
        conn.execute("ALTER TABLE change_log RENAME TO change_log_away")
        conn.execute("INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number) VALUES"
                     " ('x', 'w', 'x', 'x')")  # a commit the follower sees, and then cannot read
        conn.commit()
        await wait_for(pilot, lambda: any("change_log" in m for m in toasts(app)))
        conn.execute("ALTER TABLE change_log_away RENAME TO change_log")
        conn.commit()
        conn.close()
        another_process_writes(seeded_db, 3, "Po awarii")
        await wait_for(pilot, lambda: "Po awarii" in screen_text(pilot))


# ---- 11. quitting while a load is in flight -----------------------------------------------------------------


async def test_a_thread_load_whose_widgets_are_gone_ends_quietly(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        inbox, gate = app.screen.inbox, asyncio.Event()
        real = inbox.messages

        async def held(*args, **kwargs):
            await gate.wait()
            return await real(*args, **kwargs)

        inbox.messages = held  # the read is in flight ...
        await pilot.press("enter")
        await pilot.pause()
        await app.screen.query_one("#conversation").remove()  # ... when quitting takes the widgets away
        gate.set()
        await settle(pilot)
        assert app.is_running and toasts(app) == []


# ---- 10. what the screen says ---------------------------------------------------------------------------------


async def test_retry_is_offered_only_for_what_was_sent_through_the_outbox(seeded_db: Path):
    conn = connect(seeded_db)
    with conn:
        conn.execute("DELETE FROM outbox WHERE thread_id = 2")  # a failure we never queued (e.g. sent elsewhere)
    conn.close()
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)
        assert "✗ failed" in screen_text(pilot) and "press y to retry" not in screen_text(pilot)
        await pilot.press("tab")
        assert app.screen.check_action("retry", ()) is False  # hidden: nothing to retry
        await pilot.press("escape")
        await open_row(pilot, 3)
        assert "press y to retry" in screen_text(pilot)


async def test_a_whatsapp_contact_shows_its_number(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 4)  # Dan: known only by WhatsApp (no phone typed by an agent)
        assert "Phone  +48 600 900 100" in screen_text(pilot)
        assert "To Dan Mazur (+48 600 900 100) via +1 555 0200" in screen_text(pilot)


async def test_the_quota_shown_does_not_count_a_send_that_failed(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 3)  # Alice on +1 555 0200: the conversation's only reply failed
        assert "quota 0/1000 this month" in screen_text(pilot)
