"""What the records screens draw: plain values, no store (widgets import these)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.records.properties import number_info


@dataclass(frozen=True)
class ContactRecord:
    id: int
    name: str
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    owner: str | None = None
    opt_in_source: str | None = None
    opt_in_date: str | None = None
    props: dict[str, str] = field(default_factory=dict)
    wa_id: str | None = None
    e164: str | None = None

    @property
    def opted_in(self) -> bool:
        return bool(self.opt_in_date)

    def whatsapp_number(self, region: str | None = None) -> str | None:
        """The number to write to on WhatsApp: its own WhatsApp number, else mobile, else phone (E.164)."""
        if self.e164:
            return self.e164
        for raw in (self.mobile, self.phone):
            info = number_info(raw, region)
            if info:
                return info.e164
        return None


@dataclass(frozen=True)
class Record:
    id: int
    type: str
    name: str
    owner: str | None = None
    props: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One line of the records list, any kind: what the list draws."""
    id: int
    title: str
    detail: str
