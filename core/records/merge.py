"""Merging two contacts that turn out to be one person: nothing is lost, and the merge is recorded.

The kept contact takes the other's threads, numbers, BSUIDs and associations; a field it lacks is filled from the
other; a value it already has differently (a second email, another owner) is kept in the merge log with the
merged contact as it was, and its numbers still match (they stay in contact_number).
"""

from __future__ import annotations

import json
import sqlite3

from core.records import db as records
from core.store.db import log_changes

_FILLED = ("phone", "mobile", "email", "owner", "wa_id", "user_id", "e164", "opt_in_source", "opt_in_date")


def merge_contacts(db: sqlite3.Connection, keep: int, gone: int, *, agent: str | None, now: int) -> None:
    if keep == gone:
        raise ValueError("a contact cannot be merged into itself")
    kept, merged = (db.execute("SELECT * FROM contact WHERE id = ?", (i,)).fetchone() for i in (keep, gone))
    if kept is None or merged is None:
        raise ValueError(f"no contact {gone if kept else keep}")
    snapshot = {
        "contact": dict(merged),
        "numbers": [dict(r) for r in db.execute("SELECT e164, source FROM contact_number WHERE contact_id = ?", (gone,))],
        "user_ids": [r[0] for r in db.execute("SELECT user_id FROM contact_user_id WHERE contact_id = ?", (gone,))],
        "threads": [r[0] for r in db.execute("SELECT id FROM thread WHERE contact_id = ?", (gone,))],
        "records": [r[0] for r in db.execute("SELECT record_id FROM association WHERE kind = 'contact'"
                                             " AND from_id = ?", (gone,))],
    }
    threads = snapshot["threads"]
    db.execute("UPDATE thread SET contact_id = ? WHERE contact_id = ?", (keep, gone))
    # The merged contact's phone/mobile numbers stay matchable as 'merged': an edit of the kept contact's own
    # phone replaces only its own (index_numbers).
    db.execute("INSERT INTO contact_number(contact_id, e164, source) SELECT ?, e164, CASE source WHEN 'whatsapp'"
               " THEN 'whatsapp' ELSE 'merged' END FROM contact_number WHERE contact_id = ?"
               " ON CONFLICT (e164, contact_id) DO NOTHING", (keep, gone))
    db.execute("INSERT INTO contact_user_id(contact_id, user_id) SELECT ?, user_id FROM contact_user_id"
               " WHERE contact_id = ? ON CONFLICT (user_id, contact_id) DO NOTHING", (keep, gone))
    db.execute("INSERT INTO association(kind, from_id, record_id, created_at) SELECT 'contact', ?, record_id,"
               " created_at FROM association WHERE kind = 'contact' AND from_id = ?"
               " ON CONFLICT (kind, from_id, record_id) DO NOTHING", (keep, gone))
    db.execute("DELETE FROM association WHERE kind = 'contact' AND from_id = ?", (gone,))
    fills = {column: merged[column] for column in _FILLED if kept[column] is None and merged[column] is not None}
    props = {**json.loads(merged["props"] or "{}"), **json.loads(kept["props"] or "{}")}
    if kept["name"] in (kept["wa_id"], kept["e164"], kept["user_id"]) and merged["name"]:
        fills["name"] = merged["name"]  # a contact named after its number takes a real name
    sets = ", ".join([f"{column} = ?" for column in fills] + ["props = ?"])
    db.execute(f"UPDATE contact SET {sets} WHERE id = ?",
               [*fills.values(), json.dumps(props, ensure_ascii=False), keep])
    db.execute("INSERT INTO contact_merge(kept_id, merged_id, merged, agent, at) VALUES (?, ?, ?, ?, ?)",
               (keep, gone, json.dumps(snapshot, ensure_ascii=False), agent, now))
    db.execute("DELETE FROM contact_props_fts WHERE rowid = ?", (gone,))
    db.execute("DELETE FROM contact WHERE id = ?", (gone,))
    saved = records.contact(db, keep)
    assert saved is not None
    records.index_numbers(db, saved)
    records.index_contact(db, saved)
    log_changes(db, [("contact", None), *(("thread", t) for t in threads)], at=now)


def merge_log(db: sqlite3.Connection, contact_id: int) -> list[dict]:
    return [{"kept_id": r["kept_id"], "merged_id": r["merged_id"], "agent": r["agent"], "at": r["at"],
             "merged": json.loads(r["merged"])}
            for r in db.execute("SELECT * FROM contact_merge WHERE kept_id = ? ORDER BY id", (contact_id,))]
