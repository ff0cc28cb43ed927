"""The composer (F7, F8, F22): a multi-line reply with the session's time left always in view.

Keys: enter sends, ctrl+j (or shift+enter where the terminal reports it) starts a new line, ctrl+o switches the
channel (the contact's connected numbers, then "Internal note"), ctrl+e writes in $EDITOR; escape (the screen's
key) goes back to the list. When the session has expired, the text area gives way to a hint: only a template can be
sent (r or t opens the template picker); an internal note (N) can still be written.

The composer is bound to one thread at a time (`bind`): what it holds is that thread's draft, every change is
announced as that thread's draft (`DraftChanged`), and a send carries that thread's id and the draft's client key.
A second submit of a compose still in flight is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.style import Style
from textual.widgets import Static, TextArea

from core import policy
from core.model import Draft
from widgets.literal import literal


@dataclass(frozen=True)
class ComposeTarget:
    """Where the text goes: the customer on one of our numbers, or an internal note on the open thread."""

    thread_id: int
    to: str = ""  # the customer: name and number (their text: drawn literally)
    via: str = ""  # our number it goes from
    note: bool = False
    expires_at: int | None = None  # when the 24-hour session closes
    refused: str | None = None  # why a free-form message would be refused (core's rules); None = it may go
    opens: bool = False  # a free-form message would open a new counted conversation

    def session(self, now: float) -> str:
        return policy.format_session_left(0 if self.expires_at is None else int(self.expires_at - now))


class ReplyArea(TextArea):
    """A TextArea where enter sends instead of breaking the line."""

    # Shown in the footer while the composer has focus, and in the help screen (`?`).
    BINDINGS = [
        Binding("enter", "submit", "Send", tooltip="Send it (or keep the internal note)"),
        Binding("ctrl+j,shift+enter", "newline", "New line", tooltip="A line break in the message"),
        Binding("ctrl+o", "switch_channel", "Channel",
                tooltip="Another of the contact's connected numbers, or an internal note"),
        Binding("ctrl+e", "editor", "Editor", tooltip="Write in $VISUAL / $EDITOR (the inbox suspends)"),
        Binding("ctrl+r", "saved_reply", "Saved reply",
                tooltip="Insert a saved reply: fuzzy search, variables filled in (ctrl+e in the picker edits one)"),
    ]

    @dataclass
    class Submitted(Message):
        pass

    @dataclass
    class ChannelSwitched(Message):
        pass

    @dataclass
    class EditorWanted(Message):
        pass

    @dataclass
    class SavedReplyWanted(Message):
        pass

    async def _on_key(self, event: events.Key) -> None:
        # TextArea takes every key in its own handler, before bindings are looked at: ours go first.
        action = _REPLY_KEYS.get(event.key)
        if action is not None:
            event.stop()
            event.prevent_default()
            await self.run_action(action)
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        self.post_message(self.Submitted())

    def action_newline(self) -> None:
        self.insert("\n")

    def action_switch_channel(self) -> None:
        self.post_message(self.ChannelSwitched())

    def action_editor(self) -> None:
        self.post_message(self.EditorWanted())

    def action_saved_reply(self) -> None:
        self.post_message(self.SavedReplyWanted())


_REPLY_KEYS = {binding.key: binding.action for binding in Binding.make_bindings(ReplyArea.BINDINGS)}


class Composer(Vertical):
    can_focus = False
    target_index: reactive[int] = reactive(0, init=False)
    # Looks live in the stylesheet (themes apply), not in colour strings here.
    COMPONENT_CLASSES = {"composer--open", "composer--closed", "composer--note", "composer--dim",
                         "composer--warning"}
    DEFAULT_CSS = """
    Composer > .composer--open { color: $success; text-style: bold; }
    Composer > .composer--closed { color: $error; text-style: bold; }
    Composer > .composer--note { color: $accent; text-style: bold; }
    Composer > .composer--dim { color: $text-muted; }
    Composer > .composer--warning { color: $text; text-style: bold; }
    """

    @dataclass
    class Send(Message):
        thread_id: int  # the thread the composer was bound to when enter was pressed
        target: ComposeTarget
        text: str
        client_key: str

    @dataclass
    class DraftChanged(Message):
        draft: Draft

    @dataclass
    class TemplateWanted(Message):
        thread_id: int
        target: ComposeTarget

    @dataclass
    class EditorWanted(Message):
        thread_id: int
        text: str

    @dataclass
    class SavedReplyWanted(Message):
        thread_id: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.thread_id: int | None = None
        self.targets: list[ComposeTarget] = []
        self.quota = ""
        self.now = 0.0
        self._draft: Draft | None = None  # the bound thread's draft as last loaded or changed
        self._in_flight: set[str] = set()  # client keys of sends not answered yet

    def compose(self) -> ComposeResult:
        yield Static(Content(""), id="composer-status")
        yield ReplyArea(id="reply", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        yield Static(Content(""), id="composer-closed")

    # ---- attributes down --------------------------------------------------------------------------------------
    def bind(self, draft: Draft) -> Draft | None:
        """Hold `draft`'s thread from now on; returns the draft of the thread held until now (as typed)."""
        previous = self.draft() if self.thread_id is not None else None
        self.thread_id, self._draft, self.targets = draft.thread_id, draft, []
        self._load_text()
        self._redraw()
        return previous

    def show_targets(self, thread_id: int, targets: list[ComposeTarget], *, quota: str, now: float) -> None:
        """Where the bound thread's reply can go (this thread first, "Internal note" last)."""
        if thread_id != self.thread_id or self._draft is None:
            return  # an answer for a thread the agent has left
        keep = self.target if self.targets else None
        self.targets, self.quota, self.now = targets, quota, now
        draft = self._draft
        wanted = (keep.note, keep.thread_id) if keep else (draft.mode == "note", draft.target_thread or thread_id)
        index = next((i for i, t in enumerate(targets) if (t.note, t.thread_id) == wanted),
                     next((i for i, t in enumerate(targets) if t.note == wanted[0]), 0))
        self.set_reactive(Composer.target_index, index)  # the draft already says which text goes with it
        self._redraw()

    def tick(self, now: float) -> None:
        self.now = now
        self._redraw()

    def finish_send(self, client_key: str, sent: Draft | None) -> None:
        """The send under `client_key` was answered; `sent` is the thread's draft after it (None: refused)."""
        self._in_flight.discard(client_key)
        if sent is not None and sent.thread_id == self.thread_id:
            self._draft = sent
            self._load_text()

    def load_text(self, text: str) -> None:
        """Replace what is written (from the editor hand-off)."""
        self.area.load_text(text)
        self._changed()

    # ---- state up ---------------------------------------------------------------------------------------------
    def draft(self) -> Draft | None:
        """The bound thread's draft as it stands, with what is in the text area now."""
        if self._draft is None:
            return None
        target = self.target
        note = target.note if target else self._draft.mode == "note"
        text = self.area.text
        channel = target.thread_id if target and not target.note and target.thread_id != self.thread_id else (
            None if target else self._draft.target_thread)
        return replace(self._draft, mode="note" if note else "reply", target_thread=channel,
                       **({"note_text": text} if note else {"reply_text": text}))

    @property
    def target(self) -> ComposeTarget | None:
        return self.targets[self.target_index] if 0 <= self.target_index < len(self.targets) else None

    @property
    def session_closed(self) -> bool:
        target = self.target
        return target is not None and not target.note and target.refused is not None

    @property
    def area(self) -> ReplyArea:
        return self.query_one(ReplyArea)

    def use_note(self) -> None:
        """Switch to the internal note (the last target)."""
        if self.targets:
            self.target_index = len(self.targets) - 1

    def switch_channel(self) -> None:
        if self.targets:
            self.target_index = (self.target_index + 1) % len(self.targets)

    def watch_target_index(self, old: int, new: int) -> None:
        was = self.targets[old].note if 0 <= old < len(self.targets) else None
        if self._draft is not None and was is not None and was != self.target.note:  # type: ignore[union-attr]
            # A note and a reply are two texts: the note never turns into a message to the customer.
            self._draft = replace(self._draft, **({"note_text": self.area.text} if was
                                                  else {"reply_text": self.area.text}))
            self._draft = replace(self._draft, mode="note" if self.target.note else "reply")  # type: ignore[union-attr]
            self._load_text()
        self._redraw()
        self._changed()

    # ---- drawing ----------------------------------------------------------------------------------------------
    def _load_text(self) -> None:
        draft = self._draft
        text = "" if draft is None else (draft.note_text if draft.mode == "note" else draft.reply_text)
        if self.area.text != text:
            self.area.load_text(text)
        self.area.move_cursor(self.area.document.end)

    def _redraw(self) -> None:
        target = self.target
        look = self._looks()
        status = self.query_one("#composer-status", Static)
        closed_hint = self.query_one("#composer-closed", Static)
        if target is None:  # bound, its rules not read yet: the look stays (a new one lays out the screen again)
            status.update(Content.styled("No thread open" if self.thread_id is None else "Loading…", look["dim"]),
                          layout=False)
            closed_hint.update(Content(""), layout=False)  # the last thread's notice is not this one's
            return
        if target.note:
            text = Content.assemble(("[note] Internal note", look["note"]),
                                    (" on this thread: agents only  ctrl+o switch", look["dim"]))
        else:
            session = target.session(self.now)
            badge = (f"[{session} left]", look["open"]) if target.refused is None and session != "closed" else (
                "[session expired]", look["closed"])  # "closed" is a thread's status, never a session's
            hint = "  ctrl+o switch channel" if len(self.targets) > 1 else ""
            opens = " · a reply opens a new conversation" if target.opens and target.refused is None else ""
            text = Content.assemble(badge, (" To ", look["dim"]), literal(target.to, limit=80, keep_newlines=False),
                                    (" via ", look["dim"]), literal(target.via, keep_newlines=False),
                                    (f"  quota {self.quota}{opens}" if self.quota else "", look["dim"]),
                                    (hint, look["dim"]))
        status.update(text, layout=False)  # fixed heights (styles.tcss): new words, no new layout
        closed = self.session_closed
        self.set_class(closed, "-session-closed")
        self.set_class(bool(target and target.note), "-note")
        closed_hint.update(Content.assemble(
            ("The 24-hour session has expired: only an approved template can be sent. ", look["warning"]),
            "Press t (or r) to pick one, N for an internal note.") if closed else Content(""), layout=False)
        self.area.display = not closed
        closed_hint.display = closed

    def _looks(self) -> dict[str, Style]:
        return {name: self.get_visual_style(f"composer--{name}", partial=True)
                for name in ("open", "closed", "note", "dim", "warning")}

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:
            self._redraw()  # a new theme: the status line takes its colours

    # ---- events -----------------------------------------------------------------------------------------------
    def _changed(self) -> None:
        draft = self.draft()
        if draft is not None:
            self.post_message(self.DraftChanged(draft))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._changed()

    def on_reply_area_submitted(self, event: ReplyArea.Submitted) -> None:
        event.stop()
        target, draft = self.target, self.draft()
        if target is None or draft is None or self.thread_id is None:
            return  # nothing bound, or its targets are still loading: nothing can be sent yet
        if self.session_closed:
            self.post_message(self.TemplateWanted(self.thread_id, target))
            return
        text = self.area.text
        if not text.strip() or draft.client_key in self._in_flight:
            return  # empty, or this very compose is already on its way
        self._in_flight.add(draft.client_key)
        self.post_message(self.Send(self.thread_id, target, text, draft.client_key))

    def on_reply_area_channel_switched(self, event: ReplyArea.ChannelSwitched) -> None:
        event.stop()
        self.switch_channel()

    def on_reply_area_saved_reply_wanted(self, event: ReplyArea.SavedReplyWanted) -> None:
        event.stop()
        if self.thread_id is not None:
            self.post_message(self.SavedReplyWanted(self.thread_id))

    def on_reply_area_editor_wanted(self, event: ReplyArea.EditorWanted) -> None:
        event.stop()
        if self.thread_id is not None:
            self.post_message(self.EditorWanted(self.thread_id, self.area.text))
