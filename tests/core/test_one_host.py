"""Loops that must run once (template sync, channel health, re-ingest) run on one `wabox serve` at a time on
PostgreSQL, and another takes over when that one dies."""

from __future__ import annotations

import asyncio

import psycopg

from core.store import Store


async def until(condition, what: str, tries: int = 500) -> None:
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_a_one_host_loop_runs_on_one_host_and_moves_when_that_host_dies(pg_server):
    url = pg_server.fresh_database()
    first, second = await Store.open(url), await Store.open(url)
    running: list[str] = []

    async def loop(store: Store, host: str) -> None:
        async with store.one_host("wabox:test-loop", retry=0.05):
            running.append(host)
            await asyncio.Event().wait()

    one = asyncio.create_task(loop(first, "first"))
    await until(lambda: running == ["first"], "the first host takes the loop")
    two = asyncio.create_task(loop(second, "second"))
    for _ in range(20):  # twenty of the second host's tries: it keeps waiting while the first holds the loop
        await asyncio.sleep(0.05)
    assert running == ["first"]
    # The first host dies: PostgreSQL ends its connection, and with it the lock.
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted")
    await until(lambda: running == ["first", "second"], "the second host takes over")
    for task in (one, two):
        task.cancel()
    await asyncio.gather(one, two, return_exceptions=True)
    await first.close()
    await second.close()
