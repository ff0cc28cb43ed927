"""Python's full garbage collections made short: the objects alive once the first screen is up are frozen.

A full collection walks every object the process tracks: ~90k once the inbox shows its first screen, 30 ms on a
quiet core and 60-90 ms on a busy one, in the middle of whatever frame is due — the tail of "a webhook's message on
screen" (issue 12). Those objects (modules, widgets, styles, the first page) live as long as the program, so they are
frozen (`gc.freeze`): a full collection then walks only what came after (~2 ms). For the `wabox` program only: a
test process opens hundreds of apps, whose frozen objects would never be freed.
"""

from __future__ import annotations

import asyncio
import gc


async def freeze_when_ready(ready: asyncio.Event) -> None:
    await ready.wait()
    gc.freeze()
