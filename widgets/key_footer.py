"""The footer of key hints, rebuilt only when the keys it shows change.

Textual's Footer rebuilds all of its ~25 key widgets (compose, restyle, relayout) on every binding refresh, and
Textual refreshes bindings on every focus change, every key that moves focus and every `refresh_bindings()`:
~55 ms an action on the 2-core machine, a third of a view switch. Most of those refreshes show the same keys.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    _shown: tuple | None = None

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)  # when Footer would recompose, with what it would show

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:
            return
        shown = self._keys(self.screen)
        if shown != self._shown:
            self._shown = shown
            await self.recompose()

    @staticmethod
    def _keys(screen: Screen) -> tuple:
        """What compose() draws from the bindings: each shown key, its label, and whether it is enabled."""
        return tuple((key, b.binding.action, b.binding.description, b.binding.show, b.enabled, b.tooltip)
                     for key, b in screen.active_bindings.items() if b.binding.show)
