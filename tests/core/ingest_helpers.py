"""Load the shared webhook fixtures and ingest them into a store, as the receiver would."""

from __future__ import annotations

import json
from pathlib import Path

from core import webhooks
from core.ingest import IngestResult, ingest
from core.store import Store

CHANNEL_A = "209837465112233"
CHANNEL_B = "209837465998877"
CHANNELS = {CHANNEL_A, CHANNEL_B}
OUR_TEXT_TO_ANNA = "wamid.HBgLNDg2MDEyMzQ1NjcVAgARGBJBMzg4QUJDRDFDRkE2N0ZERkQA"
NOW = 1795620000 + 3600


def load(fixtures: Path, name: str) -> dict:
    return json.loads((fixtures / name).read_text(encoding="utf-8"))


async def apply(store: Store, *bodies: dict, channels: set[str] | None = CHANNELS, now: int = NOW) -> IngestResult:
    events = [event for body in bodies for event in webhooks.parse(body)]
    return await store.write(lambda db: ingest(db, events, channels=channels, now=now))


async def add_outbound(store: Store, thread_id: int, wamid: str | None, text: str = "Dzień dobry!",
                       at: int = 1795519400, outbox_id: int | None = None) -> int:
    """An outbound message as the sender leaves it: queued, with its wamid once Meta accepted it."""
    def insert(db) -> int:
        cursor = db.execute(
            "INSERT INTO message(thread_id, channel, wamid, direction, type, text, timestamp, status)"
            " SELECT id, channel, ?, 'out', 'text', ?, ?, 'queued' FROM thread WHERE id = ?",
            (wamid, text, at, thread_id))
        if outbox_id is not None:
            db.execute(
                "INSERT INTO outbox(id, message_id, thread_id, channel, recipient, kind, request, state, created_at)"
                " SELECT ?, ?, id, channel, wa_id, 'text', '{}', 'sending', ? FROM thread WHERE id = ?",
                (outbox_id, cursor.lastrowid, at, thread_id))
        return cursor.lastrowid

    return await store.write(insert)


async def state(store: Store) -> dict:
    """Everything ingest decides, in a form that does not depend on insertion order."""
    threads = await store.fetchall(
        "SELECT t.channel, t.wa_id, t.user_id, t.status, t.last_inbound_at, t.last_message_at, t.last_direction,"
        " t.preview, t.unread, t.has_attachment, c.name, c.e164 FROM thread t LEFT JOIN contact c ON c.id = t.contact_id"
        " ORDER BY t.channel, t.wa_id")
    messages = await store.fetchall(
        "SELECT channel, wamid, direction, type, raw_type, text, timestamp, status, error_code, quarantined"
        " FROM message ORDER BY channel, wamid")
    statuses = await store.fetchall("SELECT wamid, status, timestamp FROM status_event ORDER BY wamid, status")
    return {"threads": [tuple(r) for r in threads], "messages": [tuple(r) for r in messages],
            "statuses": [tuple(r) for r in statuses],
            "contacts": await store.scalar("SELECT count(*) FROM contact")}
