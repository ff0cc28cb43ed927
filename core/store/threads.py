"""Write-side helpers shared by ingest (inbound) and sending (outbound): keep a thread's summary columns true."""

from __future__ import annotations

import sqlite3

# Reactions and internal notes never become a thread's "last message": they are not the conversation.
_SUMMARY_EXCLUDES = ("reaction", "note")


def preview_for(type_: str, text: str, raw_type: str | None = None, file_name: str | None = None) -> str:
    """The one-line gist of a message for the thread list (still untrusted: drawn through literal())."""
    labels = {"image": "Photo", "video": "Video", "audio": "Audio", "document": "Document", "sticker": "Sticker",
              "location": "Location", "contacts": "Contact card", "order": "Order", "template": "Template"}
    if type_ == "unsupported":
        return f"Unsupported message ({raw_type or 'unknown'})"
    label = labels.get(type_)
    if label and type_ == "document" and file_name and not text:
        return f"{label}: {file_name}"
    if label and text:
        return f"{label}: {text}" if type_ not in ("template",) else text
    return text or label or type_


def refresh_thread_summary(db: sqlite3.Connection, thread_id: int) -> None:
    """Recompute last_message_at / last_direction / preview from the messages themselves.

    Deriving them (instead of "set if newer") keeps the result the same whatever order webhooks arrive in; two
    messages of the same second are told apart by wamid, not by which arrived first."""
    last = db.execute(
        "SELECT direction, type, raw_type, text, file_name, timestamp, quarantined, quarantine_reason, revoked_at"
        " FROM message"
        " WHERE thread_id = ? AND type NOT IN (?, ?) ORDER BY timestamp DESC, wamid DESC, id DESC LIMIT 1",
        (thread_id, *_SUMMARY_EXCLUDES),
    ).fetchone()
    if last is None:
        return
    if last["quarantined"]:  # the veil holds everywhere, the CLI and other readers included (F16)
        preview = f"Quarantined message ({last['quarantine_reason']})"
    elif last["revoked_at"]:
        preview = "Deleted by the customer"
    else:
        preview = preview_for(last["type"], last["text"], last["raw_type"], last["file_name"])[:500]
    db.execute("UPDATE thread SET last_message_at = ?, last_direction = ?, preview = ? WHERE id = ?",
               (last["timestamp"], last["direction"], preview, thread_id))
