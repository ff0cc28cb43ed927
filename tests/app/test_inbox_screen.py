"""Pilot tests of the inbox screen: every agent action, as the agent sees it and as the store records it."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest

from app.wabox_app import WaboxApp
from tests.app.helpers import AGENT, NOW, SIZE, db_rows, make_app, open_row, screen_text, seed, settle
from widgets.composer import Composer
from widgets.sidebar import ViewSidebar
from widgets.thread_list import ThreadList
from widgets.thread_pane import ThreadPane

@pytest.fixture
def seeded_db(db_target) -> Path | str:
    return seed(db_target)


def thread_list(app: WaboxApp) -> ThreadList:
    return app.screen.query_one(ThreadList)


def pane(app: WaboxApp) -> ThreadPane:
    return app.screen.query_one(ThreadPane)


async def test_list_shows_open_threads_newest_first_with_badges(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        rows = [thread_list(app).thread_at(i).id for i in range(thread_list(app).total)]
        assert rows == [1, 2, 3, 4, 6]
        text = screen_text(pilot)
        assert "Alice Nowak" in text and "21h left" in text and "expired" in text and "30m left" in text
        assert "+48600300400 · Sales · @marek" in text and "+48600900100 · Support │" in text
        assert "+1 555 0200" not in text  # our own number is not the customer's


async def test_open_thread_marks_it_read_and_draws_every_kind(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(pilot)
        assert "Hello, is my order shipped?" in text
        assert "✓✓ delivered" in text
        assert "reactions: 👍" in text
        assert "📎 image · 120.6 KB receipt.jpg" in text and "my receipt" in text
        assert "📍 location 52.23, 21.01 Warsaw office" in text
        assert "👤 contact card Eve Card +48 1" in text
        assert "Unsupported message (type: poll)" in text
        assert "↳ replying to: Let me check." in text
        assert db_rows(seeded_db, "SELECT t.unread - coalesce(r.seen, 0) FROM thread t LEFT JOIN thread_read r ON r.thread_id = t.id AND r.agent = 'tester' WHERE t.id = 1") == [(0,)]  # read by this agent
        assert "Name   Alice Nowak" in text and "alice@example.com" in text  # the contact panel
        assert "[21h left]" in text


async def test_a_thread_opened_loses_its_unread_dot_in_the_list(seeded_db: Path):
    def alices_row() -> str:  # the list's first row: Alice's thread, its session 21 hours from closing
        return next(line for line in screen_text(pilot).splitlines() if "21h left" in line)

    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "●  Alice Nowak" in alices_row()
        await pilot.press("enter")
        await settle(pilot)
        assert "   Alice Nowak" in alices_row() and "●" not in alices_row()
        assert thread_list(app).thread_at(0).unread == 0


async def test_vim_motions_move_the_cursor(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "j")
        assert thread_list(app).cursor == 2
        await pilot.press("G")
        assert thread_list(app).cursor == 4
        await pilot.press("k")
        assert thread_list(app).cursor == 3
        await pilot.press("g")
        assert thread_list(app).cursor == 0


async def test_close_and_reopen(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT status FROM thread WHERE id = 1") == [("closed",)]
        assert [thread_list(app).thread_at(i).id for i in range(thread_list(app).total)] == [2, 3, 4, 6]
        assert "All closed  2" in screen_text(pilot)
        app.screen.query_one(ViewSidebar).highlighted = 1
        app.screen.query_one(ViewSidebar).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert thread_list(app).thread_at(0).id == 1
        await pilot.press("o")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT status FROM thread WHERE id = 1") == [("open",)]
        assert db_rows(seeded_db, "SELECT count(*) FROM change_log WHERE kind = 'thread' AND thread_id = 1") == [(2,)]


async def test_assign_to_me_to_an_agent_and_to_a_team(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT owner FROM thread WHERE id = 1") == [(AGENT,)]
        assert "Assigned to me  2" in screen_text(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"ola", "enter")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT owner FROM thread WHERE id = 1") == [("ola",)]
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"team:Support", "enter")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT owner, team FROM thread WHERE id = 1") == [("ola", "Support")]


async def test_mark_unread(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("j", "enter")  # thread 2, read already
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT t.unread - coalesce(r.seen, 0) FROM thread t LEFT JOIN thread_read r ON r.thread_id = t.id AND r.agent = 'tester' WHERE t.id = 2") == [(1,)]  # unread again for this agent
        assert thread_list(app).thread_at(1).unread == 1


async def test_next_unanswered_opens_the_longest_waiting(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert pane(app).thread.id == 6  # waiting 23.5 h: the customer wrote last, longest ago
        assert thread_list(app).current.id == 6
        seen = []
        for _ in range(4):
            await pilot.press("n")
            await settle(pilot)
            seen.append(pane(app).thread.id)
        assert seen == [4, 1, 3, 6]  # then round again


async def test_bulk_select_then_close_and_assign(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "x")  # select rows 0 and 1 (the cursor moves on)
        assert thread_list(app).selected == {1, 2}
        assert "✓" in screen_text(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert "Assign to you: 2 threads?" in screen_text(pilot)  # more than one thread: asked first
        await pilot.press("y")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT id FROM thread WHERE owner = ? ORDER BY id", (AGENT,)) == [
            (1,), (2,), (4,), (5,)]
        await pilot.press("space", "space")
        await pilot.press("c")
        await settle(pilot)
        assert "Close: 2 threads?" in screen_text(pilot)
        await pilot.press("n")  # no: nothing is closed, the selection stays
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT id FROM thread WHERE status = 'closed' ORDER BY id") == [(5,)]
        await pilot.press("c", "y")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT id FROM thread WHERE status = 'closed' ORDER BY id") == [(3,), (4,), (5,)]


async def test_view_switch_shows_counts_and_rows(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(pilot)
        for label in ("All open  5", "All closed  1", "Sent  1", "Assigned to me  1", "Unassigned  3", "WhatsApp  6"):
            assert label in text
        sidebar = app.screen.query_one(ViewSidebar)
        sidebar.focus()
        sidebar.highlighted = 4
        await pilot.press("enter")
        await settle(pilot)
        assert [thread_list(app).thread_at(i).id for i in range(thread_list(app).total)] == [1, 3, 6]
        assert thread_list(app).has_focus


async def test_search_with_slash_and_escape_clears(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"receipt", "enter")
        await settle(pilot)
        assert [thread_list(app).thread_at(i).id for i in range(thread_list(app).total)] == [1]
        assert "/ receipt" in screen_text(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert thread_list(app).total == 5


async def test_expiring_order_puts_the_closest_session_first(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert [thread_list(app).thread_at(i).id for i in range(thread_list(app).total)][:4] == [6, 4, 1, 3]
        assert "expiring first" in screen_text(pilot)


async def test_metadata_toggle_shows_numbers_time_and_id(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert "wamid.A8" not in screen_text(pilot)
        await pilot.press("d")
        await pilot.pause()
        text = screen_text(pilot)
        assert "from +48600100200 to +1 555 0100 · 2025-11-25 09:00:00 UTC" in text
        assert "id wamid.A8" in text


async def test_quarantined_message_is_hidden_until_revealed(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 4)  # thread 6
        text = screen_text(pilot)
        assert "⛔ Hidden: link to an IP address" in text
        assert "192.168.4.7" not in text and "⛔ hidden messag" in text  # pane and list row
        await pilot.press("R")
        await pilot.pause()
        assert "Verify your account at http://192.168.4.7/login now" in screen_text(pilot)


async def test_contact_panel_toggles(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert "alice@example.com" in screen_text(pilot)
        await pilot.press("i")
        await pilot.pause()
        assert "alice@example.com" not in screen_text(pilot)


async def test_letters_typed_in_the_composer_never_trigger_list_actions(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("r")
        await pilot.press(*"camunjgGexdRyAi/vN,")
        await settle(pilot)
        assert app.screen.query_one(Composer).area.text == "camunjgGexdRyAi/vN,"
        assert db_rows(seeded_db, "SELECT status, owner FROM thread WHERE id = 1") == [("open", None)]
        assert db_rows(seeded_db, "SELECT t.unread - coalesce(r.seen, 0) FROM thread t LEFT JOIN thread_read r ON r.thread_id = t.id AND r.agent = 'tester' WHERE t.id = 1") == [(0,)]
        assert thread_list(app).cursor == 0 and "alice@example.com" in screen_text(pilot)
        await pilot.press("ctrl+j", *"more")
        assert app.screen.query_one(Composer).area.text.endswith("\nmore")


async def test_settings_are_persisted_per_agent(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("comma")
        await pilot.pause()
        await pilot.press("space", "escape")  # the first checkbox (toast) has focus
        await settle(pilot)
    assert db_rows(seeded_db, "SELECT agent, key, value FROM setting") == [(AGENT, "notify.toast", "0")]
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.settings["notify.toast"] is False and app.screen.settings["notify.bell"] is True


async def test_new_custom_view_from_filters(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await pilot.pause()
        await pilot.press(*"Support line", "enter", *"whatsapp", "enter", *"2220002", "enter")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT name, filters FROM custom_view") == [
            ("Support line", '{"source": ["whatsapp"], "channel": ["2220002"]}')]
        assert "Support line  2" in screen_text(pilot) and "WhatsApp  6" in screen_text(pilot)
        assert sorted(thread_list(app).thread_at(i).id for i in range(thread_list(app).total)) == [4, 6]


async def test_every_shown_binding_is_in_the_command_palette(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Close", "Reopen", "Mine", "Assign", "Unread", "Next", "Search"} <= titles


async def test_failed_message_shows_the_api_reason_and_offers_retry(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)
        text = screen_text(pilot)
        assert "✗ failed" in text
        assert "✗ (131047) Re-engagement messa" in text and "have passed   press y to retry" in text
        await pilot.press("tab")
        assert app.screen.query_one(ThreadPane).has_focus
        assert app.screen.check_action("retry", ()) is True
        await pilot.press("k")  # the customer's message: nothing to retry
        assert app.screen.check_action("retry", ()) is False  # hidden: the footer keeps its room for what works


@pytest.fixture
def long_db(db_target) -> Path | str:
    return seed(db_target, big_thread=450)


async def test_a_long_thread_opens_on_its_newest_page_and_loads_older_on_scroll_up(long_db: Path):
    app = make_app(long_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        shown = pane(app)
        assert len(shown.messages) == 200 and shown.more_before
        laid = "\n".join(line.plain for _, line in shown._lines)
        assert "older message 435" in laid and "older message 258" not in laid  # the first frame: its end only
        top = [line.plain.rstrip() for _, line in shown._lines[:shown.size.height]]
        shown.scroll_home(animate=False, immediate=True)  # up to the top of what is laid out: the page's rest
        await settle(pilot)
        assert [shown.render_line(y).text.rstrip() for y in range(shown.size.height)] == top  # the view stays put
        laid = "\n".join(line.plain for _, line in shown._lines)
        assert "older message 258" in laid and "older messages: scroll up to load" in laid
        assert len(shown.messages) == 200
        shown.scroll_home(animate=False, immediate=True)
        await settle(pilot)
        assert len(shown.messages) == 400 and shown.more_before
        assert shown.messages[0].text == "older message 58"
        shown.scroll_home(animate=False, immediate=True)
        await settle(pilot)
        assert len(shown.messages) == 458 and not shown.more_before


async def test_session_badges_count_down_without_a_keypress(seeded_db: Path):
    clock = [NOW]
    app = WaboxApp(seeded_db, agent=AGENT, clock=lambda: clock[0])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 4)  # Dan: 30 minutes left
        assert "[30m left]" in screen_text(pilot)
        clock[0] = NOW + 31 * 60
        app.screen.tick()
        await pilot.pause()
        assert "[session expired]" in screen_text(pilot)


async def test_compose_in_editor(seeded_db: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VISUAL", "sh -c 'printf \"written in the editor\" > \"$0\"'")
    app = make_app(seeded_db)
    app.suspend = nullcontext  # type: ignore[method-assign]  # headless: nothing to hand the terminal to
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("r", *"draft", "ctrl+e")
        await settle(pilot)
        assert app.screen.query_one(Composer).area.text == "written in the editor"


async def test_template_text_is_drawn_literally(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)
        await pilot.press("t")
        await settle(pilot)
        await pilot.press(*"hostile", "enter", *"[@click=app.quit]")
        await pilot.pause()
        text = screen_text(pilot)
        assert "Preview: [link=http://evil]click[/link] ␛[31m[@click=app.quit]" in text
        assert "\x1b" not in text and app.is_running


async def test_a_narrow_terminal_keeps_the_conversation_and_hides_the_contact_until_asked(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(pilot)
        assert "Alice Nowak  via +1 555 0100" in text and "Where is my order?" in text
        assert "alice@example.com" not in text
        await pilot.press("i")
        await pilot.pause()
        assert "alice@example.com" in screen_text(pilot)


async def test_the_palette_opens_a_thread_found_by_message_text(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"date")  # "Can I change the date?" — Bob's thread
        for _ in range(20):
            await pilot.pause(0.05)
            if "Open thread: Bob Kowalski" in screen_text(pilot):
                break
        assert "Open thread: Bob Kowalski" in screen_text(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert pane(app).thread.id == 2


async def test_a_search_of_too_many_words_is_refused_with_the_reason(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        app.screen.query_one("#search").value = " ".join(["receipt"] * 40)
        await pilot.press("enter")
        await settle(pilot)
        assert "query too broad" in " ".join(str(n.message) for n in app._notifications)
        assert thread_list(app).total == 5  # the list is left as it was
