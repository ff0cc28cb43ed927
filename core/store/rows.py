"""Row -> model conversion: the one place that knows how columns map to core.model objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.model import (ChatMessage, Contact, DeliveryStatus, Direction, MessageType, StatusChange, Template,
                        ThreadStatus, ThreadSummary)

# Select this with `FROM thread t LEFT JOIN contact c ON c.id = t.contact_id` to build a ThreadSummary.
THREAD_COLUMNS = (
    "t.id, t.channel, t.status, t.contact_id, coalesce(c.name, t.wa_id, t.user_id, '') AS contact_name,"
    " t.wa_id, t.user_id, c.e164, t.owner, t.team, t.last_message_at, t.last_inbound_at, t.last_direction,"
    " t.preview, t.unread - coalesce((SELECT r.seen FROM thread_read r WHERE r.thread_id = t.id"
    " AND r.agent = :agent), 0) AS unread, t.has_attachment, t.snoozed_until"
)  # `unread` is the reading agent's (:agent): inbound messages since they last read the thread


def thread_summary(row: Mapping[str, Any]) -> ThreadSummary:
    return ThreadSummary(
        id=row["id"], channel=row["channel"], status=ThreadStatus(row["status"]), contact_id=row["contact_id"],
        contact_name=row["contact_name"] or "", wa_id=row["wa_id"], user_id=row["user_id"], e164=row["e164"],
        owner=row["owner"], team=row["team"], last_message_at=row["last_message_at"],
        last_inbound_at=row["last_inbound_at"],
        last_direction=Direction(row["last_direction"]) if row["last_direction"] else None,
        preview=row["preview"] or "", unread=max(row["unread"], 0), has_attachment=bool(row["has_attachment"]),
        snoozed_until=row["snoozed_until"] if "snoozed_until" in row.keys() else None,
    )


def chat_message(row: Mapping[str, Any], history: tuple[StatusChange, ...] = ()) -> ChatMessage:
    return ChatMessage(
        id=row["id"], thread_id=row["thread_id"], channel=row["channel"], wamid=row["wamid"],
        direction=Direction(row["direction"]), type=MessageType(row["type"]), text=row["text"] or "",
        timestamp=row["timestamp"], status=DeliveryStatus(row["status"]) if row["status"] else None,
        error_code=row["error_code"], error_title=row["error_title"], error_details=row["error_details"],
        context_wamid=row["context_wamid"], author=row["author"], raw_type=row["raw_type"],
        media_id=row["media_id"], mime_type=row["mime_type"], file_size=row["file_size"],
        file_name=row["file_name"], media_path=row["media_path"], sha256=row["sha256"],
        media_error=row["media_error"], media_retrying=row["media_retry_at"] is not None,
        quarantined=bool(row["quarantined"]), quarantine_reason=row["quarantine_reason"],
        payload=row["payload"], status_history=history, edited_at=row["edited_at"], revoked_at=row["revoked_at"],
        retryable=bool(row["retryable"]) if "retryable" in row.keys() else False,
    )


def contact(row: Mapping[str, Any]) -> Contact:
    return Contact(id=row["id"], name=row["name"], phone=row["phone"], mobile=row["mobile"], email=row["email"],
                   owner=row["owner"], wa_id=row["wa_id"], user_id=row["user_id"], e164=row["e164"])


def status_change(row: Mapping[str, Any]) -> StatusChange:
    return StatusChange(status=DeliveryStatus(row["status"]), timestamp=row["timestamp"],
                        error_code=row["error_code"], error_title=row["error_title"],
                        error_details=row["error_details"])


def template(row: Mapping[str, Any]) -> Template:
    try:
        components = tuple(c for c in json.loads(row["components"]) if isinstance(c, dict))
    except ValueError:  # a template row written by an older version: shown without its components
        components = ()
    return Template(id=row["id"], waba_id=row["waba_id"], name=row["name"], language=row["language"],
                    status=row["status"], category=row["category"], parameter_format=row["parameter_format"],
                    components=components)
