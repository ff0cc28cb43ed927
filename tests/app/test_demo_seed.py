"""The demo database holds every state an agent meets (F25)."""

from __future__ import annotations

import time

from core.demo_seed import seed_demo
from core.records.service import Records
from core.store import Store


async def test_the_demo_seed_has_every_state(db_target, tmp_path):
    now = int(time.time())
    store = await Store.open(db_target)
    try:
        await seed_demo(store, now=now, agent="kasia", media_dir=tmp_path / "media")
        scalar = store.scalar
        assert 45 <= await scalar("SELECT count(*) FROM thread") <= 60
        assert await scalar("SELECT count(*) FROM thread WHERE status = 'closed'") >= 3
        assert await scalar("SELECT count(*) FROM thread WHERE owner = 'kasia'") >= 3
        assert await scalar("SELECT count(*) FROM thread WHERE owner IS NULL") >= 3
        sessions = [r[0] for r in await store.fetchall("SELECT last_inbound_at FROM thread WHERE status = 'open'")]
        assert any(now - t < 3600 for t in sessions)                      # fresh
        assert any(23 * 3600 <= now - t < 24 * 3600 for t in sessions)    # closing soon
        assert any(now - t >= 24 * 3600 for t in sessions)                # over
        kinds = {r[0] for r in await store.fetchall("SELECT DISTINCT type FROM message")}
        assert {"text", "image", "audio", "video", "document", "sticker", "location", "contacts", "reaction",
                "unsupported", "note"} <= kinds
        assert await scalar("SELECT count(*) FROM message WHERE status = 'failed' AND error_code = 131047") == 1
        assert {r[0] for r in await store.fetchall("SELECT DISTINCT status FROM message WHERE direction = 'out'"
                                                   " AND type != 'note'")} >= {"read", "failed"}
        assert await scalar("SELECT count(*) FROM message WHERE quarantined = 1") == 2
        paths = [r[0] for r in await store.fetchall("SELECT media_path FROM message WHERE media_id IS NOT NULL")]
        assert paths and all((tmp_path / "media").joinpath(p.split("/")[-1]).exists() for p in paths)
        # Anna was already a contact (stored with spaces): her thread found her instead of making a new one.
        assert await scalar("SELECT count(*) FROM contact WHERE name = 'Anna Kowalska'") == 1
        assert await scalar("SELECT c.email FROM thread t JOIN contact c ON c.id = t.contact_id"
                            " WHERE c.name = 'Anna Kowalska'") == "anna.kowalska@example.pl"
        # Most contacts opted in to WhatsApp (no question before each template); a few did not (the question shows).
        contacts = await scalar("SELECT count(*) FROM contact")
        opted_in = await scalar("SELECT count(*) FROM contact WHERE opt_in_date IS NOT NULL AND opt_in_source != ''")
        assert contacts * 3 // 4 <= opted_in < contacts
        # Records beside the threads (C, the context panel): companies with their deals and a ticket, linked to the
        # first customers; the first thread is linked to its deal as well.
        first = await scalar("SELECT min(id) FROM thread")
        beside = {(r.type, r.name) for r in await Records(store).thread_records(first)}
        assert {("company", "Hotel Bursztynowy Gdańsk"), ("deal", "Rejs firmowy — 40 osób"),
                ("ticket", "Zwrot zaliczki")} <= beside
        assert await scalar("SELECT count(*) FROM record WHERE type = 'company'") == 2
    finally:
        await store.close()
