"""Connected numbers: `wabox connect` (checked against the Graph API, written to the config) and their health."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.cloudapi import CloudApi, CloudApiError, PhoneNumberInfo
from core.config import ChannelConfig, Config, channels_toml
from core.store.db import Store, log_changes

DEFAULT_VIEW = "WhatsApp"
CLOUD_API = "CLOUD_API"  # platform_type of a number on the Cloud API (ON_PREMISE ones cannot be served)
RECENT_ERRORS_SECONDS = 7 * 86400


class ConnectRefused(Exception):
    """Nothing was connected; the message says why."""


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    phone_number_id: str
    name: str
    waba_id: str
    display_phone_number: str
    verified_name: str | None
    quality_rating: str | None
    messaging_limit_tier: str | None
    token: str  # ok | invalid | unknown
    last_webhook_at: int | None
    backlog: int  # outbox rows queued or sending
    failed_24h: int
    recent_errors: tuple[dict, ...]  # channel_error rows of the last 7 days, newest first


async def connect(store: Store, api: CloudApi, config: Config, config_file: Path, waba_id: str,
                  phone_number_ids: list[str], *, now: float, name: str | None = None) -> list[ChannelConfig]:
    """Check every number with the Graph API (in that WABA, on the Cloud API), then connect all of them or none."""
    wanted = list(dict.fromkeys(phone_number_ids))
    in_table = {row["phone_number_id"]: row["waba_id"]
                for row in await store.fetchall("SELECT phone_number_id, waba_id FROM channel")}
    known = {c.phone_number_id: c.waba_id for c in config.channels} | in_table
    for number in wanted:
        if number in known:
            raise ConnectRefused(f"{number} is already connected (WABA {known[number]}); nothing was changed.")
    already = sum(1 for w in known.values() if w == waba_id)
    if already + len(wanted) > config.numbers_per_waba:
        raise ConnectRefused(f"WABA {waba_id} would have {already + len(wanted)} numbers; at most "
                             f"{config.numbers_per_waba} may be connected to one WABA. Nothing was changed.")
    infos = await _numbers_of(api, waba_id, wanted)
    added = [ChannelConfig(name=name if name and len(wanted) == 1 else (info.verified_name or
                                                                          info.display_phone_number or info.id),
                           waba_id=waba_id, phone_number_id=number, display_phone_number=info.display_phone_number)
             for number, info in zip(wanted, infos)]
    _append_to_config(config_file, added)
    await store.write(_record, waba_id, list(zip(added, infos)), not known, int(now))
    return added


async def _numbers_of(api: CloudApi, waba_id: str, wanted: list[str]) -> list[PhoneNumberInfo]:
    """Each wanted number as the WABA lists it: it must belong to that WABA and be on the Cloud API."""
    try:
        listed = {info.id: info for info in await api.phone_numbers(waba_id)}
    except CloudApiError as error:
        raise ConnectRefused(f"WABA {waba_id}: the Graph API refused to list its numbers: ({error.code}) "
                             f"{error.message}" + (f" — {error.details}" if error.details else "")
                             + ". Nothing was changed.") from None
    for number in wanted:
        if number not in listed:
            known = ", ".join(sorted(listed)) or "none"
            raise ConnectRefused(f"{number} is not a phone number of WABA {waba_id} (its numbers: {known}). "
                                 "Nothing was changed.")
        platform = listed[number].raw.get("platform_type")
        if platform != CLOUD_API:
            raise ConnectRefused(f"{number} is on {platform or 'no platform'}, not the Cloud API: migrate it to the "
                                 "Cloud API in WhatsApp Manager first. Nothing was changed.")
    return [listed[number] for number in wanted]


def _append_to_config(config_file: Path, added: list[ChannelConfig]) -> None:
    """Append the new [[channels]] entries; everything already in the file stays as written."""
    config_file.parent.mkdir(parents=True, exist_ok=True)
    existing = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
    if existing and not existing.endswith("\n"):
        existing += "\n"
    separator = "\n" if existing else ""
    partial = config_file.with_name(config_file.name + ".part")
    partial.write_text(existing + separator + channels_toml(added), encoding="utf-8")
    partial.replace(config_file)  # never a half-written config


def _record(db: sqlite3.Connection, waba_id: str, added: list[tuple[ChannelConfig, PhoneNumberInfo]],
            first: bool, now: int) -> None:
    for channel, info in added:
        db.execute(
            "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, verified_name, quality_rating,"
            " messaging_limit_tier, health, updated_at) VALUES (?,?,?,?,?,?,?, 'ok', ?)"
            " ON CONFLICT(phone_number_id) DO UPDATE SET waba_id = excluded.waba_id, name = excluded.name,"
            " display_phone_number = excluded.display_phone_number, verified_name = excluded.verified_name,"
            " quality_rating = excluded.quality_rating, messaging_limit_tier = excluded.messaging_limit_tier,"
            " health = 'ok', updated_at = excluded.updated_at",
            (channel.phone_number_id, waba_id, channel.name, channel.display_phone_number, info.verified_name,
             info.quality_rating, info.messaging_limit_tier, now))
    changes: list[tuple[str, int | None]] = [("channel", None)]
    if first:
        position = db.execute("SELECT coalesce(max(position), 0) + 1 FROM custom_view").fetchone()[0]
        created = db.execute("INSERT INTO custom_view(name, filters, created_by, created_at, position)"
                             " VALUES (?, ?, 'wabox connect', ?, ?) ON CONFLICT DO NOTHING",
                             (DEFAULT_VIEW, json.dumps({"source": ["whatsapp"]}), now, position))
        if created.rowcount:
            changes.append(("view", None))
    log_changes(db, changes, at=now)


async def refresh_health(store: Store, api: CloudApi, phone_number_ids: list[str], *, now: float) -> None:
    """Ask the Graph API how each number is doing: quality rating, tier, and whether our token still works."""
    for number in phone_number_ids:
        try:
            info = await api.phone_number(number)
        except CloudApiError as error:
            await store.write(_health_error, number, error, int(now))
            continue
        await store.write(_health_ok, number, info, int(now))


def _health_ok(db: sqlite3.Connection, number: str, info: PhoneNumberInfo, now: int) -> None:
    db.execute("UPDATE channel SET quality_rating = ?, messaging_limit_tier = coalesce(?, messaging_limit_tier),"
               " verified_name = coalesce(?, verified_name), health = 'ok', updated_at = ?"
               " WHERE phone_number_id = ?",
               (info.quality_rating, info.messaging_limit_tier, info.verified_name, now, number))
    log_changes(db, [("channel", None)], at=now)


def _health_error(db: sqlite3.Connection, number: str, error: CloudApiError, now: int) -> None:
    if error.token_invalid:
        db.execute("UPDATE channel SET health = 'token_invalid', updated_at = ? WHERE phone_number_id = ?",
                   (now, number))
    db.execute("INSERT INTO channel_error(channel, code, title, message, details, at) VALUES (?,?,?,?,?,?)",
               (number, error.code, error.title, error.message, error.details, now))
    log_changes(db, [("channel", None)], at=now)


async def channel_health(store: Store, *, now: float) -> list[ChannelHealth]:
    channels = await store.fetchall("SELECT * FROM channel ORDER BY name, phone_number_id")
    backlog = {r["channel"]: r["n"] for r in await store.fetchall(
        "SELECT channel, count(*) AS n FROM outbox WHERE state IN ('queued', 'sending') GROUP BY channel")}
    failed = {r["channel"]: r["n"] for r in await store.fetchall(
        "SELECT channel, count(*) AS n FROM message WHERE direction = 'out' AND status = 'failed'"
        " AND status_at > ? GROUP BY channel", (int(now) - 86400,))}
    result = []
    for c in channels:
        errors = await store.fetchall(
            "SELECT code, title, message, details, at FROM channel_error WHERE (channel = ? OR (channel IS NULL AND"
            " waba_id = ?)) AND at > ? ORDER BY at DESC, id DESC LIMIT 5",
            (c["phone_number_id"], c["waba_id"], int(now) - RECENT_ERRORS_SECONDS))
        token = {"ok": "ok", "token_invalid": "invalid"}.get(c["health"], "unknown")
        result.append(ChannelHealth(
            phone_number_id=c["phone_number_id"], name=c["name"], waba_id=c["waba_id"],
            display_phone_number=c["display_phone_number"], verified_name=c["verified_name"],
            quality_rating=c["quality_rating"], messaging_limit_tier=c["messaging_limit_tier"], token=token,
            last_webhook_at=c["last_webhook_at"], backlog=backlog.get(c["phone_number_id"], 0),
            failed_24h=failed.get(c["phone_number_id"], 0), recent_errors=tuple(dict(e) for e in errors)))
    return result
