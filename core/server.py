"""The webhook receiver (`wabox serve`): Meta's GET handshake and signed POSTs, committed before the 200.

A 200 is a promise: Meta stops retrying once it has one. So every validly signed body is committed, raw and
parsed, at `synchronous=FULL` before the answer, and a failure of the machine (I/O, disk full, locked, out of
descriptors) answers 503 so that Meta sends it again. A body that fails for a reason of its own is kept
"pending" and tried again in the background (core.raw_events). One writer commits whatever bodies are waiting in
one transaction (group commit): concurrent POSTs share one fsync. On SQLite it is a process of its own
(core.writer_process), so that the commits and the HTTP side do not share a GIL; on PostgreSQL a task here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from core import raw_events, webhooks
from core.ingest import IngestResult
from core.store import Store
from core.store.db import is_transient
from core.webhooks import Event, InboundMessage
from core.writer_process import MAX_BATCH, MediaHandoff, OnCommitted, WriterProcess

log = logging.getLogger("wabox.receiver")

MAX_BODY = 3 * 1024 * 1024  # Meta's payloads are at most 3 MB (reference §5.10)
READ_TIMEOUT_SECONDS = 15.0  # the whole body must arrive within this; Meta sends it at once
RETRY_EVERY_SECONDS = 30.0  # how often the pending bodies whose backoff has passed are tried again
BODY_BUDGET = 32 * MAX_BODY  # request body bytes held at once, over all connections (beyond it: 503)
SUMMARY_SECONDS = 10.0  # rejected requests are logged as one summary per this period
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


@dataclass(slots=True)
class _Pending:
    raw: bytes
    events: list[Event] | None  # None: did not parse (kept raw, pending)
    note: str | None
    done: asyncio.Future


class Writer:
    """Owns the write connection; commits queued bodies together and resolves each caller's future. The
    PostgreSQL receiver's; on SQLite the commits run in a process of their own (core.writer_process)."""

    def __init__(self, store: Store, channels: set[str] | None, clock: Callable[[], float],
                 on_committed: OnCommitted | None = None) -> None:
        self._store, self._channels, self._clock = store, channels, clock
        self.fetch_media = MediaHandoff(on_committed)
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-writer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.fetch_media.cancel()

    async def submit(self, raw: bytes) -> IngestResult:
        """Resolves once the body is committed; raises if it was not (the caller must not answer 200)."""
        events, note = raw_events.read_body(raw)
        if events is None:
            log.error("signed webhook body did not parse; kept raw, pending (%s)", note)
        pending = _Pending(raw, events, note, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        return await pending.done

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            try:
                bodies = [(pending.raw, pending.events, pending.note) for pending in batch]
                results = await self._store.write(raw_events.ingest_and_record, bodies, self._channels,
                                                  int(self._clock()))
            except Exception as error:  # the whole commit failed: nobody gets a 200, Meta will retry
                if is_transient(error):
                    log.error("commit of %d webhook bodies failed (%r): answered 503", len(batch), error)
                else:
                    log.exception("commit of %d webhook bodies failed: answered 503", len(batch))
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(error)
                continue
            media: list[InboundMessage] = []
            for pending, result in zip(batch, results):
                media.extend(result.media)
                if not pending.done.done():
                    pending.done.set_result(result)
            self.fetch_media(media)


class Rejections:
    """Refused requests, counted by reason and logged as one summary per period: 60,000 forged POSTs make one
    line, not 60,000, and nothing a client sent is ever written to the log."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, reason: str) -> None:
        self.counts[reason] += 1

    def flush(self, period: float) -> None:
        if not self.counts:
            return
        total = sum(self.counts.values())
        reasons = ", ".join(f"{count:,} {reason}" for reason, count in self.counts.most_common())
        log.warning("rejected %s request%s in the last %g s: %s", f"{total:,}", "" if total == 1 else "s",
                    period, reasons)
        self.counts.clear()


class _UvicornRejections(logging.Filter):
    """uvicorn logs a warning for each request it refuses itself; count those into the summary instead."""

    REASONS = {"Invalid HTTP request received.": "invalid HTTP", "Exceeded concurrency limit.": "over the "
               "concurrency limit (503)", "Unsupported upgrade request.": "upgrade request"}

    def __init__(self, rejections: Rejections) -> None:
        super().__init__()
        self.rejections = rejections

    def filter(self, record: logging.LogRecord) -> bool:
        reason = self.REASONS.get(record.msg) if isinstance(record.msg, str) else None
        if reason is None:
            return True
        self.rejections.add(reason)
        return False


class _BodyBudget:
    """However many clients send big bodies slowly at once, the bytes held for them stay bounded."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give_back(self, size: int) -> None:
        self.used -= size


def create_receiver(store_path: Path | str, *, app_secret: str, verify_token: str, channels: set[str] | None,
                    clock: Callable[[], float] = time.time, on_committed: OnCommitted | None = None,
                    read_timeout: float = READ_TIMEOUT_SECONDS,
                    retry_every: float = RETRY_EVERY_SECONDS, body_budget: int = BODY_BUDGET,
                    summary_every: float = SUMMARY_SECONDS) -> Starlette:
    """The ASGI app. `channels`: the phone_number_ids we serve (others are kept raw and logged)."""
    if not app_secret or not verify_token:
        raise ValueError("the receiver needs the app secret and the verify token")
    state: dict = {}
    rejections = Rejections()
    budget = _BodyBudget(body_budget)

    async def verify(request: Request) -> Response:
        params = request.query_params
        mode, token, challenge = params.get("hub.mode"), params.get("hub.verify_token"), params.get("hub.challenge")
        if challenge is None or mode is None or token is None:
            rejections.add("handshake without its parameters")
            return PlainTextResponse("verification failed: missing parameters", status_code=400)
        if mode != "subscribe" or not hmac.compare_digest(token.encode(), verify_token.encode()):
            rejections.add("handshake with a wrong verify token")
            return PlainTextResponse("verification failed", status_code=403)
        if not _DIGITS.fullmatch(challenge):  # Meta's challenge is ASCII digits; echoing more would be a reflection
            rejections.add("handshake with a bad challenge")
            return PlainTextResponse("verification failed: bad challenge", status_code=400)
        return PlainTextResponse(challenge)

    async def post_webhook(scope: Scope, receive: Receive, send: Send) -> None:
        """POST of a webhook, as a plain ASGI handler: this is the hot path (thousands a second), and Starlette's
        Request, routing and middleware cost as much CPU as the handler itself."""
        signatures, declared = [], None
        for name, value in scope["headers"]:
            if name == b"x-hub-signature-256":
                signatures.append(value)
            elif name == b"content-length":
                declared = value
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            rejections.add("too large")
            return await _answer(send, 413, b"payload too large", _CLOSE)
        chunks, size = [], 0
        try:
            try:
                async with asyncio.timeout(read_timeout):
                    more = True
                    while more:  # the cap holds for chunked bodies too, before buffering
                        message = await receive()
                        if message["type"] == "http.disconnect":  # nobody is left to answer
                            rejections.add("client gone mid-body")
                            return await _answer(send, 400, b"")
                        chunk, more = message.get("body", b""), message.get("more_body", False)
                        size += len(chunk)
                        if size > MAX_BODY:
                            rejections.add("too large")
                            return await _answer(send, 413, b"payload too large", _CLOSE)
                        if not budget.take(len(chunk)):
                            rejections.add("over the memory budget for bodies (503)")
                            return await _answer(send, 503, b"busy, send it again", _CLOSE)
                        chunks.append(chunk)
            except TimeoutError:
                rejections.add("body too slow (408)")
                return await _answer(send, 408, b"request body not received in time", _CLOSE)
            status, text, headers = await _signed(signatures, b"".join(chunks))
            await _answer(send, status, text, headers)
        finally:
            budget.give_back(sum(map(len, chunks)))

    async def _signed(signatures: list[bytes], raw: bytes) -> tuple[int, bytes, tuple]:
        if not signatures:
            rejections.add("no signature")
            return 401, b"missing signature", ()
        if len(signatures) > 1:  # which one would Meta have meant? Neither is trusted
            rejections.add("repeated signature header")
            return 400, b"more than one X-Hub-Signature-256", ()
        if not webhooks.verify_signature(raw, signatures[0].decode("latin-1"), app_secret):
            rejections.add("bad signature")
            return 403, b"bad signature", ()
        try:
            await state["writer"].submit(raw)
        except Exception:
            return 503, b"not stored, send it again", _RETRY_LATER
        return 200, b"ok", ()

    async def health(request: Request) -> Response:
        store: Store = state["store"]
        last = await store.scalar("SELECT received_at FROM raw_event ORDER BY id DESC LIMIT 1")  # O(1) on rowid
        backlog = await raw_events.backlog(store)
        return JSONResponse({"ok": True, "last_webhook_at": last, "pending_webhooks": backlog.pending,
                             "oldest_pending_at": backlog.oldest_at, "last_pending_error": backlog.last_error})

    async def retry_pending() -> None:
        """Bodies kept pending go in once whatever stopped them is fixed; a failure waits for the next round.
        One receiver at a time does it, however many share the database."""
        async with state["store"].one_host("wabox:reingest"):
            await _retry_rounds()

    async def _retry_rounds() -> None:
        while True:
            await asyncio.sleep(retry_every)
            try:
                result, done, still = await raw_events.reingest_pending(state["store"], channels, now=clock())
            except Exception as error:
                log.error("re-ingesting pending webhook bodies failed (%r); trying again later", error)
                continue
            if done or still:
                log.info("re-ingested pending webhook bodies: %d went in, %d still pending", done, still)
            state["writer"].fetch_media(result.media)

    async def summarise_rejections() -> None:
        while True:
            await asyncio.sleep(summary_every)
            rejections.flush(summary_every)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await Store.open(store_path, synchronous="FULL")  # creates and migrates the database
        if store.dialect == "sqlite":
            writer: Writer | WriterProcess = WriterProcess(store_path, channels, clock, on_committed)
        else:
            writer = Writer(store, channels, clock, on_committed)
        await writer.start()
        state.update(store=store, writer=writer)
        uvicorn_filter = _UvicornRejections(rejections)
        logging.getLogger("uvicorn.error").addFilter(uvicorn_filter)
        tasks = [asyncio.create_task(retry_pending(), name="webhook-retry"),
                 asyncio.create_task(summarise_rejections(), name="rejection-summary")]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            rejections.flush(summary_every)
            logging.getLogger("uvicorn.error").removeFilter(uvicorn_filter)
            await writer.stop()
            await store.close()

    routes = [Route(path, verify, methods=["GET"]) for path in WEBHOOK_PATHS]
    routes.append(Route("/healthz", health, methods=["GET"]))
    return _Receiver(post_webhook, routes=routes, lifespan=lifespan)


WEBHOOK_PATHS = ("/webhook", "/webhooks/whatsapp")
_CLOSE = ((b"connection", b"close"),)  # stops a client that is still sending a body we will not read
_RETRY_LATER = ((b"retry-after", b"5"),)


async def _answer(send: Send, status: int, text: bytes, headers: tuple = ()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(text)).encode()),
                            (b"content-type", b"text/plain; charset=utf-8"), *headers]})
    await send({"type": "http.response.body", "body": text})


class _Receiver(Starlette):
    """Starlette for the handshake and /healthz; a webhook POST goes straight to `post` (post_webhook)."""

    def __init__(self, post: Callable[[Scope, Receive, Send], Awaitable[None]], **kwargs) -> None:
        super().__init__(**kwargs)
        self._post = post

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in WEBHOOK_PATHS:
            return await self._post(scope, receive, send)
        await super().__call__(scope, receive, send)
