"""Snapshots of the main states. Refresh with `pytest tests/app/test_snapshots.py --snapshot-update`, then look."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from app.wabox_app import WaboxApp
from tests.app.helpers import AGENT, NOW, seed, settle
from widgets.thread_list import ThreadList

SIZE = (150, 40)


@pytest.fixture
def seeded_db(db_target, monkeypatch: pytest.MonkeyPatch) -> Path | str:
    monkeypatch.setenv("TZ", "UTC")  # times are drawn in local time: pin it
    time.tzset()
    yield seed(db_target)
    monkeypatch.undo()
    time.tzset()


async def steady_cursors(pilot: Pilot) -> None:
    """A blinking cursor is drawn or not depending on when the picture is taken: hold every cursor on."""
    for widget in pilot.app.screen.query("*"):
        if hasattr(widget, "cursor_blink"):
            widget.cursor_blink = False
    await pilot.pause()


def opening(row: int, *keys: str):
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        pilot.app.screen.query_one(ThreadList).move_to(row)
        await pilot.press("enter")
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await pilot.pause(0.1)
        await steady_cursors(pilot)
    return run_before


def test_normal_thread(snap_compare, seeded_db: Path):
    assert snap_compare(WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW), terminal_size=SIZE,
                        run_before=opening(0))


def test_closed_session_with_template_picker(snap_compare, seeded_db: Path):
    async def run_before(pilot: Pilot) -> None:
        await opening(1)(pilot)
        await pilot.press("t")
        await pilot.pause(0.2)
        await pilot.press("enter")  # the first approved template: hostile_tpl (its text stays literal)
        await pilot.pause(0.2)
        await pilot.press(*"[b]x[/b]")
        await pilot.pause(0.1)
        await steady_cursors(pilot)

    assert snap_compare(WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW), terminal_size=SIZE,
                        run_before=run_before)


def test_failed_message(snap_compare, seeded_db: Path):
    assert snap_compare(WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW), terminal_size=SIZE,
                        run_before=opening(1))


def test_quarantined_message(snap_compare, seeded_db: Path):
    assert snap_compare(WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW), terminal_size=SIZE,
                        run_before=opening(4))


def test_hostile_text(snap_compare, seeded_db: Path):
    assert snap_compare(WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW), terminal_size=SIZE,
                        run_before=opening(2, "d"))


# The sizes an agent uses (issue 7): 80x24 over SSH, one pane at a time; 160x48, everything side by side.
SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


def keys_after(row: int | None, *keys: str):
    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        if row is not None:
            await opening(row)(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await pilot.pause(0.2)
        await steady_cursors(pilot)
    return run_before


SCREENS = {
    "list": keys_after(None),
    "open_thread": keys_after(0),
    "composer": keys_after(0, "r", *"Dzień dobry, sprawdzam."),
    "template_picker": keys_after(1, "t", *"order", "enter", *"Bob"),
    "help": keys_after(None, "question_mark"),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", SCREENS)
def test_sizes(snap_compare, seeded_db: Path, state: str, size: str):
    assert snap_compare(WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW), terminal_size=SIZES[size],
                        run_before=SCREENS[state])


def test_records_screen(snap_compare, db_target, monkeypatch: pytest.MonkeyPatch):
    """Issue 9: the records screen on the companies; record text (a hostile company name) stays literal."""
    import asyncio

    from core.store import Store
    from tests.core.records_helpers import import_csv

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    db = seed(db_target)

    async def fill() -> None:
        store = await Store.open(db)
        try:
            await import_csv(store, "companies", 'name,domain,city\nBursztyn Rejsy,bursztyn.pl,Gdańsk\n'
                                                 '"[bold red]Evil[/] Co",evil.example,"[@click=app.quit]x[/]"\n'
                                                 'Tacos del Norte,tacos.mx,Monterrey\n')
            await import_csv(store, "contacts", "id,company\n1,Bursztyn Rejsy\n")
        finally:
            await store.close()

    asyncio.run(fill())

    async def run_before(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("C")
        await pilot.pause(0.2)
        await pilot.press("right_square_bracket")
        await pilot.pause(0.2)
        await steady_cursors(pilot)

    assert snap_compare(WaboxApp(db, agent=AGENT, clock=lambda: NOW), terminal_size=SIZE, run_before=run_before)
