"""What `wabox serve` runs beside the receiver: the outbox sender, template sync, the numbers' health refresh, and
(after each commit) media downloads.

Kept apart from the receiver so that the demo back end runs exactly the same set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import httpx

from core.cloudapi import CloudApi, CloudApiError
from core.channels import refresh_health
from core.config import Config, Secrets
from core.media import download_inbound, retry_due
from core.outbox import Sender
from core.server import OnCommitted
from core.store import Store
from core.templates import sync_templates
from core.webhooks import InboundMessage

log = logging.getLogger("wabox.service")
TEMPLATE_SYNC_SECONDS = 15 * 60
RESTART_SECONDS = 5
HEALTH_REFRESH_SECONDS = 5 * 60
MEDIA_RETRY_POLL_SECONDS = 15  # the first retry is due 30 s after a failure


def _api(config: Config, secrets: Secrets, http: httpx.AsyncClient) -> CloudApi:
    graph_host = httpx.URL(config.graph_url).netloc.decode()
    return CloudApi(http, token=secrets.access_token.reveal(), base_url=config.graph_url,
                    media_hosts=("lookaside.fbsbx.com", graph_host))


@contextlib.asynccontextmanager
async def _graph_session(config: Config, secrets: Secrets,
                         store_path: Path) -> AsyncIterator[tuple[Store, CloudApi]]:
    """A database connection and a Graph client for one job, both closed when it ends (an unclosed aiosqlite
    connection keeps its thread, and so the process, alive at shutdown)."""
    store = await Store.open(store_path)
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=5.0)) as http:
            yield store, _api(config, secrets, http)
    finally:
        await store.close()


async def run_sender(config: Config, secrets: Secrets, store_path: Path) -> None:
    async with _graph_session(config, secrets, store_path) as (store, api):
        wabas = {c.waba_id for c in config.channels}

        async def resync() -> None:
            await _sync_quietly(store, api, wabas)

        sender = Sender(store, api, owner=f"{socket.gethostname()}:{os.getpid()}",
                        rate_per_second=config.rate_per_second, on_unknown_template=resync)
        await sender.run()


async def run_template_sync(config: Config, secrets: Secrets, store_path: Path) -> None:
    wabas = {c.waba_id for c in config.channels}
    if not wabas:
        return
    async with _graph_session(config, secrets, store_path) as (store, api):
        while True:
            await _sync_quietly(store, api, wabas)
            await asyncio.sleep(TEMPLATE_SYNC_SECONDS)


async def _sync_quietly(store: Store, api: CloudApi, wabas: set[str]) -> None:
    try:
        count = await sync_templates(store, api, wabas)
        log.info("templates synced: %d", count)
    except CloudApiError as error:
        log.warning("template sync failed: %s", error)


async def run_health_refresh(config: Config, secrets: Secrets, store_path: Path) -> None:
    """Quality rating, tier and token state of every number, now and every few minutes (`wabox channels`)."""
    numbers = [c.phone_number_id for c in config.channels]
    if not numbers:
        return
    async with _graph_session(config, secrets, store_path) as (store, api):
        while True:
            try:
                await refresh_health(store, api, numbers, now=time.time())
            except Exception:  # a refresh failing must not stop the next one
                log.exception("channel health refresh failed")
            await asyncio.sleep(HEALTH_REFRESH_SECONDS)


async def run_media_retry(config: Config, secrets: Secrets, store_path: Path) -> None:
    """Failed media downloads, tried again with backoff (core.media.retry_delay) until they succeed or give up."""
    async with _graph_session(config, secrets, store_path) as (store, api):
        while True:
            await retry_due(store, api, config.media_path, now=time.time())
            await asyncio.sleep(MEDIA_RETRY_POLL_SECONDS)


def background_tasks(config: Config, secrets: Secrets, store_path: Path) -> list[Coroutine[Any, Any, None]]:
    """Coroutines that run as long as `wabox serve` does."""
    if not secrets.access_token:
        return []
    return [_supervised("run_sender", run_sender, config, secrets, store_path)] + [
        _supervised(job.__name__, _on_one_host, job, config, secrets, store_path)
        for job in (run_template_sync, run_health_refresh, run_media_retry)]


async def _on_one_host(job, config: Config, secrets: Secrets, store_path: Path) -> None:
    """`job` on one `wabox serve` at a time, however many run against the database; another takes it over
    when this one stops (on SQLite there is one host and it simply runs)."""
    store = await Store.open(store_path)
    try:
        async with store.one_host(f"wabox:{job.__name__}"):
            await job(config, secrets, store_path)
    finally:
        await store.close()


async def _supervised(name: str, job, *args: Any) -> None:
    """Run a background loop for as long as serve runs: a crash is logged loudly and the loop starts again,
    instead of dying silently while the receiver keeps answering 200 and nothing is sent."""
    while True:
        try:
            await job(*args)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s crashed; starting it again in %d s", name, RESTART_SECONDS)
            await asyncio.sleep(RESTART_SECONDS)


def media_hook(config: Config, secrets: Secrets) -> OnCommitted | None:
    """Downloads each new inbound media file right after its webhook is committed."""
    if not secrets.access_token:
        return None

    async def download(messages: list[InboundMessage]) -> None:
        async with _graph_session(config, secrets, config.db) as (store, api):  # media comes now and then
            for message in messages:
                await download_inbound(store, api, config.media_path, message)

    return download
