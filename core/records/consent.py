"""F30: a business-initiated template to a contact without a WhatsApp opt-in needs an explicit confirmation; the
CLI and bulk sends refuse it unless forced."""

from __future__ import annotations

import sqlite3

from core import policy


def missing_opt_in(db: sqlite3.Connection, thread_id: int, now: float) -> str | None:
    """Why a template to this thread needs confirming (its contact never opted in and no session is open), or None."""
    row = db.execute("SELECT t.last_inbound_at, c.name, c.opt_in_date FROM thread t LEFT JOIN contact c"
                     " ON c.id = t.contact_id WHERE t.id = ?", (thread_id,)).fetchone()
    if row is None or row["opt_in_date"] or policy.session_open(row["last_inbound_at"], int(now)):
        return None
    return f"{row['name'] or 'This contact'} has no WhatsApp opt-in on record: a business-initiated message needs one"
