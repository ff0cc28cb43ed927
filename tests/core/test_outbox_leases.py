"""On PostgreSQL, senders claim outbox rows side by side: each claim locks the rows it takes (FOR UPDATE SKIP
LOCKED) and passes over rows another claim holds, without the write lock that ingest and the rules take."""

from __future__ import annotations

import psycopg

from core import sending
from core.outbox import _claim
from core.store import Store
from core.store.pg import WRITE_LOCK, PgConnection, _configure, connect_kwargs
from tests.core.ingest_helpers import CHANNEL_A
from tests.core.test_outbox import IN_SESSION, LAST_INBOUND, queue

CUSTOMERS = 6


async def queue_two_each(store: Store) -> list[int]:
    """Two messages for each customer; returns the first one's outbox id per customer (the claimable ones)."""
    await store.write(lambda db: db.execute(
        "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, health)"
        " VALUES (?, 'w', 'Sklep', '+48 22 123 45 67', 'ok')", (CHANNEL_A,)))
    firsts = []
    for i in range(CUSTOMERS):
        thread = await sending.thread_for_number(store, CHANNEL_A, f"+4850200{i:04d}", now=IN_SESSION)
        await store.write(lambda db, t=thread: db.execute("UPDATE thread SET last_inbound_at = ? WHERE id = ?",
                                                          (LAST_INBOUND, t)))
        await queue(store, thread, f"first {i}", f"second {i}")
        firsts.append(await store.scalar("SELECT id FROM outbox WHERE recipient = (SELECT recipient FROM outbox"
                                         " ORDER BY id DESC LIMIT 1) ORDER BY id LIMIT 1"))
    return firsts


async def test_two_concurrent_claims_take_disjoint_rows_and_neither_waits(pg_server):
    url = pg_server.fresh_database()
    with psycopg.connect(url, autocommit=True) as admin:  # anything that waits for a lock fails instead of hanging
        admin.execute(f"ALTER DATABASE {psycopg.conninfo.conninfo_to_dict(url)['dbname']} SET lock_timeout = '5s'")
    store = await Store.open(url)
    firsts = await queue_two_each(store)
    with psycopg.connect(url, **connect_kwargs()) as ingest, psycopg.connect(url, **connect_kwargs()) as first:
        _configure(first)
        ingest.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))  # a webhook being ingested meanwhile
        # The first claim takes two rows and has not committed yet when the second claims.
        one = _claim(PgConnection(first), "one", IN_SESSION, 30.0, 2, [], set(), store.claim_lock)
        two = await store.claim(_claim, "two", IN_SESSION, 30.0, 10, [], set(), store.claim_lock)
        first.commit()
        ingest.rollback()
    assert len(one) == 2 and len(two) == CUSTOMERS - 2
    assert not {r.id for r in one} & {r.id for r in two}
    assert sorted(r.id for r in one + two) == sorted(firsts)  # each customer's oldest: their second ones wait
    owners = {r["id"]: r["lease_owner"] for r in await store.fetchall("SELECT id, lease_owner FROM outbox"
                                                                      " WHERE state = 'sending'")}
    assert owners == {**{r.id: "one" for r in one}, **{r.id: "two" for r in two}}
    # Nothing is left to claim until those are sent: per-customer order holds across claimers.
    assert await store.claim(_claim, "three", IN_SESSION, 30.0, 10, [], set(), store.claim_lock) == []
    await store.close()
