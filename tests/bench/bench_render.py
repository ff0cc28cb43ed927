"""Rendering worst cases, timed here rather than asserted in the suite (tests/ only checks what is drawn):
sanitising a megabyte of hostile text, laying out 2,000 messages, jumping to the end of 100,000 threads, and
opening a thread whose one line is a megabyte long."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from app.wabox_app import WaboxApp
from core.text import printable
from tests.app.helpers import AGENT, NOW, seed, settle
from tests.app.test_inbox_live import another_process_writes
from tests.widgets.test_thread_list import ListApp
from tests.widgets.test_thread_pane import NOW as PANE_NOW
from tests.widgets.test_thread_pane import THREAD, PaneApp, message
from widgets.thread_pane import ThreadPane


def sanitise_a_megabyte() -> float:
    big = ("x" * 1000 + "\x1b[31m\u202e") * 1000
    started = time.perf_counter()
    printable(big)
    return time.perf_counter() - started


async def lay_out_two_thousand_messages() -> float:
    app = PaneApp()
    async with app.run_test(size=(100, 40)) as pilot:
        messages = [message(i) for i in range(2000)]
        started = time.perf_counter()
        app.query_one(ThreadPane).show_thread(THREAD, messages, more_before=False, now=PANE_NOW)
        await pilot.pause()
        return time.perf_counter() - started


async def jump_to_the_end_of_a_hundred_thousand_threads() -> float:
    app = ListApp(100_000)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        started = time.perf_counter()
        await pilot.press("G")
        await pilot.pause()
        await pilot.pause()
        return time.perf_counter() - started


async def open_a_thread_with_a_megabyte_line(db: Path) -> float:
    another_process_writes(db, 1, "A" * 1_000_000 + "[b]end")
    app = WaboxApp(db, agent=AGENT, clock=lambda: NOW)
    async with app.run_test(size=(160, 44)) as pilot:
        await settle(pilot)
        started = time.perf_counter()
        await pilot.press("enter")
        await settle(pilot)
        return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = seed(Path(tmp) / "wabox.db")
        figures = {
            "printable() on 1 MB of text with escapes (ms)": sanitise_a_megabyte(),
            "thread pane: lay out and draw 2,000 messages (ms)": asyncio.run(lay_out_two_thousand_messages()),
            "thread list: G on 100,000 rows (ms)": asyncio.run(jump_to_the_end_of_a_hundred_thousand_threads()),
            "inbox: open a thread whose last line is 1 MB (ms)": asyncio.run(open_a_thread_with_a_megabyte_line(db)),
        }
    for name, seconds in figures.items():
        print(f"  {name}: {seconds * 1000:.0f}")


if __name__ == "__main__":
    main()
