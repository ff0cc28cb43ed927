"""One frame per action: the screen's frames are held from an action's key until the list it asked for is shown.

Switching view or applying a search moves the focus at once (the next key must go to the list), and the focus
restyles the sidebar, the list and the footer. Drawn as soon as it happens, that frame keeps the event loop busy
while the new rows are already read, and the rows then wait for a second frame: the agent sees the new list one frame
later. Held until the rows are in (at most LIMIT seconds, should a read be slow), both are drawn in one frame. The
first screen is held the same way until its first rows are in: otherwise Textual lays out and draws it again as
each of its widgets mounts, a dozen frames before the one with the rows.

Textual suppresses only the output while held: a layout (the first one, a focus move that restyles) still composes
its frame in full, and throws it away. A HeldScreen composes nothing while held; the frame at the release has it all.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from textual.app import App
from textual.screen import Screen, ScreenResultType
from textual.timer import Timer

LIMIT = 0.1  # seconds: a slow read shows the focus moving after this, and its rows when they come


class FrameHold:
    def __init__(self, app: App) -> None:
        self.app = app
        self._batch: AbstractContextManager | None = None
        self._timer: Timer | None = None

    def hold(self) -> None:
        """From now until `release` (or LIMIT): no frame is drawn."""
        if self._batch is None:
            self._batch = self.app.batch_update()
            self._batch.__enter__()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.app.set_timer(LIMIT, self.release, name="frame-hold")

    def release(self) -> None:
        """Draw what changed meanwhile, in one frame."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._batch is not None:
            batch, self._batch = self._batch, None
            batch.__exit__(None, None, None)
            if self.app.screen_stack:  # (none left when the app is quitting)
                self.app.screen.check_idle()  # the screen's frame timer paused while held: it looks again


class HeldScreen(Screen[ScreenResultType]):
    """A screen whose frames a FrameHold holds: none is composed until the release."""

    def _compositor_refresh(self) -> None:  # Textual's layout asks for a frame even while updates are held
        if self.app._batch_count:
            self._repaint_required = True  # the release draws it (FrameHold.release wakes the screen)
            return
        super()._compositor_refresh()
