"""Shared fixtures: the webhook bodies kept in tests/fixtures/webhooks, a migrated store in tmp."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import Store

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "webhooks"  # copied from shared/: the suite stands alone
APP_SECRET = "wabox-test-app-secret"
VERIFY_TOKEN = "wabox-verify-7Qe2"


@pytest.fixture
def fixtures_dir() -> Path:
    # A missing fixture folder fails loudly: a skipped test proves nothing.
    assert FIXTURES.is_dir(), f"webhook fixtures not found at {FIXTURES}"
    return FIXTURES


@pytest.fixture
async def store(tmp_path: Path):
    opened = await Store.open(tmp_path / "wabox.db")
    yield opened
    await opened.close()
