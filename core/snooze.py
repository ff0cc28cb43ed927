"""Snooze (F29): a thread leaves the open views until a time, or until the customer writes (a trigger in
core/store/schema.py wakes it on their message, whoever ingests it); `wake_due` wakes the ones whose time came."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import datetime, timedelta

from core.store.db import Store, log_changes

UNTIL_REPLY = 2**31 - 1  # "until the customer writes": a time that does not come (fits a 32-bit INTEGER column)
_SPAN = re.compile(r"(\d+)\s*([mhd])")


class SnoozeError(ValueError):
    """A snooze time that cannot be read; the message says what is accepted."""


def parse_until(text: str, now: int) -> int | None:
    """When to wake: "30m", "2h", "1d", "1d 4h", "tomorrow" (09:00 local), "HH:MM" (next such time), or "reply"
    (None: until the customer writes)."""
    text = text.strip().lower()
    if text in ("reply", "until reply", "r"):
        return None
    if text == "tomorrow":
        morning = datetime.fromtimestamp(now) + timedelta(days=1)
        return int(morning.replace(hour=9, minute=0, second=0, microsecond=0).timestamp())
    if re.fullmatch(r"\d{1,2}:\d{2}", text):
        hour, minute = map(int, text.split(":"))
        if hour > 23 or minute > 59:
            raise SnoozeError(f"{text!r} is not a time of day")
        at = datetime.fromtimestamp(now).replace(hour=hour, minute=minute, second=0, microsecond=0)
        if at.timestamp() <= now:
            at += timedelta(days=1)
        return int(at.timestamp())
    spans = _SPAN.findall(text)
    if spans and _SPAN.sub("", text).strip() == "":
        seconds = sum(int(n) * {"m": 60, "h": 3600, "d": 86400}[unit] for n, unit in spans)
        if seconds > 0:
            return now + seconds
    raise SnoozeError(f"cannot read {text!r}: try 30m, 2h, 1d, tomorrow, 14:30 or reply")


def _snooze(conn: sqlite3.Connection, ids: list[int], until: int | None, agent: str, now: int) -> int:
    changed = 0
    said = "until the customer writes" if until is None else "until " + time.strftime("%Y-%m-%d %H:%M",
                                                                                     time.localtime(until))
    for thread_id in ids:
        changed += conn.execute("UPDATE thread SET snoozed_until = ?, snoozed_for_reply = ? WHERE id = ?",
                                (UNTIL_REPLY if until is None else until, int(until is None), thread_id)).rowcount
        conn.execute("INSERT INTO activity(thread_id, kind, agent, detail, at) VALUES (?, 'snoozed', ?, ?, ?)",
                     (thread_id, agent, f"snoozed {said}", now))
    log_changes(conn, [("thread", i) for i in ids], at=now)
    return changed


async def snooze(store: Store, ids: list[int], until: int | None, *, agent: str, now: int) -> int:
    return await store.write(_snooze, list(dict.fromkeys(ids)), until, agent, now)


def _wake(conn: sqlite3.Connection, ids: list[int], detail: str, agent: str | None, now: int) -> list[int]:
    woken = []
    for thread_id in ids:
        if conn.execute("UPDATE thread SET snoozed_until = NULL, snoozed_for_reply = 0"
                        " WHERE id = ? AND snoozed_until IS NOT NULL", (thread_id,)).rowcount:
            conn.execute("INSERT INTO activity(thread_id, kind, agent, detail, at) VALUES (?, 'woke', ?, ?, ?)",
                         (thread_id, agent, detail, now))
            woken.append(thread_id)
    log_changes(conn, [("thread", i) for i in woken], at=now)
    return woken


async def unsnooze(store: Store, ids: list[int], *, agent: str, now: int) -> list[int]:
    return await store.write(_wake, list(ids), "woken by hand", agent, now)


async def wake_due(store: Store, *, now: int) -> list[int]:
    """Wake every thread whose snooze time has come (any process may call it; each wakes once)."""
    due = [r[0] for r in await store.fetchall("SELECT id FROM thread WHERE snoozed_until <= ?", (now,))]
    if not due:
        return []
    return await store.write(lambda conn: _wake(conn, due, "snooze time reached", None, now))
