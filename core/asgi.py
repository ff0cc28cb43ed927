"""Run an ASGI app on uvicorn inside the current event loop (for `wabox serve`, `wabox sim`, the demo and tests)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handlers: the process that embeds it decides what a signal means."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, host: str = "127.0.0.1", port: int = 0, *,
                     log_level: str = "warning") -> AsyncIterator[int]:
    """Serve `app` until the block ends; yields the bound port (port 0 picks a free one)."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
                            http="httptools" if _has("httptools") else "h11", timeout_graceful_shutdown=5)
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


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


async def until_stopped() -> None:
    """Wait for SIGTERM or SIGINT: how `wabox serve`, `wabox sim` and the demo back end know to shut down."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
