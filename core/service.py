"""What `wabox serve` runs beside the receiver: the outbox sender, template sync, channel health, media downloads.

Kept apart from the receiver so that the demo back end and tests can run the same set."""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from core.config import Config, Secrets
from core.server import OnCommitted


def background_tasks(config: Config, secrets: Secrets, store_path: Path) -> list[Coroutine[Any, Any, None]]:
    """Coroutines that run as long as `wabox serve` does."""
    return []


def media_hook(config: Config, secrets: Secrets) -> OnCommitted | None:
    """Called with the new inbound media after each commit, to download it while Meta's URL is valid."""
    return None
