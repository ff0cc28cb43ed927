"""Raw webhook bodies: each one answered 200 is kept byte for byte and ingested event by event.

A body that does not go in whole for a reason of its own (a parser or ingest bug, data we did not expect) stays
"pending": `wabox serve` tries it again with exponential backoff, `wabox reingest` at once (after an upgrade), and
`wabox channels` and /healthz show how many wait. A failure of the machine (I/O, locked, out of descriptors) is
never recorded as pending: it is raised, so the receiver answers 5xx and Meta sends the body again.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from dataclasses import dataclass

from core import webhooks
from core.ingest import IngestResult, ingest, ingest_many
from core.store.db import Store, is_transient
from core.webhooks import Event

log = logging.getLogger("wabox.raw_events")

RETRY_FIRST_SECONDS = 60
RETRY_MAX_SECONDS = 3600
NOTE_MAX = 1000


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: str  # ok | partial (unknown numbers, kept raw) | unparsed | failed (some event raised)
    note: str | None
    result: IngestResult

    @property
    def pending(self) -> bool:
        return self.outcome in ("unparsed", "failed")


@dataclass(frozen=True, slots=True)
class Backlog:
    """What channel health shows: bodies answered 200 that are not in the inbox yet."""

    pending: int
    oldest_at: int | None
    last_error: str | None


# Through the partial index of pending rows: as cheap as the backlog is short, whatever the table's size.
BACKLOG_SQL = ("SELECT count(*) AS n, min(received_at) AS oldest, max(id) AS newest FROM raw_event"
               " INDEXED BY raw_event_pending WHERE state = 'pending'")


def read_body(raw: bytes) -> tuple[list[Event] | None, str | None]:
    """The events of a signed body, or (None, why it does not parse)."""
    try:
        return webhooks.parse(webhooks.loads(raw)), None
    except (ValueError, RecursionError) as error:  # bad JSON or UTF-8, nested too deep, not a webhook envelope
        return None, f"did not parse: {type(error).__name__}: {error}"[:NOTE_MAX]


def ingest_body(db: sqlite3.Connection, events: list[Event] | None, parse_note: str | None,
                channels: set[str] | None, now: int) -> Attempt:
    """The body's events in one go; if that raises, each event in its own SAVEPOINT, so one that raises costs
    only itself. A transient failure is raised, never recorded."""
    if events is None:
        return Attempt("unparsed", parse_note, IngestResult())
    errors: list[str] = []
    try:
        total = _in_savepoint(db, events, channels, now)
    except Exception as error:
        if is_transient(error):
            raise
        total = IngestResult()
        for event in events:
            try:
                _merge(total, _in_savepoint(db, [event], channels, now))
            except Exception as failure:
                if is_transient(failure):
                    raise
                log.exception("a webhook event failed to ingest; its body stays pending")
                errors.append(f"{type(event).__name__} {getattr(event, 'wamid', '')}: {failure!r}")
    return _attempt(total, errors, len(events))


def ingest_bodies(db: sqlite3.Connection, bodies: list[tuple[list[Event] | None, str | None]],
                  channels: set[str] | None, now: int) -> list[Attempt]:
    """ingest_body() of each (events, parse note), all in one SAVEPOINT while none raises (on PostgreSQL two
    round trips for the batch, not two a body); if one raises, each body again as ingest_body() takes it, so a
    body that raises still costs only itself. A transient failure is raised."""
    db.execute("SAVEPOINT ingest_batch")
    try:
        parsed = iter(ingest_many(db, [events for events, _ in bodies if events is not None], channels=channels,
                                  now=now))
        totals = [None if events is None else next(parsed) for events, _ in bodies]
    except Exception as error:
        if is_transient(error):
            raise
        db.execute("ROLLBACK TO ingest_batch")
        db.execute("RELEASE ingest_batch")
        return [ingest_body(db, events, note, channels, now) for events, note in bodies]
    db.execute("RELEASE ingest_batch")
    return [Attempt("unparsed", note, IngestResult()) if total is None else _attempt(total, [], len(events))
            for (events, note), total in zip(bodies, totals)]


def ingest_and_record(db: sqlite3.Connection, bodies: list[tuple[bytes, list[Event] | None, str | None]],
                      channels: set[str] | None, now: int) -> list[IngestResult]:
    """The receiver's group commit: every waiting (raw body, events, parse note) in one transaction, each body kept
    raw with its outcome. A body (or event) that raises for a reason of its own costs only itself and is kept
    pending; a transient failure raises out, and the whole transaction rolls back."""
    attempts = ingest_bodies(db, [(events, note) for _, events, note in bodies], channels, now)
    record(db, [(raw, attempt) for (raw, _, _), attempt in zip(bodies, attempts)], now)
    return [attempt.result for attempt in attempts]


def _attempt(total: IngestResult, errors: list[str], events: int) -> Attempt:
    notes = []
    if errors:
        notes.append(f"ingest failed ({len(errors)} of {events} events): " + "; ".join(errors))
    if total.unknown_channels:
        notes.append("unknown phone_number_id: " + ", ".join(sorted(total.unknown_channels)))
        log.warning("webhook for %r, not a connected number: kept raw", sorted(total.unknown_channels))
    outcome = "failed" if errors else "partial" if total.unknown_channels else "ok"
    return Attempt(outcome, "; ".join(notes)[:NOTE_MAX] or None, total)


def _in_savepoint(db: sqlite3.Connection, events: list[Event], channels: set[str] | None, now: int) -> IngestResult:
    """ingest(), wholly undone if it raises."""
    db.execute("SAVEPOINT ingest")
    try:
        result = ingest(db, events, channels=channels, now=now)
    except Exception:
        db.execute("ROLLBACK TO ingest")
        db.execute("RELEASE ingest")
        raise
    db.execute("RELEASE ingest")
    return result


def _merge(total: IngestResult, part: IngestResult) -> None:
    for field in dataclasses.fields(total):
        mine, theirs = getattr(total, field.name), getattr(part, field.name)
        if isinstance(mine, int):
            setattr(total, field.name, mine + theirs)
        elif isinstance(mine, set):
            mine.update(theirs)
        else:
            mine.extend(theirs)


def retry_delay(attempts: int) -> int:
    """Seconds before the next try after `attempts` failed ones: doubling from a minute, capped at an hour."""
    return min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** min(attempts - 1, 20))


def record(db: sqlite3.Connection, bodies: list[tuple[bytes, Attempt]], now: int) -> None:
    """Keep each body as received, with how its first ingest went (one executemany: one round trip)."""
    db.executemany("INSERT INTO raw_event(received_at, body, outcome, note, state, attempts, next_attempt_at)"
                   " VALUES (?, ?, ?, ?, ?, 1, ?)",
                   [(now, raw, attempt.outcome, attempt.note, "pending" if attempt.pending else "done",
                     now + retry_delay(1) if attempt.pending else None) for raw, attempt in bodies])


async def reingest_pending(store: Store, channels: set[str] | None, *, now: float,
                           due_only: bool = True) -> tuple[IngestResult, int, int]:
    """Try the pending bodies again (only those whose backoff has passed, unless `due_only` is False).

    Returns (what went in, bodies now done, bodies still pending). A transient failure is raised."""
    due = " AND next_attempt_at <= :now" if due_only else ""
    ids = [row["id"] for row in await store.fetchall(
        f"SELECT id FROM raw_event WHERE state = 'pending'{due} ORDER BY id", {"now": int(now)})]
    total, done, still = IngestResult(), 0, 0
    for raw_id in ids:
        row = await store.fetchone("SELECT body FROM raw_event WHERE id = ? AND state = 'pending'", (raw_id,))
        if row is None:  # done meanwhile by another process
            continue
        events, note = read_body(bytes(row["body"]))
        attempt = await store.write(_retry, raw_id, events, note, channels, int(now))
        _merge(total, attempt.result)
        if attempt.pending:
            still += 1
        else:
            done += 1
    return total, done, still


def _retry(db: sqlite3.Connection, raw_id: int, events: list[Event] | None, note: str | None,
           channels: set[str] | None, now: int) -> Attempt:
    attempt = ingest_body(db, events, note, channels, now)
    attempts = db.execute("UPDATE raw_event SET attempts = attempts + 1 WHERE id = ? RETURNING attempts",
                          (raw_id,)).fetchone()[0]
    db.execute("UPDATE raw_event SET outcome = ?, note = ?, state = ?, next_attempt_at = ? WHERE id = ?",
               (attempt.outcome, attempt.note, "pending" if attempt.pending else "done",
                now + retry_delay(attempts) if attempt.pending else None, raw_id))
    return attempt


async def backlog(store: Store) -> Backlog:
    row = await store.fetchone(BACKLOG_SQL)
    last = await store.scalar("SELECT note FROM raw_event WHERE id = ?", (row["newest"],)) if row["n"] else None
    return Backlog(row["n"], row["oldest"], last)
