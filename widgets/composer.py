"""The composer (F7, F8, F22): a multi-line reply with the session's time left always in view.

Keys: enter sends, ctrl+j (or shift+enter where the terminal reports it) starts a new line, ctrl+o switches the
channel (the contact's connected numbers, then "Internal note"), ctrl+e writes in $EDITOR, escape goes back to
the list. When the session is closed, the text area gives way to a hint: only a template can be sent (r or t opens
the template picker); an internal note (N) can still be written.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static, TextArea

from widgets.literal import literal


@dataclass(frozen=True)
class ComposeTarget:
    """Where the text goes: a thread on one of our numbers, or an internal note (thread_id of the open thread)."""

    label: str  # e.g. "+1 555 0100" or "Internal note"; our own text, not the customer's
    thread_id: int
    note: bool = False
    session: str = "closed"  # "23h", "12m", ... or "closed"


class ReplyArea(TextArea):
    """A TextArea where enter sends instead of breaking the line."""

    @dataclass
    class Submitted(Message):
        text: str

    @dataclass
    class Escaped(Message):
        pass

    @dataclass
    class Command(Message):
        key: str

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self.text))
            return
        if event.key in ("ctrl+j", "shift+enter"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.key in ("escape", "ctrl+o", "ctrl+e"):
            event.stop()
            event.prevent_default()
            self.post_message(self.Escaped() if event.key == "escape" else self.Command(event.key))
            return
        await super()._on_key(event)


class Composer(Vertical):
    can_focus = False
    target_index: reactive[int] = reactive(0, init=False)

    @dataclass
    class Send(Message):
        text: str
        target: ComposeTarget

    @dataclass
    class TemplateWanted(Message):
        target: ComposeTarget

    @dataclass
    class EditorWanted(Message):
        text: str

    @dataclass
    class Leave(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.targets: list[ComposeTarget] = []
        self.quota = ""

    def compose(self) -> ComposeResult:
        yield Static(Content(""), id="composer-status")
        yield ReplyArea(id="reply", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        yield Static(Content(""), id="composer-closed")

    def show_targets(self, targets: list[ComposeTarget], *, quota: str, keep: bool = False) -> None:
        current = self.target if keep else None
        self.targets, self.quota = targets, quota
        labels = [t.label for t in targets]
        index = labels.index(current.label) if current and current.label in labels else 0
        self.target_index = index
        self._redraw()

    @property
    def target(self) -> ComposeTarget | None:
        return self.targets[self.target_index] if 0 <= self.target_index < len(self.targets) else None

    @property
    def session_closed(self) -> bool:
        target = self.target
        return target is not None and not target.note and target.session == "closed"

    @property
    def area(self) -> ReplyArea:
        return self.query_one(ReplyArea)

    def watch_target_index(self) -> None:
        self._redraw()

    def switch_channel(self) -> None:
        if self.targets:
            self.target_index = (self.target_index + 1) % len(self.targets)

    def _redraw(self) -> None:
        target = self.target
        status = self.query_one("#composer-status", Static)
        if target is None:
            status.update(Content.styled("No thread open", "dim"))
        else:
            badge = ("note", "magenta") if target.note else (
                (f"{target.session} left", "green") if target.session != "closed" else ("session closed", "red"))
            hint = "  ctrl+o switch channel" if len(self.targets) > 1 else ""
            status.update(Content.assemble(("To ", "dim"), literal(target.label, keep_newlines=False),
                                           "  ", (f"[{badge[0]}]", f"bold {badge[1]}"),
                                           (f"  quota {self.quota}" if self.quota else "", "dim"), (hint, "dim")))
        closed = self.session_closed
        self.set_class(closed, "-session-closed")
        self.set_class(bool(target and target.note), "-note")
        self.query_one("#composer-closed", Static).update(Content.assemble(
            ("The 24-hour session is closed: only an approved template can be sent. ", "bold"),
            ("Press t (or r) to pick one, N for an internal note.", "")) if closed else Content(""))
        self.area.display = not closed
        self.query_one("#composer-closed", Static).display = closed

    def clear(self) -> None:
        self.area.clear()

    def on_reply_area_submitted(self, event: ReplyArea.Submitted) -> None:
        event.stop()
        target = self.target
        if target is None:
            return
        if self.session_closed:
            self.post_message(self.TemplateWanted(target))
        elif event.text.strip():
            self.post_message(self.Send(event.text, target))

    def on_reply_area_escaped(self, event: ReplyArea.Escaped) -> None:
        event.stop()
        self.post_message(self.Leave())

    def on_reply_area_command(self, event: ReplyArea.Command) -> None:
        event.stop()
        if event.key == "ctrl+o":
            self.switch_channel()
        else:
            self.post_message(self.EditorWanted(self.area.text))
