"""Python's garbage collector kept out of the inbox's start and its frames.

Start-up: everything the program allocates before its first screen (modules, widgets, styles, the first page) lives
as long as the program, yet the collector walks it again and again as it grows: ~170 collections, ~40 ms of a
~0.45 s cold start. So the `wabox` program starts with collections off (`hold_collections`) and turns them back on
once the first screen is drawn, after one collection of what the start-up left unreachable (~750 objects, 3-4 ms).

Frames: a full collection walks every object the process tracks (~90k with the inbox up), 30 ms on a quiet core and
60-90 ms on a busy one, in the middle of whatever frame is due — the tail of "a webhook's message on screen" (issue
12). The start-up's objects are therefore frozen (`gc.freeze`): a full collection then walks only what came after
(~2 ms). For the `wabox` program only: a test process opens hundreds of apps, whose frozen objects would never be
freed.
"""

from __future__ import annotations

import asyncio
import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `wabox` main imports this module for every command: `wabox serve` never loads Textual
    from textual.screen import Screen


def hold_collections() -> None:
    """No collection until `collect_and_freeze` (the program's own start only; `wabox` main turns them back on
    for any command that opens no inbox)."""
    gc.disable()


async def collect_and_freeze(screen: Screen, ready: asyncio.Event) -> None:
    """Once `ready` (the first rows are in) and the screen drawn: collect the start-up's garbage, freeze what
    lives on, and collect as usual from then on."""
    await ready.wait()
    await screen.wait_for_refresh()  # the first screen is painted before the collection's few ms
    gc.collect()
    gc.freeze()
    gc.enable()
