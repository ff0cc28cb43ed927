"""The PostgreSQL backend: the same plain-function store as SQLite, on a psycopg 3 connection pool.

The logic (ingest, sending, outbox, views, reads) is written once as functions `fn(conn, ...)` that call
`conn.execute(sql, params)` with SQLite's `?` / `:name` placeholders. `PgConnection` runs those on PostgreSQL:
placeholders become psycopg's, rows read by name and by index, `lastrowid` is the session's `lastval()`.
Only what truly differs lives here: connecting, the write lock, change notification and migrations' locking.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import psycopg
from psycopg.adapt import Dumper
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool

from core.store.db import NOTIFIED_SAFETY_NET, Store
from core.store.schema import MIGRATIONS, script_for
from core.store.wake import woken

T = TypeVar("T")

# pg_advisory_xact_lock keys. A write transaction holds WRITE_LOCK, as SQLite's BEGIN IMMEDIATE holds its write
# lock: the business rules (read the thread, then write it) stay exactly as they are on SQLite.
WRITE_LOCK = 0x77616278  # "wabx"
MIGRATE_LOCK = WRITE_LOCK + 1
CHANNEL = "wabox_changes"  # NOTIFY'd by a trigger on change_log (see schema.PG_NOTIFY)


class Row(tuple):
    """A result row readable by index and by column name, like sqlite3.Row (dict(row) works too)."""

    __slots__ = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: psycopg.Cursor) -> RowMaker[Row]:
    return _row_class(tuple(c.name for c in cursor.description or ()))


@lru_cache(maxsize=512)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)  # the first of a repeated name, as sqlite3.Row
    return type("Row", (Row,), {"__slots__": (), "_index": index})


class _BoolAsInt(Dumper):
    """SQLite has no booleans: the logic passes True/False for 0/1 columns."""

    oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


# `?` and `:name` outside string literals and identifiers; `::` (a PostgreSQL cast) is left alone. SQLite's
# INDEXED BY (a planner hint, no meaning of its own) is dropped.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|%|\?|(?<![:\w]):([A-Za-z_]\w*)|\s+INDEXED BY \w+")


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """SQLite placeholders as psycopg's: `?` -> `%s`, `:name` -> `%(name)s`, a literal `%` -> `%%`."""

    def one(match: re.Match) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if token.lstrip().startswith("INDEXED BY"):
            return ""
        if match.group(1):
            return f"%({match.group(1)})s"
        return token.replace("%", "%%")  # a literal or identifier: its own % signs stay themselves

    return _TOKENS.sub(one, sql)


class PgCursor:
    def __init__(self, cursor: psycopg.Cursor) -> None:
        self._cursor = cursor

    def fetchone(self) -> Row | None:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Row]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """The id the last INSERT drew from its table's identity sequence (what sqlite3's lastrowid gives);
        None when it inserted nothing. Asked only after inserting into a table with an integer id."""
        if self._cursor.rowcount < 1:
            return None
        return self._cursor.connection.execute("SELECT lastval()").fetchone()[0]

    def close(self) -> None:
        self._cursor.close()


class PgConnection:
    """What the plain functions use of a sqlite3.Connection, on a psycopg connection."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> PgCursor:
        cursor = self.raw.cursor()
        cursor.execute(translate(sql), params or ())  # always formatted: `%%` is the translation of `%`
        return PgCursor(cursor)

    def executemany(self, sql: str, seq: Any) -> PgCursor:
        cursor = self.raw.cursor()
        seq = list(seq)
        if seq:
            cursor.executemany(translate(sql), seq)
        return PgCursor(cursor)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


def _configure(conn: psycopg.Connection) -> None:
    conn.adapters.register_dumper(bool, _BoolAsInt)


def connect_kwargs() -> dict[str, Any]:
    # Server-side binding, and a statement run twice on a connection is prepared there: parsed and planned once,
    # not once a message (ingest makes ~15 round trips a message). A parameter whose type nothing around it tells
    # (`? IS NULL`) is written CAST(? AS TEXT).
    return {"autocommit": False, "row_factory": _row_factory, "prepare_threshold": 2}


def open_pool(url: str, *, size: int = 4) -> ConnectionPool:
    try:  # first one connection: an unreachable server or a refused login is said at once, in one line
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.OperationalError as error:
        raise psycopg.OperationalError(" ".join(str(error).split())) from None
    pool = ConnectionPool(url, min_size=1, max_size=size, kwargs=connect_kwargs(), configure=_configure,
                          open=False, name="wabox")
    pool.open(wait=True, timeout=10)  # a server that is down is said at once, not after minutes
    return pool


def run(pool: ConnectionPool, fn: Callable[..., T], args: tuple, *, write: bool) -> T:
    """`fn(connection, *args)` in one transaction: committed if it returns, rolled back if it raises."""
    with pool.connection() as conn:
        if write:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        return fn(PgConnection(conn), *args)


class Listener:
    """A counter that moves when another process commits a change (LISTEN/NOTIFY): the inbox's idle check costs
    no query, and a webhook written on another host reaches it at once."""

    def __init__(self, url: str, wake: Callable[[], None] = lambda: None) -> None:
        self.version = 0
        self._wake = wake  # called from the listening thread: tells a waiting reader to look now
        self._stop = threading.Event()
        self._conn = psycopg.connect(url, autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")
        self._thread = threading.Thread(target=self._listen, name="wabox-listen", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        try:
            while not self._stop.is_set():
                for _ in self._conn.notifies(timeout=0.5, stop_after=1):
                    self.version += 1
                    self._wake()
        except psycopg.Error:
            self.version += 1  # the connection is gone: readers look at the change log once more
            self._stop.set()
            self._wake()

    @property
    def alive(self) -> bool:
        return not self._stop.is_set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._conn.close()


def migrate(pool: ConnectionPool) -> None:
    """Bring the database up to date, one step a transaction with its number; under an advisory lock, so two
    processes starting at once apply each step once (the second waits, then finds nothing to do)."""
    while True:
        with pool.connection() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS wabox_schema (version BIGINT NOT NULL)")
            row = conn.execute("SELECT version FROM wabox_schema").fetchone()
            version = 0 if row is None else row[0]
            if version >= len(MIGRATIONS):
                return
            conn.execute(script_for(MIGRATIONS[version], "postgresql"))
            if row is None:
                conn.execute("INSERT INTO wabox_schema(version) VALUES (%s)", (version + 1,))
            else:
                conn.execute("UPDATE wabox_schema SET version = %s", (version + 1,))


class PgStore(Store):
    """The Store on PostgreSQL: every call runs on a pooled connection in a worker thread, in one transaction."""

    dialect = "postgresql"

    def __init__(self, pool: ConnectionPool, url: str) -> None:  # Store.__init__ is SQLite's: not called
        self.pool = pool
        self.target = url
        self.path = None  # type: ignore[assignment]
        self._listener: Listener | None = None
        self._notified: asyncio.Event | None = None  # set by the listener's thread on each NOTIFY

    @property
    def files_dir(self) -> Path:
        return Path(platformdirs.user_data_dir("wabox"))

    @classmethod
    async def connect(cls, url: str) -> "PgStore":
        pool = await asyncio.to_thread(open_pool, url)
        try:
            await asyncio.to_thread(migrate, pool)
        except BaseException:
            await asyncio.to_thread(pool.close)
            raise
        return cls(pool, url)

    async def close(self) -> None:
        if self._listener is not None:
            await asyncio.to_thread(self._listener.close)
        await asyncio.to_thread(self.pool.close)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(run, self.pool, fn, args, write=False)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(run, self.pool, fn, args, write=True)

    # Each claimer locks the rows it takes and passes over those another is taking, so senders claim side by side.
    claim_lock = " FOR UPDATE OF o SKIP LOCKED"

    async def claim(self, fn: Callable[..., T], *args: Any) -> T:
        """Without the write lock: the claim's row locks (`claim_lock`) are all it needs, and senders do not wait
        for each other or for ingest."""
        return await asyncio.to_thread(run, self.pool, fn, args, write=False)

    @contextlib.asynccontextmanager
    async def one_host(self, name: str, *, retry: float = 5.0) -> AsyncIterator[None]:
        """Waits until this process holds the advisory lock `name`, then runs the body holding it. The lock
        belongs to a connection of its own: if this host dies, PostgreSQL drops the connection and the lock,
        and a waiting host takes over within `retry` seconds."""
        key = zlib.crc32(name.encode())
        conn = await psycopg.AsyncConnection.connect(self.target, autocommit=True)
        try:
            while not (await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))).fetchone())[0]:
                await asyncio.sleep(retry)
            yield
        finally:
            await conn.close()

    async def data_version(self) -> int:
        """Moves when anyone commits a change (NOTIFY from change_log's trigger); no query while nothing does."""
        if self._listener is None or not self._listener.alive:
            previous = self._listener
            if self._notified is None:
                self._notified = asyncio.Event()
            loop, notified = asyncio.get_running_loop(), self._notified

            def wake() -> None:
                with contextlib.suppress(RuntimeError):  # the loop has ended: nobody is waiting
                    loop.call_soon_threadsafe(notified.set)

            self._listener = await asyncio.to_thread(Listener, self.target, wake)
            if previous is not None:
                self._listener.version = previous.version + 1
        return self._listener.version

    async def changed(self, poll: float) -> bool:
        """Returns as soon as a NOTIFY came (True), or after NOTIFIED_SAFETY_NET seconds (False); `poll` is for
        stores that are not told."""
        await self.data_version()  # a listener, alive
        assert self._notified is not None
        return await woken(self._notified, NOTIFIED_SAFETY_NET)
