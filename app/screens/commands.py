"""Palette commands that search data (F23): open any thread by a customer's name, number or message text."""

from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider
from textual.content import Content

from core.model import View
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
