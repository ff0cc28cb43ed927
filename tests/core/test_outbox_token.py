"""A refused access token (190): sending pauses, and the channel is probed at most once a minute (fake clock)."""

from __future__ import annotations

import random

from core import sending
from core.outbox import Backoff, Sender
from tests.core.ingest_helpers import CHANNEL_A, apply, load
from tests.core.test_outbox import Graph

START = 1795519200 + 3600  # Anna's session (text.json) is open
TOKEN_REFUSED = (401, 190, "Error validating access token: Session has expired", None)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def eight_customers_waiting(store, fixtures_dir, health: str = "ok") -> None:
    await apply(store, load(fixtures_dir, "text.json"))
    await store.write(lambda db: db.execute(
        "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, health)"
        " VALUES (?, 'w', 'Sklep', '+48 22 123 45 67', ?)", (CHANNEL_A, health)))
    for i in range(8):
        thread = await sending.thread_for_number(store, CHANNEL_A, f"+48 501 000 {i:03d}", now=START)
        await store.write(lambda db: db.execute("UPDATE thread SET last_inbound_at = ? WHERE id = ?", (START, thread)))
        await sending.queue_text(store, thread, f"Dzień dobry {i}", agent="kasia", now=START)


def sender_at(store, graph: Graph, clock: Clock) -> Sender:
    return Sender(store, graph.api(), owner="s1", rate_per_second=80, clock=clock, sleep=clock.sleep,
                  backoff=Backoff(token_pause=60), rng=random.Random(1))


async def run_for(s: Sender, clock: Clock, seconds: int) -> None:
    end = clock.now + seconds
    while clock.now < end:
        await s.run_once()
        clock.now += 1


async def test_a_refused_token_is_probed_at_most_once_a_minute(store, fixtures_dir):
    await eight_customers_waiting(store, fixtures_dir)
    graph = Graph(*[TOKEN_REFUSED] * 100)
    clock = Clock(START)
    s = sender_at(store, graph, clock)
    await s.run_once()  # the first batch went out before anyone knew the token was bad
    first_batch = len(graph.sent)
    await run_for(s, clock, 75)
    assert len(graph.sent) - first_batch == 1  # one probe in the next 75 s (it was 8 a minute)
    await run_for(s, clock, 120)
    assert len(graph.sent) - first_batch == 3  # and one a minute after that
    assert await store.scalar("SELECT count(*) FROM outbox WHERE state = 'queued'") == 8  # nothing failed
    assert await store.scalar("SELECT health FROM channel") == "token_invalid"


async def test_when_the_probe_succeeds_everything_waiting_goes_out(store, fixtures_dir):
    await eight_customers_waiting(store, fixtures_dir)
    graph = Graph(*[TOKEN_REFUSED] * 8)  # the first batch is refused; the token is replaced meanwhile
    clock = Clock(START)
    s = sender_at(store, graph, clock)
    await s.run_once()
    await run_for(s, clock, 75)
    assert await store.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'") == 8
    assert len(graph.sent) == 8 + 8  # the refused batch, then the probe and the other seven
    assert await store.scalar("SELECT health FROM channel") == "ok"


async def test_a_restarted_sender_probes_a_channel_whose_token_was_refused(store, fixtures_dir):
    await eight_customers_waiting(store, fixtures_dir, health="token_invalid")
    graph = Graph(*[TOKEN_REFUSED] * 100)
    clock = Clock(START)
    s = sender_at(store, graph, clock)
    await run_for(s, clock, 75)
    assert len(graph.sent) == 2  # a probe at once and one a minute later, not a batch of eight


async def test_a_probe_meta_refuses_for_another_reason_proves_the_token_works(store, fixtures_dir):
    await eight_customers_waiting(store, fixtures_dir, health="token_invalid")
    graph = Graph((400, 131026, "(#131026) Message undeliverable", "not on WhatsApp"))
    clock = Clock(START)
    s = sender_at(store, graph, clock)
    await run_for(s, clock, 3)
    assert await store.scalar("SELECT health FROM channel") == "ok"
    assert await store.scalar("SELECT count(*) FROM outbox WHERE state = 'sent'") == 7  # no minute's wait
    assert await store.scalar("SELECT count(*) FROM outbox WHERE state = 'failed'") == 1
