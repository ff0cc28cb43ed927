"""The records screen (issue 9): contacts, companies, deals, tickets and custom objects, searched as you type by
name, number, email or any property, in a virtual list (100,000 contacts scroll and search at once); `enter` opens
a record's page, `w` starts a WhatsApp conversation from the highlighted record."""

from __future__ import annotations

import logging
import time

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from app.screens.record_flows import start_whatsapp
from core.inbox import Inbox
from core.records.service import Records
from core.views import SearchError
from widgets.literal import literal
from widgets.record_list import PAGE, RecordList

log = logging.getLogger("wabox.inbox")
BUILTIN_LABELS = {"contact": "Contacts", "company": "Companies", "deal": "Deals", "ticket": "Tickets"}


class RecordsScreen(Screen[None]):
    BINDINGS = [
        Binding("slash", "search", "Search", tooltip="Search by name, number, email or any property"),
        Binding("right_square_bracket", "kind(1)", "Next kind", tooltip="Contacts → companies → deals → tickets → …"),
        Binding("left_square_bracket", "kind(-1)", "Previous kind", tooltip="The kind of record before"),
        Binding("w", "whatsapp", "WhatsApp", tooltip="Start a WhatsApp conversation with the record's contact"),
        Binding("escape", "back", "Back", tooltip="Back to the list, then to the inbox"),
    ]

    def __init__(self, inbox: Inbox, *, kind: str = "contact") -> None:
        super().__init__()
        self.inbox = inbox
        self.records = Records(inbox.store)
        self.kinds: list[tuple[str, str]] = list(BUILTIN_LABELS.items())
        self.kind = kind
        self.search = ""
        self.last_load_ms = 0.0  # the first page's read time, shown in the title (and read by the bench)

    def compose(self) -> ComposeResult:
        yield Static(Content(""), id="records-kinds")
        yield Input(placeholder="search by name, number, email or any property", id="records-search")
        yield Static(Content(""), id="records-title")
        yield RecordList(id="records-list")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self.kinds += [(t.name, t.label) for t in await self.records.types() if t.name not in BUILTIN_LABELS]
        self.query_one(RecordList).focus()
        await self.load()

    def _draw_kinds(self) -> None:
        self.query_one("#records-kinds", Static).update(Content(" ").join(
            literal(f" {label} ", keep_newlines=False).stylize("reverse bold" if name == self.kind else "dim")
            for name, label in self.kinds))

    async def load(self) -> None:
        """The first page of the current kind and search, then its count: the page shows without waiting for every
        match to be counted (a one-letter search matches all 100,000 contacts); the list reads the rest as it
        scrolls."""
        self._draw_kinds()
        kind, search = self.kind, self.search or None
        started = time.perf_counter()
        try:
            first = await self.records.rows(kind, search, 0, PAGE)
        except SearchError as error:
            self.notify(str(error), title="Search", severity="warning", markup=False)
            return
        self.last_load_ms = (time.perf_counter() - started) * 1000
        if (kind, search) != (self.kind, self.search or None):
            return  # the agent typed on meanwhile: a newer load draws
        listed = self.query_one(RecordList)
        listed.show(len(first), first, lambda offset, limit: self.records.rows(kind, search, offset, limit))
        self._title(f"{len(first):,}+" if len(first) == PAGE else f"{len(first):,}")
        if len(first) == PAGE:
            total = await self.records.count(kind, search)
            if (kind, search) == (self.kind, self.search or None):
                listed.set_total(total)
                self._title(f"{total:,}")

    def _title(self, count: str) -> None:
        label = dict(self.kinds).get(self.kind, self.kind)
        found = f"{count} {label.lower()}" + (f" matching {self.search!r}" if self.search else "")
        self.query_one("#records-title", Static).update(Content.assemble(
            literal(found, keep_newlines=False).stylize("bold"), ("   enter opens · w writes on WhatsApp · [ ] kind · / search", "dim")))

    @on(Input.Changed, "#records-search")
    def _typed(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        self.reload()

    @on(Input.Submitted, "#records-search")
    def _submitted(self) -> None:
        self.query_one(RecordList).focus()

    @work(group="records-load", exclusive=True)
    async def reload(self) -> None:
        await self.load()

    @on(RecordList.Opened)
    def _opened(self, event: RecordList.Opened) -> None:
        from app.screens.record_page import RecordPage

        self.app.push_screen(RecordPage(self.inbox, self.kind, event.row.id))

    @on(RecordList.LoadFailed)
    def _failed(self, event: RecordList.LoadFailed) -> None:
        self.notify(str(event.error), title="Records", severity="error", markup=False)

    def action_search(self) -> None:
        self.set_focus(self.query_one("#records-search", Input))  # now: the letters typed next are the search

    def action_kind(self, step: int) -> None:
        names = [name for name, _ in self.kinds]
        self.kind = names[(names.index(self.kind) + step) % len(names)]
        self.reload()

    def action_back(self) -> None:
        search = self.query_one("#records-search", Input)
        if search.has_focus:
            self.query_one(RecordList).focus()
        else:
            self.dismiss()

    def action_whatsapp(self) -> None:
        row = self.query_one(RecordList).current
        if row is not None:
            write_from_record(self.app, self.records, self.inbox, self.kind, row.id)


def write_from_record(app: App, records: Records, inbox: Inbox, kind: str, record_id: int) -> None:
    """F9 from a contact (itself) or any other record (one of its contacts); the thread is linked to the record.

    The app runs it, not the records screen: it ends in the inbox, after this screen is gone."""
    async def flow() -> None:
        try:
            if kind == "contact":
                page = await records.contact_page(record_id)
                contacts, linked = ([page.contact] if page else []), None
            else:
                record_page = await records.record_page(record_id)
                contacts, linked = (record_page.contacts if record_page else []), record_id
            await start_whatsapp(app, records, inbox, contacts, linked)
        except Exception as error:  # the inbox's one error policy: shown and logged, the session goes on
            log.exception("starting a WhatsApp conversation failed")
            app.notify(str(error), title="WhatsApp", severity="error", markup=False)

    app.run_worker(flow(), group="start-whatsapp", exclusive=True, exit_on_error=False)
