"""Records in the database (plain sqlite3, run inside the caller's transaction through Store.run/write).

Contacts live in `contact` (+ `contact_number` for matching, F18); companies, deals, tickets and custom objects in
`record`. Every write here keeps the search indexes (contact_props_fts, record_fts) and the number index true.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from core import phones
from core.records.model import ContactRecord, Record, Row
from core.records.properties import (BUILTIN_TYPES, CONTACT_FIELDS, ObjectType, Property, PropertyError,
                                     match_keys, number_info)
from core.store.db import dialect_of, log_changes
from core.views import fold, search_query

CONTACT_COLUMNS = tuple(p.name for p in CONTACT_FIELDS)


# ---- object types ---------------------------------------------------------------------------------------------

def object_types(db: sqlite3.Connection) -> list[ObjectType]:
    """Companies, deals, tickets, then the admins' types by name (never 'contact', which holds contact props)."""
    custom = [_type_from(row) for row in db.execute("SELECT * FROM object_type WHERE name != 'contact' ORDER BY name")]
    return list(BUILTIN_TYPES) + custom


def object_type(db: sqlite3.Connection, name: str) -> ObjectType | None:
    for builtin in BUILTIN_TYPES:
        if builtin.name == name:
            return builtin
    row = db.execute("SELECT * FROM object_type WHERE name = ?", (name,)).fetchone()
    return _type_from(row) if row and name != "contact" else None


def contact_properties(db: sqlite3.Connection) -> tuple[Property, ...]:
    row = db.execute("SELECT * FROM object_type WHERE name = 'contact'").fetchone()
    return _type_from(row).properties if row else ()


def define_type(db: sqlite3.Connection, name: str, label: str, properties: Sequence[Property]) -> None:
    """Create an object type, or add properties to one (an existing property keeps its type)."""
    row = db.execute("SELECT * FROM object_type WHERE name = ?", (name,)).fetchone()
    known = list(_type_from(row).properties) if row else []
    names = {p.name for p in known}
    merged = known + [p for p in properties if p.name not in names]
    db.execute("INSERT INTO object_type(name, label, properties) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
               " SET properties = excluded.properties", (name, label, json.dumps([p.to_json() for p in merged])))


def _type_from(row: sqlite3.Row) -> ObjectType:
    return ObjectType(row["name"], row["label"], tuple(Property.from_json(p) for p in json.loads(row["properties"])))


# ---- contacts ---------------------------------------------------------------------------------------------------

def contact(db: sqlite3.Connection, contact_id: int) -> ContactRecord | None:
    row = db.execute("SELECT * FROM contact WHERE id = ?", (contact_id,)).fetchone()
    return _contact_from(row) if row else None


def _contact_from(row: sqlite3.Row) -> ContactRecord:
    return ContactRecord(row["id"], row["name"], row["phone"], row["mobile"], row["email"], row["owner"],
                         row["opt_in_source"], row["opt_in_date"], json.loads(row["props"] or "{}"), row["wa_id"],
                         row["e164"])


@dataclass
class Deferred:
    """The index rows of new contacts, written in one executemany each when an import flushes its batch."""
    numbers: list[tuple[int, str, str]] = field(default_factory=list)
    texts: list[tuple[int, str]] = field(default_factory=list)

    def flush(self, db: sqlite3.Connection) -> None:
        db.executemany("INSERT INTO contact_number(contact_id, e164, source) VALUES (?, ?, ?)"
                       " ON CONFLICT (e164, contact_id) DO NOTHING", self.numbers)
        db.executemany("INSERT INTO contact_props_fts(rowid, text) VALUES (?, ?)", self.texts)
        self.numbers.clear()
        self.texts.clear()


def save_contact(db: sqlite3.Connection, contact_id: int | None, fields: dict[str, str], props: dict[str, str],
                 now: int, *, region: str | None = None, log: bool = True, deferred: Deferred | None = None) -> int:
    """Create (`contact_id` None) or update a contact from normalised values ("" clears a field). With `deferred`,
    a new contact's index rows wait there for the caller's flush."""
    values = {k: (v or None) for k, v in fields.items() if k in CONTACT_COLUMNS}
    if contact_id is None:
        values["name"] = values.get("name") or values.get("email") or values.get("phone") or values.get("mobile")
        if not values["name"]:
            raise PropertyError("name: a contact needs a name, a phone, a mobile or an email")
        kept_props = {k: v for k, v in props.items() if v}
        columns = [*values, "props", "created_at"]
        contact_id = db.execute(f"INSERT INTO contact({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                                [*values.values(), json.dumps(kept_props, ensure_ascii=False), now]).lastrowid
        saved = ContactRecord(contact_id, **{k: v for k, v in values.items() if k != "name"}, name=values["name"],
                              props=kept_props)
        fresh = True
    else:
        known = contact(db, contact_id)
        if known is None:
            raise PropertyError(f"no contact {contact_id}")
        if "name" in values and not values["name"]:
            raise PropertyError("name: a contact needs a name")
        kept_props = {k: v for k, v in {**known.props, **props}.items() if v}
        if kept_props == known.props and all(getattr(known, k) == v for k, v in values.items()):
            return contact_id  # nothing changes (an import of the same file again): nothing to write
        db.execute(f"UPDATE contact SET {''.join(f'{k} = ?, ' for k in values)}props = ? WHERE id = ?",
                   [*values.values(), json.dumps(kept_props, ensure_ascii=False), contact_id])
        saved = replace(known, **values, props=kept_props)
        fresh = False
    if fresh and deferred is not None:
        deferred.numbers += number_rows(saved, region)
        text = contact_search_text(saved, region)
        if text:
            deferred.texts.append((contact_id, text))
    else:
        if fresh or "phone" in fields or "mobile" in fields:
            index_numbers(db, saved, region=region, fresh=fresh)
        index_contact(db, saved, region=region, fresh=fresh)
    if log:  # an import logs once per batch instead
        log_changes(db, [("contact", None)], at=now)
    return contact_id


def index_numbers(db: sqlite3.Connection, c: ContactRecord, *, region: str | None = None, fresh: bool = False) -> None:
    """contact_number holds every E.164 form of the phone and mobile properties (beside the WhatsApp number)."""
    if not fresh:
        db.execute("DELETE FROM contact_number WHERE contact_id = ? AND source IN ('phone', 'mobile')", (c.id,))
    db.executemany("INSERT INTO contact_number(contact_id, e164, source) VALUES (?, ?, ?)"
                   " ON CONFLICT (e164, contact_id) DO NOTHING", number_rows(c, region))


def number_rows(c: ContactRecord, region: str | None) -> list[tuple[int, str, str]]:
    return [(c.id, key, source) for source, raw in (("phone", c.phone), ("mobile", c.mobile))
            for key in sorted(match_keys(raw, region))]


def contact_search_text(c: ContactRecord, region: str | None = None) -> str:
    """What contact_props_fts holds beyond contact_fts: owner, opt-in, custom properties, numbers as digits."""
    digits = []
    for raw in (c.phone, c.mobile):
        info = number_info(raw, region)
        if info:
            digits += [info.e164[1:], info.national]
    words = [c.owner or "", c.opt_in_source or "", *c.props.values(), *digits]
    return fold(" ".join(w for w in words if w))


def index_contact(db: sqlite3.Connection, c: ContactRecord, *, region: str | None = None, fresh: bool = False) -> None:
    if not fresh:
        db.execute("DELETE FROM contact_props_fts WHERE rowid = ?", (c.id,))
    text = contact_search_text(c, region)
    if text:
        db.execute("INSERT INTO contact_props_fts(rowid, text) VALUES (?, ?)", (c.id, text))


def contact_by_number(db: sqlite3.Connection, raw: str, region: str | None = None) -> int | None:
    keys = sorted(match_keys(raw, region))
    if not keys:
        return None
    row = db.execute(f"SELECT contact_id FROM contact_number WHERE e164 IN ({','.join('?' * len(keys))})"
                     " ORDER BY contact_id LIMIT 1", keys).fetchone()
    return row[0] if row else None


def contact_by_email(db: sqlite3.Connection, email: str) -> int | None:
    row = db.execute("SELECT id FROM contact WHERE email = ? ORDER BY id LIMIT 1", (email.lower(),)).fetchone()
    return row[0] if row else None


# ---- records ----------------------------------------------------------------------------------------------------

def record(db: sqlite3.Connection, record_id: int) -> Record | None:
    row = db.execute("SELECT * FROM record WHERE id = ?", (record_id,)).fetchone()
    return _record_from(row) if row else None


def _record_from(row: sqlite3.Row) -> Record:
    return Record(row["id"], row["type"], row["name"], row["owner"], json.loads(row["props"] or "{}"))


def save_record(db: sqlite3.Connection, type_name: str, record_id: int | None, name: str | None,
                owner: str | None, props: dict[str, str], now: int, *, log: bool = True) -> int:
    """Create or update a company/deal/ticket/custom record from normalised values; None leaves a field as is."""
    if record_id is None:
        if not name:
            raise PropertyError("name: a record needs a name")
        record_id = db.execute("INSERT INTO record(type, name, name_key, owner, props, created_at, updated_at)"
                               " VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (type_name, name, name.casefold(), owner or None,
                                json.dumps({k: v for k, v in props.items() if v}, ensure_ascii=False), now,
                                now)).lastrowid
    else:
        known = record(db, record_id)
        if known is None or known.type != type_name:
            raise PropertyError(f"no {type_name} {record_id}")
        if name is not None and not name:
            raise PropertyError("name: a record needs a name")
        new_name = name or known.name
        merged = {k: v for k, v in {**known.props, **props}.items() if v}
        db.execute("UPDATE record SET name = ?, name_key = ?, owner = ?, props = ?, updated_at = ? WHERE id = ?",
                   (new_name, new_name.casefold(), known.owner if owner is None else (owner or None),
                    json.dumps(merged, ensure_ascii=False), now, record_id))
    saved = record(db, record_id)
    assert saved is not None
    db.execute("DELETE FROM record_fts WHERE rowid = ?", (record_id,))
    db.execute("INSERT INTO record_fts(rowid, text) VALUES (?, ?)",
               (record_id, fold(" ".join([saved.name, saved.owner or "", *saved.props.values()]))))
    if log:
        log_changes(db, [("record", None)], at=now)
    return record_id


def record_by_name(db: sqlite3.Connection, type_name: str, name: str) -> int | None:
    row = db.execute("SELECT id FROM record WHERE type = ? AND name_key = ? ORDER BY id LIMIT 1",
                     (type_name, name.strip().casefold())).fetchone()
    return row[0] if row else None


# ---- associations ---------------------------------------------------------------------------------------------

def associate(db: sqlite3.Connection, kind: str, from_id: int, record_id: int, now: int, *,
              log: bool = True) -> bool:
    """Link a contact, thread or record to a record; False when it already was."""
    assert kind in ("contact", "thread", "record")
    cursor = db.execute("INSERT INTO association(kind, from_id, record_id, created_at) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (kind, from_id, record_id) DO NOTHING", (kind, from_id, record_id, now))
    if cursor.rowcount and log:
        log_changes(db, [("record", None)], at=now)
    return bool(cursor.rowcount)


def dissociate(db: sqlite3.Connection, kind: str, from_id: int, record_id: int, now: int) -> None:
    db.execute("DELETE FROM association WHERE kind = ? AND from_id = ? AND record_id = ?", (kind, from_id, record_id))
    log_changes(db, [("record", None)], at=now)


def associated_records(db: sqlite3.Connection, kind: str, from_id: int) -> list[Record]:
    """The records a contact, thread or record is linked to, and (for a record) the records linked to it."""
    rows = db.execute("SELECT r.* FROM association a JOIN record r ON r.id = a.record_id"
                      " WHERE a.kind = ? AND a.from_id = ? ORDER BY r.type, r.name_key, r.id", (kind, from_id))
    found = [_record_from(row) for row in rows]
    if kind == "record":
        back = db.execute("SELECT r.* FROM association a JOIN record r ON r.id = a.from_id"
                          " WHERE a.kind = 'record' AND a.record_id = ? ORDER BY r.type, r.name_key, r.id", (from_id,))
        found += [_record_from(row) for row in back if row["id"] not in {r.id for r in found}]
    return found


def record_contacts(db: sqlite3.Connection, record_id: int) -> list[ContactRecord]:
    """The contacts linked to a record, directly or through a record linked to it (a deal's company's people)."""
    rows = db.execute(
        "SELECT c.* FROM contact c WHERE c.id IN (SELECT from_id FROM association WHERE kind = 'contact' AND"
        " (record_id = :r OR record_id IN (SELECT from_id FROM association WHERE kind = 'record' AND record_id = :r)"
        " OR record_id IN (SELECT record_id FROM association WHERE kind = 'record' AND from_id = :r)))"
        " ORDER BY c.name, c.id", {"r": record_id})
    return [_contact_from(row) for row in rows]


def record_threads(db: sqlite3.Connection, record_id: int) -> list[int]:
    return [row[0] for row in db.execute("SELECT from_id FROM association WHERE kind = 'thread' AND record_id = ?"
                                         " ORDER BY from_id", (record_id,))]


def contact_threads(db: sqlite3.Connection, contact_id: int) -> list[int]:
    return [row[0] for row in db.execute("SELECT id FROM thread WHERE contact_id = ? ORDER BY last_message_at DESC,"
                                         " id", (contact_id,))]


def company_names(db: sqlite3.Connection, contact_id: int) -> list[str]:
    return [row[0] for row in db.execute(
        "SELECT r.name FROM association a JOIN record r ON r.id = a.record_id WHERE a.kind = 'contact'"
        " AND a.from_id = ? AND r.type = 'company' ORDER BY r.name_key, r.id", (contact_id,))]


# ---- lists and search -------------------------------------------------------------------------------------------

# The full-text part per backend: SQLite's FTS5 tables; on PostgreSQL the contact's own search column
# (core.store.schema._PG_SEARCH) and the side tables' `search` columns (_PG_RECORDS_SEARCH), folded the same way.
_MATCH = {
    "sqlite": {
        "contact": ("c.id IN (SELECT rowid FROM contact_fts WHERE contact_fts MATCH :q"
                    " UNION SELECT rowid FROM contact_props_fts WHERE contact_props_fts MATCH :q)"),
        "record": "r.id IN (SELECT rowid FROM record_fts WHERE record_fts MATCH :q)",
    },
    "postgresql": {
        "contact": ("c.id IN (SELECT m.id FROM contact m WHERE m.search @@ wabox_tsquery(:q)"
                    " UNION SELECT rowid FROM contact_props_fts WHERE search @@ wabox_tsquery(:q))"),
        "record": "r.id IN (SELECT rowid FROM record_fts WHERE search @@ wabox_tsquery(:q))",
    },
}


def _contact_where(search: str | None, dialect: str) -> tuple[str, dict]:
    query = search_query(search, dialect) if search else None
    if query is None:
        return "1 = 1", {}
    return _MATCH[dialect]["contact"], {"q": query}


def _record_where(type_name: str, search: str | None, dialect: str) -> tuple[str, dict]:
    query = search_query(search, dialect) if search else None
    if query is None:
        return "r.type = :type", {"type": type_name}
    return f"r.type = :type AND {_MATCH[dialect]['record']}", {"type": type_name, "q": query}


def count(db: sqlite3.Connection, type_name: str, search: str | None = None) -> int:
    if type_name == "contact":
        where, params = _contact_where(search, dialect_of(db))
        return db.execute(f"SELECT count(*) FROM contact c WHERE {where}", params).fetchone()[0]
    where, params = _record_where(type_name, search, dialect_of(db))
    return db.execute(f"SELECT count(*) FROM record r WHERE {where}", params).fetchone()[0]


def rows(db: sqlite3.Connection, type_name: str, search: str | None, offset: int, limit: int) -> list[Row]:
    """A page of the records list, ordered by name."""
    if type_name == "contact":
        where, params = _contact_where(search, dialect_of(db))
        found = db.execute(f"SELECT c.id, c.name, c.phone, c.mobile, c.email, c.e164 FROM contact c WHERE {where}"
                           " ORDER BY c.name, c.id LIMIT :limit OFFSET :offset",
                           {**params, "limit": limit, "offset": offset}).fetchall()
        return [Row(r["id"], r["name"], " · ".join(v for v in (r["phone"] or phones.display(r["e164"]), r["mobile"],
                                                                  r["email"]) if v)) for r in found]
    where, params = _record_where(type_name, search, dialect_of(db))
    found = db.execute(f"SELECT r.id, r.name, r.owner, r.props FROM record r WHERE {where}"
                       " ORDER BY r.name_key, r.id LIMIT :limit OFFSET :offset",
                       {**params, "limit": limit, "offset": offset}).fetchall()
    return [Row(r["id"], r["name"], " · ".join([*json.loads(r["props"]).values(), *([f"@{r['owner']}"] if r["owner"]
                                                                                   else [])])) for r in found]


def contacts_for_export(db: sqlite3.Connection) -> Iterable[ContactRecord]:
    for row in db.execute("SELECT * FROM contact ORDER BY id"):
        yield _contact_from(row)


def records_for_export(db: sqlite3.Connection, type_name: str) -> Iterable[Record]:
    for row in db.execute("SELECT * FROM record WHERE type = ? ORDER BY id", (type_name,)):
        yield _record_from(row)


def associations_of(db: sqlite3.Connection, kind: str, type_name: str) -> dict[int, list[str]]:
    """{from_id: [names of its linked records of `type_name`]}: the company/contact columns of an export."""
    found: dict[int, list[str]] = {}
    for row in db.execute("SELECT a.from_id, r.name FROM association a JOIN record r ON r.id = a.record_id"
                          " WHERE a.kind = ? AND r.type = ? ORDER BY a.from_id, r.name_key, r.id", (kind, type_name)):
        found.setdefault(row[0], []).append(row[1])
    return found


def record_contact_keys(db: sqlite3.Connection) -> dict[int, list[str]]:
    """{record_id: [the key of each linked contact: email, else phone, else mobile, else #id]}."""
    found: dict[int, list[str]] = {}
    for row in db.execute("SELECT a.record_id, c.id, c.email, c.phone, c.mobile FROM association a JOIN contact c"
                          " ON c.id = a.from_id WHERE a.kind = 'contact' ORDER BY a.record_id, c.id"):
        found.setdefault(row[0], []).append(row[2] or row[3] or row[4] or f"#{row[1]}")
    return found
