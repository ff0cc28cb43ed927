"""`?`: every key, grouped by the pane it works in, built from the BINDINGS of the classes that own them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from app.screens.keys import HELP_PANES, KeyRow, key_rows


def sections(app_bindings: list, screen_bindings: list, pane_bindings: dict[str, list]) -> list[tuple[str, list[KeyRow]]]:
    """(title, rows) in the order an agent meets them: anywhere, the list, the open thread, then the modals."""
    in_list, in_thread = set(HELP_PANES["list"]), set(HELP_PANES["thread"])
    anywhere = key_rows(app_bindings) + key_rows(screen_bindings, skip=in_list | in_thread)
    return [
        ("Anywhere", anywhere),
        ("Thread list", key_rows(pane_bindings["list"]) + key_rows(screen_bindings, only=in_list)),
        ("Views (sidebar)", key_rows(pane_bindings["views"])),
        ("Open thread", key_rows(pane_bindings["thread"])
         + key_rows(screen_bindings, only=in_thread)),
        ("Composer", key_rows(pane_bindings["composer"])),
        ("Template picker", key_rows(pane_bindings["template"])),
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", tooltip="Close the help")]

    def __init__(self, groups: list[tuple[str, list[KeyRow]]]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(Content.assemble(("Keys", "bold"), ("   esc or ? closes · ctrl+p finds any action by name",
                                                             "dim")), id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(self._text(), id="help-keys")

    def _text(self) -> Content:
        lines: list[Content] = []
        for title, rows in self.groups:
            if not rows:
                continue
            lines += [Content(""), Content.styled(title, "bold underline")]
            for row in rows:
                keys = " / ".join(self.app.get_key_display(Binding(key, "")) for key in row.keys)
                tip = f" — {row.tooltip}" if row.tooltip and row.tooltip != row.description else ""
                lines.append(Content.assemble((f"  {keys:<18} ", "bold"), row.description, (tip, "dim")))
        return Content("\n").join(lines[1:])

    def action_close(self) -> None:
        self.dismiss(None)
