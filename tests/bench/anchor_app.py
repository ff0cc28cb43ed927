"""The bench's anchor: a minimal stock-Textual inbox over the same database, with the same keys, read simply.

It is what "Textual itself" costs for each action in bench_screen.py: a sidebar OptionList of the same views, a
DataTable of the view's threads (a page of 100 read at a time, more as the cursor nears the end), an Input for
search (FTS5, first page only), and the open thread's newest 200 messages in a Static in a VerticalScroll. It polls
`PRAGMA data_version` every 50 ms, as the inbox does, and reads the first page again when another process wrote.
No counts, no sessions, no drafts: the floor a real inbox stands on.

Run: `python -m tests.bench.anchor_app DB AGENT`.
"""

from __future__ import annotations

import sqlite3
import sys

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, OptionList, Static

VIEWS = [("open", "All open", "t.status = 'open'"), ("closed", "All closed", "t.status = 'closed'"),
         ("sent", "Sent", "t.status = 'open' AND t.last_direction = 'out'"),
         ("mine", "Assigned to me", "t.status = 'open' AND t.owner = :agent"),
         ("unassigned", "Unassigned", "t.status = 'open' AND t.owner IS NULL")]
PAGE = 100


class Table(DataTable):
    BINDINGS = [Binding("j", "cursor_down", show=False), Binding("k", "cursor_up", show=False),
                Binding("g", "scroll_top", show=False), Binding("l", "select_cursor", show=False)]


class Views(OptionList):
    BINDINGS = [Binding("j", "cursor_down", show=False), Binding("k", "cursor_up", show=False)]


class AnchorApp(App[None]):
    CSS = """
    Views { width: 22; } #list { width: 46; } #search { display: none; } #search.-on { display: block; }
    #title { height: 1; background: $boost; } Table { height: 1fr; } #thread { width: 1fr; }
    """
    BINDINGS = [Binding("slash", "search", "Search"), Binding("q", "quit", "Quit"),
                Binding("escape", "back", "Back")]

    def __init__(self, db: str, agent: str) -> None:
        super().__init__()
        self.db = sqlite3.connect(db, check_same_thread=False)
        self.agent = agent
        self.view = VIEWS[0]
        self.search = ""
        self.ids: list[int] = []
        self.open_id: int | None = None
        self.version = self.db.execute("PRAGMA data_version").fetchone()[0]

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Views(*[name for _, name, _ in VIEWS], id="views")
            with Vertical(id="list"):
                yield Input(id="search")
                yield Static(id="title")
                yield Table(cursor_type="row", id="table")
            with VerticalScroll(id="thread"):
                yield Static(id="messages")

    def on_mount(self) -> None:
        table = self.query_one(Table)
        table.add_columns("customer", "preview")
        self.load()
        table.focus()
        self.set_interval(0.05, self.poll)

    def rows(self, offset: int) -> list[tuple]:
        params = {"agent": self.agent, "offset": offset, "limit": PAGE}
        clause = self.view[2]
        if self.search:
            clause += " AND t.id IN (SELECT m.thread_id FROM message m WHERE m.id IN" \
                      " (SELECT rowid FROM message_fts WHERE message_fts MATCH :q))"
            params["q"] = " ".join('"' + w.replace('"', '""') + '"' for w in self.search.split())
        return self.db.execute(
            "SELECT t.id, coalesce(c.name, t.wa_id), t.preview FROM thread t LEFT JOIN contact c"
            f" ON c.id = t.contact_id WHERE {clause} ORDER BY t.last_message_at DESC, t.id DESC"
            " LIMIT :limit OFFSET :offset", params).fetchall()

    def load(self) -> None:
        table = self.query_one(Table)
        table.clear()
        self.ids = []
        self.add_rows(self.rows(0))
        title = self.view[1] + (f"  / {self.search}" if self.search else "")
        self.query_one("#title", Static).update(Text(title))

    def add_rows(self, found: list[tuple]) -> None:
        table = self.query_one(Table)
        for thread_id, name, preview in found:
            self.ids.append(thread_id)
            table.add_row(Text(name), Text(preview or ""))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= len(self.ids) - 10 and len(self.ids) % PAGE == 0 and self.ids:
            self.add_rows(self.rows(len(self.ids)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.show_thread(self.ids[event.cursor_row])

    def show_thread(self, thread_id: int) -> None:
        self.open_id = thread_id
        found = self.db.execute("SELECT direction, text FROM message WHERE thread_id = ?"
                                " ORDER BY timestamp DESC, id DESC LIMIT 200", (thread_id,)).fetchall()
        pane = self.query_one("#thread", VerticalScroll)
        self.query_one("#messages", Static).update(
            Text("\n\n".join(f"{'>' if d == 'out' else '<'} {text}" for d, text in reversed(found))))
        pane.scroll_end(animate=False)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.view = VIEWS[event.option_index]
        self.load()
        self.query_one(Table).focus()

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.add_class("-on")
        search.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.search = event.value.strip()
        self.load()
        self.query_one(Table).focus()

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if self.search or search.has_focus:
            search.value, self.search = "", ""
            search.remove_class("-on")
            self.load()
        self.query_one(Table).focus()

    def poll(self) -> None:
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if version != self.version:
            self.version = version
            table = self.query_one(Table)
            row = table.cursor_row
            self.load()
            table.move_cursor(row=row)
            if self.open_id is not None:
                self.show_thread(self.open_id)


if __name__ == "__main__":
    AnchorApp(sys.argv[1], sys.argv[2]).run()
