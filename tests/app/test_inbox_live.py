"""F24/F21: another process's writes appear without a keypress; new inbound messages that concern the agent
toast and ring (unless turned off); the hostile corpus reaches no surface as markup or escape."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.wabox_app import WaboxApp
from tests.app.helpers import AGENT, CH1, HOSTILE_TEXT, NOW, connect, screen_text, seed, settle
from widgets.thread_list import ThreadList
from widgets.thread_pane import ThreadPane


@pytest.fixture
def seeded_db(db_target) -> Path | str:
    return seed(db_target)


def another_process_writes(db: Path, thread_id: int, text: str, *, owner: str | None = "keep") -> None:
    """What the receiver does for an inbound message: message, thread summary and change log, one transaction."""
    conn = connect(db)
    with conn:
        conn.execute("INSERT INTO message(thread_id, channel, direction, type, text, timestamp, wamid)"
                     " VALUES (?, ?, 'in', 'text', ?, ?, ?)", (thread_id, CH1, text, NOW, f"wamid.live{time.time()}"))
        conn.execute("UPDATE thread SET preview = ?, last_message_at = ?, last_inbound_at = ?, unread = unread + 1,"
                     " last_direction = 'in' WHERE id = ?", (text, NOW + 5, NOW, thread_id))
        if owner != "keep":
            conn.execute("UPDATE thread SET owner = ? WHERE id = ?", (owner, thread_id))
        conn.execute("INSERT INTO change_log(kind, thread_id, at) VALUES ('message', ?, ?)", (thread_id, NOW))
    conn.close()


async def wait_for(pilot, condition, timeout: float = 10.0) -> None:
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise AssertionError("not seen in time")
        await pilot.pause(0.02)


class Bells:
    def __init__(self, app: WaboxApp) -> None:
        self.count = 0
        app.bell = self.ring  # type: ignore[method-assign]

    def ring(self) -> None:
        self.count += 1


async def test_another_process_write_shows_without_a_keypress_and_notifies(seeded_db: Path):
    app = WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW)
    async with app.run_test(size=(160, 44)) as pilot:
        bells = Bells(app)
        await settle(pilot)
        await pilot.press("j", "j", "enter")  # open thread 3 (unassigned: concerns everyone)
        await settle(pilot)
        another_process_writes(seeded_db, 3, "Are you there? [b]still[/b]")
        pane = app.screen.query_one(ThreadPane)
        await wait_for(pilot, lambda: pane.messages and pane.messages[-1].text.startswith("Are you there?"))
        await wait_for(pilot, lambda: app.screen.query_one(ThreadList).thread_at(0).id == 3)
        await wait_for(pilot, lambda: app.screen.notified == 1)
        await settle(pilot)  # the refresh the change started has ended: quitting now races nothing
        assert bells.count == 1
        toast = [n for n in app._notifications]
        assert toast and toast[-1].message.endswith("Are you there? [b]still[/b]") and not toast[-1].markup
        assert "Are you there? [b]still[/b]" in screen_text(pilot)


async def test_no_toast_for_a_thread_owned_by_someone_else_or_when_turned_off(seeded_db: Path):
    conn = connect(seeded_db)
    with conn:
        conn.execute("INSERT INTO setting(agent, key, value) VALUES (?, 'notify.bell', '0')", (AGENT,))
    conn.close()
    app = WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW)
    async with app.run_test(size=(160, 44)) as pilot:
        bells = Bells(app)
        await settle(pilot)
        another_process_writes(seeded_db, 2, "for marek")  # owned by marek
        await wait_for(pilot, lambda: app.screen.query_one(ThreadList).thread_at(0).id == 2)
        assert app.screen.notified == 0
        another_process_writes(seeded_db, 3, "for everyone")
        await wait_for(pilot, lambda: app.screen.notified == 1)
        assert bells.count == 0  # the bell is off for this agent


HOSTILE_MARKERS = ("\x1b", "\x9b", "\u202e", "\x07")


async def test_hostile_text_on_every_surface_stays_literal(seeded_db: Path):
    app = WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW)
    async with app.run_test(size=(160, 44)) as pilot:
        await settle(pilot)
        await pilot.press("j", "j", "enter")
        await settle(pilot)
        another_process_writes(seeded_db, 3, HOSTILE_TEXT)  # the toast gets it too
        await wait_for(pilot, lambda: app.screen.notified == 1)
        await pilot.pause()
        text = screen_text(pilot)
        assert "[@click=app.quit]quit[/]" in text  # list row, pane, contact panel, toast: shown as text
        assert "[link=http://evil.example]link[/link]" in text
        assert "␛[31mred␛[0m" in text and "⟨U+202E⟩" in text and "⟨U+009B⟩" in text
        assert not any(marker in text for marker in HOSTILE_MARKERS)
        # no style, link or action from customer data reached the terminal
        for strip in app.screen._compositor.render_strips():
            for segment in strip:
                style = segment.style
                if style is not None and "evil" in segment.text:
                    assert not style.link and not (style.meta or {}).get("@click")
        assert app.is_running  # the [@click=app.quit] did nothing


async def test_a_one_megabyte_line_does_not_freeze_the_screen(seeded_db: Path):
    another_process_writes(seeded_db, 1, "A" * 1_000_000 + "[b]end")
    app = WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW)
    async with app.run_test(size=(160, 44)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # how long this takes: tests/bench/bench_render.py
        await settle(pilot)
        lines = [line.plain for _, line in app.screen.query_one(ThreadPane)._lines]
        assert any("980,006 more characters not drawn" in line for line in lines)
        assert "AAAAAAAAAA" in screen_text(pilot)


async def test_the_cursor_stays_on_its_thread_when_a_live_update_reorders_the_list(seeded_db: Path):
    app = WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW)
    async with app.run_test(size=(160, 44)) as pilot:
        await settle(pilot)
        await pilot.press("j")  # Bob (row 1)
        thread_list = app.screen.query_one(ThreadList)
        assert thread_list.current.id == 2
        another_process_writes(seeded_db, 6, "news from Dan")  # Dan jumps to the top
        await wait_for(pilot, lambda: thread_list.thread_at(0) is not None and thread_list.thread_at(0).id == 6)
        assert thread_list.current.id == 2 and thread_list.cursor == 2


async def test_the_program_freezes_what_its_first_screen_made_and_still_follows_changes(seeded_db: Path):
    """`wabox` (freeze_startup) starts with the collector held, and once the first screen is up collects, moves the
    objects still alive out of the full garbage collections and collects as usual again (app/gc_pauses.py); live
    changes still show. An app made without it (every test's) freezes nothing."""
    import gc

    from app.gc_pauses import hold_collections

    plain = WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW)
    async with plain.run_test(size=(160, 44)) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() == 0
    app = WaboxApp(seeded_db, agent=AGENT, clock=lambda: NOW, freeze_startup=True)
    hold_collections()  # as `wabox` main does
    try:
        async with app.run_test(size=(160, 44)) as pilot:
            await settle(pilot)
            thread_list = app.screen.query_one(ThreadList)
            await wait_for(pilot, gc.isenabled)
            assert gc.get_freeze_count() > 0
            gc.collect()  # a full collection after the freeze: the screen's objects are not walked, nor lost
            another_process_writes(seeded_db, 3, "Po zamrożeniu")
            await wait_for(pilot, lambda: thread_list.thread_at(0).id == 3)
            assert "Po zamrożeniu" in screen_text(pilot)
    finally:
        gc.enable()
        gc.unfreeze()  # this test process opens many more apps: theirs must stay collectable
