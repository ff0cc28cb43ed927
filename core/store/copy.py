"""`wabox db copy`: an SQLite install moved into an empty PostgreSQL database, every table compared after.

Both are migrated first (Store.open), so they have the same tables. Rows go across with COPY in one transaction
(all or nothing), parents before children, with the target's own triggers off: what they keep (the assignment
queue, the tally, the digit tails) is copied as the rows the source's triggers kept, not made again while copying.
A table the migrations fill (SEEDED) is left as they filled it; the check after still compares it.
Identities then continue after the highest id copied. Each table's
row count and a content hash (order-independent, over the columns both sides have) are compared and returned.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import psycopg

from core.store.db import Store


@dataclass(frozen=True)
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_hash: str
    target_hash: str

    @property
    def same(self) -> bool:
        return self.source_rows == self.target_rows and self.source_hash == self.target_hash


SEEDED = frozenset({"digit_position"})  # rows written by a migration, the same on both sides


class CopyRefused(Exception):
    pass


def _value(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, memoryview):
        value = bytes(value)
    return f"{type(value).__name__}:{value!r}"


def content_hash(rows) -> tuple[int, str]:
    """(rows, a hash of their contents whatever their order): a sum of per-row digests, modulo 2**256."""
    total, count = 0, 0
    for row in rows:
        digest = hashlib.sha256("\x1f".join(_value(v) for v in row).encode("utf-8", "surrogatepass")).digest()
        total = (total + int.from_bytes(digest, "big")) % (1 << 256)
        count += 1
    return count, f"{total:064x}"[:16]


def _tables_parents_first(pg: psycopg.Connection) -> list[str]:
    tables = [r[0] for r in pg.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_type = 'BASE TABLE' AND table_name <> 'wabox_schema' ORDER BY table_name")]
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in pg.execute(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
            " WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"):
        if child in parents and parent != child:
            parents[child].add(parent)
    ordered: list[str] = []
    while parents:
        ready = sorted(t for t, p in parents.items() if not p - set(ordered))
        ordered += ready
        for t in ready:
            del parents[t]
    return ordered


def _columns(pg: psycopg.Connection, src: sqlite3.Connection, table: str) -> list[str]:
    # An FTS5 table's rowid (the contact or record its text is of) is a column of the PostgreSQL table.
    theirs = {r[1] for r in src.execute(f'PRAGMA table_info("{table}")')} | {"rowid"}
    return [r[0] for r in pg.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = %s ORDER BY ordinal_position", (table,)) if r[0] in theirs]


def copy_sqlite_to_postgres(source: Path, url: str) -> list[TableCheck]:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    src.execute("BEGIN")  # one snapshot of the source for the copy and the check
    with psycopg.connect(url) as pg:
        tables = _tables_parents_first(pg)
        for table in tables:
            if table not in SEEDED and pg.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]:
                raise CopyRefused(f"the target is not empty: table {table} has rows")
        for table in tables:  # undone with the transaction if the copy fails; enabled again below if it does not
            pg.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        checks = []
        for table in tables:
            columns = _columns(pg, src, table)
            names = ", ".join(f'"{c}"' for c in columns)
            if table not in SEEDED:
                with pg.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    for row in src.execute(f'SELECT {names} FROM "{table}"'):
                        copy.write_row(row)
            for (column,) in pg.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                    " AND table_name = %s AND is_identity = 'YES'", (table,)).fetchall():
                pg.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'),"
                           f' coalesce((SELECT max("{column}") FROM "{table}"), 0) + 1, false)')
            source_rows, source_hash = content_hash(src.execute(f'SELECT {names} FROM "{table}"'))
            target_rows, target_hash = content_hash(pg.execute(f'SELECT {names} FROM "{table}"'))
            checks.append(TableCheck(table, source_rows, target_rows, source_hash, target_hash))
        for table in tables:
            pg.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
        if not all(c.same for c in checks):
            pg.rollback()
        return checks


async def migrate_both(source: Path, url: str) -> None:
    """Both databases at the newest schema before the copy (the source keeps its data; only its schema moves)."""
    for target in (source, url):
        await (await Store.open(target)).close()
