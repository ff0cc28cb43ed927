"""Run an ASGI app on uvicorn inside the current event loop (for `wabox serve`, `wabox sim`, the demo and tests)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the process that embeds it decides what a signal means."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True, slots=True)
class Limits:
    """What a public endpoint needs so that idle, slow or too many connections cannot starve real requests."""

    header_timeout: float = 15.0  # a request's headers must arrive within this, from its first byte (or connect)
    keep_alive: float = 5.0  # an idle kept-alive connection is closed after this
    max_connections: int = 200  # open connections (or requests in progress) beyond which requests are answered 503


class _HeaderDeadline(HttpToolsProtocol):
    """uvicorn's HTTP/1.1, plus a deadline for each request's headers: uvicorn alone keeps a connection that
    never sends a byte, or sends its headers a byte a second, open forever."""

    header_timeout = Limits.header_timeout
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _CoalescedWrites(transport, self.loop)  # type: ignore[assignment]
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()  # from here the application's own read timeout covers the body
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class _CoalescedWrites:
    """The connection's transport, with the writes of one event-loop turn sent as one: uvicorn writes a response's
    head and its body separately, two send() calls (and two packets) for a two-byte "ok"."""

    __slots__ = ("_transport", "_loop", "_parts")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._parts:
            self._loop.call_soon(self._flush)
        self._parts.append(data)

    def _flush(self) -> None:
        if self._parts:
            data, self._parts = b"".join(self._parts), []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()  # what was written goes out before the connection ends
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning",
                     limits: Limits = Limits()) -> AsyncIterator[int]:
    """Serve `app` until the block ends; yields the bound port (port 0 picks a free one).

    uvicorn logs through the root logger (log_config=None), so the process's formatter escapes its lines too."""
    protocol = type("HttpWithHeaderDeadline", (_HeaderDeadline,), {"header_timeout": limits.header_timeout})
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, log_config=None, access_log=False,
                            lifespan="on", http=protocol, timeout_graceful_shutdown=5, proxy_headers=False,
                            timeout_keep_alive=limits.keep_alive, limit_concurrency=limits.max_connections)
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():  # it failed to start (port taken, lifespan error): say why
            task.result()
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield bound
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until_stopped() -> None:
    """Wait for SIGTERM or SIGINT: how `wabox serve`, `wabox sim` and the demo back end know to shut down."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
