"""Another process's commit wakes a reader at once (SQLite: inotify on the -wal file; PostgreSQL: LISTEN/NOTIFY),
so the inbox need not poll: with polling and the safety net both set to an hour, the change still arrives."""

from __future__ import annotations

import asyncio

import pytest

from core.inbox import Inbox
from core.store import Store, db as sqlite_store, log_changes

HOUR = 3600.0


@pytest.fixture
def no_safety_net(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a wake-up can end a wait: the poll and the once-a-second look are an hour away."""
    monkeypatch.setattr(sqlite_store, "NOTIFIED_SAFETY_NET", HOUR)
    try:
        from core.store import pg
    except ImportError:  # psycopg is only needed by PostgreSQL users; the SQLite pass runs without it
        return
    monkeypatch.setattr(pg, "NOTIFIED_SAFETY_NET", HOUR)


async def _another_process_logs(target, kind: str = "thread") -> None:
    other = await Store.open(target)
    try:
        await other.write(log_changes, [(kind, None)])
    finally:
        await other.close()


async def test_another_connections_commit_wakes_the_reader(store: Store, db_target, no_safety_net):
    waiting = asyncio.ensure_future(store.changed(HOUR))
    await asyncio.sleep(0.05)  # the watch (or listener) is up before the write
    await _another_process_logs(db_target)
    assert await asyncio.wait_for(waiting, 30) is True  # woken by the write: the hour never ran out


async def test_changes_arrive_without_polling(store: Store, db_target, no_safety_net):
    reader = Inbox(store, agent="ola")
    changes = reader.changes(poll=HOUR)
    pending = asyncio.ensure_future(changes.__anext__())
    await asyncio.sleep(0.05)
    await _another_process_logs(db_target, "view")
    got = await asyncio.wait_for(pending, 30)
    assert got.kinds == {"view"}
    await _another_process_logs(db_target, "channel")  # and the next one: the reader waits again, woken again
    got = await asyncio.wait_for(changes.__anext__(), 30)
    assert got.kinds == {"channel"}
    await changes.aclose()


@pytest.mark.sqlite_only(reason="inotify on the SQLite file's folder: other files there are not commits")
async def test_other_files_beside_the_database_do_not_wake_the_reader(store: Store, db_target, monkeypatch):
    monkeypatch.setattr(sqlite_store, "NOTIFIED_SAFETY_NET", 0.5)
    waiting = asyncio.ensure_future(store.changed(HOUR))
    await asyncio.sleep(0.05)
    (db_target.parent / "serve.log").write_text("a log line written beside the database\n")
    assert await waiting is False  # the safety net ended the wait, not the log file
