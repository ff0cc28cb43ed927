import asyncio

import pytest

from core.store import Store, log_changes
from core.store.schema import MIGRATIONS


async def test_migrations_run_once_and_set_the_version(tmp_path):
    first = await Store.open(tmp_path / "a.db")
    assert await first.scalar("PRAGMA user_version") == len(MIGRATIONS)
    await first.write(log_changes, [("thread", 3)])
    await first.close()
    again = await Store.open(tmp_path / "a.db")  # a second open migrates nothing and keeps the data
    assert await again.scalar("PRAGMA user_version") == len(MIGRATIONS)
    assert await again.scalar("PRAGMA journal_mode") == "wal"
    assert await again.changes_since(0) == (1, [("thread", 3)])
    await again.close()


async def test_a_failed_transaction_leaves_nothing(store):
    def fails(db):
        log_changes(db, [("thread", 1)])
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        await store.write(fails)
    assert await store.last_change_seq() == 0


async def test_changes_since_reports_what_another_connection_wrote(store, tmp_path):
    other = await Store.open(store.target)
    before = await store.data_version()
    await other.write(log_changes, [("message", 7), ("thread", 7)])
    for _ in range(500):  # PostgreSQL's NOTIFY reaches this connection's listener a moment after the commit
        if await store.data_version() != before:
            break
        await asyncio.sleep(0.01)
    assert await store.data_version() != before
    seq, changes = await store.changes_since(0)
    assert seq == 2 and changes == [("message", 7), ("thread", 7)]
    await other.close()
