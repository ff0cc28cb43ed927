"""Storage: SQLite or PostgreSQL (core.store.pg) behind one Store, schema and migrations, row -> model conversion."""

from core.store.db import Store, log_changes

__all__ = ["Store", "log_changes"]
