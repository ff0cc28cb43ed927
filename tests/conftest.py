"""Shared fixtures: the webhook fixtures from shared/, a migrated store in tmp."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import Store

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures" / "webhooks"
APP_SECRET = "wabox-test-app-secret"
VERIFY_TOKEN = "wabox-verify-7Qe2"


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"webhook fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture
async def store(tmp_path: Path):
    opened = await Store.open(tmp_path / "wabox.db")
    yield opened
    await opened.close()
