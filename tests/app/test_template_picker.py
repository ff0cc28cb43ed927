"""The template picker tells the truth about the thread it sends to (issue 7, bug 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.screens.confirm import ConfirmScreen
from app.screens.template_picker import TemplatePicker
from tests.app.helpers import SIZE, connect, db_rows, make_app, open_row, screen_text, seed, settle


@pytest.fixture
def seeded_db(db_target) -> Path | str:
    path = seed(db_target)
    conn = connect(path)
    with conn:  # the same template in Polish: the customers' numbers are Polish (+48)
        conn.execute("INSERT INTO template(id, waba_id, name, language, status, category, components, synced_at)"
                     " VALUES ('t4', 'waba1', 'order_update', 'pl', 'APPROVED', 'UTILITY', ?, 0)",
                     (json.dumps([{"type": "BODY", "text": "Cześć {{1}}, zamówienie {{2}} jest w drodze."}]),))
    conn.close()
    return path


async def test_an_open_session_is_named_open_with_its_time_left_and_no_false_warning(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 3)  # Alice on the second number: 19 h left, a conversation already open
        await pilot.press("t")
        await settle(pilot)
        text = screen_text(pilot)
        assert "session open, 19h left" in text
        assert "session expired" not in text and "business-initiated" not in text
        assert "A conversation is open: sending is not counted again." in text
        assert "Quota: 0 of 1000 used this month." in text  # its one conversation holds only a failed reply


async def test_an_open_session_without_a_conversation_says_sending_opens_one(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 0)  # Alice on the first number: 21 h left, no conversation yet
        await pilot.press("t")
        await settle(pilot)
        text = screen_text(pilot)
        assert "session open, 21h left" in text and "business-initiated" not in text
        assert "Sending opens the conversation of this session (counted)." in text


async def test_arrows_from_the_search_box_move_the_highlight_and_enter_picks_it(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)  # Bob: session expired
        await pilot.press("t")
        await settle(pilot)
        picker = app.screen
        assert isinstance(picker, TemplatePicker) and picker.query_one("#template-search").has_focus
        highlight = lambda: picker.shown[picker.query_one("#template-list").highlighted]  # noqa: E731
        first = highlight()  # the Polish order_update, last in the list
        await pilot.press("up", "up")
        assert highlight().name == "hostile_tpl"
        await pilot.press("down")
        seen = highlight()
        assert seen != first and seen.name == "order_update" and seen.language == "en_US"
        assert picker.query_one("#template-search").has_focus
        await pilot.press("enter")
        await pilot.pause()
        assert picker.chosen == seen


async def test_the_template_in_the_threads_language_is_highlighted_first(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)  # Bob, +48: Polish
        await pilot.press("t")
        await settle(pilot)
        await pilot.press(*"order", "enter")
        await pilot.pause()
        picker = app.screen
        assert picker.chosen.name == "order_update" and picker.chosen.language == "pl"
        assert "Preview: Cześć {{1}}, zamówienie {{2}} jest w drodze." in screen_text(pilot)


async def test_a_template_to_a_contact_without_opt_in_is_confirmed_first_n_queues_nothing_y_sends(seeded_db: Path):
    conn = connect(seeded_db)
    with conn:
        conn.execute("UPDATE contact SET opt_in_source = NULL, opt_in_date = NULL WHERE id = 2")  # Bob never opted in
    conn.close()
    queued = lambda: db_rows(seeded_db, "SELECT request FROM outbox WHERE thread_id = 2 AND kind = 'template'")  # noqa: E731
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)  # Bob: the session expired, a template would be business-initiated
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Bob Kowalski has no WhatsApp opt-in on record" in screen_text(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, (ConfirmScreen, TemplatePicker)) and queued() == []

        await pilot.press("t")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, TemplatePicker)
        await pilot.press(*"order", "enter", *"Bob", "enter", *"A-17", "ctrl+s")
        await settle(pilot)
        await pilot.pause(0.1)
        await settle(pilot)
        [(request,)] = queued()
        assert json.loads(request)["template"]["name"] == "order_update"


async def test_a_contact_with_opt_in_goes_straight_to_the_picker(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)  # Bob opted in (web form): no question
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TemplatePicker) and "opt-in" not in screen_text(pilot)
