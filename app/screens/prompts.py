"""Small modal prompts: attach, new custom view, settings (the assign prompt is in app/screens/team.py)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Static

from app.screens.keys import keys_delivered


class _Prompt(ModalScreen):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class Assignment:
    owner: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class Attachment:
    path: str
    caption: str


class AttachPrompt(_Prompt):
    """`kept`: the file picked for this thread earlier and not sent (refused, or the agent left). enter is a
    priority binding and focus moves with set_focus (not the deferred Widget.focus): a caption typed right after
    the path's enter lands in the caption field however loaded the machine is."""

    BINDINGS = [Binding("enter", "next", "Next field / attach", priority=True)]

    def __init__(self, kept: Attachment | None = None) -> None:
        super().__init__()
        self.kept = kept

    def compose(self) -> ComposeResult:
        kept = self.kept
        with Vertical(classes="prompt"):
            yield Static(Content.styled("Attach a file (checked against WhatsApp's limits before queueing)", "bold"))
            yield Input(kept.path if kept else "", placeholder="path to the file", id="attach-path")
            yield Input(kept.caption if kept else "", placeholder="caption (optional)", id="attach-caption")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#attach-path", Input))

    async def action_next(self) -> None:
        await keys_delivered(self.focused)
        caption = self.query_one("#attach-caption", Input)
        if self.focused is not caption:
            self.set_focus(caption)
            return
        path = self.query_one("#attach-path", Input).value.strip()
        self.dismiss(Attachment(path, caption.value) if path else None)


@dataclass(frozen=True)
class NewView:
    name: str
    filters: dict


class NewViewPrompt(_Prompt):
    """F5: a custom view from filters; comma-separated lists where a filter takes several values."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt"):
            yield Static(Content.styled("New view", "bold"))
            yield Input(placeholder="name", id="view-name")
            yield Input(placeholder="source (e.g. whatsapp)", id="view-source")
            yield Input(placeholder="connected number ids, comma-separated", id="view-channel")
            yield Input(placeholder="owner: agent names, 'me', or 'none' for unassigned", id="view-owner")
            yield Input(placeholder="team names, comma-separated", id="view-team")
            yield Input(placeholder="status: open / closed / any", id="view-status")
            with Horizontal(classes="prompt-checks"):
                yield Checkbox("unread only", id="view-unread")
                yield Checkbox("has attachment", id="view-attachment")
            yield Static(Content.styled("enter: next field · ctrl+s: create · esc: cancel", "dim"))

    BINDINGS = [Binding("ctrl+s", "create", "Create view")]

    @on(Input.Submitted)
    def _next(self) -> None:
        self.focus_next()

    def action_create(self) -> None:
        def listed(widget_id: str) -> list[str]:
            return [v.strip() for v in self.query_one(widget_id, Input).value.split(",") if v.strip()]

        name = self.query_one("#view-name", Input).value.strip()
        if not name:
            self.notify("A view needs a name.", severity="warning", markup=False)
            return
        filters: dict = {}
        if source := listed("#view-source"):
            filters["source"] = [s.lower() for s in source]
        if channel := listed("#view-channel"):
            filters["channel"] = channel
        if owner := listed("#view-owner"):
            filters["owner"] = None if owner == ["none"] else owner
        if team := listed("#view-team"):
            filters["team"] = team
        status = self.query_one("#view-status", Input).value.strip().lower()
        if status in ("open", "closed"):
            filters["status"] = status
        if self.query_one("#view-unread", Checkbox).value:
            filters["unread"] = True
        if self.query_one("#view-attachment", Checkbox).value:
            filters["has_attachment"] = True
        self.dismiss(NewView(name, filters))


class SettingsScreen(_Prompt):
    """F21: each notification can be turned off; saved per agent in the database."""

    BINDINGS = [Binding("escape", "cancel", "Close")]

    def __init__(self, settings: dict[str, bool]) -> None:
        super().__init__()
        self.settings = dict(settings)

    LABELS = (("notify.toast", "Toast"), ("notify.bell", "Terminal bell (when no desktop notification)"),
              ("notify.desktop", "Desktop notification through the terminal (OSC 9 / 777 / 99)"),
              ("notify.mine", "Messages in my threads"), ("notify.queue", "Messages in my teams' unassigned threads"),
              ("notify.mention", "Notes that mention me"), ("notify.assigned", "Threads assigned to me"))

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt"):
            yield Static(Content.styled("Settings: how, and for what, you are notified", "bold"))
            for key, label in self.LABELS:
                yield Checkbox(label, self.settings.get(key, True), id=key.replace(".", "-"))
            yield Static(Content.styled("space: toggle · esc: close (saved as you go)", "dim"))

    @on(Checkbox.Changed)
    def _changed(self, event: Checkbox.Changed) -> None:
        key = (event.checkbox.id or "").replace("-", ".", 1)
        if key in dict(self.LABELS):
            self.settings[key] = event.value

    def action_cancel(self) -> None:
        self.dismiss(self.settings)
