"""On a shared server only the user running wabox reads customer messages: the database, its WAL and SHM, and
downloaded media are created 0600, and the folders wabox creates for them 0700."""

from __future__ import annotations

import json
import os
import stat

import pytest

from core.media import download_inbound
from core.store import Store
from core.webhooks import parse
from tests.core.sim_helpers import NUMBER_A, running_loop
from tests.core.test_loop import thread_of


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    previous = os.umask(0o022)  # what most servers have: without care, files would come out 0644
    yield
    os.umask(previous)


async def test_the_database_its_wal_and_media_are_private_after_a_real_ingest(tmp_path):
    data = tmp_path / "data" / "wabox"  # does not exist yet: wabox makes the folders
    async with running_loop(data) as loop:
        store = await Store.open(loop.db)
        try:
            await loop.inbound(phone_number_id=NUMBER_A, **{"from": "48601234567"}, type="document",
                               filename="umowa.pdf", caption="Umowa", size=2000)
            await thread_of(store, "48601234567")
            raw = await store.scalar("SELECT body FROM raw_event ORDER BY id DESC LIMIT 1")
            [event] = parse(json.loads(raw))
            media = data / "media" / "inbound"
            path = await download_inbound(store, loop.api(), media, event)
            files = [loop.db, loop.db.with_name("wabox.db-wal"), loop.db.with_name("wabox.db-shm")]
            assert [(f.name, mode(f)) for f in files] == [("wabox.db", 0o600), ("wabox.db-wal", 0o600),
                                                          ("wabox.db-shm", 0o600)]
        finally:
            await store.close()
    assert (mode(tmp_path / "data"), mode(data)) == (0o700, 0o700)
    assert path is not None and path.stat().st_size == 2000
    assert (mode(media.parent), mode(media), mode(path)) == (0o700, 0o700, 0o600)
