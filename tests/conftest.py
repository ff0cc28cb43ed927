"""Shared fixtures: the webhook bodies kept in tests/fixtures/webhooks, a migrated store in tmp.

The suite runs on SQLite by default and on PostgreSQL with `--db=postgresql` (or WABOX_TEST_DB=postgresql): then
a real PostgreSQL server is started for the session (tests/pg_server.py) and every test that takes `store` or
`db_target` gets a fresh database of its own. A test that touches the database takes one of those two (directly,
or through tests/app/helpers.seed(db_target), tests/core/sim_helpers.running_loop(db=db_target), ...), so it runs
in both passes. Tests that do not touch the database (parsing, rendering, config, layers) are the same on both
backends and need not run twice: they run in the SQLite pass only. Tests of SQLite itself (its file and file
locks, PRAGMAs, query plans, faults injected with SQLite triggers) are marked `sqlite_only` with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.store import Store

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "webhooks"  # copied from shared/: the suite stands alone
APP_SECRET = "wabox-test-app-secret"
VERIFY_TOKEN = "wabox-verify-7Qe2"
BACKEND_FIXTURES = {"store", "db_target"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=("sqlite", "postgresql"), default=os.environ.get("WABOX_TEST_DB", "sqlite"),
                     help="the storage backend the store-using tests run on (default: $WABOX_TEST_DB or sqlite)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): a test of SQLite itself; not in the PostgreSQL pass")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db") != "postgresql":
        return
    keep, drop = [], []
    for item in items:
        uses_store = BACKEND_FIXTURES & set(getattr(item, "fixturenames", ()))
        (keep if uses_store and not item.get_closest_marker("sqlite_only") else drop).append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest):
    from tests.pg_server import TEMPLATE, PgServer

    server = PgServer().start()
    import asyncio

    async def migrate_template() -> None:
        await (await Store.open(server.url(TEMPLATE))).close()

    asyncio.run(migrate_template())
    yield server
    server.stop()


@pytest.fixture
def db_target(request: pytest.FixtureRequest, tmp_path: Path):
    """Where the test's database is: a file in tmp (SQLite) or a fresh PostgreSQL database's URL."""
    if request.config.getoption("--db") == "postgresql":
        server = request.getfixturevalue("pg_server")
        url = server.fresh_database()
        yield url
        server.drop(url)
    else:
        yield tmp_path / "wabox.db"


@pytest.fixture
def fixtures_dir() -> Path:
    # A missing fixture folder fails loudly: a skipped test proves nothing.
    assert FIXTURES.is_dir(), f"webhook fixtures not found at {FIXTURES}"
    return FIXTURES


@pytest.fixture
async def store(db_target):
    opened = await Store.open(db_target)
    yield opened
    await opened.close()
