"""What the records screens and the inbox do with records (issue 9): start a WhatsApp conversation from a record
(F9), go to a thread in the inbox, link the open thread to a deal or ticket, and fill the context panel (F19).

The conversation starts where the agent is: a thread with that contact on the chosen number is opened if it exists;
in an open 24-hour session the composer takes the keys, otherwise the template picker — after a confirmation when
the contact has no WhatsApp opt-in on record (F30). The thread is linked to the record it started from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from core.inbox import Inbox
from core.records.model import ContactRecord, Record
from core.records.properties import PropertyError
from core.records.service import Records
from widgets.literal import literal

LOAD_WAIT = 5.0  # seconds to wait for the opened thread to be read before acting on it


class ChoicePrompt(ModalScreen[int | None]):
    """Pick one of a few options (a contact, a From number, a deal): `enter` picks, `escape` cancels. With `search`,
    typing narrows them (the dismissed value is still the option's index in the list given)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, options: Sequence[Content], *, search: bool = False) -> None:
        super().__init__()
        self.title_text, self.options, self.searchable = title, list(options), search

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt", id="choice"):
            yield Static(Content.styled(self.title_text, "bold"), id="choice-title")
            if self.searchable:
                yield Input(placeholder="type to narrow", id="choice-search")
            yield OptionList(*self._options(""), id="choice-list")

    def _options(self, text: str) -> list[Option]:
        return [Option(label, id=str(i)) for i, label in enumerate(self.options)
                if text.casefold() in label.plain.casefold()]

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0
        if not self.searchable:
            self.query_one(OptionList).focus()

    @on(Input.Changed, "#choice-search")
    def _narrow(self, event: Input.Changed) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        options.highlighted = 0 if options.option_count else None

    @on(Input.Submitted, "#choice-search")
    def _submitted(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss(int(options.get_option_at_index(options.highlighted).id or 0))

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))

    def action_cancel(self) -> None:
        self.dismiss(None)


def inbox_screen(app: App):
    from app.screens.inbox import InboxScreen  # the inbox imports this module for its hooks

    return next(s for s in app.screen_stack if isinstance(s, InboxScreen))


async def go_to_thread(app: App, thread_id: int):
    """Back to the inbox with the thread open; returns the inbox screen once the thread is shown."""
    inbox = inbox_screen(app)
    while app.screen is not inbox:
        await app.pop_screen()
    inbox.show_thread(thread_id)
    for _ in range(int(LOAD_WAIT / 0.02)):
        if inbox.open_thread is not None and inbox.open_thread.id == thread_id:
            break
        await asyncio.sleep(0.02)
    return inbox


def contact_label(c: ContactRecord) -> Content:
    number = c.whatsapp_number()
    return Content.assemble(literal(c.name, limit=60, keep_newlines=False),
                            (f"  {number}" if number else "  no phone number", "dim"),
                            ("  opted in" if c.opted_in else "", "dim"))


async def start_whatsapp(app: App, records: Records, inbox: Inbox, contacts: list[ContactRecord],
                         record_id: int | None) -> None:
    """F9, from a record: pick the contact (when the record has several) and the From number; run in a worker."""
    reachable = [c for c in contacts if c.whatsapp_number(records.region)]
    if not reachable:
        app.notify("No contact with a phone number to write to.", title="WhatsApp", severity="warning")
        return
    contact = reachable[0]
    if len(reachable) > 1:
        picked = await app.push_screen_wait(ChoicePrompt("Write to which contact?",
                                                         [contact_label(c) for c in reachable], search=True))
        if picked is None:
            return
        contact = reachable[picked]
    channels = list((await inbox.channels(fresh=True)).values())
    if not channels:
        app.notify("No connected WhatsApp number to write from (see `wabox connect`).", title="WhatsApp",
                   severity="error")
        return
    channel = channels[0]
    if len(channels) > 1:
        picked = await app.push_screen_wait(ChoicePrompt("From which number?", [
            Content.assemble(literal(c.name, limit=40, keep_newlines=False), (f"  +{c.display_phone_number}", "dim"))
            for c in channels]))
        if picked is None:
            return
        channel = channels[picked]
    try:
        started = await records.start_conversation(contact.id, channel.phone_number_id, record_id=record_id,
                                                   now=inbox.now())
    except PropertyError as error:
        app.notify(str(error), title="WhatsApp", severity="error", markup=False)
        return
    screen = await go_to_thread(app, started.thread_id)
    if started.existed:
        app.notify(f"Your thread with {contact.name} on {channel.name} is open.", title="WhatsApp", markup=False)
    if started.session_open:
        await screen.action_reply()
        return
    await screen.action_template()  # which asks first when the contact has no opt-in


async def show_thread_records(screen, records: Records, thread_id: int) -> None:
    """The context panel's records (F19) for the open thread."""
    from widgets.contact_panel import ContactPanel

    found = await records.thread_records(thread_id)
    if screen.open_thread is not None and screen.open_thread.id == thread_id:
        screen.query_one(ContactPanel).show_records(thread_id, found)


async def link_thread(app: App, records: Records, thread_id: int) -> bool:
    """Link the open thread to a deal or ticket (its contact's first, then any); run in a worker."""
    linked = {r.id for r in await records.thread_records(thread_id)}
    choices: list[Record] = []
    for kind in ("deal", "ticket"):
        rows = await records.rows(kind, None, 0, 500)
        choices += [Record(r.id, kind, r.title) for r in rows if r.id not in linked]
    if not choices:
        app.notify("No deal or ticket to link (import some with `wabox import deals|tickets`).", title="Link")
        return False
    picked = await app.push_screen_wait(ChoicePrompt("Link this thread to a deal or ticket", [
        Content.assemble((f"{r.type:<7}", "dim"), literal(r.name, limit=70, keep_newlines=False)) for r in choices],
        search=True))
    if picked is None:
        return False
    await records.associate("thread", thread_id, choices[picked].id)
    app.notify(f"Linked to {choices[picked].type} {choices[picked].name}", title="Link", markup=False)
    return True
