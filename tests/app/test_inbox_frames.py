"""Switching view and searching draw the new list in the frame that shows the focus moving (app/frame_hold.py): the
keys typed right after still go to the list, and a failed or slow read never leaves the screen undrawn."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from textual._compositor import Compositor

from app import frame_hold
from app.screens.inbox import InboxScreen
from tests.app.helpers import SIZE, make_app, seed, settle
from tests.app.test_inbox_live import wait_for
from widgets.sidebar import ViewSidebar
from widgets.thread_list import ThreadList

UNASSIGNED = 4  # the sidebar's row of "Unassigned": threads 1, 3 and 6 in the seeded database


@pytest.fixture
def seeded_db(db_target) -> Path | str:
    return seed(db_target)


def ids(app) -> list[int]:
    threads = app.screen.query_one(ThreadList)
    return [threads.thread_at(i).id for i in range(threads.total)]


async def on_unassigned(pilot) -> ViewSidebar:
    await settle(pilot)
    sidebar = pilot.app.screen.query_one(ViewSidebar)
    sidebar.focus()
    sidebar.highlighted = UNASSIGNED
    await pilot.pause()
    return sidebar


def frames_drawn(app) -> list[list[int]]:
    """The thread ids the list held at each frame the app draws from now on."""
    drawn: list[list[int]] = []
    real = app._display

    def display(screen, renderable) -> None:
        if renderable is not None:
            drawn.append(ids(app))
        real(screen, renderable)

    app._display = display
    return drawn


async def test_the_first_frame_after_choosing_a_view_shows_its_threads(seeded_db: Path,
                                                                       monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(frame_hold, "LIMIT", 30.0)  # however slow the machine, the rows come first
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await on_unassigned(pilot)
        frames, seen = app.screen.frames, {}
        real_hold = frames.hold

        def hold() -> None:  # counted from the moment the view is chosen, not from the highlight moving before it
            real_hold()
            seen["frames"] = frames_drawn(app)

        monkeypatch.setattr(frames, "hold", hold)
        await pilot.press("enter")
        await settle(pilot)
        assert seen["frames"] and seen["frames"][0] == [1, 3, 6]  # not the old list with the focus moved first


async def test_the_first_screen_is_composed_once_its_rows_are_in(seeded_db: Path, monkeypatch: pytest.MonkeyPatch):
    """Held, Textual would still compose the mounting screen's frame (and throw it away): wasted start-up time."""
    monkeypatch.setattr(frame_hold, "LIMIT", 30.0)  # however slow the machine, the rows come first
    app = make_app(seeded_db)
    composed: list[list[int]] = []
    real = Compositor.render_update

    def render_update(compositor: Compositor, *args, **kwargs):
        if isinstance(app.screen, InboxScreen) and compositor is app.screen._compositor:
            composed.append(ids(app))
        return real(compositor, *args, **kwargs)

    monkeypatch.setattr(Compositor, "render_update", render_update)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert ids(app) and composed and composed[0] == ids(app)


async def test_keys_typed_right_after_choosing_a_view_move_in_its_list(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        sidebar = await on_unassigned(pilot)
        await pilot.press("enter", "j")  # no pause: j arrives while the view's rows are read
        await settle(pilot)
        threads = app.screen.query_one(ThreadList)
        assert ids(app) == [1, 3, 6] and threads.has_focus
        assert threads.current.id == 3 and sidebar.highlighted == UNASSIGNED


async def test_a_failed_list_read_is_said_and_the_screen_draws_again(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await on_unassigned(pilot)

        async def broken(*args, **kwargs):
            raise RuntimeError("the disk went away")

        app.screen.inbox.threads = broken
        drawn = frames_drawn(app)
        await pilot.press("enter")
        await settle(pilot)
        assert any("the disk went away" in str(toast.message) for toast in app._notifications)
        assert not app._batch_count and drawn  # frames are drawn again


async def test_a_slow_list_read_shows_the_focus_moving_meanwhile(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await on_unassigned(pilot)
        inbox, gate = app.screen.inbox, asyncio.Event()
        real = inbox.threads

        async def slow(*args, **kwargs):
            await gate.wait()
            return await real(*args, **kwargs)

        inbox.threads = slow
        drawn = frames_drawn(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: bool(drawn))  # held at most FrameHold's LIMIT, then drawn
        assert app.screen.query_one(ThreadList).has_focus and ids(app) != [1, 3, 6]
        gate.set()
        await settle(pilot)
        assert drawn[-1] == [1, 3, 6]


async def test_keys_typed_right_after_enter_in_the_search_box_go_to_the_list(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"receipt", "enter", "j")  # no pause: j arrives before the search is applied
        await settle(pilot)
        search = app.screen.query_one("#search")
        assert app.screen.search == "receipt" and search.value == "receipt" and ids(app) == [1]
        assert app.screen.query_one(ThreadList).has_focus


async def test_enter_in_the_composer_stays_the_composer_s(seeded_db: Path):
    """The screen's enter binding (the search box's) is enabled only while the search box has focus."""
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # opens the first thread
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        screen = app.screen
        assert screen.composer.area.has_focus and not screen.check_action("apply_search", ())
        await pilot.press("slash")
        await pilot.pause()
        assert screen.check_action("apply_search", ()) is False  # slash was typed into the draft
