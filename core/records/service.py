"""Records for the CLI and the TUI: async calls over the store, each one hop to its connection's thread."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from core import phones, policy
from core.records import db as records
from core.records.consent import missing_opt_in
from core.records.merge import merge_contacts, merge_log
from core.records.properties import CONTACT_FIELDS, ObjectType, Property, PropertyError, normalise
from core.store.db import Store, log_changes

# Fields an agent edits on a record page (the rest come from imports); a contact's are its columns.
EDITABLE = {"contact": ("name", "phone", "mobile", "email", "owner", "opt_in_source", "opt_in_date"),
            "deal": ("name", "owner", "stage", "amount", "close_date"), "ticket": ("name", "owner", "status",
                                                                                   "priority")}


@dataclass(frozen=True)
class ContactPage:
    contact: records.ContactRecord
    records: list[records.Record]        # companies, deals, tickets, custom records it is linked to
    threads: list[int]
    merges: list[dict]


@dataclass(frozen=True)
class RecordPage:
    record: records.Record
    type: ObjectType
    records: list[records.Record]        # records linked to it either way (a deal's company)
    contacts: list[records.ContactRecord]
    threads: list[int]


@dataclass(frozen=True)
class Started:
    """Where "start a WhatsApp conversation" leads: the thread (existing or new) and what may be sent in it."""
    thread_id: int
    existed: bool
    session_open: bool


class Records:
    def __init__(self, store: Store, *, region: str | None = None) -> None:
        self.store = store
        self.region = region

    async def types(self) -> list[ObjectType]:
        return await self.store.run(records.object_types)

    async def object_type(self, name: str) -> ObjectType | None:
        return await self.store.run(records.object_type, name)

    async def count(self, kind: str, search: str | None = None) -> int:
        return await self.store.run(records.count, kind, search)

    async def rows(self, kind: str, search: str | None, offset: int, limit: int) -> list[records.Row]:
        return await self.store.run(records.rows, kind, search, offset, limit)

    async def contact_page(self, contact_id: int) -> ContactPage | None:
        def read(db: sqlite3.Connection) -> ContactPage | None:
            found = records.contact(db, contact_id)
            if found is None:
                return None
            return ContactPage(found, records.associated_records(db, "contact", contact_id),
                               records.contact_threads(db, contact_id), merge_log(db, contact_id))
        return await self.store.run(read)

    async def record_page(self, record_id: int) -> RecordPage | None:
        def read(db: sqlite3.Connection) -> RecordPage | None:
            found = records.record(db, record_id)
            kind = found and records.object_type(db, found.type)
            if found is None or kind is None:
                return None
            return RecordPage(found, kind, records.associated_records(db, "record", record_id),
                              records.record_contacts(db, record_id), records.record_threads(db, record_id))
        return await self.store.run(read)

    async def thread_records(self, thread_id: int) -> list[records.Record]:
        """The context panel's records: the thread's own and its contact's (F19), each once."""
        def read(db: sqlite3.Connection) -> list[records.Record]:
            own = records.associated_records(db, "thread", thread_id)
            row = db.execute("SELECT contact_id FROM thread WHERE id = ?", (thread_id,)).fetchone()
            theirs = records.associated_records(db, "contact", row[0]) if row and row[0] else []
            seen: set[int] = set()
            return [r for r in own + theirs if not (r.id in seen or seen.add(r.id))]
        return await self.store.run(read)

    async def edit(self, kind: str, record_id: int, name: str, raw: str) -> str:
        """Set one property from what an agent typed; returns the stored value, or PropertyError saying why not."""
        def write(db: sqlite3.Connection) -> str:
            now = _now()
            if kind == "contact":
                prop = next((p for p in CONTACT_FIELDS if p.name == name), None) or next(
                    (p for p in records.contact_properties(db) if p.name == name), None)
                if prop is None:
                    raise PropertyError(f"{name}: no such contact property")
                value = normalise(prop, raw, region=self.region)
                fields, props = ({name: value}, {}) if name in records.CONTACT_COLUMNS else ({}, {name: value})
                records.save_contact(db, record_id, fields, props, now, region=self.region)
                return value
            found = records.record(db, record_id)
            kind_type = found and records.object_type(db, found.type)
            if found is None or kind_type is None:
                raise PropertyError(f"no record {record_id}")
            if name in ("name", "owner"):
                value = normalise(Property(name), raw)
                records.save_record(db, found.type, record_id, value if name == "name" else None,
                                    value if name == "owner" else None, {}, now)
                return value
            prop = kind_type.property(name)
            if prop is None:
                raise PropertyError(f"{name}: no such property of a {found.type}")
            value = normalise(prop, raw, region=self.region)
            records.save_record(db, found.type, record_id, None, None, {name: value}, now)
            return value
        return await self.store.write(write)

    async def associate(self, kind: str, from_id: int, record_id: int) -> bool:
        return await self.store.write(records.associate, kind, from_id, record_id, _now())

    async def dissociate(self, kind: str, from_id: int, record_id: int) -> None:
        await self.store.write(records.dissociate, kind, from_id, record_id, _now())

    async def merge(self, keep: int, gone: int, *, agent: str | None) -> None:
        def write(db: sqlite3.Connection) -> None:
            try:
                merge_contacts(db, keep, gone, agent=agent, now=_now())
            except ValueError as error:
                raise PropertyError(str(error)) from None
        await self.store.write(write)

    async def start_conversation(self, contact_id: int, channel: str, *, record_id: int | None, now: float,
                                 number: str | None = None) -> Started:
        """F9: the thread with this contact on `channel` — the existing one, or a new one — linked to the record
        the agent started from. `number`: which of the contact's numbers (default: its WhatsApp, mobile, phone)."""
        def write(db: sqlite3.Connection) -> Started:
            found = records.contact(db, contact_id)
            if found is None:
                raise PropertyError(f"no contact {contact_id}")
            if db.execute("SELECT 1 FROM channel WHERE phone_number_id = ?", (channel,)).fetchone() is None:
                raise PropertyError(f"{channel} is not a connected number")
            e164 = phones.to_e164(number, self.region) if number else found.whatsapp_number(self.region)
            if e164 is None:
                raise PropertyError(f"{found.name} has no phone number to write to on WhatsApp")
            wa_id = e164[1:]
            row = db.execute("SELECT id, last_inbound_at FROM thread WHERE channel = ? AND (wa_id = ? OR"
                             " (contact_id = ? AND wa_id IS NOT NULL)) ORDER BY wa_id = ? DESC, last_message_at DESC"
                             " LIMIT 1", (channel, wa_id, contact_id, wa_id)).fetchone()
            existed = row is not None
            if row is None:
                thread_id = db.execute("INSERT INTO thread(channel, wa_id, contact_id, status, created_at)"
                                       " VALUES (?, ?, ?, 'open', ?)", (channel, wa_id, contact_id, int(now))).lastrowid
                db.execute("INSERT INTO contact_number(contact_id, e164, source) VALUES (?, ?, 'whatsapp')"
                           " ON CONFLICT (e164, contact_id) DO NOTHING", (contact_id, e164))
                last_inbound = None
                log_changes(db, [("thread", thread_id)], at=int(now))
            else:
                thread_id, last_inbound = row["id"], row["last_inbound_at"]
            if record_id is not None:
                records.associate(db, "thread", thread_id, record_id, int(now))
            return Started(thread_id, existed, policy.freeform_open(last_inbound, int(now)))
        return await self.store.write(write)

    async def consent_problem(self, thread_id: int, now: float) -> str | None:
        return await self.store.run(missing_opt_in, thread_id, now)


def _now() -> int:
    return int(time.time())
