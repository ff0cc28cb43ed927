"""The outbox sender: claims queued rows with a lease, paces them per number, and records what Meta answered.

Guarantees (see DESIGN.md and the tests in tests/core/test_outbox*.py):
- Two senders never send one row: a row is claimed in one transaction with an owner and a lease (SQLite: its one
  writer; PostgreSQL: the claimed rows locked FOR UPDATE SKIP LOCKED, so senders claim side by side).
- Per-customer order is enqueue order: only the oldest unfinished row of each (channel, recipient) is claimable.
- A send whose answer was lost (read timeout, a sender killed mid-send) is "in doubt": it is kept as state
  'sending' with no owner until its lease runs out, giving the status webhook — which carries our outbox id in
  `biz_opaque_callback_data` — time to reconcile it (core/ingest.py). Only if no status came is it sent again,
  and then the row is flagged `ambiguous`.
- Meta's 200 means accepted, not sent: the outbox row becomes 'sent' and the message gets its wamid, but the
  message's own status stays 'queued' until the `sent` status webhook (apply_parked_statuses applies any status
  that arrived before the answer did).
- Retryable errors back off with jitter; the rest end as failed with Meta's code, message and details verbatim.
  A token error (0/190) pauses the channel and marks it unhealthy instead of failing every row; until a send
  succeeds again, the channel is only probed: one row at a time, at most once per `token_pause`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from core.cloudapi import CloudApi, CloudApiError
from core.ingest import REENGAGEMENT, apply_parked_statuses, refresh_session
from core.store.db import Store, database_errors, is_locked, log_changes
from core.store.threads import refresh_thread_summary

log = logging.getLogger("wabox.outbox")

PAIR_RATE_LIMIT = 131056
TEMPLATE_MISSING = 132001


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    message_id: int  # every outbox row is queued with its message, in its thread (core/sending.py)
    thread_id: int
    channel: str
    recipient: str
    kind: str
    request: dict
    media_file: str | None
    mime_type: str | None
    file_name: str | None
    attempts: int
    in_doubt: bool  # an earlier attempt may have reached Meta


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 1.0      # first retry after ~base seconds
    cap: float = 300.0
    pair_wait: float = 6.0  # 131056: at least this long before writing to that customer again
    in_doubt_wait: float = 10.0  # how long a lost answer waits for its status webhook before a resend
    max_attempts: int = 10
    token_pause: float = 60.0  # 0/190: how long a channel pauses before trying again

    def delay(self, attempts: int, rng: random.Random) -> float:
        return min(self.cap, self.base * 2 ** max(0, attempts - 1)) * rng.uniform(0.5, 1.5)

    def pair_delay(self, attempts: int, rng: random.Random) -> float:
        return min(self.cap, max(self.pair_wait, self.pair_wait * 4 ** max(0, attempts - 1) / 4)) \
            * rng.uniform(1.0, 1.25)


class Pacer:
    """At most `rate` sends a second per number (Meta's default 80 mps), spread evenly, over every sender: each
    send takes the number's next slot from the database (send_pace), so two senders on one number share it."""

    def __init__(self, store: Store, rate: float, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]], write: Callable[..., Awaitable] | None = None) -> None:
        self.write = write or store.write  # the sender's own: tried again when the database is locked a moment
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock, self._sleep = clock, sleep

    async def wait(self, channel: str) -> None:
        if not self.interval:
            return
        slot = await self.write(_take_slot, channel, self._clock, self.interval)
        wait = slot - self._clock()
        if wait > 0:
            await self._sleep(wait)


def _take_slot(db: sqlite3.Connection, channel: str, clock: Callable[[], float], interval: float) -> float:
    # The clock is read inside the transaction: read before it, a sender that waited for the lock took a slot in the
    # past and sent at once, beside the sender that took the next slot meanwhile (two sends in the same instant).
    now = clock()
    row = db.execute("SELECT next_at FROM send_pace WHERE channel = ?", (channel,)).fetchone()
    slot = now if row is None or row[0] < now else row[0]
    db.execute("INSERT INTO send_pace(channel, next_at) VALUES (?, ?)"
               " ON CONFLICT (channel) DO UPDATE SET next_at = excluded.next_at", (channel, slot + interval))
    return slot


class Sender:
    def __init__(self, store: Store, api: CloudApi, *, owner: str, rate_per_second: float = 80.0,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, lease_seconds: float = 30.0,
                 concurrency: int = 8, backoff: Backoff | Callable[[int, CloudApiError], float] = Backoff(),
                 rng: random.Random | None = None,
                 on_unknown_template: Callable[[], Awaitable[None]] | None = None, idle: float = 0.2) -> None:
        self.store, self.api, self.owner = store, api, owner
        self.clock, self.sleep = clock, sleep
        self.lease_seconds, self.concurrency = lease_seconds, concurrency
        # A plain function (attempts, error) -> seconds may stand in for the whole Backoff (tests, tuning).
        self.backoff = backoff if isinstance(backoff, Backoff) else Backoff()
        self._delay = None if isinstance(backoff, Backoff) else backoff
        self.rng = rng or random.Random()
        self.pacer = Pacer(store, rate_per_second, clock, sleep, self._write)
        self.on_unknown_template = on_unknown_template
        self.idle = idle
        self.paused: dict[str, float] = {}  # channel -> until (token invalid)
        self.probing: set[str] = set()  # channels whose token was refused: one probe per pause until a send works
        self._health_read = False

    # --- loops ----------------------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim what is ready now, send it all, return how many rows were handled."""
        claimed = await self.claim(self.concurrency)
        await asyncio.gather(*(self.handle(row) for row in claimed))
        return len(claimed)

    async def run(self, *, idle: float | None = None) -> None:
        """Keep up to `concurrency` sends in flight until cancelled; look for new rows every `idle` seconds."""
        idle = self.idle if idle is None else idle
        running: set[asyncio.Task] = set()
        try:
            while True:
                free = self.concurrency - len(running)
                if free > 0:
                    try:
                        claimed = await self.claim(free)
                    except database_errors():  # e.g. the disk is full for a moment: the loop must outlive it
                        log.exception("outbox claim failed; trying again")
                        claimed = []
                        await self.sleep(1.0)
                    for row in claimed:
                        running.add(asyncio.create_task(self.handle(row)))
                if running:
                    done, running = await asyncio.wait(running, timeout=idle,
                                                       return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        if task.exception() is not None:
                            log.error("outbox send crashed", exc_info=task.exception())
                else:
                    await self.sleep(idle)
        finally:
            for task in running:
                task.cancel()

    async def _write(self, fn, *args, transaction=None):
        """store.write (or `transaction`), again after a moment if SQLite says "locked": a reader sharing this
        connection can hold an old snapshot for an instant, and losing a send's answer to that would make it look
        in doubt."""
        transaction = transaction or self.store.write
        for attempt in range(5):
            try:
                return await transaction(fn, *args)
            except database_errors() as error:
                if not is_locked(error):
                    raise
            await self.sleep(0.01 * 2 ** attempt)
        return await transaction(fn, *args)  # the sixth try: a lock that outlasts it is raised

    # --- claiming -------------------------------------------------------------------------------------------

    async def claim(self, limit: int) -> list[Claimed]:
        now = self.clock()
        if not self._health_read:  # a refused token outlives a restart: start by probing those channels
            self.probing |= {r[0] for r in await self.store.fetchall(
                "SELECT phone_number_id FROM channel WHERE health = 'token_invalid'")}
            self._health_read = True
        paused = [channel for channel, until in self.paused.items() if until > now]
        claimed = await self._write(_claim, self.owner, now, self.lease_seconds, limit, paused, self.probing,
                                    self.store.claim_lock, transaction=self.store.claim)
        for row in claimed:
            if row.channel in self.probing:  # the next probe no sooner than a pause from now, whatever this one says
                self.paused[row.channel] = now + self.backoff.token_pause
        return claimed

    # --- one row --------------------------------------------------------------------------------------------

    async def handle(self, row: Claimed) -> None:
        try:
            await self.pacer.wait(row.channel)
            request = dict(row.request)
            if row.kind == "media" and row.media_file:
                request = await self._with_uploaded_media(row, request)
            request["to"] = row.recipient
            request["biz_opaque_callback_data"] = f"outbox:{row.id}"
            result = await self.api.send(row.channel, request)
        except CloudApiError as error:
            await self._failed_attempt(row, error)
            return
        if self.paused.pop(row.channel, None) is not None or row.channel in self.probing:
            self.probing.discard(row.channel)
            await self._write(_set_health, row.channel, "ok", int(self.clock()))
        await self._write(_sent, row, self.owner, result.wamid, int(self.clock()))

    async def _with_uploaded_media(self, row: Claimed, request: dict) -> dict:
        path = Path(row.media_file or "")
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as error:
            raise CloudApiError(131053, f"the file to send is gone: {error.strerror}") from None
        media_id = await self.api.upload_media(row.channel, data, row.mime_type or "application/octet-stream",
                                               row.file_name or path.name)
        kind = request["type"]
        return {**request, kind: {**request.get(kind, {}), "id": media_id}}

    async def _failed_attempt(self, row: Claimed, error: CloudApiError) -> None:
        now = self.clock()
        if error.token_invalid:
            self.paused[row.channel] = now + self.backoff.token_pause
            self.probing.add(row.channel)
            log.error("channel %s: the access token was refused (%s); sending paused", row.channel, error.code)
            await self._write(_token_refused, row, self.owner, error, now + self.backoff.token_pause, int(now))
            return
        if row.channel in self.probing and error.http_status is not None and error.http_status < 500:
            # Meta judged the message itself (e.g. 131026): the token was accepted, the channel works again.
            self.probing.discard(row.channel)
            self.paused.pop(row.channel, None)
            await self._write(_set_health, row.channel, "ok", int(now))
        if error.code == TEMPLATE_MISSING and self.on_unknown_template is not None:
            try:
                await self.on_unknown_template()
            except Exception:
                log.exception("template sync after 132001 failed")
        if error.retryable and row.attempts < self.backoff.max_attempts:
            if getattr(error, "maybe_sent", False):
                # The request may have reached Meta: wait for its status webhook before any resend.
                wait = self._delay(row.attempts, error) if self._delay else max(
                    self.backoff.in_doubt_wait, self.backoff.delay(row.attempts, self.rng))
                await self._write(_in_doubt, row, self.owner, error, now + wait)
                return
            if self._delay:
                wait = self._delay(row.attempts, error)
            elif error.code == PAIR_RATE_LIMIT:
                wait = self.backoff.pair_delay(row.attempts, self.rng)
            else:
                wait = self.backoff.delay(row.attempts, self.rng)
            await self._write(_retry_later, row, self.owner, error, now + wait)
            return
        await self._write(_failed, row, self.owner, error, int(now))


# --- the writes (each runs in one transaction on the store's thread) --------------------------------------

_CANDIDATES = """
SELECT o.*, m.mime_type AS m_mime, m.file_name AS m_file_name
FROM outbox o LEFT JOIN message m ON m.id = o.message_id
WHERE o.id IN (SELECT min(id) FROM outbox WHERE state IN ('queued', 'sending') GROUP BY channel, recipient)
  AND ((o.state = 'queued' AND o.next_attempt_at <= ?) OR (o.state = 'sending' AND o.lease_until < ?))
"""


def _claim(db: sqlite3.Connection, owner: str, now: float, lease: float, limit: int,
           paused: list[str], probing: set[str] = frozenset(), lock: str = "") -> list[Claimed]:
    sql = _CANDIDATES + "".join(" AND o.channel != ?" for _ in paused) + " ORDER BY o.id"
    if not probing:  # a probed channel's rows past its first are passed over below, so then all are read
        sql += f" LIMIT {int(limit)}"
    claimed: list[Claimed] = []
    for row in db.execute(sql + lock, (now, now, *paused)).fetchall():
        if len(claimed) >= limit:
            break
        if row["channel"] in probing and any(c.channel == row["channel"] for c in claimed):
            continue
        in_doubt = row["state"] == "sending"  # its status webhook would have marked it sent (core/ingest.py)
        db.execute("UPDATE outbox SET state = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1,"
                   " ambiguous = CASE WHEN ? = 1 THEN 1 ELSE ambiguous END WHERE id = ?", (owner, now + lease, int(in_doubt), row["id"]))
        claimed.append(Claimed(
            id=row["id"], message_id=row["message_id"], thread_id=row["thread_id"], channel=row["channel"],
            recipient=row["recipient"], kind=row["kind"], request=json.loads(row["request"]),
            media_file=row["media_file"], mime_type=row["m_mime"], file_name=row["m_file_name"],
            attempts=row["attempts"] + 1, in_doubt=in_doubt))
    return claimed


def _mine(db: sqlite3.Connection, row: Claimed, owner: str) -> bool:
    """Still ours? (A lease that ran out may have passed the row to another sender, or a webhook reconciled it.)"""
    current = db.execute("SELECT state, lease_owner FROM outbox WHERE id = ?", (row.id,)).fetchone()
    return current is not None and current["state"] == "sending" and current["lease_owner"] == owner


def _sent(db: sqlite3.Connection, row: Claimed, owner: str, wamid: str, now: int) -> None:
    current = db.execute("SELECT state, wamid FROM outbox WHERE id = ?", (row.id,)).fetchone()
    if current["state"] in ("sent", "failed") and current["wamid"] not in (None, wamid):
        # Reconciled meanwhile (webhook, or another sender after our lease ran out) with another wamid:
        # this answer is for a second copy. Record that it happened; keep the first.
        db.execute("UPDATE outbox SET ambiguous = 1 WHERE id = ?", (row.id,))
        log.warning("outbox %s: sent twice (%s and %s)", row.id, current["wamid"], wamid)
        return
    if current["state"] != "failed":
        # Even if our lease ran out, Meta took it: record it so whoever holds the row now sees it sent.
        db.execute("UPDATE outbox SET state = 'sent', wamid = ?, sent_at = ?, lease_owner = NULL, lease_until = NULL,"
                   " error_code = NULL, error_title = NULL, error_details = NULL WHERE id = ?", (wamid, now, row.id))
    db.execute("UPDATE message SET wamid = ? WHERE id = ? AND wamid IS NULL", (wamid, row.message_id))
    apply_parked_statuses(db, row.message_id, wamid)
    _changed(db, row.thread_id, now)


def _retry_later(db: sqlite3.Connection, row: Claimed, owner: str, error: CloudApiError, at: float) -> None:
    if not _mine(db, row, owner):
        return
    db.execute("UPDATE outbox SET state = 'queued', next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,"
               " error_code = ?, error_title = ?, error_details = ? WHERE id = ?",
               (at, error.code, error.message, error.details, row.id))


def _in_doubt(db: sqlite3.Connection, row: Claimed, owner: str, error: CloudApiError, until: float) -> None:
    """Keep it 'sending' with nobody's lease: claimable after `until`, by which time its webhook may have come."""
    if not _mine(db, row, owner):
        return
    db.execute("UPDATE outbox SET lease_owner = NULL, lease_until = ?, error_code = ?, error_title = ?,"
               " error_details = ? WHERE id = ?", (until, error.code, error.message, error.details, row.id))


def _token_refused(db: sqlite3.Connection, row: Claimed, owner: str, error: CloudApiError, until: float,
                   now: int) -> None:
    if _mine(db, row, owner):
        # Not the row's fault: give the attempt back and wait for the channel to come back.
        db.execute("UPDATE outbox SET state = 'queued', attempts = CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END, next_attempt_at = ?,"
                   " lease_owner = NULL, lease_until = NULL, error_code = ?, error_title = ?, error_details = ?"
                   " WHERE id = ?", (until, error.code, error.message, error.details, row.id))
    _set_health(db, row.channel, "token_invalid", now)
    db.execute("INSERT INTO channel_error(channel, code, title, message, details, at) VALUES (?,?,?,?,?,?)",
               (row.channel, error.code, error.title, error.message, error.details, now))


def _failed(db: sqlite3.Connection, row: Claimed, owner: str, error: CloudApiError, now: int) -> None:
    if not _mine(db, row, owner):
        return
    db.execute("UPDATE outbox SET state = 'failed', lease_owner = NULL, lease_until = NULL, error_code = ?,"
               " error_title = ?, error_details = ? WHERE id = ?", (error.code, error.message, error.details, row.id))
    db.execute("UPDATE message SET status = 'failed', status_at = ?, error_code = ?, error_title = ?,"
               " error_details = ? WHERE id = ?", (now, error.code, error.message, error.details, row.message_id))
    if error.code == REENGAGEMENT:  # Meta says the window is shut: believe it
        refresh_session(db, row.thread_id)
    _changed(db, row.thread_id, now)


def _set_health(db: sqlite3.Connection, channel: str, health: str, now: int) -> None:
    db.execute("UPDATE channel SET health = ?, updated_at = ? WHERE phone_number_id = ?", (health, now, channel))
    log_changes(db, [("channel", None)], at=now)


def _changed(db: sqlite3.Connection, thread_id: int, now: int) -> None:
    refresh_thread_summary(db, thread_id)
    log_changes(db, [("message", thread_id)], at=now)
