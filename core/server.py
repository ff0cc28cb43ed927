"""The webhook receiver (`wabox serve`): Meta's GET handshake and signed POSTs, committed before the 200.

A 200 is a promise: Meta stops retrying once it has one. So every validly signed body is committed, raw and
parsed, at `synchronous=FULL` before the answer. One writer task owns the write connection and commits whatever
bodies are waiting in one transaction (group commit): concurrent POSTs share one fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from core import webhooks
from core.ingest import IngestResult, ingest
from core.store import Store
from core.webhooks import InboundMessage

log = logging.getLogger("wabox.receiver")

MAX_BODY = 3 * 1024 * 1024  # Meta's payloads are at most 3 MB (reference §5.10)
MAX_BATCH = 256

OnCommitted = Callable[[list[InboundMessage]], Awaitable[None]]


@dataclass
class _Pending:
    raw: bytes
    events: list | None  # None: kept raw only (did not parse)
    note: str | None
    done: asyncio.Future


class Writer:
    """Owns the write connection; commits queued bodies together and resolves each caller's future."""

    def __init__(self, store: Store, channels: set[str] | None, clock: Callable[[], float],
                 on_committed: OnCommitted | None = None) -> None:
        self._store, self._channels, self._clock = store, channels, clock
        self._on_committed = on_committed
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._side_tasks: set[asyncio.Task] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-writer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._side_tasks):
            task.cancel()

    async def submit(self, raw: bytes, events: list | None, note: str | None = None) -> IngestResult | None:
        pending = _Pending(raw, events, note, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        return await pending.done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            try:
                results = await self._commit(batch)
            except Exception as error:  # the whole commit failed: nobody gets a 200, Meta will retry
                log.exception("commit of %d webhook bodies failed", len(batch))
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(error)
                continue
            media: list[InboundMessage] = []
            for pending, result in zip(batch, results):
                if result is not None:
                    media.extend(result.media)
                if not pending.done.done():
                    pending.done.set_result(result)
            if media and self._on_committed:
                task = asyncio.create_task(self._on_committed(media))
                self._side_tasks.add(task)
                task.add_done_callback(self._side_tasks.discard)

    async def _commit(self, batch: list[_Pending]) -> list[IngestResult | None]:
        return await self._store.write(_commit_batch, batch, self._channels, int(self._clock()))


def _commit_batch(db: sqlite3.Connection, batch: list[_Pending], channels: set[str] | None,
                  now: int) -> list[IngestResult | None]:
    """Every waiting body in one transaction; a SAVEPOINT each, so one bad body cannot cost the others."""
    results: list[IngestResult | None] = []
    for pending in batch:
        outcome, note, result = "unparsed", pending.note, None
        if pending.events is not None:
            db.execute("SAVEPOINT body")
            try:
                result = ingest(db, pending.events, channels=channels, now=now)
            except Exception as error:
                db.execute("ROLLBACK TO body")
                log.exception("a signed webhook body failed to ingest; kept raw")
                note = f"ingest failed: {error!r}"[:1000]
            else:
                outcome = "ok"
                if result.unknown_channels:
                    outcome = "partial"
                    note = "unknown phone_number_id: " + ", ".join(sorted(result.unknown_channels))
                    log.warning("webhook for %s, not a connected number: kept raw", note)
            db.execute("RELEASE body")
        db.execute("INSERT INTO raw_event(received_at, body, outcome, note) VALUES (?, ?, ?, ?)",
                   (now, pending.raw, outcome, note))
        results.append(result)
    return results


def create_receiver(store_path: Path | str, *, app_secret: str, verify_token: str, channels: set[str] | None,
                    clock: Callable[[], float] = time.time, on_committed: OnCommitted | None = None) -> Starlette:
    """The ASGI app. `channels`: the phone_number_ids we serve (others are kept raw and logged)."""
    if not app_secret or not verify_token:
        raise ValueError("the receiver needs the app secret and the verify token")
    state: dict = {}

    async def verify(request: Request) -> Response:
        params = request.query_params
        mode, token, challenge = params.get("hub.mode"), params.get("hub.verify_token"), params.get("hub.challenge")
        if challenge is None or mode is None or token is None:
            log.warning("verification request without hub.mode/hub.verify_token/hub.challenge")
            return PlainTextResponse("verification failed: missing parameters", status_code=400)
        if mode != "subscribe" or not hmac.compare_digest(token.encode(), verify_token.encode()):
            log.warning("verification refused: wrong mode or verify token")
            return PlainTextResponse("verification failed", status_code=403)
        if not challenge.isdigit():  # Meta's challenge is digits; echoing anything else would be a reflection
            return PlainTextResponse("verification failed: bad challenge", status_code=400)
        return PlainTextResponse(challenge)

    async def receive(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            return PlainTextResponse("payload too large", status_code=413)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                return PlainTextResponse("payload too large", status_code=413)
            chunks.append(chunk)
        raw = b"".join(chunks)
        header = request.headers.get("x-hub-signature-256")
        if not header:
            log.warning("webhook POST without X-Hub-Signature-256 refused")
            return PlainTextResponse("missing signature", status_code=401)
        if not webhooks.verify_signature(raw, header, app_secret):
            log.warning("webhook POST with a wrong signature refused (%d bytes)", len(raw))
            return PlainTextResponse("bad signature", status_code=403)
        try:
            events = webhooks.parse(json.loads(raw))
            note = None
        except (ValueError, RecursionError) as error:  # signed but unreadable (bad JSON, bad UTF-8, nested
            # too deep for json.loads, not a webhook envelope): a retry would not fix it
            log.error("signed webhook body did not parse (%s); kept raw", type(error).__name__)
            events, note = None, f"did not parse: {error}"[:1000]
        try:
            await state["writer"].submit(raw, events, note)
        except Exception:
            return PlainTextResponse("not stored, retry", status_code=500)
        return PlainTextResponse("ok")

    async def health(request: Request) -> Response:
        store: Store = state["store"]
        last = await store.scalar("SELECT max(received_at) FROM raw_event")
        return JSONResponse({"ok": True, "last_webhook_at": last})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await Store.open(store_path, synchronous="FULL")
        writer = Writer(store, channels, clock, on_committed)
        writer.start()
        state.update(store=store, writer=writer)
        try:
            yield
        finally:
            await writer.stop()
            await store.close()

    routes = []
    for path in ("/webhook", "/webhooks/whatsapp"):
        routes += [Route(path, verify, methods=["GET"]), Route(path, receive, methods=["POST"])]
    routes.append(Route("/healthz", health, methods=["GET"]))
    return Starlette(routes=routes, lifespan=lifespan)
