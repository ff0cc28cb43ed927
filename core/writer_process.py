"""The receiver's SQLite commits, in a process of their own.

In one process, the HTTP side (uvicorn, HMAC, JSON) and the commits (~10 SQLite statements a webhook) shared one
GIL: each statement gave it up and waited to take it back from the busy event loop, and each batch waited a loop
turn to start and another to report back. The writer was idle a third of the time, the 2 cores half idle, and
1 event/POST stopped at ~4,600 events/s. With the commits in a child process the two sides run at once on the two
cores: ~7,600 events/s, p99 ~13 ms at 64 in flight (issue 12, `make bench`).

The parent (`WriterProcess`, in `wabox serve`) sends each signed body with its receive time; the child parses the
bodies, commits whatever has arrived together in one transaction at synchronous=FULL (group commit) and answers
each with its IngestResult, or with why the transaction failed, which the parent answers 503. If the child dies,
what it held is answered 503 (Meta sends it again) and a new child is started. It holds no secret: the signature
is checked before a body is sent to it.

PostgreSQL keeps the in-process writer (core.server.Writer): its commits wait on the server, not on the GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import struct
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from core import raw_events
from core.ingest import IngestResult
from core.store.db import connect_sqlite, is_transient, write_transaction
from core.webhooks import InboundMessage

log = logging.getLogger("wabox.receiver")

MAX_BATCH = 256  # bodies in one transaction
RESTART_SECONDS = 1.0  # after the child died, before the next one starts
STOP_SECONDS = 10.0  # the child finishes its batch within this once told to stop, or is killed
_FRAME = struct.Struct("<I")  # each message: its length, then a pickle

OnCommitted = Callable[[list[InboundMessage]], Awaitable[None]]


class WriterGone(RuntimeError):
    """The writer process ended before it answered: the body is not stored."""


class MediaHandoff:
    """Newly stored inbound media, handed to the downloader (`on_committed`) without waiting for it: both writers'
    `fetch_media`."""

    def __init__(self, on_committed: OnCommitted | None) -> None:
        self._on_committed = on_committed
        self._tasks: set[asyncio.Task] = set()

    def __call__(self, media: list[InboundMessage]) -> None:
        if media and self._on_committed:
            task = asyncio.create_task(self._on_committed(media))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class WriterProcess:
    """The parent's side: `submit(raw)` resolves once the body is committed, or raises (the caller answers 503)."""

    def __init__(self, db_path: Path | str, channels: set[str] | None, clock: Callable[[], float],
                 on_committed: OnCommitted | None = None) -> None:
        self._db_path, self._channels, self._clock = str(db_path), channels, clock
        self.fetch_media = MediaHandoff(on_committed)
        self._waiting: dict[int, asyncio.Future[IngestResult]] = {}
        self._next_id = 0
        self._child: asyncio.subprocess.Process | None = None
        self._started = asyncio.Event()
        self._supervisor: asyncio.Task | None = None

    async def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name="webhook-writer")
        await self._started.wait()

    async def stop(self) -> None:
        if self._supervisor:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        self.fetch_media.cancel()

    @property
    def pid(self) -> int | None:
        """The child's process id (None before it starts)."""
        return None if self._child is None else self._child.pid

    async def submit(self, raw: bytes) -> IngestResult:
        child = self._child
        if child is None or child.returncode is not None or child.stdin is None:
            raise WriterGone("the writer process is not running")
        self._next_id += 1
        done = asyncio.get_running_loop().create_future()
        self._waiting[self._next_id] = done
        message = pickle.dumps((self._next_id, int(self._clock()), raw), protocol=pickle.HIGHEST_PROTOCOL)
        child.stdin.write(_FRAME.pack(len(message)) + message)
        return await done

    async def _supervise(self) -> None:
        while True:
            child = self._child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "core.writer_process", self._db_path,
                "-" if self._channels is None else ",".join(sorted(self._channels)),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            self._started.set()
            try:
                await self._read_answers(child)
            finally:
                await self._end(child)  # cancelled (stop), or the child died: either way it is gone now
                self._fail_waiting()
            log.error("the webhook writer process ended (exit %s): starting another", child.returncode)
            await asyncio.sleep(RESTART_SECONDS)

    async def _read_answers(self, child: asyncio.subprocess.Process) -> None:
        assert child.stdout is not None
        with contextlib.suppress(asyncio.IncompleteReadError):
            while True:
                (size,) = _FRAME.unpack(await child.stdout.readexactly(_FRAME.size))
                number, result, failure = pickle.loads(await child.stdout.readexactly(size))
                done = self._waiting.pop(number, None)
                if done is None or done.done():
                    continue
                if failure is None:
                    done.set_result(result)
                    self.fetch_media(result.media)
                else:
                    done.set_exception(WriterGone(failure))

    def _fail_waiting(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for done in waiting.values():
            if not done.done():
                done.set_exception(WriterGone("the writer process ended before committing"))

    async def _end(self, child: asyncio.subprocess.Process) -> None:
        """Closing its input tells the child to finish: it commits what it has read, answers, and exits."""
        if child.stdin is not None and child.returncode is None:
            child.stdin.close()
        try:
            async with asyncio.timeout(STOP_SECONDS):
                await self._read_answers(child)
                await child.wait()
        except TimeoutError:
            child.kill()
            await child.wait()
        finally:
            # asyncio's Process has no close(): its transport, left open, is closed by the garbage collector,
            # perhaps after the event loop ("Event loop is closed")
            child._transport.close()  # type: ignore[attr-defined]


# ---- the child ---------------------------------------------------------------------------------------------------
def main() -> None:
    """`python -m core.writer_process DB CHANNELS`: reads bodies on stdin until it closes, answers on stdout."""
    from core.logs import configure_logging

    configure_logging()
    # The terminal's Ctrl-C and a service manager's SIGTERM reach the whole process group: the parent decides when
    # this ends (it closes our stdin once it has stopped taking webhooks).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    db_path, channels_arg = sys.argv[1], sys.argv[2]
    channels = None if channels_arg == "-" else set(channels_arg.split(","))
    conn = connect_sqlite(db_path, synchronous="FULL")
    source, answers = sys.stdin.fileno(), sys.stdout.fileno()
    buffer = bytearray()
    while chunk := os.read(source, 1 << 20):
        buffer += chunk
        while batch := _take_bodies(buffer):
            _write_all(answers, b"".join(_frame(answer) for answer in _commit(conn, batch, channels)))


def _take_bodies(buffer: bytearray) -> list[tuple[int, int, bytes]]:
    """The complete messages at the start of `buffer` (taken out of it), at most MAX_BATCH."""
    batch, at = [], 0
    while len(batch) < MAX_BATCH and len(buffer) - at >= _FRAME.size:
        (size,) = _FRAME.unpack_from(buffer, at)
        if len(buffer) - at - _FRAME.size < size:
            break
        batch.append(pickle.loads(buffer[at + _FRAME.size:at + _FRAME.size + size]))
        at += _FRAME.size + size
    del buffer[:at]
    return batch


def _commit(conn, batch: list[tuple[int, int, bytes]], channels: set[str] | None) -> list[tuple]:
    bodies = []
    for _, _, raw in batch:
        events, note = raw_events.read_body(raw)
        if events is None:
            log.error("signed webhook body did not parse; kept raw, pending (%s)", note)
        bodies.append((raw, events, note))
    try:
        results = write_transaction(conn, raw_events.ingest_and_record, bodies, channels,
                                    max(now for _, now, _ in batch))
    except Exception as error:  # the whole commit failed: nobody gets a 200, Meta will retry
        if is_transient(error):
            log.error("commit of %d webhook bodies failed (%r): answered 503", len(batch), error)
        else:
            log.exception("commit of %d webhook bodies failed: answered 503", len(batch))
        return [(number, None, repr(error)) for number, _, _ in batch]
    return [(number, result, None) for (number, _, _), result in zip(batch, results)]


def _frame(answer: tuple) -> bytes:
    message = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    return _FRAME.pack(len(message)) + message


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


if __name__ == "__main__":
    main()
