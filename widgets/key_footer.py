"""The footer of key hints: one line of text, drawn again only when the keys it shows change.

Textual's Footer is ~25 widgets (one per key) that it removes and mounts again, with a full layout and a full-screen
frame, on every binding refresh — every focus change: ~55 ms an action on the 2-core machine, a third of a view
switch (issue 12). The inbox's footer changes with the focused pane, so the keys change often; drawing them as one
line costs what a line costs.
"""

from __future__ import annotations

from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget


class KeyFooter(Widget):
    COMPONENT_CLASSES = {"key-footer--key", "key-footer--disabled"}
    DEFAULT_CSS = """
    KeyFooter { dock: bottom; height: 1; background: $footer-background; color: $footer-description-foreground; }
    KeyFooter > .key-footer--key { color: $footer-key-foreground; text-style: bold; }
    KeyFooter > .key-footer--disabled { color: $text-disabled; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._keys: tuple[tuple[str, str, bool], ...] = ()
        self._palette: tuple[str, str] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._bindings_changed, self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is not self.screen or not self.is_attached:
            return
        keys: dict[str, tuple[str, str, bool]] = {}  # one hint per action, its first key (as Footer shows them)
        palette = None
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if key == self.app.COMMAND_PALETTE_BINDING and self.app.ENABLE_COMMAND_PALETTE:
                palette = (self.app.get_key_display(binding), binding.description)
            elif binding.show and binding.action not in keys:
                keys[binding.action] = (self.app.get_key_display(binding), binding.description, active.enabled)
        shown = (tuple(keys.values()), palette)
        if shown != (self._keys, self._palette):
            self._keys, self._palette = shown
            self.refresh()

    def render(self) -> Content:
        key_style = self.get_visual_style("key-footer--key", partial=True)
        disabled = self.get_visual_style("key-footer--disabled", partial=True)
        left = Content.assemble(*(part for n, (key, description, enabled) in enumerate(self._keys) for part in (
            (f"{' ' if n else ''}{key}", key_style if enabled else disabled),
            (f" {description}", None if enabled else disabled))))
        right = Content.assemble(("▏", None), (self._palette[0], key_style), (f" {self._palette[1]}", None)) \
            if self._palette else Content("")
        room = max(self.size.width - right.cell_length, 0)
        left = left.truncate(room, ellipsis=True) if left.cell_length > room else left
        return left.pad_right(room - left.cell_length).append(right)
