"""Apply parsed webhook events to the store, inside the caller's transaction (plain sqlite3: see Store.run).

Idempotent and order-independent: a wamid is stored once; a status is kept once per (wamid, status) and the
message's state only moves forward; thread summaries are derived from the messages. So the same events delivered
twice, in any order, leave the same database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import sqlite3

from core import phones, policy
from core.model import SESSION_SECONDS, DeliveryStatus, status_moves_forward
from core.records.merge import merge_contacts
from core.store.db import dialect_of, log_changes
from core.store.schema import MESSAGE_FTS_TEXT
from core.store.threads import preview_for, refresh_thread_summary
from core.webhooks import ChannelError, Event, InboundMessage, OtherChange, StatusUpdate

log = logging.getLogger("wabox.ingest")

# Only a real customer message opens or renews the 24-hour window. Meta does not document whether reactions,
# system notices or unsupported messages do; counting them could let an agent send into a closed window
# (131047), so we take the conservative reading of reference §6.
# (Repeated word for word in the schema's message_session_opener index and core.store.conversations.)
_NOT_SESSION = frozenset({"reaction", "system", "unsupported"})
_QUARANTINE_CHECKED = frozenset({"text", "image", "video", "document", "interactive", "button"})
# A timestamp further ahead of our clock than this is taken as "now": a message from the future would hold a
# session open for days (+30 days gave a 744 h session).
FUTURE_SLACK = 300
# An identical value-level error again within this long is Meta retrying the same body, not news.
ERROR_REPEAT_WINDOW = 24 * 60 * 60
REENGAGEMENT = 131047


@dataclass
class IngestResult:
    new_messages: int = 0
    duplicates: int = 0
    statuses: int = 0
    parked: int = 0
    unattributed: int = 0  # messages naming no customer at all (kept raw by the receiver, in no thread)
    unknown_channels: set[str] = field(default_factory=set)
    threads: set[int] = field(default_factory=set)
    media: list[InboundMessage] = field(default_factory=list)  # new inbound media, for the downloader


def ingest(db: sqlite3.Connection, events: list[Event], *, channels: set[str] | None, now: int) -> IngestResult:
    """Store `events`; `channels` are the phone_number_ids we serve (None: accept all)."""
    return ingest_many(db, [events], channels=channels, now=now)[0]


def ingest_many(db: sqlite3.Connection, bodies: list[list[Event]], *, channels: set[str] | None,
                now: int) -> list[IngestResult]:
    """ingest() of each body's events in turn, with one channel stamp and one change-log write for them all (the
    receiver's group commit: fewer statements a webhook)."""
    results = []
    changes: list[tuple[str, int | None]] = []
    seen_channels: set[str] = set()
    search = SearchLater(db)
    try:
        for events in bodies:
            result = IngestResult()
            mine = _ingest_events(db, events, channels, now, result, seen_channels, search)
            result.threads.update(t for kind, t in mine if t is not None)
            changes += mine
            results.append(result)
        search.flush()
    finally:
        search.close()
    for channel in seen_channels:
        db.execute("UPDATE channel SET last_webhook_at = ? WHERE phone_number_id = ?", (now, channel))
    if changes:
        log_changes(db, dict.fromkeys(changes), at=now)
    return results


class SearchLater:
    """New messages go into the search index together, in one statement at the end of the batch, instead of one
    FTS5 segment each (schema: _SEARCH_IN_BATCHES). The marker row that holds the trigger back lives only inside
    this batch: close() takes it out whatever happened, so it is never committed."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db, self.ids = db, []
        self.active = dialect_of(db) == "sqlite"  # PostgreSQL indexes a generated column: nothing to defer
        if self.active:
            db.execute("INSERT INTO message_fts_later(id) VALUES (1)")

    def add(self, message_id: int) -> None:
        if self.active:
            self.ids.append(message_id)

    def flush(self) -> None:
        """Index what is waiting: at the end, and before a message's text changes (its FTS row must exist)."""
        if self.ids:
            self.db.execute(f"INSERT INTO message_fts(rowid, text) SELECT id, {MESSAGE_FTS_TEXT} FROM message"
                            " WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(self.ids),))
            self.ids = []

    def close(self) -> None:
        if self.active and self.db.in_transaction:  # after some errors SQLite has already rolled it all back
            self.db.execute("DELETE FROM message_fts_later")


def _ingest_events(db: sqlite3.Connection, events: list[Event], channels: set[str] | None, now: int,
                   result: IngestResult, seen_channels: set[str], search: SearchLater) -> list[tuple[str, int | None]]:
    changes: list[tuple[str, int | None]] = []
    for event in events:
        if isinstance(event, (InboundMessage, StatusUpdate)):
            if channels is not None and event.channel not in channels:
                result.unknown_channels.add(event.channel)
                continue
            seen_channels.add(event.channel)
        if isinstance(event, InboundMessage):
            if event.timestamp > now + FUTURE_SLACK:
                event = replace(event, timestamp=now)
            # an edit or deletion that names no message is kept as a message of its own: shown, not dropped
            amends = event.type in ("edit", "revoke") and event.original_wamid
            thread_id = _change(db, event, result, search) if amends else _inbound(db, event, result, search)
            if thread_id is not None:
                changes.append(("message", thread_id))
        elif isinstance(event, StatusUpdate):
            thread_id = _status(db, event, result)
            if thread_id is not None:
                changes.append(("status", thread_id))
        elif isinstance(event, ChannelError):
            if _channel_error(db, event, now):
                changes.append(("channel", None))
        elif isinstance(event, OtherChange):
            log.info("webhook field %r for WABA %s kept raw", event.field, event.waba_id)
            if event.field.startswith("message_template"):
                changes.append(("template", None))
    return changes


def _channel_error(db: sqlite3.Connection, e: ChannelError, now: int) -> bool:
    """Record a value-level error unless the same one was recorded lately (Meta retrying the same body)."""
    fingerprint = hashlib.sha256(json.dumps([e.channel, e.waba_id, e.code, e.title, e.message, e.details],
                                            ensure_ascii=False).encode()).hexdigest()
    if db.execute("SELECT 1 FROM channel_error WHERE fingerprint = ? AND at > ?",
                  (fingerprint, now - ERROR_REPEAT_WINDOW)).fetchone():
        return False
    db.execute("INSERT INTO channel_error(channel, waba_id, code, title, message, details, at, fingerprint)"
               " VALUES (?,?,?,?,?,?,?,?)", (e.channel, e.waba_id, e.code, e.title, e.message, e.details, now, fingerprint))
    log.warning("value-level error on %s: %s %s", e.channel or e.waba_id, e.code, e.title)
    return True


# --- inbound messages ------------------------------------------------------------------------------------


def _inbound(db: sqlite3.Connection, m: InboundMessage, result: IngestResult, search: SearchLater) -> int | None:
    if m.customer.wa_id:  # the usual case: whether it is new, its thread and its contact, in one query
        known = db.execute(_KNOWN_CUSTOMER, (m.channel, m.wamid, m.channel, m.customer.wa_id)).fetchone()
        if known["duplicate"]:
            result.duplicates += 1
            return None
        thread = _thread_for(db, m, known if known["id"] is not None else None, looked_up=True)
    elif db.execute("SELECT 1 FROM message WHERE channel = ? AND wamid = ?", (m.channel, m.wamid)).fetchone():
        result.duplicates += 1
        return None
    else:
        thread = _thread_for(db, m)
    if thread is None:
        result.unattributed += 1
        log.warning("message %r names no customer (no from, from_user_id or BSUID): kept raw only", m.wamid)
        return None
    thread_id = thread.id
    reason = policy.quarantine_reason(m.text) if m.type in _QUARANTINE_CHECKED else None
    error = m.error
    # One statement, one round trip on PostgreSQL: the new id, and whether an edit or revoke came before it.
    message_id, changed_before = db.execute(
        "INSERT INTO message(thread_id, channel, wamid, direction, type, raw_type, text, timestamp, context_wamid,"
        " media_id, mime_type, sha256, file_name, quarantined, quarantine_reason, payload, error_code, error_title,"
        " error_details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id,"
        " EXISTS (SELECT 1 FROM message_change WHERE channel = ? AND original_wamid = ?)",
        (thread_id, m.channel, m.wamid, "in", m.type, m.raw_type, m.text, m.timestamp, m.context_wamid,
         m.media_id, m.mime_type, m.sha256, m.file_name, reason is not None, reason,
         json.dumps(m.payload, ensure_ascii=False), error and error.code, error and error.title,
         error and error.details, m.channel, m.wamid),
    ).fetchone()
    search.add(message_id)
    if changed_before:
        _apply_changes(db, message_id, m.channel, m.wamid, search)
    result.new_messages += 1
    if m.media_id:
        result.media.append(m)
    if m.type == "reaction":
        return thread_id  # a reaction shows on its message; it neither reopens nor counts as unread
    # The usual case: a customer's message newer than anything in an open thread. Its summary is this message, so
    # one UPDATE does what the general path below does in three (and a read). A closed thread goes the general way:
    # its reopening is queued at the thread's last message before this one (thread_queued_reopened reads it).
    if (not changed_before and thread.status == "open" and m.type not in _NOT_SESSION
            and (thread.last_message_at is None or m.timestamp > thread.last_message_at)):
        preview = f"Quarantined message ({reason})" if reason else preview_for(m.type, m.text, m.raw_type,
                                                                                m.file_name)[:500]
        # Only the columns that change: a column named in SET costs its indexes and fires the triggers watching
        # it (thread_tally_au compares seven columns), even when its value stays the same. The thread is open
        # (closed_at is NULL), and this message is the newest one that opens a session.
        sets = ["unread = unread + 1", f"last_inbound_at = {_SESSION_ANCHOR_AT}", "last_message_at = :at",
                "preview = :preview"]
        if m.media_id is not None and thread.has_attachment != 1:
            sets.append("has_attachment = 1")
        if thread.last_direction != "in":
            sets.append("last_direction = 'in'")
        db.execute(f"UPDATE thread SET {', '.join(sets)} WHERE id = :t",
                   {"t": thread_id, "day": SESSION_SECONDS, "at": m.timestamp, "preview": preview})
        return thread_id
    db.execute("UPDATE thread SET unread = unread + 1, status = 'open', closed_at = NULL,"
               " has_attachment = CASE WHEN :media = 1 THEN 1 ELSE has_attachment END WHERE id = :id",
               {"media": m.media_id is not None, "id": thread_id})
    if m.type not in _NOT_SESSION:
        refresh_session(db, thread_id)
    if m.type == "system" and m.new_wa_id:
        _customer_changed_number(db, thread_id, m)
    if m.type == "system" and m.new_user_id and not m.new_wa_id:
        _customer_changed_user_id(db, thread_id, m)
    refresh_thread_summary(db, thread_id)
    return thread_id


def _bsuids(m: InboundMessage) -> list[str]:
    """The BSUIDs this message knows the customer by: the sender's, and for a rotation notice with no sender the
    old one (the customer we know) and the new one (which a message may already have used)."""
    found = [m.customer.user_id, m.previous_user_id]
    if not m.customer.wa_id and not m.customer.user_id:
        found.append(m.new_user_id)
    return list(dict.fromkeys(u for u in found if u))


class ThreadState(NamedTuple):
    """What the inbound path needs to know of a message's thread before it updates it."""
    id: int
    last_message_at: int | None
    status: str
    last_direction: str | None
    has_attachment: int


_STATE = "last_message_at, status, last_direction, has_attachment"  # a ThreadState's columns, after the id
_STATE_OF_T = ", ".join(f"t.{column}" for column in _STATE.split(", "))


# Whether message (channel, wamid) is stored, and the thread of (channel, wa_id) with its contact, in one row.
_KNOWN_CUSTOMER = (
    "SELECT EXISTS (SELECT 1 FROM message WHERE channel = ? AND wamid = ?) AS duplicate, t.id, t.contact_id, t.wa_id,"
    " t.user_id, t.last_message_at, t.status, t.last_direction, t.has_attachment, c.id AS known_contact,"
    " c.name AS contact_name, c.wa_id AS contact_wa_id, c.user_id AS contact_user_id, c.e164 AS contact_e164"
    " FROM (SELECT 1 AS one) AS one LEFT JOIN thread t ON t.channel = ? AND t.wa_id = ?"
    " LEFT JOIN contact c ON c.id = t.contact_id")


def _thread_for(db: sqlite3.Connection, m: InboundMessage, found: sqlite3.Row | None = None, *,
                looked_up: bool = False) -> ThreadState | None:
    """The state of the thread for (channel, customer), created (with its contact) on the customer's first message;
    None when the message names nobody (no number, no BSUID): better in no thread than in a made-up "Unknown" one.
    `looked_up`: the thread was already looked for by the customer's number; `found` is its _KNOWN_CUSTOMER row."""
    wa_id, bsuids = m.customer.wa_id, _bsuids(m)
    marks = ",".join("?" * len(bsuids))
    row = found
    if wa_id and not looked_up:
        row = _one(db, f"SELECT id, contact_id, wa_id, user_id, {_STATE} FROM thread"
                       " WHERE channel = ? AND wa_id = ?", (m.channel, wa_id))
    if row is None and bsuids:
        row = _one(db, f"SELECT id, contact_id, wa_id, user_id, {_STATE} FROM thread WHERE channel = ?"
                       f" AND user_id IN ({marks}) ORDER BY wa_id IS NULL, id LIMIT 1", (m.channel, *bsuids))
    if row is None and bsuids:
        # A BSUID the customer had before (they rotate): the thread of the contact that had it on this number.
        # With a number, only a thread that has none yet: another number is another thread (number change).
        row = _one(db, f"SELECT t.id, t.contact_id, t.wa_id, t.user_id, {_STATE_OF_T}"
                       f" FROM contact_user_id k JOIN thread t ON t.contact_id = k.contact_id"
                       f" WHERE t.channel = ? AND k.user_id IN ({marks}) AND (CAST(? AS TEXT) IS NULL OR t.wa_id IS NULL)"
                       " ORDER BY t.last_message_at DESC, t.id LIMIT 1", (m.channel, *bsuids, wa_id))
    if row is not None:
        if wa_id and row["wa_id"] is None:  # a customer first seen by BSUID only now shows a number
            db.execute("UPDATE thread SET wa_id = ? WHERE id = ? AND wa_id IS NULL", (wa_id, row["id"]))
        if bsuids and row["user_id"] is None:  # the BSUID a new thread would have been given: same in any order
            db.execute("UPDATE thread SET user_id = coalesce(user_id, ?) WHERE id = ?",
                       (m.customer.user_id or bsuids[-1], row["id"]))
        if found is not None and found["known_contact"] is not None:
            _complete_contact(db, row["contact_id"], m, bsuids, (found["contact_name"], found["contact_wa_id"],
                                                                 found["contact_user_id"], found["contact_e164"]))
        elif found is None and row["contact_id"]:
            _complete_contact(db, row["contact_id"], m, bsuids)
        return ThreadState(row["id"], row["last_message_at"], row["status"], row["last_direction"],
                           row["has_attachment"])
    if not wa_id and not bsuids:
        return None
    contact_id = _contact_for(db, m, bsuids)
    return ThreadState(db.execute(
        "INSERT INTO thread(channel, wa_id, user_id, contact_id, status, created_at) VALUES (?,?,?,?, 'open', ?)"
        " RETURNING id",
        (m.channel, wa_id, m.customer.user_id or bsuids[-1] if bsuids else None, contact_id, m.timestamp)
    ).fetchone()[0], None, "open", None, 0)


def _contact_for(db: sqlite3.Connection, m: InboundMessage, bsuids: list[str]) -> int:
    """F18: the contact this customer already is (by wa_id, BSUID, or any stored number in E.164), else a new one."""
    wa_id, user_id = m.customer.wa_id, m.customer.user_id
    row = None
    if wa_id:
        row = _one(db, "SELECT id FROM contact WHERE wa_id = ? ORDER BY id LIMIT 1", (wa_id,))
    if row is None and bsuids:
        row = _one(db, f"SELECT contact_id AS id FROM contact_user_id WHERE user_id IN ({','.join('?' * len(bsuids))})"
                       " ORDER BY contact_id LIMIT 1", bsuids)
    candidates = sorted(phones.candidate_e164s(wa_id))
    if row is None and candidates:
        marks = ",".join("?" * len(candidates))
        row = _one(db, f"SELECT contact_id AS id FROM contact_number WHERE e164 IN ({marks})"
                             " ORDER BY contact_id LIMIT 1", candidates)
    if row is not None:
        _complete_contact(db, row["id"], m, bsuids)
        return row["id"]
    e164 = phones.wa_id_to_e164(wa_id)  # never an invalid normalisation: None keeps only the raw wa_id
    user_id = user_id or (bsuids[-1] if bsuids else None)
    name = m.customer.name or e164 or wa_id or user_id or ""
    contact_id = db.execute(
        "INSERT INTO contact(name, wa_id, user_id, e164, created_at) VALUES (?,?,?,?,?) RETURNING id",
        (name, wa_id, user_id, e164, m.timestamp)).fetchone()[0]
    if e164:
        db.execute("INSERT INTO contact_number(contact_id, e164) VALUES (?, ?) ON CONFLICT DO NOTHING", (contact_id, e164))
    db.executemany("INSERT INTO contact_user_id(contact_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                   [(contact_id, u) for u in bsuids])
    return contact_id


def _complete_contact(db: sqlite3.Connection, contact_id: int, m: InboundMessage, bsuids: list[str],
                      known: tuple | None = None) -> None:
    """What this message tells of a known contact that the contact lacks (a number, a BSUID, a real name), so the
    contact ends the same whichever of the customer's webhooks came first. `known`: the contact's (name, wa_id,
    user_id, e164) if already read."""
    if known is None:
        known = db.execute("SELECT name, wa_id, user_id, e164 FROM contact WHERE id = ?", (contact_id,)).fetchone()
        if known is None:
            return
    name, known_wa_id, known_user_id, known_e164 = known
    wa_id, user_id = m.customer.wa_id, m.customer.user_id
    # Most messages come from a contact that lacks nothing: then this costs no write.
    if (wa_id and not known_wa_id) or (user_id and not known_user_id):
        e164 = phones.wa_id_to_e164(wa_id)
        db.execute("UPDATE contact SET wa_id = coalesce(wa_id, ?), user_id = coalesce(user_id, ?),"
                   " e164 = coalesce(e164, ?) WHERE id = ?", (wa_id, user_id, e164, contact_id))
        if e164:
            db.execute("INSERT INTO contact_number(contact_id, e164) VALUES (?, ?) ON CONFLICT DO NOTHING", (contact_id, e164))
    named_after_id = not name or name in (known_wa_id, known_user_id, known_e164)
    if m.customer.name and named_after_id:  # a contact first named after an identifier takes the profile name
        db.execute("UPDATE contact SET name = ? WHERE id = ?", (m.customer.name, contact_id))
    if bsuids:
        db.executemany("INSERT INTO contact_user_id(contact_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                       [(contact_id, u) for u in bsuids])


def _customer_changed_number(db: sqlite3.Connection, thread_id: int, m: InboundMessage) -> None:
    """The contact follows the customer to the new number, so the new number's thread links to the same person.

    The thread keeps its key: messages from the old number may still arrive late (Meta retries for days), and
    re-keying the thread would make the outcome depend on the order webhooks arrive in."""
    row = _one(db, "SELECT contact_id FROM thread WHERE id = ?", (thread_id,))
    if not row or not row["contact_id"]:
        return
    e164 = phones.wa_id_to_e164(m.new_wa_id)
    db.execute("UPDATE contact SET wa_id = ?, user_id = coalesce(?, user_id), e164 = coalesce(?, e164)"
                     " WHERE id = ?", (m.new_wa_id, m.new_user_id, e164, row["contact_id"]))
    if e164:
        db.execute("INSERT INTO contact_number(contact_id, e164) VALUES (?, ?) ON CONFLICT DO NOTHING",
                         (row["contact_id"], e164))
    if m.new_user_id:
        db.execute("INSERT INTO contact_user_id(contact_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                   (row["contact_id"], m.new_user_id))


def _customer_changed_user_id(db: sqlite3.Connection, thread_id: int, m: InboundMessage) -> None:
    """The customer's BSUID rotated (`user_changed_user_id`): one person, so one contact and one thread.

    The thread and contact answer to the new BSUID from now on and remember the old one. A message with the new
    BSUID that came before this notice made its own thread and contact: they are merged in, so the outcome does
    not depend on the order webhooks arrive in."""
    bsuids = [u for u in (m.previous_user_id, m.new_user_id, m.customer.user_id) if u]
    marks = ",".join("?" * len(bsuids))
    contact_id = db.execute("SELECT contact_id FROM thread WHERE id = ?", (thread_id,)).fetchone()["contact_id"]
    for other in db.execute(f"SELECT id FROM thread WHERE channel = ? AND id != ? AND wa_id IS NULL"
                            f" AND user_id IN ({marks})", (m.channel, thread_id, *bsuids)).fetchall():
        _merge_thread(db, thread_id, other["id"])
    for other in db.execute(f"SELECT DISTINCT contact_id FROM contact_user_id WHERE user_id IN ({marks})"
                            " AND contact_id != ?", (*bsuids, contact_id)).fetchall():
        _merge_contact(db, contact_id, other["contact_id"])
    db.executemany("INSERT INTO contact_user_id(contact_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                   [(contact_id, u) for u in bsuids])
    db.execute("UPDATE contact SET user_id = ? WHERE id = ?", (m.new_user_id, contact_id))
    db.execute("UPDATE thread SET user_id = ? WHERE id = ?", (m.new_user_id, thread_id))


def _merge_thread(db: sqlite3.Connection, keep: int, gone: int) -> None:
    """Move everything of thread `gone` into `keep` and delete `gone` (the same customer on the same number)."""
    for table in ("message", "outbox", "conversation"):
        db.execute(f"UPDATE {table} SET thread_id = ? WHERE thread_id = ?", (keep, gone))
    db.execute("UPDATE thread SET unread = thread.unread + g.unread, has_attachment ="
               " CASE WHEN g.has_attachment > thread.has_attachment THEN g.has_attachment ELSE thread.has_attachment END"
               ", owner = coalesce(thread.owner, g.owner), team = coalesce(thread.team, g.team)"
               " FROM (SELECT * FROM thread WHERE id = ?) AS g WHERE thread.id = ?", (gone, keep))
    db.execute("DELETE FROM thread WHERE id = ?", (gone,))
    refresh_session(db, keep)
    log_changes(db, [("thread", gone)])


def _merge_contact(db: sqlite3.Connection, keep: int, gone: int) -> None:
    """Contact `gone` is the same person as `keep`: everything it holds moves over (core.records.merge)."""
    merge_contacts(db, keep, gone, agent=None, now=int(time.time()))


# --- edits and deletions (coexistence numbers) ------------------------------------------------------------


def _change(db: sqlite3.Connection, m: InboundMessage, result: IngestResult, search: SearchLater) -> int | None:
    """Keep an edit or revoke, and apply it to its message if that is stored (else when it comes)."""
    cursor = db.execute("INSERT INTO message_change(channel, wamid, original_wamid, kind, text, timestamp)"
                        " VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING", (m.channel, m.wamid, m.original_wamid, m.type, m.text, m.timestamp))
    if cursor.rowcount == 0:
        result.duplicates += 1
        return None
    result.new_messages += 1
    original = _one(db, "SELECT id, thread_id FROM message WHERE channel = ? AND wamid = ? AND direction = 'in'",
                    (m.channel, m.original_wamid))  # a customer changes only what they sent
    if original is None:
        result.parked += 1
        return None
    _apply_changes(db, original["id"], m.channel, m.original_wamid, search)
    refresh_thread_summary(db, original["thread_id"])
    return original["thread_id"]


def _apply_changes(db: sqlite3.Connection, message_id: int, channel: str, wamid: str, search: SearchLater) -> None:
    """The customer's newest edit becomes the message's text (every version stays in message_change, the first in
    the payload); a revoke marks it deleted."""
    search.flush()
    edit = _one(db, "SELECT text, timestamp FROM message_change WHERE channel = ? AND original_wamid = ?"
                    " AND kind = 'edit' ORDER BY timestamp DESC, id DESC LIMIT 1", (channel, wamid))
    if edit is not None:
        db.execute("UPDATE message SET text = ?, edited_at = ? WHERE id = ?", (edit["text"], edit["timestamp"], message_id))
        reason = policy.quarantine_reason(edit["text"])
        if reason:  # an edit may add the link the original did not have
            db.execute("UPDATE message SET quarantined = 1, quarantine_reason = ? WHERE id = ?", (reason, message_id))
    revoke = _one(db, "SELECT min(timestamp) AS at FROM message_change WHERE channel = ? AND original_wamid = ?"
                      " AND kind = 'revoke'", (channel, wamid))
    if revoke["at"] is not None:
        db.execute("UPDATE message SET revoked_at = ? WHERE id = ?", (revoke["at"], message_id))


# --- statuses --------------------------------------------------------------------------------------------


def _status(db: sqlite3.Connection, s: StatusUpdate, result: IngestResult) -> int | None:
    cursor = db.execute(
        "INSERT INTO status_event(channel, wamid, status, timestamp, recipient_id, callback_data,"
        " error_code, error_title, error_details, pricing, conversation) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        (s.channel, s.wamid, s.status, s.timestamp, s.recipient_id, s.callback_data, s.error_code, s.error_title,
         s.error_details, json.dumps(s.pricing) if s.pricing else None,
         json.dumps(s.conversation) if s.conversation else None))
    if cursor.rowcount == 0:
        result.duplicates += 1
        return None
    result.statuses += 1
    message = _one(db, "SELECT id, thread_id FROM message WHERE channel = ? AND wamid = ?", (s.channel, s.wamid))
    if message is None and s.callback_data:
        message = _reconcile_lost_response(db, s)
    if message is None:
        result.parked += 1  # applied by apply_parked_statuses() once the sender stores this wamid
        return None
    apply_parked_statuses(db, message["id"], s.wamid)
    return message["thread_id"]


def _reconcile_lost_response(db: sqlite3.Connection, s: StatusUpdate) -> sqlite3.Row | None:
    """A status names our outbox row (biz_opaque_callback_data) whose send response never came back: the send
    did reach Meta, so record its wamid now instead of ever sending it again."""
    prefix, _, number = (s.callback_data or "").partition(":")
    if prefix != "outbox" or not number.isdigit():
        return None
    row = _one(db, "SELECT id, message_id FROM outbox WHERE id = ? AND channel = ? AND wamid IS NULL",
                     (int(number), s.channel))
    if row is None or row["message_id"] is None:
        return None
    db.execute("UPDATE outbox SET wamid = ?, state = 'sent' WHERE id = ?", (s.wamid, row["id"]))
    db.execute("UPDATE message SET wamid = ? WHERE id = ? AND wamid IS NULL", (s.wamid, row["message_id"]))
    log.info("outbox %s reconciled from its status webhook (wamid %s)", row["id"], s.wamid)
    return _one(db, "SELECT id, thread_id FROM message WHERE id = ?", (row["message_id"],))


def apply_parked_statuses(db: sqlite3.Connection, message_id: int, wamid: str) -> None:
    """Move the message to the furthest status recorded for `wamid` (call after storing a send's wamid)."""
    rows = db.execute(
        "SELECT status, timestamp, error_code, error_title, error_details FROM status_event WHERE wamid = ?",
        (wamid,)).fetchall()
    if not rows:
        return
    current = _one(db, "SELECT status FROM message WHERE id = ?", (message_id,))
    state = DeliveryStatus(current["status"]) if current and current["status"] else None
    best = None
    for row in rows:
        candidate = DeliveryStatus(row["status"])
        if candidate is DeliveryStatus.UNKNOWN:
            continue
        if status_moves_forward(state, candidate):
            state, best = candidate, row
    if best is None:
        return
    failed = state is DeliveryStatus.FAILED
    was_refused = current is not None and current["status"] == DeliveryStatus.FAILED.value
    db.execute(
        "UPDATE message SET status = ?, status_at = ?, error_code = ?, error_title = ?, error_details = ?"
        " WHERE id = ?",
        (state.value, best["timestamp"], best["error_code"] if failed else None,
         best["error_title"] if failed else None, best["error_details"] if failed else None, message_id))
    if failed:
        db.execute("UPDATE outbox SET state = 'failed', error_code = ?, error_title = ?, error_details = ?"
                         " WHERE message_id = ? AND state != 'failed'",
                         (best["error_code"], best["error_title"], best["error_details"], message_id))
    if (failed and best["error_code"] == REENGAGEMENT) or was_refused:
        refresh_session(db, db.execute("SELECT thread_id FROM message WHERE id = ?", (message_id,)).fetchone()[0])


def refresh_session(db: sqlite3.Connection, thread_id: int) -> None:
    """Derive the thread's session anchor (last_inbound_at) from its messages, so arrival order never matters.

    The customer's last real message opens 24 hours. A send Meta refused with 131047 after it says the window was
    already shut, whatever our clock thought: the anchor moves back so the session ends at that refusal and the
    composer turns to templates at once. A customer message after the refusal opens a new session as usual."""
    # The WHERE terms repeat the partial indexes' (schema: message_session_opener / _shut) word for word, so each
    # max() is one index step, not a walk through a long thread.
    db.execute(f"UPDATE thread SET last_inbound_at = {_SESSION_ANCHOR} WHERE id = :t",
               {"t": thread_id, "day": SESSION_SECONDS})


# The thread's session anchor (see refresh_session) for thread :t, a day being :day seconds.
_SESSION_OPENED = """(SELECT max(timestamp) AS at FROM message WHERE thread_id = :t
          AND direction = 'in' AND type NOT IN ('reaction', 'system', 'unsupported'))"""
_SESSION_ANCHOR_FROM = """(
    SELECT CASE WHEN shut.at IS NOT NULL AND opened.at > shut.at - :day AND opened.at <= shut.at
                THEN shut.at - :day ELSE opened.at END
    FROM {opened} AS opened,
         (SELECT max(status_at) AS at FROM message WHERE thread_id = :t
          AND direction = 'out' AND status = 'failed' AND error_code = 131047) AS shut)"""
_SESSION_ANCHOR = _SESSION_ANCHOR_FROM.format(opened=_SESSION_OPENED)
# The same when the customer's message at :at is the thread's newest that opens a session (no index step for it).
_SESSION_ANCHOR_AT = _SESSION_ANCHOR_FROM.format(opened="(SELECT CAST(:at AS BIGINT) AS at)")


def _one(db: sqlite3.Connection, sql: str, params) -> sqlite3.Row | None:
    return db.execute(sql, params).fetchone()
