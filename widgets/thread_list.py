"""The thread list: a virtual list that draws only the visible rows and reads pages as they scroll into view.

A stock OptionList/DataTable builds every row up front (10–27 s for 100k threads); this one asks its `loader`
for a page of 100 when a row it has not seen is drawn, so a 100k-thread view costs what the screen shows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerState

from core.model import ThreadStatus, ThreadSummary
from widgets.formatting import session_left, short_time
from widgets.cursor_moves import CursorMoves
from widgets.literal import literal

Loader = Callable[[int, int], Awaitable[list[ThreadSummary]]]
PAGE = 100
ROW_HEIGHT = 2
KEEP_PAGES = 20
KEEP_LINES = 1000  # drawn lines kept for a redraw


class ThreadList(CursorMoves, ScrollView, can_focus=True):
    """Each thread in two rows: who the customer is (name; their number) and on which of our channels, whether the
    thread is closed or the 24-hour session expired (two different things, named apart), the owner and a preview."""

    COMPONENT_CLASSES = {"thread-list--unread", "thread-list--session", "thread-list--expired",
                         "thread-list--closed", "thread-list--meta"}
    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", show=False),
        Binding("k,up", "cursor_up", "Up", show=False),
        Binding("g,home", "first", "First", show=False),
        Binding("G,end", "last", "Last", show=False),
        Binding("pagedown,ctrl+d", "page_down", "Page down", show=False),
        Binding("pageup,ctrl+u", "page_up", "Page up", show=False),
        Binding("enter,l", "open", "Open", tooltip="Open the highlighted thread", id="list.open"),
        Binding("space,x", "toggle_select", "Select", tooltip="Select the thread for a bulk action and move to the "
                "next (close, reopen, assign act on the selection)", id="list.select"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)  # watch_cursor redraws two rows

    @dataclass
    class ThreadOpened(Message):
        thread_id: int

    @dataclass
    class LoadFailed(Message):
        """A page could not be read (the screen's one error policy shows it)."""

        error: BaseException

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.total = 0
        self.now = 0.0
        self.channels: dict[str, str] = {}  # phone_number_id -> the channel's name
        self.selected: set[int] = set()
        self.drafted: set[int] = set()  # threads with an unsent draft: marked ✎
        self._pages: OrderedDict[int, list[ThreadSummary]] = OrderedDict()
        self._pending: set[int] = set()
        self._loader: Loader | None = None
        self._generation = 0
        # Lines drawn, by what they show: Textual redraws the whole list when the focus moves or a class changes
        # anywhere above it; an unchanged row then costs a lookup instead of being laid out again.
        self._lines: dict[tuple, Strip] = {}
        self._looks: tuple | None = None  # the styles they were drawn with; None: to be compared again
        self._drawn_looks: tuple = ()

    # ---- attributes down --------------------------------------------------------------------------------------
    def show(self, total: int, first_page: list[ThreadSummary], loader: Loader, *, now: float,
             channels: dict[str, str], keep_cursor: bool = False, page_at: int = 0) -> None:
        """A new list (view, search, order) or a fresh read of the same one (`keep_cursor`)."""
        previous = self.current.id if keep_cursor and self.current else None
        self._generation += 1
        self.total, self._loader, self.now, self.channels = total, loader, now, channels
        self._pages.clear()
        self._pending.clear()
        self._pages[page_at // PAGE] = first_page
        if not keep_cursor:
            self.selected.clear()
        self._set_rows(total)
        self.cursor = min(self.cursor, max(total - 1, 0)) if keep_cursor else 0
        moved = [i for i, t in enumerate(first_page) if t.id == previous]
        if moved:  # a live update reordered the list: stay on the thread, not on the row number
            self.cursor = page_at + moved[0]
        self.refresh()

    def _set_rows(self, total: int) -> None:
        """The list's scrollable height. Setting `virtual_size` lays out the whole screen (a full frame, the largest
        part of a view switch); a new length that leaves the scrollbar shown (or hidden) as it was needs only the
        scrollbar's new range, as Textual itself does for a size change without layout."""
        size, old = Size(self.size.width, total * ROW_HEIGHT), self.virtual_size
        height = self.container_size.height
        if old.width != size.width or (old.height > height) != (size.height > height):
            self.virtual_size = size  # the scrollbar appears or goes: the layout must change
        elif size != old:
            self.set_reactive(ThreadList.virtual_size, size)
            self._scroll_update(size)

    def thread_at(self, index: int) -> ThreadSummary | None:
        page = self._pages.get(index // PAGE)
        if page is None:
            return None
        offset = index % PAGE
        return page[offset] if offset < len(page) else None

    def index_of(self, thread_id: int) -> int | None:
        """The row of a thread among the pages read so far."""
        for page, rows in self._pages.items():
            for offset, thread in enumerate(rows):
                if thread.id == thread_id:
                    return page * PAGE + offset
        return None

    def show_page(self, index: int, rows: list[ThreadSummary]) -> None:
        """The page holding row `index`, read by the caller (to move to a row not read yet)."""
        self._pages[index // PAGE] = rows
        self.refresh()

    def update_thread(self, thread: ThreadSummary) -> None:
        """A thread changed here (read on opening): its row is drawn anew, without reading the list again."""
        row = self.index_of(thread.id)
        if row is not None:
            self._pages[row // PAGE][row % PAGE] = thread
            self.refresh()  # the lines are kept by what they show: only this row is drawn again

    def mark_drafted(self, thread_ids: set[int]) -> None:
        if thread_ids != self.drafted:
            self.drafted = set(thread_ids)
            self.refresh()

    @property
    def current(self) -> ThreadSummary | None:
        return self.thread_at(self.cursor) if self.total else None

    def selected_or_current(self) -> list[int]:
        if self.selected:
            return sorted(self.selected)
        return [self.current.id] if self.current else []

    # ---- drawing ----------------------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        _, scroll_y = self.scroll_offset
        row, part = divmod(scroll_y + y, ROW_HEIGHT)
        width = self.scrollable_content_region.width  # not size.width: the scrollbar takes the last columns
        if row >= self.total:
            return Strip.blank(width, self.rich_style)
        thread = self.thread_at(row)
        if thread is None:
            self._want_page(row // PAGE)
            return Strip(Content("  …").render_segments(), 3).extend_cell_length(width).apply_style(self.rich_style)
        cursor = ("reverse" if self.has_focus else "underline") if row == self.cursor else ""
        # Keyed by what the line shows, the time and channel's name included: a live update that moves rows down
        # draws only the new one (all ~46 lines drawn anew take 10-70 ms on a busy machine).
        told = self._told(thread) if part == 0 else self.channels.get(thread.channel, thread.channel)
        key = (thread, part, width, cursor, thread.id in self.selected, thread.id in self.drafted, told)
        if self._looks is None:
            self._compare_looks()
        strip = self._lines.get(key)
        if strip is None:
            line = self._row_line(thread, part, width, told)
            if cursor:
                line = line.stylize(cursor)
            strip = Strip(line.render_segments(), line.cell_length).crop_extend(0, width, None)
            strip = strip.apply_style(self.rich_style)
            if len(self._lines) >= KEEP_LINES:
                self._lines.clear()
            self._lines[key] = strip
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._looks = None  # restyled (often by a focus move that changes nothing here): compared at the next draw

    def _compare_looks(self) -> None:
        """Lines drawn with other styles than those now in force (a theme, a class) are forgotten."""
        self._looks = (self.rich_style, *(self.get_visual_style(name, partial=True)
                                          for name in sorted(self.COMPONENT_CLASSES)))
        if self._looks != self._drawn_looks:
            self._drawn_looks = self._looks
            self._lines.clear()

    def _told(self, t: ThreadSummary) -> tuple[str, str, str]:
        """What a thread's first line says of the time now: the session's state, its look, and the last message's
        time."""
        if t.status is ThreadStatus.CLOSED:
            state, look = "closed", "thread-list--closed"  # the thread: an agent closed it
        else:
            left = session_left(t.last_inbound_at, self.now)  # the 24-hour session, on an open thread
            state, look = (f"{left} left", "thread-list--session") if left else ("expired", "thread-list--expired")
        return state, look, short_time(t.last_message_at, self.now)

    def _row_line(self, t: ThreadSummary, part: int, width: int, told: tuple[str, str, str] | str) -> Content:
        """Line `part` of a thread's row; `told` is `_told(t)` for the first line, the channel's name for the
        second."""
        style = self.get_visual_style
        if part == 0:
            state, look, when = told
            right = Content.assemble((f" {state:>8}", style(look, partial=True)), f" {when:>9}")
            name = literal(t.contact_name or t.e164 or t.wa_id or t.user_id or "?", limit=200, keep_newlines=False)
            room = max(width - 3 - right.cell_length, 1)
            left_part = Content.assemble(("●" if t.unread else " ", style("thread-list--unread", partial=True)),
                                         "✓" if t.id in self.selected else ("✎" if t.id in self.drafted else " "),
                                         " ").append(
                name.truncate(room, ellipsis=True).stylize("bold" if t.unread else ""))
            return left_part.pad_right(max(room + 3 - left_part.cell_length, 0)).append(right)
        customer = t.e164 or t.wa_id or t.user_id or ""
        meta = Content.assemble("   ", literal(customer, limit=40, keep_newlines=False), " · ",
                                literal(told, limit=30, keep_newlines=False),
                                literal(f" · @{t.owner}" if t.owner else "", limit=40, keep_newlines=False),
                                " │ ").stylize(style("thread-list--meta", partial=True))
        preview = literal(t.preview.replace("\n", " ⏎ "), limit=400, keep_newlines=False)
        return meta.append(preview).truncate(width, ellipsis=True)

    def _want_page(self, page: int) -> None:
        if page in self._pending or self._loader is None:
            return
        self._pending.add(page)
        self.run_worker(self._load_page(page, self._generation), group="thread-page", exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._pending.clear()  # drawn again, the rows are asked for again
            self.post_message(self.LoadFailed(event.worker.error))

    async def _load_page(self, page: int, generation: int) -> None:
        assert self._loader is not None
        rows = await self._loader(page * PAGE, PAGE)
        if generation != self._generation:
            return  # a newer list replaced this one meanwhile
        self._pending.discard(page)
        self._pages[page] = rows
        while len(self._pages) > KEEP_PAGES:
            self._pages.popitem(last=False)
        self.refresh()

    # ---- the cursor -------------------------------------------------------------------------------------------
    def watch_cursor(self, old: int, new: int) -> None:
        before = self.scroll_y
        self._scroll_cursor_into_view()
        if self.scroll_y == before:  # only the two rows that changed: a whole-list redraw costs ~10x more
            self.refresh_lines(old * ROW_HEIGHT, ROW_HEIGHT)
            self.refresh_lines(new * ROW_HEIGHT, ROW_HEIGHT)
        else:
            self.refresh()

    def _scroll_cursor_into_view(self) -> None:
        top, height = self.cursor * ROW_HEIGHT, max(self.scrollable_content_region.height, ROW_HEIGHT)
        if top < self.scroll_y:
            self.scroll_to(y=top, animate=False, immediate=True)
        elif top + ROW_HEIGHT > self.scroll_y + height:
            self.scroll_to(y=top + ROW_HEIGHT - height, animate=False, immediate=True)

    @property
    def rows_per_page(self) -> int:
        return max(self.size.height // ROW_HEIGHT, 1)

    def action_open(self) -> None:
        if self.current is not None:
            self.post_message(self.ThreadOpened(self.current.id))

    def action_toggle_select(self) -> None:
        current = self.current
        if current is None:
            return
        self.selected.symmetric_difference_update({current.id})
        self.refresh()
        self.move_to(self.cursor + 1)

    def on_click(self, event: events.Click) -> None:
        row = (event.y + int(self.scroll_y)) // ROW_HEIGHT
        if 0 <= row < self.total:
            self.cursor = row
            self.action_open()

    def on_focus(self) -> None:
        self.refresh_lines(self.cursor * ROW_HEIGHT, ROW_HEIGHT)  # only the cursor row looks different

    def on_blur(self) -> None:
        self.refresh_lines(self.cursor * ROW_HEIGHT, ROW_HEIGHT)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.total * ROW_HEIGHT)
