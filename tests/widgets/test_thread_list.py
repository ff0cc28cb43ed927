"""The virtual thread list: reads only the pages it draws, opens and selects, draws customer text literally."""

from __future__ import annotations


from textual.app import App, ComposeResult

from core.model import ThreadStatus, ThreadSummary
from widgets.thread_list import PAGE, ThreadList

NOW = 1_764_072_000


def row(i: int, **more) -> ThreadSummary:
    values = dict(id=i + 1, channel="111", status=ThreadStatus.OPEN, contact_id=None, contact_name=f"Customer {i}",
                  wa_id=str(48600000000 + i), user_id=None, e164=None, owner=None, team=None,
                  last_message_at=NOW - i, last_inbound_at=NOW - 3600, last_direction=None, preview=f"hello {i}",
                  unread=0)
    values.update(more)
    return ThreadSummary(**values)


class ListApp(App[None]):
    def __init__(self, total: int, first: list[ThreadSummary] | None = None) -> None:
        super().__init__()
        self.total, self.first = total, first
        self.asked: list[int] = []
        self.opened: list[int] = []

    def compose(self) -> ComposeResult:
        yield ThreadList()

    async def loader(self, offset: int, limit: int) -> list[ThreadSummary]:
        self.asked.append(offset)
        return [row(i) for i in range(offset, min(offset + limit, self.total))]

    def on_mount(self) -> None:
        first = self.first if self.first is not None else [row(i) for i in range(min(PAGE, self.total))]
        self.query_one(ThreadList).show(self.total, first, self.loader, now=NOW, channels={"111": "Sales"})
        self.query_one(ThreadList).focus()

    def on_thread_list_thread_opened(self, event: ThreadList.ThreadOpened) -> None:
        self.opened.append(event.thread_id)


async def test_a_hundred_thousand_rows_read_only_the_pages_drawn():
    app = ListApp(100_000)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert app.asked == []  # the first page came with show()
        await pilot.press("G")  # timed in tests/bench/bench_render.py
        await pilot.pause()
        await pilot.pause()
        assert app.asked == [99_900]
        lst = app.query_one(ThreadList)
        assert lst.current.id == 100_000
        await pilot.press("enter")
        await pilot.pause()
        assert app.opened == [100_000]


async def test_space_and_x_select_for_bulk_actions():
    app = ListApp(5)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press("space", "x", "k", "space")
        lst = app.query_one(ThreadList)
        assert lst.selected == {1} and lst.selected_or_current() == [1]


async def test_rows_draw_customer_text_literally():
    hostile = row(0, contact_name="[b]boss[/b]\x1b[2J", preview="[@click=app.quit]x[/] \u202eabc", unread=1)
    app = ListApp(1, [hostile])
    async with app.run_test(size=(90, 6)) as pilot:
        await pilot.pause()
        lst = app.query_one(ThreadList)
        lines = ["".join(s.text for s in lst.render_line(y)) for y in range(2)]
        assert "● " in lines[0] and "[b]boss[/b]␛[2J" in lines[0] and "23h" in lines[0]
        assert "[@click=app.quit]x[/] ⟨U+202E⟩abc" in lines[1]


def drawn(app: ListApp, rows: int) -> list[str]:
    lst = app.query_one(ThreadList)
    return ["".join(s.text for s in lst.render_line(y)) for y in range(rows * 2)]


async def test_a_row_names_the_customer_by_their_number_and_the_channel_by_its_name():
    app = ListApp(1, [row(0, e164="+48 600 000 000")])
    async with app.run_test(size=(80, 6)) as pilot:
        await pilot.pause()
        lines = drawn(app, 1)
        assert "Customer 0" in lines[0]
        assert lines[1].startswith("   +48 600 000 000 · Sales │ hello 0")  # their number, not ours


async def test_a_closed_thread_and_an_expired_session_are_named_apart():
    threads = [row(0, last_inbound_at=NOW - 3600), row(1, last_inbound_at=NOW - 30 * 3600),
               row(2, status=ThreadStatus.CLOSED, last_inbound_at=NOW - 3600)]
    app = ListApp(3, threads)
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        lines = drawn(app, 3)
        assert "23h left" in lines[0]
        assert "expired" in lines[2] and "closed" not in lines[2]  # open thread, session over
        assert "closed" in lines[4] and "expired" not in lines[4] and "done" not in lines[4]


def shown_names(app: ListApp) -> list[str]:
    """The customers the list shows on screen, top down (what the agent sees, not what it holds)."""
    lst = app.query_one(ThreadList)
    lines = ["".join(s.text for s in lst.render_line(y)) for y in range(lst.scrollable_content_region.height)]
    return [line.split()[0] + " " + line.split()[1] for line in lines if "Customer" in line]


async def test_a_new_length_moves_the_scrollbar_and_every_row_stays_reachable():
    """A new list of another length: the scrollbar shows the new range (or goes, or comes back) and `G` reaches
    the last row of each."""
    app = ListApp(100_000)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        lst = app.query_one(ThreadList)
        for total in (500, 3, 100_000, 250):
            lst.show(total, [row(i) for i in range(min(PAGE, total))], app.loader, now=NOW, channels={})
            await pilot.pause()
            assert lst.show_vertical_scrollbar == (total * 2 > lst.scrollable_content_region.height)
            if lst.show_vertical_scrollbar:
                assert lst.vertical_scrollbar.window_virtual_size == total * 2
            await pilot.press("G")
            await pilot.pause()
            await pilot.pause()
            assert lst.current.id == total and shown_names(app)[-1] == f"Customer {total - 1}"
            assert lst.scroll_y == lst.max_scroll_y


async def test_a_row_drawn_again_shows_what_changed_since():
    """Rows are kept as drawn (a focus move redraws the list); a mark, the clock, the cursor or the theme draws anew."""
    app = ListApp(3, [row(0, unread=1), row(1), row(2)])
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        lst = app.query_one(ThreadList)
        first = drawn(app, 1)
        assert first[0].startswith("● ") and "23h left" in first[0]
        await pilot.press("space")  # selects row 0, the cursor moves to row 1
        assert drawn(app, 1)[0].startswith("●✓")
        lst.mark_drafted({2})
        assert drawn(app, 2)[2].startswith(" ✎")
        lst.now = NOW + 3600
        assert "22h left" in drawn(app, 1)[0]
        cursor_style = list(lst.render_line(2))[0].style  # row 1 has the cursor
        await pilot.press("k")
        assert list(lst.render_line(2))[0].style != cursor_style
        dot = list(lst.render_line(0))[0].style
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        assert list(lst.render_line(0))[0].style != dot


async def test_a_fresh_read_shows_the_new_row_the_moved_ones_and_a_renamed_channel():
    """A live update reads the list again (the screen's keep_cursor): the new thread on top, the others a row down
    with the cursor still on its thread, and the channel's new name on every row, though drawn rows are kept."""
    app = ListApp(3)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        lst = app.query_one(ThreadList)
        await pilot.press("j")
        drawn(app, 3)
        newest = row(9, contact_name="Newcomer", last_message_at=NOW + 5)
        lst.show(4, [newest, row(0), row(1), row(2)], app.loader, now=NOW, channels={"111": "Support"},
                 keep_cursor=True)
        await pilot.pause()
        lines = drawn(app, 4)
        assert [line.split()[0] for line in lines[0::2]] == ["Newcomer", "Customer", "Customer", "Customer"]
        assert "Customer 0" in lines[2] and "Customer 2" in lines[6]
        assert all(" · Support │ " in line for line in lines[1::2])
        assert lst.current.id == 2  # the thread the cursor was on, now one row down
        lst.show(4, [newest, row(0), row(1), row(2)], app.loader, now=NOW, channels={"111": "Sales"},
                 keep_cursor=True)
        assert all(" · Sales │ " in line for line in drawn(app, 4)[1::2])
