"""Palette commands that search data (F23): open any thread by a customer's name, number or message text, any
record by its name; start a new WhatsApp message (F9)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from core.model import View
from core.views import SearchError
from widgets.literal import literal

EVERY_THREAD = View("all", "All threads", {})


class ThreadCommands(Provider):
    async def search(self, query: str) -> Hits:
        from app.screens.inbox import InboxScreen  # the provider only serves the inbox screen

        screen = self.screen
        if not isinstance(screen, InboxScreen) or len(query.strip()) < 2:
            return
        for rank, thread in enumerate(await screen.inbox.threads(EVERY_THREAD, search=query, limit=10)):
            name = thread.contact_name or thread.e164 or thread.wa_id or "?"
            display = Content.assemble("Open thread: ", literal(name, limit=60, keep_newlines=False),
                                       (f"  {screen.numbers.get(thread.channel, thread.channel)}"
                                        f" · {thread.status}", "dim"))
            yield Hit(1.0 - rank / 20, display, partial(screen.show_thread, thread.id),
                      text=f"Open thread {thread.id}",
                      help=literal(thread.preview, limit=80, keep_newlines=False).plain)


class RecordCommands(Provider):
    """"New WhatsApp message" (F9: pick a contact, then `w`), and any contact, company, deal or ticket by name."""

    async def discover(self) -> Hits:
        from app.screens.inbox import InboxScreen

        if isinstance(self.screen, InboxScreen):
            yield DiscoveryHit("New WhatsApp message", self._new_message,
                               help="Find the contact (or its company, deal, ticket), then w")

    async def search(self, query: str) -> Hits:
        from app.screens.inbox import InboxScreen
        from app.screens.records import BUILTIN_LABELS
        from core.records.service import Records  # not imported before the palette needs it

        screen = self.screen
        if not isinstance(screen, InboxScreen):
            return
        matcher = self.matcher(query)
        if matcher.match("New WhatsApp message"):
            yield Hit(matcher.match("New WhatsApp message"), matcher.highlight("New WhatsApp message"),
                      self._new_message, help="Find the contact (or its company, deal, ticket), then w")
        if len(query.strip()) < 2:
            return
        records = Records(screen.inbox.store)
        for kind, label in BUILTIN_LABELS.items():
            try:
                rows = await records.rows(kind, query, 0, 3)
            except SearchError:
                return
            for rank, row in enumerate(rows):
                yield Hit(0.5 - rank / 20, Content.assemble(f"Open {kind}: ", literal(row.title, limit=60,
                                                                                         keep_newlines=False)),
                          partial(self._open, kind, row.id), text=f"Open {kind} {row.id}",
                          help=literal(row.detail, limit=80, keep_newlines=False).plain)

    def _new_message(self) -> None:
        from app.screens.records import RecordsScreen

        self.app.push_screen(RecordsScreen(self.screen.inbox))
        self.app.notify("Find the contact, company, deal or ticket, then press w.", title="New WhatsApp message")

    def _open(self, kind: str, record_id: int) -> None:
        from app.screens.record_page import RecordPage

        self.app.push_screen(RecordPage(self.screen.inbox, kind, record_id))
