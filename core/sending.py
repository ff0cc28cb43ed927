"""Queueing what agents send (the inbox and `wabox send`), after the rules say yes.

Each call checks the policy first — the 24-hour session (F7), the monthly quota (F8), the messaging-limit tier
(F3), media types and sizes (F12) — and either raises ReplyRefused with a reason an agent understands and queues
nothing, or writes, in one transaction: the message (status "queued"), its outbox row for the sender, the
conversation it opens if it opens one, and the change-log entry that tells every open inbox.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core import activity, phones, policy
from core.graph_messages import addressed, media_message, template_message, text_message
from core.model import Template
from core.store import conversations
from core.store.db import Store, log_changes
from core.store.threads import refresh_thread_summary

MAX_TEXT = 4096
MAX_CAPTION = 1024
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


class ReplyRefused(Exception):
    """Nothing was queued; `reason` says why, in words for the agent."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SendingLimits:
    monthly_quota: int = 1000


@dataclass(frozen=True, slots=True)
class _Outgoing:
    kind: str  # text | template | media
    type: str  # message.type: text, template, image, audio, video, document, sticker
    text: str  # what the thread shows: the body, the rendered template, the caption
    body: dict  # the /messages request without `to` and the callback data
    reply_to: str | None = None
    client_key: str | None = None  # the composer's key for this compose: queued once, however often submitted
    media_file: str | None = None
    mime_type: str | None = None
    file_name: str | None = None
    file_size: int | None = None


# --- what agents call ---------------------------------------------------------------------------------


async def queue_text(store: Store, thread_id: int, text: str, *, agent: str, now: float,
                     reply_to: str | None = None, config: SendingLimits = SendingLimits(),
                     client_key: str | None = None) -> int:
    if not text.strip():
        raise ReplyRefused("Nothing to send.")
    if len(text) > MAX_TEXT:
        raise ReplyRefused(f"The message is {len(text):,} characters; WhatsApp takes at most {MAX_TEXT:,}.")
    return await store.write(_queue, thread_id, _Outgoing("text", "text", text, text_message(text), reply_to,
                                                          client_key), agent, int(now), config)


async def queue_template(store: Store, thread_id: int, template: Template, params: list[str], *, agent: str,
                         now: float, config: SendingLimits = SendingLimits(), client_key: str | None = None) -> int:
    if template.status.upper() != "APPROVED":
        raise ReplyRefused(f"The template {template.name!r} is {template.status.lower()}: only approved ones can be sent.")
    names = template_parameters(template)
    if len(params) != len(names):
        raise ReplyRefused(f"The template {template.name!r} takes {len(names)} parameter(s); {len(params)} given.")
    for name, value in zip(names, params):
        problem = parameter_problem(value)
        if problem:
            raise ReplyRefused(f"Parameter {{{{{name}}}}}: {problem}")
    named = template.parameter_format.upper() == "NAMED"
    body = template_message(template.name, template.language, params, parameter_names=names if named else None)
    text = render_template(template, params)
    return await store.write(_queue, thread_id, _Outgoing("template", "template", text, body,
                                                          client_key=client_key), agent, int(now), config)


async def queue_media(store: Store, thread_id: int, path: Path, *, agent: str, now: float,
                      caption: str | None = None, config: SendingLimits = SendingLimits(),
                      client_key: str | None = None) -> int:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ReplyRefused(f"There is no file at {path}.")
    mime = policy.guess_mime(path)
    kind = policy.kind_for_mime(mime)
    if kind is None:
        raise ReplyRefused(f"{path.name}: {mime} is not a type WhatsApp can send (images, audio, video, "
                           "PDF/Office documents, text, webp stickers).")
    size = path.stat().st_size
    reason = policy.check_media(kind, mime, size)
    if reason:
        raise ReplyRefused(f"{path.name}: {reason}.")
    caption = (caption or "").strip()
    if caption and kind in ("audio", "sticker"):
        raise ReplyRefused(f"WhatsApp does not take a caption on {kind}.")
    if len(caption) > MAX_CAPTION:
        raise ReplyRefused(f"The caption is {len(caption):,} characters; WhatsApp takes at most {MAX_CAPTION:,}.")
    # A copy the sender owns: the agent may move or delete the original before it is uploaded.
    outbox_dir = store.files_dir / "media" / "outbox"
    outbox_dir.mkdir(parents=True, exist_ok=True)
    copy = outbox_dir / f"{uuid.uuid4().hex}{path.suffix.lower()}"
    shutil.copyfile(path, copy)
    body = media_message(kind, caption=caption, filename=path.name, voice=mime.startswith("audio/ogg"))
    outgoing = _Outgoing("media", kind, caption, body, client_key=client_key, media_file=str(copy),
                         mime_type=mime, file_name=path.name, file_size=size)
    try:
        message_id = await store.write(_queue, thread_id, outgoing, agent, int(now), config)
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    if await store.scalar("SELECT media_path FROM message WHERE id = ?", (message_id,)) != str(copy):
        copy.unlink(missing_ok=True)  # this compose was queued before, with its own copy
    return message_id


async def add_note(store: Store, thread_id: int, text: str, *, agent: str, now: float,
                   client_key: str | None = None) -> int:
    """An internal note (F22): agents see it in the thread; it never goes to the customer. The agents it
    @mentions are recorded in the same transaction (a reader woken by the note sees its mentions too)."""
    if not text.strip():
        raise ReplyRefused("Nothing to note.")

    def write(db: sqlite3.Connection) -> int:
        if (queued := _already_queued(db, client_key)) is not None:
            return queued
        thread = db.execute("SELECT channel FROM thread WHERE id = ?", (thread_id,)).fetchone()
        if thread is None:
            raise ReplyRefused("That thread no longer exists.")
        message_id = db.execute(
            "INSERT INTO message(thread_id, channel, direction, type, text, timestamp, author, client_key)"
            " VALUES (?, ?, 'out', 'note', ?, ?, ?, ?)",
            (thread_id, thread["channel"], text, int(now), agent, client_key)).lastrowid
        activity.record_mentions(db, thread_id, message_id, text, agent, int(now))
        log_changes(db, [("message", thread_id)], at=int(now))
        return message_id

    return await store.write(write)


async def retry_failed(store: Store, message_id: int, *, agent: str, now: float,
                       config: SendingLimits = SendingLimits()) -> int:
    """Queue a failed message again (F13), through the same rules as a new one."""

    def write(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT m.thread_id, m.type, m.status, o.id AS outbox_id, o.kind FROM message m"
                         " LEFT JOIN outbox o ON o.message_id = m.id WHERE m.id = ?", (message_id,)).fetchone()
        if row is None or row["outbox_id"] is None:
            raise ReplyRefused("That message was never sent, so there is nothing to retry.")
        if row["status"] != "failed":
            raise ReplyRefused("Only a failed message can be retried.")
        _check_rules(db, row["thread_id"], row["kind"] == "template", int(now), config)
        db.execute("UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = 0, lease_owner = NULL,"
                   " lease_until = NULL, wamid = NULL, error_code = NULL, error_title = NULL, error_details = NULL,"
                   " ambiguous = 0, agent = ? WHERE id = ?", (agent, row["outbox_id"]))
        db.execute("UPDATE message SET status = 'queued', status_at = ?, wamid = NULL, error_code = NULL,"
                   " error_title = NULL, error_details = NULL WHERE id = ?", (int(now), message_id))
        log_changes(db, [("message", row["thread_id"])], at=int(now))
        return row["outbox_id"]

    return await store.write(write)


async def thread_for_number(store: Store, channel: str, number: str, *, now: float,
                            default_region: str | None = None) -> int:
    """The thread with this customer on `channel`, created with its contact if there is none (F9)."""
    e164 = phones.to_e164(number, default_region) or phones.to_e164("+" + number.lstrip("+"))
    if e164 is None:
        raise ReplyRefused(f"{number!r} is not a valid phone number (write it with its country code, e.g. +48 601 234 567).")
    wa_id = e164.lstrip("+")

    def write(db: sqlite3.Connection) -> int:
        if db.execute("SELECT 1 FROM channel WHERE phone_number_id = ?", (channel,)).fetchone() is None:
            raise ReplyRefused(f"{channel} is not a connected number (see `wabox channels`).")
        found = db.execute("SELECT id FROM thread WHERE channel = ? AND wa_id = ?", (channel, wa_id)).fetchone()
        if found:
            return found["id"]
        contact = db.execute("SELECT contact_id FROM contact_number WHERE e164 = ? ORDER BY contact_id LIMIT 1",
                             (e164,)).fetchone()
        contact_id = contact["contact_id"] if contact else db.execute(
            "INSERT INTO contact(name, wa_id, e164, created_at) VALUES (?, ?, ?, ?)",
            (e164, wa_id, e164, int(now))).lastrowid
        db.execute("INSERT INTO contact_number(contact_id, e164) VALUES (?, ?) ON CONFLICT DO NOTHING", (contact_id, e164))
        thread_id = db.execute("INSERT INTO thread(channel, wa_id, contact_id, status, created_at)"
                               " VALUES (?, ?, ?, 'open', ?)", (channel, wa_id, contact_id, int(now))).lastrowid
        log_changes(db, [("thread", thread_id)], at=int(now))
        return thread_id

    return await store.write(write)


# --- templates --------------------------------------------------------------------------------------------


def template_parameters(template: Template) -> list[str]:
    """The body's placeholders in order of first appearance: ["1", "2"] or ["first_name", ...]."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(template.body)))


def render_template(template: Template, params: list[str]) -> str:
    values = dict(zip(template_parameters(template), params))
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template.body)


def parameter_problem(value: str) -> str | None:
    """Meta refuses parameters with newlines, tabs or more than 4 spaces in a row (132018): say so first."""
    if not value.strip():
        return "it is empty"
    if "\n" in value or "\r" in value or "\t" in value:
        return "it may not contain new lines or tabs"
    if "     " in value:
        return "it may not contain more than 4 spaces in a row"
    return None


# --- the one write path -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyRules:
    """What the rules say about writing to one thread now: the composer shows this, and the queue obeys it."""

    thread_id: int
    session_expires_at: int | None
    text_refused: str | None  # why a free-form message would be refused now (None: it may be sent)
    text_opens: str | None  # the conversation a free-form message would open: customer | None
    template_refused: str | None
    template_opens: str | None  # business | customer | None


def reply_rules(db: sqlite3.Connection, thread_id: int, now: int, config: SendingLimits, *,
                used: Callable[[], int] | None = None) -> ReplyRules:
    """The rules for a free-form message and for a template to this thread, as the queue would apply them.
    `used`: this month's counted conversations, when the caller has them (they cost a scan of the month)."""
    used = used or functools.cache(lambda: conversations.used(db, now))
    thread, text_opens, text_refused = _rules(db, thread_id, False, now, config, used)
    _, template_opens, template_refused = _rules(db, thread_id, True, now, config, used)
    return ReplyRules(thread_id, policy.session_expires_at(thread["last_inbound_at"]) if thread else None,
                      text_refused, text_opens if not text_refused else None, template_refused,
                      template_opens if not template_refused else None)


def _check_rules(db: sqlite3.Connection, thread_id: int, is_template: bool, now: int,
                 config: SendingLimits) -> tuple[sqlite3.Row, str | None]:
    """The thread, and the conversation this message would open; or ReplyRefused."""
    thread, opens, refused = _rules(db, thread_id, is_template, now, config, lambda: conversations.used(db, now))
    if refused:
        raise ReplyRefused(refused)
    return thread, opens


def _rules(db: sqlite3.Connection, thread_id: int, is_template: bool, now: int, config: SendingLimits,
           used: Callable[[], int]) -> tuple[sqlite3.Row | None, str | None, str | None]:
    """(the thread, the conversation this message would open, why it would be refused)."""
    thread = db.execute("SELECT t.*, c.messaging_limit_tier FROM thread t LEFT JOIN channel c"
                        " ON c.phone_number_id = t.channel WHERE t.id = ?", (thread_id,)).fetchone()
    if thread is None:
        return None, None, "That thread no longer exists."
    if not thread["wa_id"] and not thread["user_id"]:
        return thread, None, "This customer has no WhatsApp id to write to."
    session_is_open = policy.session_open(thread["last_inbound_at"], now)
    if not policy.freeform_open(thread["last_inbound_at"], now) and not is_template:
        if thread["last_inbound_at"] is None:
            return thread, None, "The customer has not written yet: only an approved template can start a conversation."
        if session_is_open:
            return thread, None, ("The 24-hour session closes in under 5 minutes, before a reply could safely reach "
                                  "WhatsApp: only an approved template can be sent.")
        ended = _ago(now - policy.session_expires_at(thread["last_inbound_at"]))
        return thread, None, f"The 24-hour session ended {ended} ago: only an approved template can be sent."
    opens = policy.conversation_needed(conversations.open_until(db, thread_id), now, session_is_open, is_template)
    if opens:
        if used() >= config.monthly_quota:
            until = time.strftime("%-d %B", time.gmtime(policy.next_month_start(now)))
            return thread, opens, (f"This month's {config.monthly_quota:,} conversations are used up: new "
                                   f"conversations are refused until {until}.")
    if opens == "business":
        limit = policy.messaging_tier_limit(thread["messaging_limit_tier"])
        if limit is not None and conversations.customers_reached(db, thread_id, now) >= limit:
            return thread, opens, (f"Your business may start conversations with {limit:,} customers a day "
                                   f"({thread['messaging_limit_tier'] or 'TIER_250'}), counted over all its "
                                   "numbers, and has reached that: try again later.")
    return thread, opens, None


def _already_queued(db: sqlite3.Connection, client_key: str | None) -> int | None:
    """The message an earlier submit of this same compose queued (a double Enter, a second process)."""
    if client_key is None:
        return None
    found = db.execute("SELECT id FROM message WHERE client_key = ?", (client_key,)).fetchone()
    return None if found is None else found["id"]


def _queue(db: sqlite3.Connection, thread_id: int, out: _Outgoing, agent: str, now: int,
           config: SendingLimits) -> int:
    if (queued := _already_queued(db, out.client_key)) is not None:
        return queued
    thread, opens = _check_rules(db, thread_id, out.kind == "template", now, config)
    recipient = "+" + thread["wa_id"] if thread["wa_id"] else thread["user_id"]
    message_id = db.execute(
        "INSERT INTO message(thread_id, channel, direction, type, text, timestamp, status, status_at, context_wamid,"
        " author, mime_type, file_size, file_name, media_path, client_key)"
        " VALUES (?,?, 'out', ?,?,?, 'queued', ?,?,?,?,?,?,?,?)",
        (thread_id, thread["channel"], out.type, out.text, now, now, out.reply_to, agent, out.mime_type,
         out.file_size, out.file_name, out.media_file, out.client_key)).lastrowid
    request = addressed(out.body, reply_to=out.reply_to)  # the sender adds `to` and the callback data
    outbox_id = db.execute(
        "INSERT INTO outbox(message_id, thread_id, channel, recipient, kind, request, media_file, created_at, agent,"
        " client_key) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (message_id, thread_id, thread["channel"], recipient, out.kind, json.dumps(request, ensure_ascii=False),
         out.media_file, now, agent, out.client_key)).lastrowid
    db.execute("UPDATE message SET payload = ? WHERE id = ?", (json.dumps({"outbox": outbox_id, **request},
                                                                          ensure_ascii=False), message_id))
    if opens:
        db.execute("INSERT INTO conversation(thread_id, channel, origin, started_at, expires_at, month)"
                   " VALUES (?,?,?,?,?,?)", (thread_id, thread["channel"], opens, now, now + 86400,
                                             policy.month_key(now)))
    mark_read_in(db, agent, thread_id)  # answering reads the thread (for the agent who answers)
    refresh_thread_summary(db, thread_id)
    log_changes(db, [("message", thread_id)], at=now)
    return message_id


def mark_read_in(db: sqlite3.Connection, agent: str, thread_id: int, *, unread: int = 0) -> None:
    """Per-agent read state: `agent` has read all but `unread` of the thread's inbound messages."""
    db.execute("INSERT INTO thread_read(agent, thread_id, seen) SELECT ?, id, unread - ? FROM thread WHERE id = ?"
               " ON CONFLICT (agent, thread_id) DO UPDATE SET seen = excluded.seen", (agent, unread, thread_id))


def _ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 86400:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    return f"{max(1, seconds // 60)}m"
