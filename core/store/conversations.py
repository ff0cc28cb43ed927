"""Counting conversations for the monthly quota (F8) and the messaging limit (F3) from what really went out.

- A conversation whose business messages all failed counts for nothing: Meta neither charges nor counts a message
  it refused.
- A conversation lasts while the customer keeps the session open (policy.conversation_end): replies in a session
  the customer keeps renewing are one conversation.
- The messaging limit is Meta's per business portfolio (since 2025-10-07), so it counts customers across every
  connected number, each customer once.
"""

from __future__ import annotations

import sqlite3

from core import policy

_NOT_ALL_FAILED = """NOT (
    EXISTS (SELECT 1 FROM message m WHERE m.thread_id = c.thread_id AND m.direction = 'out' AND m.type != 'note'
            AND m.timestamp >= c.started_at AND m.timestamp < c.expires_at AND m.status = 'failed')
    AND NOT EXISTS (SELECT 1 FROM message m WHERE m.thread_id = c.thread_id AND m.direction = 'out'
            AND m.type != 'note' AND m.timestamp >= c.started_at AND m.timestamp < c.expires_at
            AND coalesce(m.status, '') != 'failed'))"""
# Inbound messages that keep a session open (see core.ingest: reactions, notices and unsupported ones do not).
_RENEWS = "direction = 'in' AND type NOT IN ('reaction', 'system', 'unsupported')"


def used(db: sqlite3.Connection, now: float) -> int:
    """Conversations counted against this calendar month's quota."""
    return db.execute(f"SELECT count(*) FROM conversation c WHERE c.month = ? AND {_NOT_ALL_FAILED}",
                      (policy.month_key(now),)).fetchone()[0]


def open_until(db: sqlite3.Connection, thread_id: int) -> int | None:
    """When the thread's latest conversation ends, carried on by the customer's messages; None if it never had one."""
    latest = db.execute("SELECT started_at, expires_at FROM conversation WHERE thread_id = ?"
                        " ORDER BY expires_at DESC LIMIT 1", (thread_id,)).fetchone()
    if latest is None:
        return None
    renewals = db.execute(f"SELECT timestamp FROM message WHERE thread_id = ? AND {_RENEWS} AND timestamp >= ?"
                          " ORDER BY timestamp", (thread_id, latest["started_at"])).fetchall()
    return policy.conversation_end(latest["expires_at"], [r[0] for r in renewals])


def customers_reached(db: sqlite3.Connection, thread_id: int, now: float) -> int:
    """Other customers sent a business-initiated conversation in the last 24 h, over all numbers (the portfolio)."""
    return db.execute(
        "SELECT count(DISTINCT coalesce(t.contact_id, -t.id)) FROM conversation c JOIN thread t ON t.id = c.thread_id"
        f" WHERE c.origin = 'business' AND c.started_at > ? AND {_NOT_ALL_FAILED}"
        " AND coalesce(t.contact_id, -t.id) != (SELECT coalesce(contact_id, -id) FROM thread WHERE id = ?)",
        (now - policy.SESSION_SECONDS, thread_id)).fetchone()[0]
