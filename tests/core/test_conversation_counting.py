"""What Meta counts: per business portfolio, a renewed session as one conversation, nothing for a failed send."""

from __future__ import annotations

import pytest

from core import sending
from core.model import SESSION_SECONDS
from core.sending import ReplyRefused
from core.store import conversations
from tests.core.ingest_helpers import CHANNEL_A, CHANNEL_B, apply, load
from tests.core.test_outbox import Graph, sender
from tests.core.test_sending import TEMPLATE

ANNA_WROTE = 1795519200  # text.json
HOUR = 3600


@pytest.fixture
async def anna(store, fixtures_dir) -> int:
    await apply(store, load(fixtures_dir, "text.json"))
    await store.write(lambda db: db.executemany(
        "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, messaging_limit_tier, health)"
        " VALUES (?, '310492887654321', ?, ?, 'TIER_50', 'ok')",
        [(CHANNEL_A, "Sklep", "48221234567"), (CHANNEL_B, "Serwis", "48227654321")]))
    return 1


async def anna_writes(store, fixtures_dir, at: int) -> None:
    body = load(fixtures_dir, "text.json")
    body["entry"][0]["changes"][0]["value"]["messages"][0].update(id=f"wamid.ANNA-{at}", timestamp=str(at))
    await apply(store, body, now=at)


async def used(store, at: int) -> int:
    return await store.run(conversations.used, at)


async def test_a_session_the_customer_keeps_renewing_is_one_conversation(store, fixtures_dir, anna):
    await sending.queue_text(store, anna, "Sprawdzam", agent="kasia", now=ANNA_WROTE + HOUR)
    await anna_writes(store, fixtures_dir, ANNA_WROTE + 20 * HOUR)
    await anna_writes(store, fixtures_dir, ANNA_WROTE + 40 * HOUR)
    # 49 h after the first reply, but the customer never let the session lapse: still the same conversation.
    await sending.queue_text(store, anna, "Wysłane", agent="kasia", now=ANNA_WROTE + 50 * HOUR)
    assert await used(store, ANNA_WROTE + 50 * HOUR) == 1
    assert await store.scalar("SELECT count(*) FROM conversation") == 1


async def test_after_the_session_lapsed_a_template_is_a_new_conversation(store, fixtures_dir, anna):
    await sending.queue_text(store, anna, "Sprawdzam", agent="kasia", now=ANNA_WROTE + HOUR)
    later = ANNA_WROTE + SESSION_SECONDS + 5 * HOUR
    await sending.queue_template(store, anna, TEMPLATE, ["Anna", "A-1"], agent="kasia", now=later)
    assert await used(store, later) == 2


async def test_a_business_conversation_answered_by_the_customer_stays_one(store, fixtures_dir, anna):
    start = ANNA_WROTE + 2 * SESSION_SECONDS
    await sending.queue_template(store, anna, TEMPLATE, ["Anna", "A-1"], agent="kasia", now=start)
    await anna_writes(store, fixtures_dir, start + 20 * HOUR)
    await sending.queue_text(store, anna, "Dziękuję", agent="kasia", now=start + 30 * HOUR)  # past the first 24 h
    assert [r[0] for r in await store.fetchall("SELECT origin FROM conversation")] == ["business"]


async def test_a_failed_send_does_not_count(store, anna):
    now = ANNA_WROTE + HOUR
    await sending.queue_text(store, anna, "Halo", agent="kasia", now=now)
    assert await used(store, now) == 1
    graph = Graph((400, 131026, "(#131026) Message undeliverable", "not on WhatsApp"))
    await sender(store, graph, clock=lambda: now + 5).run_once()
    assert await store.scalar("SELECT status FROM message WHERE direction = 'out'") == "failed"
    assert await used(store, now + 10) == 0
    await sending.retry_failed(store, 2, agent="kasia", now=now + 60)  # sent again: it counts again
    assert await used(store, now + 60) == 1


async def test_the_messaging_limit_counts_customers_over_every_number_of_the_portfolio(store, fixtures_dir, anna):
    start = ANNA_WROTE + 2 * SESSION_SECONDS

    def fifty_customers_on_number_b(db):
        for i in range(50):
            thread = db.execute("INSERT INTO thread(channel, wa_id, created_at) VALUES (?, ?, 0)",
                                (CHANNEL_B, f"4850000{i:04d}")).lastrowid
            db.execute("INSERT INTO message(thread_id, channel, direction, type, text, timestamp, status)"
                       " VALUES (?, ?, 'out', 'template', 'Oferta', ?, 'delivered')", (thread, CHANNEL_B, start - 60))
            db.execute("INSERT INTO conversation(thread_id, channel, origin, started_at, expires_at, month)"
                       " VALUES (?, ?, 'business', ?, ?, '2026-11')", (thread, CHANNEL_B, start - 60, start + 86000))
    await store.write(fifty_customers_on_number_b)
    with pytest.raises(ReplyRefused, match=r"50 customers a day \(TIER_50\), counted over all its numbers"):
        await sending.queue_template(store, anna, TEMPLATE, ["Anna", "A-1"], agent="kasia", now=start)


async def test_one_customer_on_two_numbers_is_one_customer_for_the_limit(store, fixtures_dir, anna):
    start = ANNA_WROTE + 2 * SESSION_SECONDS
    await sending.queue_template(store, anna, TEMPLATE, ["Anna", "A-1"], agent="kasia", now=start)
    on_b = await sending.thread_for_number(store, CHANNEL_B, "+48601234567", now=start)
    await sending.queue_template(store, on_b, TEMPLATE, ["Anna", "A-2"], agent="kasia", now=start + 60)
    tomasz = await sending.thread_for_number(store, CHANNEL_B, "+48512345678", now=start)
    assert await store.run(conversations.customers_reached, tomasz, start + 120) == 1  # Anna, once
