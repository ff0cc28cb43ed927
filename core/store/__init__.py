"""SQLite storage: schema and migrations, the connection wrapper, and row -> model conversion."""

from core.store.db import Store, log_changes

__all__ = ["Store", "log_changes"]
