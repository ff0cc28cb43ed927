"""The open thread as drawn (widgets/thread_pane.py draws lines it keeps between frames; the composer keeps its
look while a thread's rules load): what is on screen follows the selection, a new message, and the thread bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.thread_state import new_draft
from tests.app.helpers import SIZE, make_app, open_row, screen_text, seed, settle
from tests.app.test_inbox_live import another_process_writes, wait_for
from widgets.composer import Composer
from widgets.thread_pane import ThreadPane


@pytest.fixture
def long_db(db_target) -> Path | str:
    return seed(db_target, big_thread=60)


@pytest.fixture
def seeded_db(db_target) -> Path | str:
    return seed(db_target)


def drawn(pane: ThreadPane) -> list[str]:
    """The pane's lines as the terminal gets them."""
    return [pane.render_line(y).text for y in range(pane.size.height)]


def marked(pane: ThreadPane) -> set[str]:
    """The messages whose text is on lines that carry the selection mark."""
    lines = [line for line in drawn(pane) if line.startswith("▌")]
    return {m.text for m in pane.messages if m.text and any(line.strip("▌ ") == m.text for line in lines)}


async def test_the_selection_mark_moves_with_j_and_k_on_lines_drawn_before(long_db: Path):
    app = make_app(long_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "tab")
        await settle(pilot)
        pane = app.screen.query_one(ThreadPane)
        while not (pane.current.text or "").startswith("older message"):  # past the seeded media, cards, notes
            await pilot.press("k")
        await pilot.pause()
        first = pane.current.text
        assert marked(pane) == {first}
        await pilot.press("k")
        await pilot.pause()
        second = pane.current.text
        assert second != first and marked(pane) == {second}  # the lines drawn with the mark lost it
        await pilot.press("j")
        await pilot.pause()
        assert marked(pane) == {first}
        await pilot.press("shift+tab")  # the focus leaves: the mark is drawn dim, still on the same message
        await pilot.pause()
        assert marked(pane) == {first}


async def test_a_new_message_keeps_the_agent_where_they_were_reading_and_is_there_at_the_end(long_db: Path):
    app = make_app(long_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "tab")
        await settle(pilot)
        pane = app.screen.query_one(ThreadPane)
        await pilot.press(*["k"] * 25)  # well up the thread
        await pilot.pause()
        reading = drawn(pane)
        assert pane.current.text.startswith("older message") and pane.current.text in "\n".join(reading)
        another_process_writes(long_db, 1, "a reply that came in meanwhile")
        await wait_for(pilot, lambda: pane.messages[-1].text == "a reply that came in meanwhile")
        await pilot.pause()
        assert drawn(pane) == reading  # not moved, not redrawn with someone else's lines
        await pilot.press("G")
        await pilot.pause()
        assert "a reply that came in meanwhile" in screen_text(pilot)


async def test_at_the_end_a_new_message_is_on_screen_at_once(long_db: Path):
    app = make_app(long_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        pane = app.screen.query_one(ThreadPane)
        another_process_writes(long_db, 1, "seen without scrolling")
        await wait_for(pilot, lambda: pane.messages[-1].text == "seen without scrolling")
        await pilot.pause()
        assert "seen without scrolling" in screen_text(pilot)


async def test_every_message_of_a_long_thread_is_drawn_when_scrolled_through(long_db: Path):
    app = make_app(long_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "tab")
        await settle(pilot)
        pane = app.screen.query_one(ThreadPane)
        seen: set[str] = set()
        for _ in range(len(pane.messages) + 5):
            seen.update(line.strip("▌ ") for line in drawn(pane))
            await pilot.press("k")
            await pilot.pause()
        assert {f"older message {i}" for i in range(60)} <= seen


async def test_a_thread_bound_while_its_rules_load_never_shows_the_last_threads_notice(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)  # Bob: his session has expired, the notice is shown
        composer = app.screen.query_one(Composer)
        assert "The 24-hour session has expired" in screen_text(pilot)
        composer.bind(new_draft(1))  # what opening another thread does first, before its rules are read
        await pilot.pause()
        text = screen_text(pilot)
        assert "Loading…" in text and "The 24-hour session has expired" not in text


async def test_g_goes_to_the_oldest_loaded_message_of_a_thread_just_opened(long_db: Path):
    app = make_app(long_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter", "tab")
        await settle(pilot)
        pane = app.screen.query_one(ThreadPane)
        oldest = pane.messages[0].text
        assert oldest not in screen_text(pilot)
        await pilot.press("g")
        await pilot.pause()
        assert marked(pane) == {oldest} and oldest in screen_text(pilot)
