"""Message templates: synced from the Graph API into the `template` table (by `wabox serve`, and on 132001)."""

from __future__ import annotations

import json
import sqlite3
import time

from core.cloudapi import CloudApi
from core.model import Template
from core.store import rows
from core.store.db import Store, log_changes


async def sync_templates(store: Store, api: CloudApi, waba_ids: list[str] | set[str], *,
                         now: float | None = None) -> int:
    """Replace each WABA's templates with what Meta lists now; returns how many are stored.

    A WABA whose listing fails keeps its previous templates (the error propagates after the others synced)."""
    total, first_error = 0, None
    for waba_id in sorted(set(waba_ids)):
        try:
            listed = await api.templates(waba_id)
        except Exception as error:  # one WABA failing must not stop the rest
            first_error = first_error or error
            continue
        total += await store.write(_replace, waba_id, listed, int(time.time() if now is None else now))
    if first_error is not None:
        raise first_error
    return total


def _replace(db: sqlite3.Connection, waba_id: str, listed: list[dict], now: int) -> int:
    seen: list[str] = []
    for item in listed:
        if not isinstance(item, dict) or not item.get("id") or not item.get("name"):
            continue
        template_id = str(item["id"])
        seen.append(template_id)
        components = [c for c in item.get("components") or [] if isinstance(c, dict)]
        db.execute(
            "INSERT INTO template(id, waba_id, name, language, status, category, parameter_format, components,"
            " synced_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET waba_id = excluded.waba_id,"
            " name = excluded.name, language = excluded.language, status = excluded.status,"
            " category = excluded.category, parameter_format = excluded.parameter_format,"
            " components = excluded.components, synced_at = excluded.synced_at",
            (template_id, waba_id, str(item["name"]), str(item.get("language") or ""), str(item.get("status") or ""),
             str(item.get("category") or ""), str(item.get("parameter_format") or "POSITIONAL").upper(),
             json.dumps(components, ensure_ascii=False), now))
    # Gone from Meta (deleted): gone here too. A template with the same (name, language) under a new id replaces it.
    placeholders = ",".join("?" * len(seen))
    db.execute(f"DELETE FROM template WHERE waba_id = ? AND id NOT IN ({placeholders})" if seen else
               "DELETE FROM template WHERE waba_id = ?", (waba_id, *seen))
    log_changes(db, [("template", None)], at=now)
    return len(seen)


async def list_templates(store: Store, *, approved_only: bool = False) -> list[Template]:
    found = await store.fetchall("SELECT * FROM template" + (" WHERE upper(status) = 'APPROVED'" if approved_only
                                                           else "") + " ORDER BY name, language")
    return [rows.template(row) for row in found]


async def find_template(store: Store, name: str, language: str, *, waba_id: str | None = None) -> Template | None:
    sql = "SELECT * FROM template WHERE name = ? AND language = ?"
    params: tuple = (name, language)
    if waba_id:
        sql, params = sql + " AND waba_id = ?", (*params, waba_id)
    row = await store.fetchone(sql + " ORDER BY synced_at DESC LIMIT 1", params)
    return None if row is None else rows.template(row)
