"""Apply parsed webhook events to the store, inside the caller's transaction (plain sqlite3: see Store.run).

Idempotent and order-independent: a wamid is stored once; a status is kept once per (wamid, status) and the
message's state only moves forward; thread summaries are derived from the messages. So the same events delivered
twice, in any order, leave the same database.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import sqlite3

from core import phones, policy
from core.model import DeliveryStatus, status_moves_forward
from core.store.db import log_changes
from core.store.threads import refresh_thread_summary
from core.webhooks import ChannelError, Event, InboundMessage, OtherChange, StatusUpdate

log = logging.getLogger("wabox.ingest")

# Only a real customer message opens or renews the 24-hour window. Meta does not document whether reactions,
# system notices or unsupported messages do; counting them could let an agent send into a closed window
# (131047), so we take the conservative reading of reference §6.
_NOT_SESSION = frozenset({"reaction", "system", "unsupported"})
_QUARANTINE_CHECKED = frozenset({"text", "image", "video", "document", "interactive", "button"})


@dataclass
class IngestResult:
    new_messages: int = 0
    duplicates: int = 0
    statuses: int = 0
    parked: int = 0
    unknown_channels: set[str] = field(default_factory=set)
    threads: set[int] = field(default_factory=set)
    media: list[InboundMessage] = field(default_factory=list)  # new inbound media, for the downloader


def ingest(db: sqlite3.Connection, events: list[Event], *, channels: set[str] | None, now: int) -> IngestResult:
    """Store `events`; `channels` are the phone_number_ids we serve (None: accept all)."""
    result = IngestResult()
    changes: list[tuple[str, int | None]] = []
    seen_channels: set[str] = set()
    for event in events:
        if isinstance(event, (InboundMessage, StatusUpdate)):
            if channels is not None and event.channel not in channels:
                result.unknown_channels.add(event.channel)
                continue
            seen_channels.add(event.channel)
        if isinstance(event, InboundMessage):
            thread_id = _inbound(db, event, result)
            if thread_id is not None:
                changes.append(("message", thread_id))
        elif isinstance(event, StatusUpdate):
            thread_id = _status(db, event, result)
            if thread_id is not None:
                changes.append(("status", thread_id))
        elif isinstance(event, ChannelError):
            db.execute(
                "INSERT INTO channel_error(channel, waba_id, code, title, message, details, at) VALUES (?,?,?,?,?,?,?)",
                (event.channel, event.waba_id, event.code, event.title, event.message, event.details, now))
            log.warning("value-level error on %s: %s %s", event.channel or event.waba_id, event.code, event.title)
            changes.append(("channel", None))
        elif isinstance(event, OtherChange):
            log.info("webhook field %r for WABA %s kept raw", event.field, event.waba_id)
            if event.field.startswith("message_template"):
                changes.append(("template", None))
    for channel in seen_channels:
        db.execute("UPDATE channel SET last_webhook_at = ? WHERE phone_number_id = ?", (now, channel))
    if changes:
        log_changes(db, dict.fromkeys(changes), at=now)
    result.threads.update(t for kind, t in changes if t is not None)
    return result


# --- inbound messages ------------------------------------------------------------------------------------


def _inbound(db: sqlite3.Connection, m: InboundMessage, result: IngestResult) -> int | None:
    if db.execute("SELECT 1 FROM message WHERE channel = ? AND wamid = ?", (m.channel, m.wamid)).fetchone():
        result.duplicates += 1
        return None
    thread_id = _thread_for(db, m)
    reason = policy.quarantine_reason(m.text) if m.type in _QUARANTINE_CHECKED else None
    db.execute(
        "INSERT INTO message(thread_id, channel, wamid, direction, type, raw_type, text, timestamp, context_wamid,"
        " media_id, mime_type, sha256, file_name, quarantined, quarantine_reason, payload)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (thread_id, m.channel, m.wamid, "in", m.type, m.raw_type, m.text, m.timestamp, m.context_wamid,
         m.media_id, m.mime_type, m.sha256, m.file_name, reason is not None, reason,
         json.dumps(m.payload, ensure_ascii=False)),
    )
    result.new_messages += 1
    if m.media_id:
        result.media.append(m)
    if m.type == "reaction":
        return thread_id  # a reaction shows on its message; it neither reopens nor counts as unread
    session = "" if m.type in _NOT_SESSION else ", last_inbound_at = max(coalesce(last_inbound_at, 0), :ts)"
    db.execute(
        f"UPDATE thread SET unread = unread + 1, status = 'open', closed_at = NULL,"
        f" has_attachment = has_attachment OR :media {session} WHERE id = :id",
        {"ts": m.timestamp, "media": m.media_id is not None, "id": thread_id},
    )
    if m.type == "system" and m.new_wa_id:
        _customer_changed_number(db, thread_id, m)
    refresh_thread_summary(db, thread_id)
    return thread_id


def _thread_for(db: sqlite3.Connection, m: InboundMessage) -> int:
    """The thread for (channel, customer), created (with its contact) on the customer's first message."""
    wa_id, user_id = m.customer.wa_id, m.customer.user_id
    row = None
    if wa_id:
        row = _one(db, "SELECT id, contact_id FROM thread WHERE channel = ? AND wa_id = ?", (m.channel, wa_id))
    if row is None and user_id:
        row = _one(db, "SELECT id, contact_id FROM thread WHERE channel = ? AND user_id = ?", (m.channel, user_id))
        if row is not None and wa_id:  # a customer first seen by BSUID only now shows a number
            db.execute("UPDATE thread SET wa_id = ? WHERE id = ? AND wa_id IS NULL", (wa_id, row["id"]))
    if row is not None:
        if user_id:
            db.execute("UPDATE thread SET user_id = coalesce(user_id, ?) WHERE id = ?", (user_id, row["id"]))
        return row["id"]
    contact_id = _contact_for(db, m)
    cursor = db.execute(
        "INSERT INTO thread(channel, wa_id, user_id, contact_id, status, created_at) VALUES (?,?,?,?, 'open', ?)",
        (m.channel, wa_id, user_id, contact_id, m.timestamp))
    return cursor.lastrowid


def _contact_for(db: sqlite3.Connection, m: InboundMessage) -> int:
    """F18: the contact this customer already is (by wa_id, BSUID, or any stored number in E.164), else a new one."""
    wa_id, user_id = m.customer.wa_id, m.customer.user_id
    row = None
    if wa_id:
        row = _one(db, "SELECT id FROM contact WHERE wa_id = ? ORDER BY id LIMIT 1", (wa_id,))
    if row is None and user_id:
        row = _one(db, "SELECT id FROM contact WHERE user_id = ? ORDER BY id LIMIT 1", (user_id,))
    candidates = sorted(phones.candidate_e164s(wa_id))
    if row is None and candidates:
        marks = ",".join("?" * len(candidates))
        row = _one(db, f"SELECT contact_id AS id FROM contact_number WHERE e164 IN ({marks})"
                             " ORDER BY contact_id LIMIT 1", candidates)
    e164 = phones.wa_id_to_e164(wa_id)  # never an invalid normalisation: None keeps only the raw wa_id
    if row is not None:
        db.execute("UPDATE contact SET wa_id = coalesce(wa_id, ?), user_id = coalesce(user_id, ?),"
                         " e164 = coalesce(e164, ?) WHERE id = ?", (wa_id, user_id, e164, row["id"]))
        return row["id"]
    name = m.customer.name or (e164 or wa_id or user_id or "Unknown")
    cursor = db.execute(
        "INSERT INTO contact(name, wa_id, user_id, e164, created_at) VALUES (?,?,?,?,?)",
        (name, wa_id, user_id, e164, m.timestamp))
    if e164:
        db.execute("INSERT OR IGNORE INTO contact_number(contact_id, e164) VALUES (?, ?)", (cursor.lastrowid, e164))
    return cursor.lastrowid


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
        db.execute("INSERT OR IGNORE INTO contact_number(contact_id, e164) VALUES (?, ?)",
                         (row["contact_id"], e164))


# --- statuses --------------------------------------------------------------------------------------------


def _status(db: sqlite3.Connection, s: StatusUpdate, result: IngestResult) -> int | None:
    cursor = db.execute(
        "INSERT OR IGNORE INTO status_event(channel, wamid, status, timestamp, recipient_id, callback_data,"
        " error_code, error_title, error_details, pricing, conversation) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
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
    db.execute(
        "UPDATE message SET status = ?, status_at = ?, error_code = ?, error_title = ?, error_details = ?"
        " WHERE id = ?",
        (state.value, best["timestamp"], best["error_code"] if failed else None,
         best["error_title"] if failed else None, best["error_details"] if failed else None, message_id))
    if failed:
        db.execute("UPDATE outbox SET state = 'failed', error_code = ?, error_title = ?, error_details = ?"
                         " WHERE message_id = ? AND state != 'failed'",
                         (best["error_code"], best["error_title"], best["error_details"], message_id))


def _one(db: sqlite3.Connection, sql: str, params) -> sqlite3.Row | None:
    return db.execute(sql, params).fetchone()
