"""The open thread: messages drawn as lines (Line API), never one widget per message.

2,000 `Static` widgets took ~3 s to mount; this pane lays out the loaded page of messages into lines once per width
and draws the visible ones. A thread just opened lays out only its newest two screens (one frame's work); the rest
of the page when the agent goes up to it. Scrolling to the top of the page asks for older messages (`OlderWanted`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from core.model import Activity, ChatMessage, DeliveryStatus, Direction, MessageType, ThreadSummary, MEDIA_TYPES
from widgets.formatting import exact_time, file_size, short_time
from widgets.literal import literal

BODY_LIMIT = 20_000  # characters of one message drawn in the pane; a 1 MB line would take seconds to wrap
STATUS_MARK = {
    DeliveryStatus.QUEUED: ("◷ queued", "yellow"),
    DeliveryStatus.SENT: ("✓ sent", "dim"),
    DeliveryStatus.DELIVERED: ("✓✓ delivered", "dim"),
    DeliveryStatus.READ: ("✓✓ read", "cyan"),
    DeliveryStatus.PLAYED: ("✓✓ played", "cyan"),
    DeliveryStatus.FAILED: ("✗ failed", "bold red"),
}


def _payload(message: ChatMessage) -> dict:
    try:
        data = json.loads(message.payload or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class ThreadPane(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"thread-pane--media-failed"}
    BINDINGS = [
        Binding("j,down", "select_next", "Next message", show=False),
        Binding("k,up", "select_previous", "Previous message", show=False),
        Binding("g,home", "select_first", show=False),
        Binding("G,end", "select_last", show=False),
    ]

    selected: reactive[int] = reactive(-1, always_update=True)
    show_metadata: reactive[bool] = reactive(False)

    @dataclass
    class OlderWanted(Message):
        before_id: int

    @dataclass
    class MessageSelected(Message):
        message: ChatMessage | None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.thread: ThreadSummary | None = None
        self.messages: list[ChatMessage] = []
        self.more_before = False
        self.revealed: set[int] = set()
        self.now = 0.0
        self.our_number = ""
        self.media_keys = ""  # "O view · S save": the screen's real keys for a media message
        self.activity: list[Activity] = []  # drawn among the messages, by time
        self._lines: list[tuple[int, Content]] = []  # (message index or -1, line)
        self._starts: list[int] = []  # first line of each message
        self._width = 0
        self._partial = False  # only the newest messages are laid out yet (a thread just opened)
        self._first = 0  # the oldest message laid out
        self._strips: LRUCache[tuple, Strip] = LRUCache(1024)  # drawn lines, until the next layout
        self._style = Style()

    # ---- attributes down --------------------------------------------------------------------------------------
    def show_thread(self, thread: ThreadSummary | None, messages: list[ChatMessage], *, more_before: bool,
                    now: float, our_number: str = "", keep_selection: bool = False,
                    activity: Sequence[Activity] = ()) -> None:
        same = self.thread is not None and thread is not None and self.thread.id == thread.id
        previous_id = self.current.id if (same and keep_selection and self.current) else None
        at_bottom = self.scroll_y >= self.max_scroll_y
        if not same:
            self.revealed.clear()
        self.thread, self.messages, self.more_before, self.now = thread, messages, more_before, now
        self.activity = list(activity)
        self.our_number = our_number
        to_the_end = not same or at_bottom or not keep_selection
        ids = [m.id for m in self.messages]
        selected = ids.index(previous_id) if previous_id in ids else len(self.messages) - 1
        self._relayout(newest_lines=self._two_screens() if to_the_end else None)
        if selected < self._first:  # the agent's message is older than the newest two screens
            self._relayout()
        self.selected = selected
        if to_the_end:
            self.scroll_end(animate=False, immediate=True)

    def prepend(self, older: list[ChatMessage], *, more_before: bool) -> None:
        """Older messages above the loaded ones; the view stays on what the agent was reading."""
        old_height = len(self._lines)
        self.messages = older + self.messages
        self.more_before = more_before
        self._relayout()
        self.selected += len(older)
        self.scroll_to(y=self.scroll_y + len(self._lines) - old_height, animate=False, immediate=True)

    @property
    def current(self) -> ChatMessage | None:
        return self.messages[self.selected] if 0 <= self.selected < len(self.messages) else None

    def reveal(self, message_id: int) -> None:
        self.revealed.add(message_id)
        self._relayout()
        self.selected = self.selected  # keep the revealed message in view

    def watch_show_metadata(self) -> None:
        self._relayout()
        self.selected = self.selected

    # ---- layout: messages -> lines ----------------------------------------------------------------------------
    def _relayout(self, *, newest_lines: int | None = None) -> None:
        """Messages to lines. With `newest_lines`, only the newest messages that fill that many lines (a thread
        just opened shows its end: that is one frame's work; _lay_out_the_rest does the others when wanted)."""
        width = max(self.scrollable_content_region.width, 20)
        self._width = width
        by_wamid = {m.wamid: m for m in self.messages if m.wamid}
        reactions: dict[str, list[ChatMessage]] = {}
        for m in self.messages:  # a customer's newer reaction replaces their older one; "" removes it
            if m.type is MessageType.REACTION and m.context_wamid in by_wamid:
                mine = [r for r in reactions.get(m.context_wamid, []) if r.direction is not m.direction]
                reactions[m.context_wamid] = mine + ([m] if m.text else [])
        per_message: list[list[Content]] = [[] for _ in self.messages]
        first, laid = 0, 0
        for index in range(len(self.messages) - 1, -1, -1):
            message = self.messages[index]
            if not (message.type is MessageType.REACTION and message.context_wamid in by_wamid):
                # a reaction to a message shown here is drawn under it, not on its own
                per_message[index] = [*self._message_lines(message, by_wamid, reactions.get(message.wamid or "", []),
                                                           width), Content("")]
            laid += len(per_message[index])
            if newest_lines is not None and laid >= newest_lines and index > 0:
                first = index
                break
        self._partial, self._first = first > 0, first
        lines: list[tuple[int, Content]] = []
        starts: list[int] = []
        if self.more_before and not self._partial:
            lines.append((-1, Content.styled("  ↑ older messages: scroll up to load", "dim")))
        if self.thread is None:
            lines.append((-1, Content.styled("  No thread open. Pick one with enter.", "dim")))
        elif not self.messages:
            lines.append((-1, Content.styled("  No messages yet.", "dim")))
        events = list(self.activity)
        for index in range(len(self.messages)):
            while events and events[0].at < self.messages[index].timestamp:
                event = events.pop(0)
                if index >= first:  # what happened among messages left out of a first frame waits for them
                    lines.extend((-1, line) for line in self._activity_lines(event, width))
            starts.append(len(lines))
            lines.extend((index, line) for line in per_message[index])
        lines.extend((-1, line) for event in events for line in self._activity_lines(event, width))
        self._lines, self._starts = lines, starts
        self._strips.clear()
        self._set_height(Size(width, len(lines)))

    def _set_height(self, size: Size) -> None:
        """The new number of lines without laying out the screen again (`virtual_size = …` would: ~20 ms at
        160x48). The pane's own size is set by the stylesheet; only a scrollbar shown or hidden needs a layout,
        and setting its display asks for one."""
        self.set_reactive(ScrollView.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def _activity_lines(self, event: Activity, width: int) -> list[Content]:
        """"── 14:02 @ola closed ──": what agents did, between the messages (agent names are ours, details too)."""
        who = f"@{event.agent} " if event.agent and not event.detail.startswith("assigned") else ""
        line = Content.assemble(("── ", "dim"), (short_time(event.at, self.now), "dim"), " ",
                                literal(f"{who}{event.detail}", limit=160, keep_newlines=False).stylize("dim italic"),
                                (" ──", "dim"))
        return [part.pad_left(2) for part in line.wrap(max(width - 2, 10))]

    def _two_screens(self) -> int:
        return 2 * max(self.size.height, 24)

    def _lay_out_the_rest(self) -> None:
        """The older messages a just-opened thread left out, laid out when the agent goes up to them; what is on
        screen stays where it is."""
        if not self._partial:
            return
        old_height = len(self._lines)
        self._relayout()
        self.scroll_to(y=self.scroll_y + len(self._lines) - old_height, animate=False, immediate=True)

    def _message_lines(self, m: ChatMessage, by_wamid: dict[str, ChatMessage], reactions: list[ChatMessage],
                       width: int) -> list[Content]:
        out: list[Content] = []
        outbound = m.direction is Direction.OUT
        indent = 6 if outbound else 0
        room = max(width - indent - 2, 10)
        if m.type is MessageType.NOTE:
            who = Content.assemble(("📝 note by ", "magenta"), literal(m.author or "?", limit=60, keep_newlines=False))
        elif outbound:
            who = Content.assemble(("You", "bold"), (" · ", "dim"),
                                   literal(m.author or "wabox", limit=60, keep_newlines=False))
        else:
            who = Content.assemble((literal(self.thread.contact_name if self.thread else "Customer", limit=60,
                                            keep_newlines=False)).stylize("bold"))
        header = Content.assemble(who, (f"  {short_time(m.timestamp, self.now)}", "dim"))
        if outbound and m.status in STATUS_MARK:
            text, style = STATUS_MARK[m.status]
            header = header.append(Content.styled(f"  {text}", style))
        out.append(header)
        if m.context_wamid and m.type is not MessageType.REACTION:
            quoted = by_wamid.get(m.context_wamid)
            quote = literal((quoted.text or f"[{quoted.type}]") if quoted else "an earlier message", limit=120,
                            keep_newlines=False)
            out.append(Content.assemble(("↳ replying to: ", "dim italic"), quote.stylize("italic")))
        if m.revoked_at:
            out.append(Content.styled("🗑 deleted by the customer", "bold yellow"))
        out.extend(self._body(m, room))
        if m.edited_at:
            out.append(Content.styled(f"(edited {short_time(m.edited_at, self.now)})", "dim italic"))
        if m.status is DeliveryStatus.FAILED:
            title = m.error_title or ""
            if m.error_code is not None:  # Graph's own message already starts "(#131047) …": say the code once
                title = title.removeprefix(f"(#{m.error_code})").strip()
            reason = " — ".join(p for p in (title, m.error_details) if p) or "no reason given"
            code = f"({m.error_code}) " if m.error_code is not None else ""
            out.append(Content.assemble(("✗ ", "bold red"), Content(code), literal(reason, limit=500)
                                        .stylize("red"), ("   press y to retry" if m.retryable else "", "dim")))
        elif m.direction is Direction.IN and m.error_reason:  # Meta could not pass the message on in full
            out.append(Content.assemble(("⚠ ", "bold yellow"), literal(m.error_reason, limit=500).stylize("yellow")))
        if reactions:
            out.append(Content.assemble(("reactions: ", "dim"),
                                        literal(" ".join(r.text for r in reactions), limit=80,
                                                keep_newlines=False)))
        if self.show_metadata:
            out.extend(self._metadata(m))
        wrapped: list[Content] = []
        for line in out:
            for part in line.wrap(room) or [Content("")]:
                wrapped.append(part.pad_left(indent + 2))
        return wrapped

    def _body(self, m: ChatMessage, room: int) -> list[Content]:
        if m.quarantined and m.id not in self.revealed:
            reason = literal(m.quarantine_reason or "looks unsafe", limit=200, keep_newlines=False)
            return [Content.assemble(("⛔ Hidden: ", "bold yellow"), reason,
                                     (" — press R to reveal it deliberately", "dim"))]
        lines: list[Content] = []
        if m.type in MEDIA_TYPES:
            name = literal(m.file_name, limit=200, keep_newlines=False) if m.file_name else Content("")
            here = bool(m.media_path) or m.direction is Direction.OUT
            keys = f"  ({self.media_keys})" if here and self.media_keys else ""
            lines.append(Content.assemble(("📎 ", ""), (str(m.type), "bold"), f" · {file_size(m.file_size)} ",
                                          name, ("" if here or m.media_error else " · not downloaded yet", "dim"),
                                          (keys, "dim")))
            if m.media_error and not m.media_path:
                lines.append(Content.assemble(("✗ download failed: ", ""), literal(m.media_error, limit=300),
                                              (" — trying again" if m.media_retrying else " — wabox will not retry",
                                               "")).stylize(self.get_visual_style("thread-pane--media-failed",
                                                                                  partial=True)))
        elif m.type is MessageType.LOCATION:
            loc = _payload(m).get("location", {})
            loc = loc if isinstance(loc, dict) else {}
            place = " ".join(str(loc.get(k, "")) for k in ("name", "address") if loc.get(k))
            lines.append(Content.assemble(("📍 location ", "bold"),
                                          Content(f"{loc.get('latitude', '?')}, {loc.get('longitude', '?')} "),
                                          literal(place, limit=300, keep_newlines=False)))
        elif m.type is MessageType.CONTACTS:
            cards = _payload(m).get("contacts", [])
            for card in cards if isinstance(cards, list) else []:
                if not isinstance(card, dict):
                    continue
                name = card.get("name", {})
                formatted = name.get("formatted_name", "?") if isinstance(name, dict) else "?"
                phones = ", ".join(str(p.get("phone", "")) for p in card.get("phones", []) if isinstance(p, dict))
                lines.append(Content.assemble(("👤 contact card ", "bold"), literal(str(formatted), limit=200),
                                              " ", literal(phones, limit=200, keep_newlines=False)))
            if not lines:
                lines.append(Content.styled("👤 contact card (empty)", "bold"))
        elif m.type in (MessageType.UNSUPPORTED, MessageType.UNKNOWN) or (
                m.type is MessageType.REACTION):
            kind = m.raw_type or str(m.type)
            if m.type is MessageType.REACTION:
                lines.append(Content.assemble(("reacted ", "dim"), literal(m.text, limit=20, keep_newlines=False),
                                              (" to a message not shown here", "dim")))
                return lines
            lines.append(Content.assemble(("⚠ Unsupported message (type: ", "yellow"),
                                          literal(kind, limit=60, keep_newlines=False), (")", "yellow")))
        if m.text and m.type not in (MessageType.LOCATION, MessageType.CONTACTS):
            body = m.text
            extra = ""
            if len(body) > BODY_LIMIT:
                extra = f"  [{len(body) - BODY_LIMIT:,} more characters not drawn]"
                body = body[:BODY_LIMIT]
            lines.append(literal(body))
            if extra:
                lines.append(Content.styled(extra, "dim"))
        elif not lines:
            lines.append(Content.styled(f"({m.type})", "dim"))
        return lines

    def _metadata(self, m: ChatMessage) -> list[Content]:
        customer = (self.thread.e164 or self.thread.wa_id or self.thread.user_id or "?") if self.thread else "?"
        ours = self.our_number or m.channel
        sender, recipient = (ours, customer) if m.direction is Direction.OUT else (customer, ours)
        return [Content.assemble(("from ", "dim"), literal(sender, keep_newlines=False), (" to ", "dim"),
                                 literal(recipient, keep_newlines=False), (f" · {exact_time(m.timestamp)}", "dim")),
                Content.assemble(("id ", "dim"), literal(m.wamid or f"local #{m.id}", keep_newlines=False))]

    # ---- drawing ----------------------------------------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        self._style = self.rich_style  # once a frame: it walks the ancestors' styles (~0.15 ms a line otherwise)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_y) + y
        width = self.size.width
        if index >= len(self._lines):
            return Strip.blank(width, self._style)
        owner, line = self._lines[index]
        mark = ("cyan" if self.has_focus else "dim") if owner == self.selected and owner >= 0 else ""
        key = (index, mark, width, self._style)
        strip = self._strips.get(key)
        if strip is None:  # a line drawn once is drawn again from here (scrolling, the cursor moving)
            if mark:
                line = Content.assemble(("▌", mark), line[1:])
            strip = Strip(line.render_segments(), line.cell_length).crop_extend(0, width, None).apply_style(
                self._style)
            self._strips[key] = strip
        return strip

    def on_resize(self) -> None:
        if self.scrollable_content_region.width != self._width:  # still partial: only the newest lines again
            self._relayout(newest_lines=self._two_screens() if self._partial else None)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._partial and new < self.size.height:  # a screen from the top of what is laid out
            self.call_later(self._lay_out_the_rest)
        elif new <= 0 and self.more_before and self.messages and not self._partial:
            self.post_message(self.OlderWanted(self.messages[0].id))

    # ---- the selected message ---------------------------------------------------------------------------------
    def watch_selected(self) -> None:
        self.call_after_refresh(self._ensure_visible)  # after the new virtual size is laid out
        self.refresh()
        self.post_message(self.MessageSelected(self.current))

    def _ensure_visible(self) -> None:
        if 0 <= self.selected < len(self._starts):
            top = self._starts[self.selected]
            end = self._starts[self.selected + 1] if self.selected + 1 < len(self._starts) else len(self._lines)
            height = max(self.scrollable_content_region.height, 1)
            if top < self.scroll_y:
                self.scroll_to(y=top, animate=False, immediate=True)
            elif end > self.scroll_y + height:
                self.scroll_to(y=min(top, end - height), animate=False, immediate=True)

    def _step(self, delta: int) -> None:
        index = self.selected + delta
        if index < self._first:
            self._lay_out_the_rest()
        while 0 <= index < len(self.messages) and self._hidden(index):
            index += delta
        if 0 <= index < len(self.messages):
            self.selected = index
        elif delta < 0 and self.more_before and self.messages:
            self.post_message(self.OlderWanted(self.messages[0].id))

    def _hidden(self, index: int) -> bool:
        """A reaction drawn under its message has no lines of its own."""
        start = self._starts[index]
        end = self._starts[index + 1] if index + 1 < len(self._starts) else len(self._lines)
        return start == end

    def action_select_next(self) -> None:
        self._step(1)

    def action_select_previous(self) -> None:
        self._step(-1)

    def action_select_first(self) -> None:
        self._lay_out_the_rest()
        self.selected = 0

    def action_select_last(self) -> None:
        self.selected = len(self.messages) - 1

    def on_click(self, event: events.Click) -> None:
        index = int(self.scroll_y) + event.y
        if 0 <= index < len(self._lines) and self._lines[index][0] >= 0:
            self.selected = self._lines[index][0]

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
