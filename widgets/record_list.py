"""The records list: contacts, companies, deals, tickets or custom records, drawn like the thread list — only the
visible rows, read a page at a time as they scroll into view — so 100,000 contacts cost what the screen shows."""

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

from core.records.model import Row
from widgets.cursor_moves import CursorMoves
from widgets.literal import literal

Loader = Callable[[int, int], Awaitable[list[Row]]]
PAGE = 100
KEEP_PAGES = 20


class RecordList(CursorMoves, ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"record-list--detail"}
    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", show=False),
        Binding("k,up", "cursor_up", "Up", show=False),
        Binding("g,home", "first", "First", show=False),
        Binding("G,end", "last", "Last", show=False),
        Binding("pagedown,ctrl+d", "page_down", "Page down", show=False),
        Binding("pageup,ctrl+u", "page_up", "Page up", show=False),
        Binding("enter,l", "open", "Open", tooltip="Open the highlighted record", id="records.open"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    @dataclass
    class Opened(Message):
        row: Row

    @dataclass
    class LoadFailed(Message):
        error: BaseException

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.total = 0
        self._pages: OrderedDict[int, list[Row]] = OrderedDict()
        self._pending: set[int] = set()
        self._loader: Loader | None = None
        self._generation = 0

    def show(self, total: int, first_page: list[Row], loader: Loader) -> None:
        self._generation += 1
        self.total, self._loader = total, loader
        self._pages.clear()
        self._pending.clear()
        self._pages[0] = first_page
        self.virtual_size = Size(self.size.width, total)
        self.cursor = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def set_total(self, total: int) -> None:
        """The count, once known (show() may draw the first page before it)."""
        self.total = total
        self.virtual_size = Size(self.size.width, total)
        self.refresh()

    def row_at(self, index: int) -> Row | None:
        page = self._pages.get(index // PAGE)
        offset = index % PAGE
        return page[offset] if page is not None and offset < len(page) else None

    @property
    def current(self) -> Row | None:
        return self.row_at(self.cursor) if self.total else None

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        if index >= self.total:
            return Strip.blank(width, self.rich_style)
        row = self.row_at(index)
        if row is None:
            self._want_page(index // PAGE)
            line = Content("  …")
        else:
            title = literal(row.title, limit=200, keep_newlines=False).truncate(max(width // 2 - 2, 10), ellipsis=True)
            detail = literal(row.detail, limit=300, keep_newlines=False).stylize(
                self.get_visual_style("record-list--detail", partial=True))
            line = Content.assemble(" ", title.pad_right(max(width // 2 - 2, 10) - title.cell_length), "  ",
                                    detail).truncate(width, ellipsis=True)
            if index == self.cursor:
                line = line.stylize("reverse" if self.has_focus else "underline")
        strip = Strip(line.render_segments(), line.cell_length)
        return strip.crop_extend(0, width, None).apply_style(self.rich_style)

    def _want_page(self, page: int) -> None:
        if page in self._pending or self._loader is None:
            return
        self._pending.add(page)
        self.run_worker(self._load_page(page, self._generation), group="record-page", exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._pending.clear()
            self.post_message(self.LoadFailed(event.worker.error))

    async def _load_page(self, page: int, generation: int) -> None:
        assert self._loader is not None
        rows = await self._loader(page * PAGE, PAGE)
        if generation != self._generation:
            return
        self._pending.discard(page)
        self._pages[page] = rows
        while len(self._pages) > KEEP_PAGES:
            self._pages.popitem(last=False)
        self.refresh()

    def watch_cursor(self, old: int, new: int) -> None:
        height = max(self.scrollable_content_region.height, 1)
        if new < self.scroll_y:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= self.scroll_y + height:
            self.scroll_to(y=new - height + 1, animate=False, immediate=True)
        self.refresh()

    @property
    def rows_per_page(self) -> int:
        return max(self.size.height, 1)

    def action_open(self) -> None:
        if self.current is not None:
            self.post_message(self.Opened(self.current))

    def on_click(self, event: events.Click) -> None:
        index = event.y + int(self.scroll_y)
        if 0 <= index < self.total:
            self.cursor = index
            self.action_open()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.total)
