"""`wabox db copy --from PATH --to postgresql://…`: move an SQLite install to PostgreSQL, every table checked."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from app.commands._common import USAGE, CommandError
from app.commands.output import table
from core.config import ConfigError, database_target


def run(args: argparse.Namespace) -> int:
    from core.store.copy import CopyRefused, copy_sqlite_to_postgres, migrate_both

    source = Path(args.source).expanduser()
    if not source.is_file():
        raise CommandError(f"no database at {source}", USAGE)
    try:
        target = database_target(args.target)
    except ConfigError as error:
        raise CommandError(str(error), USAGE) from None
    if not isinstance(target, str):
        raise CommandError("--to must be a postgresql:// URL", USAGE)
    asyncio.run(migrate_both(source, target))
    try:
        checks = copy_sqlite_to_postgres(source, target)
    except CopyRefused as error:
        raise CommandError(str(error), 1) from None
    print(table(["TABLE", "ROWS", "COPIED", "HASH", "COPIED HASH", ""],
                [[c.table, str(c.source_rows), str(c.target_rows), c.source_hash, c.target_hash,
                  "ok" if c.same else "DIFFERENT"] for c in checks]))
    if not all(c.same for c in checks):
        raise CommandError("the copy differs from the source: nothing was kept in the target", 1)
    print(f"copied {sum(c.source_rows for c in checks)} rows in {len(checks)} tables; every table matches")
    return 0
