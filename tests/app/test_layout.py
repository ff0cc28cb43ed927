"""The inbox at the sizes agents use (issue 7, bug 7): 80x24 over SSH up to 220x60. Below 120 columns one pane at
a time, full width; the footer holds the focused pane's keys without cutting a word; `?` lists every key."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.binding import Binding

from app.screens.help import HelpScreen
from app.screens.inbox import InboxScreen
from tests.app.helpers import make_app, screen_text, seed, settle
from widgets.composer import ReplyArea
from widgets.contact_panel import ContactPanel
from widgets.sidebar import ViewSidebar
from widgets.thread_list import ThreadList
from widgets.thread_pane import ThreadPane


@pytest.fixture
def seeded_db(db_target) -> Path | str:
    return seed(db_target)


def footer(pilot) -> str:
    return screen_text(pilot).splitlines()[-1].rstrip()


def shown(app, widget_type) -> bool:
    widget = app.screen.query_one(widget_type)
    return widget.display and widget.region.width > 0 and all(a.display for a in widget.ancestors[:-2])


async def test_80x24_shows_the_list_or_the_thread_full_width(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one(ThreadList).region.width >= 76 and not shown(app, ThreadPane)
        assert footer(pilot).endswith("^p palette") and "? Help" in footer(pilot)
        await pilot.press("enter")
        await settle(pilot)
        pane = app.screen.query_one(ThreadPane)
        assert pane.has_focus and pane.region.width >= 60 and not shown(app, ThreadList)
        assert "Where is my order?" in screen_text(pilot)
        for key in ("r Reply", "t Template", "c Close", "? Help", "esc Back"):
            assert key in footer(pilot)
        assert footer(pilot).endswith("^p palette")
        await pilot.press("i")  # the contact panel over the thread, not beside it
        await pilot.pause()
        assert "alice@example.com" in screen_text(pilot) and pane.region.width >= 60
        await pilot.press("i", "escape")
        await pilot.pause()
        assert shown(app, ThreadList) and not shown(app, ThreadPane)
        assert app.screen.query_one(ThreadList).has_focus


async def test_80x24_views_are_a_key_away(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not shown(app, ViewSidebar) and "b Views" in footer(pilot)
        await pilot.press("b")
        await pilot.pause()
        assert shown(app, ViewSidebar) and app.screen.query_one(ViewSidebar).has_focus
        await pilot.press("j", "enter")  # All closed
        await settle(pilot)
        assert not shown(app, ViewSidebar) and "All closed" in screen_text(pilot).splitlines()[0]


async def test_100x30_footer_keeps_the_keys_after_assign(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for key in ("⏎ Open", "space Select", "/ Search", "c Close", "a Assign", "n Next", "? Help"):
            assert key in footer(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.query_one(ThreadPane).region.width >= 90
        for key in ("r Reply", "t Template", "c Close", "? Help"):
            assert key in footer(pilot)


@pytest.mark.parametrize("size", [(160, 48), (220, 60)])
async def test_wide_screens_show_every_pane_side_by_side(seeded_db: Path, size: tuple[int, int]):
    app = make_app(seeded_db)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        for widget in (ViewSidebar, ThreadList, ThreadPane, ContactPanel):
            assert shown(app, widget), widget
        assert app.screen.query_one(ThreadPane).region.width >= 60
        assert app.screen.query_one(ThreadList).has_focus  # wide: the list keeps the keys, j/k still move rows
        assert "? Help" in footer(pilot)


async def test_question_mark_lists_every_key_from_the_bindings(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-keys").render())
        for binding in Binding.make_bindings([*InboxScreen.BINDINGS, *ThreadList.BINDINGS, *ThreadPane.BINDINGS,
                                              *ReplyArea.BINDINGS]):
            assert binding.description in text, binding
        assert "space / x" in text and "Select the thread for a bulk action and move to the next" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, InboxScreen)


async def test_80x24_the_composer_footer_names_its_keys(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter", "r")
        await settle(pilot)
        assert isinstance(app.focused, ReplyArea)
        shown_keys = footer(pilot)
        for label in ("⏎ Send", "Channel", "Help"):
            assert label in shown_keys, (label, shown_keys)


async def test_80x24_a_thread_opened_by_n_takes_the_screen(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("n")  # the next unanswered thread, from the list
        await settle(pilot)
        assert app.screen.open_thread is not None and shown(app, ThreadPane) and not shown(app, ThreadList)
        assert app.screen.query_one(ThreadPane).has_focus


async def test_140_columns_the_contact_panel_overlays_instead_of_squeezing_the_thread(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        pane = app.screen.query_one(ThreadPane)
        width = pane.region.width
        assert width >= 60 and not shown(app, ContactPanel)
        await pilot.press("i")
        await pilot.pause()
        assert shown(app, ContactPanel) and pane.region.width == width
