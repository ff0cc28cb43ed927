"""The store every process uses: SQLite (WAL, one file) by default, PostgreSQL (core.store.pg) for a
`postgresql://` target. Migrations, write transactions, the change log; the logic is written once against it."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from core.private import private_dir, private_file
from core.store.schema import migrate
from core.store.wake import WalWatch

# A store told of commits (inotify, NOTIFY) still looks this often: a wake-up lost must not mean a change missed.
NOTIFIED_SAFETY_NET = 1.0

Params = Sequence[Any] | Mapping[str, Any]
T = TypeVar("T")


def is_postgres(target: Path | str) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class Store:
    """One aiosqlite connection: async reads, and writes as plain functions run in one transaction by `write()`."""

    dialect = "sqlite"

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self.db = db
        self.path = path
        self.target: Path | str = path
        self._watch: WalWatch | None | bool = None  # inotify on the -wal file, started by the first changed()

    @property
    def files_dir(self) -> Path:
        """Where files that belong with the database go (queued media): beside the SQLite file."""
        return self.path.parent

    @classmethod
    async def open(cls, path: Path | str, *, synchronous: str = "NORMAL") -> "Store":
        """Open (creating and migrating if needed). `synchronous="FULL"` where a 200 depends on the commit.
        A `postgresql://` URL opens the PostgreSQL store instead (commits there are always durable)."""
        if is_postgres(path):
            from core.store.pg import PgStore  # psycopg is loaded only by those who use it

            return await PgStore.connect(str(path))
        path = Path(path)
        private_dir(path.parent)
        private_file(path)  # SQLite gives the -wal and -shm files the database file's mode
        pragmas = _pragmas(synchronous)  # a bad value is refused before anything opens
        db = await aiosqlite.connect(path, isolation_level=None)  # we write BEGIN ourselves
        db.row_factory = aiosqlite.Row
        try:
            for pragma in pragmas:
                await db.execute(f"PRAGMA {pragma}")
            await migrate(db)
        except BaseException:
            await db.close()  # its thread would otherwise keep the process alive ("file is not a database")
            raise
        return cls(db, path)

    async def close(self) -> None:
        if isinstance(self._watch, WalWatch):
            self._watch.close()
        await self.db.close()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(connection, *args)` on the connection's own thread: any number of statements, one thread hop.

        Each awaited aiosqlite call costs a hop to its worker thread and back (~0.1 ms); ingesting one webhook
        takes ~20 statements, so write paths are plain sqlite3 functions run here instead."""
        return await self.db._execute(fn, self.db._conn, *args)  # aiosqlite's own queue to its thread

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """One write transaction: BEGIN IMMEDIATE (the write lock up front, so it never fails half-way),
        `fn(connection, *args)`, COMMIT — or ROLLBACK if `fn` raises."""
        return await self.run(write_transaction, fn, *args)

    # Appended to the outbox claim's SELECT (core/outbox.py): nothing on SQLite, whose one writer already keeps
    # two claimers apart.
    claim_lock = ""

    async def claim(self, fn: Callable[..., T], *args: Any) -> T:
        """The transaction in which a sender claims outbox rows: on SQLite a write transaction."""
        return await self.write(fn, *args)

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        return await self.run(_fetchall, sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        # Fetch and finalise in one hop: a cursor left open between hops keeps a read snapshot, and a write on this
        # connection meanwhile fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT in WAL mode).
        return await self.run(_fetchone, sql, params)

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def data_version(self) -> int:
        """Changes when another connection commits (7 µs): the cheap "anything new?" check."""
        return int(await self.scalar("PRAGMA data_version"))

    async def changed(self, poll: float) -> bool:
        """Returns when someone may have committed: at once through inotify (core/store/wake.py; True), else
        after NOTIFIED_SAFETY_NET seconds; without inotify, after `poll` seconds (False)."""
        if self._watch is None:
            self._watch = WalWatch.start(self.path) or False
        if self._watch:
            return await self._watch.wait(NOTIFIED_SAFETY_NET)
        await asyncio.sleep(poll)
        return False

    @contextlib.asynccontextmanager
    async def one_host(self, name: str) -> AsyncIterator[None]:
        """The body runs on one host at a time, for loops that must run once (template sync, channel health,
        re-ingest). On SQLite every process is on this one machine: nothing to arbitrate."""
        yield

    async def last_change_seq(self) -> int:
        return int(await self.scalar("SELECT coalesce(max(seq), 0) FROM change_log"))

    async def changes_since(self, seq: int) -> tuple[int, list[tuple[str, int | None]]]:
        """(newest seq, [(kind, thread_id), ...]) of what was logged after `seq`."""
        rows = await self.fetchall("SELECT seq, kind, thread_id FROM change_log WHERE seq > ? ORDER BY seq", (seq,))
        if not rows:
            return seq, []
        return rows[-1]["seq"], [(row["kind"], row["thread_id"]) for row in rows]


# What the logic catches, whichever the backend (`except database_errors():`). psycopg is imported only by a
# PostgreSQL store (it would add ~45 ms to every inbox's start), so its errors count once it is loaded.
def _psycopg():
    return sys.modules.get("psycopg")


def database_errors() -> tuple[type[BaseException], ...]:
    pg = _psycopg()
    return (sqlite3.DatabaseError, pg.Error) if pg else (sqlite3.DatabaseError,)


def integrity_errors() -> tuple[type[BaseException], ...]:
    """A write refused by a constraint (UNIQUE, NOT NULL, a foreign key)."""
    pg = _psycopg()
    return (sqlite3.IntegrityError, pg.IntegrityError) if pg else (sqlite3.IntegrityError,)


def transient_errors() -> tuple[type[BaseException], ...]:
    pg = _psycopg()
    return (OSError, MemoryError, sqlite3.OperationalError) + ((pg.OperationalError,) if pg else ())


def is_transient(error: BaseException) -> bool:
    """A failure of the machine or the database (I/O, disk full, locked, out of descriptors or memory, a lost
    connection), not of the data being written: trying the same write again later may succeed."""
    return isinstance(error, transient_errors()) or type(error) is sqlite3.DatabaseError


def is_locked(error: BaseException) -> bool:
    """Another writer held the database a moment too long: worth trying again at once."""
    pg = _psycopg()
    return (isinstance(error, sqlite3.OperationalError) and "locked" in str(error)
            or pg is not None and isinstance(error, pg.errors.LockNotAvailable))


def _fetchall(conn: sqlite3.Connection, sql: str, params: Params) -> list[sqlite3.Row]:
    return conn.execute(sql, params).fetchall()


def _fetchone(conn: sqlite3.Connection, sql: str, params: Params) -> sqlite3.Row | None:
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def dialect_of(conn: Any) -> str:
    """Which database a plain function's connection (Store.run/write) is on: 'sqlite' or 'postgresql'."""
    return "postgresql" if hasattr(conn, "raw") else "sqlite"  # core.store.pg.PgConnection keeps psycopg's as .raw


def begin_write(conn: Any) -> None:
    """A write transaction inside Store.run, for work that commits batch by batch (a CSV import): SQLite's
    BEGIN IMMEDIATE, or on PostgreSQL the lock every writer holds (core.store.pg.WRITE_LOCK). End it with
    COMMIT or ROLLBACK."""
    if dialect_of(conn) == "sqlite":
        conn.execute("BEGIN IMMEDIATE")
    else:
        from core.store.pg import WRITE_LOCK

        conn.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))


def _pragmas(synchronous: str) -> tuple[str, ...]:
    if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
    # temp_store = MEMORY: no temporary files, so a process out of descriptors can still commit
    return ("busy_timeout = 10000", "journal_mode = WAL", "foreign_keys = ON", "temp_store = MEMORY",
            f"synchronous = {synchronous}")


def connect_sqlite(path: Path | str, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A plain connection set up as a Store's, for a process that writes without an event loop (the receiver's
    writer process). The database must exist and be migrated (Store.open does that)."""
    conn = sqlite3.connect(path, isolation_level=None)  # we write BEGIN ourselves
    conn.row_factory = sqlite3.Row
    for pragma in _pragmas(synchronous):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def write_transaction(conn: sqlite3.Connection, fn: Callable[..., T], *args: Any) -> T:
    """Store.write's transaction (also on a plain connection from connect_sqlite): BEGIN IMMEDIATE, `fn`, COMMIT —
    or ROLLBACK if `fn` raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn, *args)
    except BaseException:
        if conn.in_transaction:  # SQLite rolls back by itself after some errors (disk full, I/O)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def log_changes(conn: sqlite3.Connection, changes: Iterable[tuple[str, int | None]], at: int | None = None) -> None:
    """Append to the change log; call inside the transaction that made the change."""
    now = int(time.time()) if at is None else at
    conn.executemany("INSERT INTO change_log(kind, thread_id, at) VALUES (?, ?, ?)",
                     [(kind, thread_id, now) for kind, thread_id in changes])
