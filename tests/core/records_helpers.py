"""Records test helpers: an inbound text from any wa_id, CSV imports and exports run as the CLI runs them."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

from core import webhooks
from core.ingest import ingest
from core.records import csvio
from core.store import Store
from tests.core.ingest_helpers import CHANNELS, NOW, load

RECORDS_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "records"
_ids = itertools.count(1)


def inbound(fixtures_dir: Path, wa_id: str, *, name: str = "Profile Name", text: str = "Dzień dobry") -> dict:
    body = copy.deepcopy(load(fixtures_dir, "text.json"))
    value = body["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
    message = value["messages"][0]
    message.pop("from_user_id", None)
    message.update({"from": wa_id, "id": f"wamid.records-{next(_ids)}", "text": {"body": text}})
    return body


async def receive(store: Store, body: dict) -> int:
    """Ingest one inbound message as the receiver does; returns the thread it landed in."""
    events = webhooks.parse(body)
    result = await store.write(lambda db: ingest(db, events, channels=CHANNELS, now=NOW))
    [thread_id] = result.threads
    return thread_id


def fixture_text(name: str) -> str:
    path = RECORDS_FIXTURES / name
    assert path.is_file(), f"missing fixture {path}"
    return path.read_text(encoding="utf-8")


async def import_csv(store: Store, kind: str, text: str, *, dry_run: bool = False, overrides: dict | None = None,
                     region: str | None = None) -> csvio.Outcome:
    return await store.run(lambda conn: csvio.run_import(conn, kind, text, overrides=overrides or {}, region=region,
                                                         dry_run=dry_run, now=NOW))


async def export_csv(store: Store, kind: str) -> list[list[str]]:
    return await store.run(lambda conn: list(csvio.export_rows(conn, kind)))
