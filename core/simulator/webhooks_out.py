"""Webhooks the simulator sends to the receiver: Meta's exact shapes, signed, retried until answered 200."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import httpx

from core.webhooks import envelope, sign

__all__ = ["WebhookSender", "envelope"]

log = logging.getLogger("wabox.simulator")
IN_FLIGHT = 32


class WebhookSender:
    """A queue of bodies POSTed in order of scheduling; like Meta, a non-200 is retried (here for ~2 minutes)."""

    def __init__(self, url: str, app_secret: str) -> None:
        self.url, self._secret = url, app_secret
        self._tasks: set[asyncio.Task] = set()
        self._http: httpx.AsyncClient | None = None
        self.delivered = 0

    async def start(self) -> None:
        # At most IN_FLIGHT POSTs at once; the rest wait on a semaphore. Left to httpx's pool, thousands of queued
        # webhooks (an unthrottled sender makes three each) cost O(n^2) in httpcore and the simulator stalled.
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._http = httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=IN_FLIGHT))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._http:
            await self._http.aclose()

    def schedule(self, body: dict, delay: float = 0.0) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(body, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver_now(self, body: dict) -> bool:
        return await self._deliver(body, 0.0, attempts=1)

    async def _deliver(self, body: dict, delay: float, attempts: int = 60) -> bool:
        if delay:
            await asyncio.sleep(delay)
        raw = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, self._secret)}
        pause = 0.2
        for _ in range(attempts):
            try:
                assert self._http is not None
                async with self._slots:
                    response = await self._http.post(self.url, content=raw, headers=headers)
                if response.status_code == 200:
                    self.delivered += 1
                    return True
                log.warning("receiver answered %s; will retry", response.status_code)
            except httpx.HTTPError as error:
                log.info("receiver unreachable (%s); will retry", type(error).__name__)
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 5.0)
        log.error("gave up delivering a webhook after %d attempts", attempts)
        return False
