"""The context panel (F19): the contact's details and their other threads. Everything in it is customer text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from core import phones
from core.model import Contact, ThreadSummary
from widgets.formatting import short_time
from widgets.literal import literal

if TYPE_CHECKING:
    from core.records.model import Record


class ContactPanel(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Content(""), id=id)
        self._contact = Content("")
        self._records = Content("")
        self._records_for: int | None = None  # the thread they belong to: another thread's are never shown

    def show_records(self, thread_id: int, records: list[Record]) -> None:
        """The company, deals, tickets and custom records of the thread and its contact (issue 9)."""
        self._records_for = thread_id
        parts = [Content(""), Content.styled("Records", "bold underline")]
        parts += [Content.assemble((f"{r.type:<8}", "dim"), literal(r.name, limit=200, keep_newlines=False),
                                   (f"  {r.props['stage']}" if r.props.get("stage") else
                                    f"  {r.props['status']}" if r.props.get("status") else "", "dim"))
                  for r in records] or [Content.styled("none (L links a deal or ticket)", "dim")]
        self._records = Content("\n").join(parts)
        self.update(Content("\n").join([self._contact, self._records]), layout=False)

    def show_contact(self, contact: Contact | None, threads: list[ThreadSummary], *, current: int | None,
                     numbers: dict[str, str], now: float) -> None:
        if contact is None:
            self._contact, self._records = Content.styled("No contact", "dim"), Content("")
            self.update(self._contact, layout=False)
            return
        if current != self._records_for:
            self._records, self._records_for = Content(""), None
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
        self._contact = Content("\n").join(parts)
        self.update(Content("\n").join([self._contact, self._records]), layout=False)  # its size is set by the CSS
