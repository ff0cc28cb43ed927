"""The context panel (F19): the contact's details and their other threads. Everything in it is customer text."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from core import phones
from core.model import Contact, ThreadSummary
from widgets.formatting import short_time
from widgets.literal import literal


class ContactPanel(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Content(""), id=id)

    def show_contact(self, contact: Contact | None, threads: list[ThreadSummary], *, current: int | None,
                     numbers: dict[str, str], now: float) -> None:
        if contact is None:
            self.update(Content.styled("No contact", "dim"), layout=False)
            return
        parts: list[Content] = [Content.styled("Contact", "bold underline"), Content("")]

        def field(label: str, value: str | None) -> None:
            parts.append(Content.assemble((f"{label:<7}", "dim"),
                                          literal(value, limit=200, keep_newlines=False) if value else
                                          Content.styled("—", "dim")))

        field("Name", contact.name)
        field("Phone", contact.phone or phones.display(contact.e164 or contact.wa_id))  # WhatsApp's own number
        field("Mobile", contact.mobile)
        field("Email", contact.email)
        field("Owner", contact.owner)
        field("WA id", contact.wa_id or contact.user_id)
        parts += [Content(""), Content.styled("Threads", "bold underline")]
        for t in threads:
            mark = "▸ " if t.id == current else "  "
            parts.append(Content.assemble(mark, (numbers.get(t.channel, t.channel), ""),
                                          (f" {t.status} {short_time(t.last_message_at, now)}", "dim")))
        self.update(Content("\n").join(parts), layout=False)  # its size is set by the CSS, not by its text
