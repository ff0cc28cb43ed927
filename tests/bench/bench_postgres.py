"""PostgreSQL figures (issue 11), beside SQLite's: webhook ingest with one and with two `wabox serve` receivers,
the inbox's reads on the 100k-thread / 1M-message database (moved across with `wabox db copy`), and how soon a
webhook one receiver commits reaches another process's live-update loop.

The server is the tests' own (tests/pg_server.py) with fsync on: a 200 means committed, as on SQLite.
Figures are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from core.inbox import Inbox
from core.store import Store
from core.store.copy import copy_sqlite_to_postgres, migrate_both
from core.store.reads import count_threads, list_threads, thread_messages
from core.views import BUILTIN_BY_KEY
from tests.bench import bench_tui
from tests.bench.bench_receiver import CHANNEL, IN_FLIGHT, SECONDS, _post, body
from tests.core.receiver_process import ReceiverProcess, free_port, write_config
from tests.pg_server import PgServer


async def blast(ports: list[int], events_per_post: int) -> float:
    """Events/s of signed POSTs spread over the receivers (a proxy in front of them)."""
    counter = iter(range(10**9))
    posts = 0
    deadline = time.perf_counter() + SECONDS

    async def worker(port: int) -> None:
        nonlocal posts
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            if (status := await _post(reader, writer, body(next(counter), events_per_post))) != 200:
                raise RuntimeError(f"a receiver answered a signed POST {status}")
            posts += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(ports[n % len(ports)]) for n in range(IN_FLIGHT)))
    return posts * events_per_post / (time.perf_counter() - started)


def ingest(directory: Path, target: Path | str, receivers: int, label: str) -> None:
    config = write_config(directory, {CHANNEL: "48221234567"}, db=target)
    running = [ReceiverProcess(config, free_port(), directory / f"serve-{label}-{n}.log") for n in range(receivers)]
    try:
        for receiver in running:
            receiver.start(timeout=120)
        figures = [asyncio.run(blast([r.port for r in running], events)) for events in (1, 10)]
        print(f"  {label:<34} {figures[0]:7.0f} events/s at 1 event/POST   {figures[1]:7.0f} at 10 events/POST")
    finally:
        for receiver in running:
            receiver.stop()


# A contact's name; a word in 80 messages; one in every message; one in 1 message of 16 (found walking the threads
# newest first); one in the 2,000 messages of a single thread (the walk gives up, the matches are collected).
SEARCHES = ("Customer 4242", "order 5003", "delivery", "word3", "narrow")


async def inbox_reads(url: str) -> None:
    store = await Store.open(url)
    try:
        view = BUILTIN_BY_KEY["open"]

        async def worst(call, times: int = 5) -> float:
            taken = []
            for _ in range(times):
                started = time.perf_counter()
                await call()
                taken.append(time.perf_counter() - started)
            return max(taken) * 1000

        first = await worst(lambda: list_threads(store, view, agent="bench", limit=100))
        thread = await worst(lambda: thread_messages(store, 1, limit=200))
        searches = {term: await worst(lambda t=term: list_threads(store, view, agent="bench", search=t, limit=100))
                    for term in SEARCHES}
        print(f"  first screen (100 threads) {first:.0f} ms; open the 2,000-message thread (newest 200) "
              f"{thread:.0f} ms (worst of 5)")
        counts = {term: await worst(lambda t=term: count_threads(store, view, agent="bench", search=t), times=1)
                  for term in SEARCHES}
        print("  search " + ", ".join(f"{t!r} {ms:.0f} ms" for t, ms in searches.items()) + " (worst of 5)")
        print("  then count what it found (the list shows 'counting…' meanwhile) "
              + ", ".join(f"{t!r} {ms:.0f} ms" for t, ms in counts.items()))
    finally:
        await store.close()


async def live_update(directory: Path, url: str, samples: int = 40) -> None:
    """A webhook POSTed to a receiver, seen by another process's Inbox.changes() (NOTIFY, then the change log)."""
    config = write_config(directory, {CHANNEL: "48221234567"}, db=url)
    receiver = ReceiverProcess(config, free_port(), directory / "serve-live.log")
    receiver.start(timeout=120)
    store = await Store.open(url)
    inbox = Inbox(store, agent="bench")
    seen: asyncio.Queue[float] = asyncio.Queue()

    async def follow() -> None:
        async for _ in inbox.changes(poll=0.01):
            seen.put_nowait(time.perf_counter())

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.5)
    delays = []
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
        for n in range(samples):
            started = time.perf_counter()
            await _post(reader, writer, body(10**8 + n, 1))
            delays.append(await asyncio.wait_for(seen.get(), 10) - started)
            await asyncio.sleep(0.05)
        writer.close()
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await store.close()
        receiver.stop()
    delays.sort()
    print(f"  a webhook on another process's inbox loop: p50 {statistics.median(delays) * 1000:.0f} ms, "
          f"p95 {delays[int(len(delays) * 0.95)] * 1000:.0f} ms ({samples} POSTs)")


def main(parts: list[str] | None = None) -> None:
    """`python -m tests.bench.bench_postgres [ingest] [reads] [live]` runs only those parts (default all)."""
    parts = parts or ["ingest", "reads", "live"]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        server = PgServer(durable=True).start()
        try:
            if "ingest" in parts:
                bench_ingest(directory, server)
            if "reads" in parts:
                bench_reads(directory, server)
            if "live" in parts:
                server.admin("CREATE DATABASE live")
                asyncio.run(live_update(directory, server.url("live")))
        finally:
            server.stop()


def bench_ingest(directory: Path, server: PgServer) -> None:
    print("webhook ingest (signed POSTs over loopback, committed before the 200; 2 cores shared with the "
          "load generator and the server):")
    ingest(directory, directory / "wabox.db", 1, "SQLite, one receiver")
    for receivers in (1, 2):
        server.admin(f"CREATE DATABASE ingest{receivers}")
        ingest(directory, server.url(f"ingest{receivers}"), receivers,
               f"PostgreSQL, {receivers} receiver{'s' if receivers > 1 else ''}")


def bench_reads(directory: Path, server: PgServer) -> None:
    source = directory / "big.db"
    shutil.copy(bench_tui.database(), source)  # the cache stays as it is: the copy migrates its own
    server.admin("CREATE DATABASE big")
    url = server.url("big")
    asyncio.run(migrate_both(source, url))
    started = time.perf_counter()
    checks = copy_sqlite_to_postgres(source, url)
    rows = sum(c.source_rows for c in checks)
    print(f"inbox on PostgreSQL, {bench_tui.THREADS:,} threads / {bench_tui.MESSAGES:,} messages: "
          f"`wabox db copy` moved {rows:,} rows in {time.perf_counter() - started:.0f} s "
          f"({'every table matches' if all(c.same for c in checks) else 'MISMATCH'})")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum does a while after a bulk load
    asyncio.run(inbox_reads(url))


if __name__ == "__main__":
    main(sys.argv[1:])
