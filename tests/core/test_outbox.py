"""The sender against a scripted Graph API (httpx.MockTransport): what each answer does to the rows."""

from __future__ import annotations

import asyncio
import json
import random

import httpx
import pytest

from core import policy, sending
from core.cloudapi import CloudApi
from core.ingest import ingest
from core.outbox import Backoff, Pacer, Sender
from core.store import Store
from core.webhooks import StatusUpdate
from tests.core.ingest_helpers import CHANNEL_A, CHANNELS, apply, load

LAST_INBOUND = 1795519200
IN_SESSION = LAST_INBOUND + 3600
FAST = Backoff(base=0.01, cap=0.05, pair_wait=0.05, in_doubt_wait=0.2, max_attempts=4, token_pause=30)


class Graph:
    """Answers /messages from a script of (status, body) per call; records every request it saw."""

    def __init__(self, *answers, prefix: str = "wamid") -> None:
        self.answers = list(answers)
        self.prefix = prefix
        self.sent: list[dict] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.sent.append(body)
        answer = self.answers.pop(0) if self.answers else "ok"
        if answer == "ok":
            return httpx.Response(200, json={"messaging_product": "whatsapp", "contacts": [{"input": body["to"]}],
                                             "messages": [{"id": f"{self.prefix}.{len(self.sent)}"}]})
        if answer == "timeout":
            raise httpx.ReadTimeout("no answer", request=request)
        status, code, message, details = answer
        return httpx.Response(status, json={"error": {"message": message, "type": "OAuthException", "code": code,
                                                      "error_data": {"details": details}, "fbtrace_id": "Ax"}})

    def api(self) -> CloudApi:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return CloudApi(http, token="t0ken", base_url="https://graph.facebook.com/v23.0")


@pytest.fixture
async def anna(store, fixtures_dir) -> int:
    await apply(store, load(fixtures_dir, "text.json"))
    await store.write(lambda db: db.execute(
        "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, health)"
        " VALUES (?, 'w', 'Sklep', '+48 22 123 45 67', 'ok')", (CHANNEL_A,)))
    return 1


class Clock:
    """The sender's clock, moved on by the test instead of sleeping (its sleep moves it too)."""

    def __init__(self, now: float = IN_SESSION) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def sender(store, graph: Graph, owner="s1", **kw) -> Sender:
    return Sender(store, graph.api(), owner=owner, rate_per_second=1000, backoff=FAST, rng=random.Random(1), **kw)


async def row(store, sql, params=()):
    found = await store.fetchone(sql, params)
    return None if found is None else dict(found)


async def queue(store, thread_id, *texts) -> list[int]:
    return [await sending.queue_text(store, thread_id, text, agent="kasia", now=IN_SESSION) for text in texts]


async def test_a_queued_reply_is_sent_with_its_outbox_id_and_gets_its_wamid(store, anna):
    graph = Graph()
    [message_id] = await queue(store, anna, "Już wysłane!")
    assert await sender(store, graph).run_once() == 1
    [request] = graph.sent
    assert request["to"] == "+48601234567" and request["text"]["body"] == "Już wysłane!"
    outbox = await row(store, "SELECT * FROM outbox")
    assert request["biz_opaque_callback_data"] == f"outbox:{outbox['id']}"
    assert (outbox["state"], outbox["wamid"], outbox["lease_owner"], outbox["ambiguous"]) == (
        "sent", "wamid.1", None, 0)
    message = await row(store, "SELECT wamid, status FROM message WHERE id = ?", (message_id,))
    assert message == {"wamid": "wamid.1", "status": "queued"}  # accepted; 'sent' comes from the webhook


async def test_a_status_that_arrived_before_the_answer_is_applied_at_once(store, anna):
    await store.write(lambda db: ingest(db, [StatusUpdate(CHANNEL_A, "wamid.1", "delivered", 1795523000)],
                                        channels=CHANNELS, now=1795523000))
    [message_id] = await queue(store, anna, "Hej")
    await sender(store, Graph()).run_once()
    assert (await row(store, "SELECT status FROM message WHERE id = ?", (message_id,)))["status"] == "delivered"


async def test_per_customer_order_is_enqueue_order(store, anna, fixtures_dir):
    other = await sending.thread_for_number(store, CHANNEL_A, "+48 501 000 111", now=IN_SESSION)
    await store.write(lambda db: db.execute("UPDATE thread SET last_inbound_at = ? WHERE id = ?",
                                            (LAST_INBOUND, other)))
    await queue(store, anna, "one", "two", "three")
    await queue(store, other, "uno")
    graph = Graph()
    s = sender(store, graph)
    assert await s.run_once() == 2  # one per customer at a time
    assert [r["text"]["body"] for r in graph.sent] == ["one", "uno"]
    while await s.run_once():
        pass
    assert [r["text"]["body"] for r in graph.sent if r["to"] == "+48601234567"] == ["one", "two", "three"]


async def test_a_retryable_error_backs_off_and_does_not_let_a_later_message_overtake(store, anna):
    await queue(store, anna, "first", "second")
    graph = Graph((500, 131000, "Something went wrong", "try later"))
    clock = Clock()
    s = sender(store, graph, clock=clock, sleep=clock.sleep)
    await s.run_once()
    first = await row(store, "SELECT * FROM outbox WHERE id = 1")
    assert (first["state"], first["error_code"], first["attempts"]) == ("queued", 131000, 1)
    assert await s.run_once() == 0  # backing off; "second" must wait behind it
    clock.advance(FAST.cap * 1.5)
    while await s.run_once():
        pass
    assert [r["text"]["body"] for r in graph.sent] == ["first", "first", "second"]
    assert [r["state"] for r in await store.fetchall("SELECT state FROM outbox ORDER BY id")] == ["sent", "sent"]


async def test_a_permanent_error_fails_the_message_with_metas_words(store, anna):
    [message_id] = await queue(store, anna, "Halo?")
    details = "Message failed to send because more than 24 hours have passed since the customer last replied."
    graph = Graph((400, 131047, "(#131047) Re-engagement message", details))
    await sender(store, graph, clock=lambda: IN_SESSION).run_once()
    message = await row(store, "SELECT status, error_code, error_title, error_details FROM message WHERE id = ?",
                        (message_id,))
    assert message == {"status": "failed", "error_code": 131047, "error_title": "(#131047) Re-engagement message",
                       "error_details": details}
    assert (await row(store, "SELECT state, error_code FROM outbox")) == {"state": "failed", "error_code": 131047}
    assert len(graph.sent) == 1
    # Meta says the window is shut although our clock gave it hours: the thread is template-only at once.
    last_inbound = await store.scalar("SELECT last_inbound_at FROM thread WHERE id = ?", (anna,))
    assert not policy.session_open(last_inbound, IN_SESSION + 60)


async def test_retries_end_as_failed_after_the_last_attempt(store, anna):
    await queue(store, anna, "x")
    graph = Graph(*[(500, 131000, "Something went wrong", None)] * 10)
    clock = Clock()
    s = sender(store, graph, clock=clock, sleep=clock.sleep)
    for _ in range(20):
        await s.run_once()
        clock.advance(FAST.cap * 1.5)
    assert (await row(store, "SELECT state, attempts, error_code FROM outbox")) == {
        "state": "failed", "attempts": FAST.max_attempts, "error_code": 131000}


async def test_a_refused_token_pauses_the_channel_instead_of_failing_rows(store, anna):
    await queue(store, anna, "a", "b")
    graph = Graph((401, 190, "Error validating access token: Session has expired", None))
    s = sender(store, graph)
    await s.run_once()
    assert (await row(store, "SELECT state, attempts FROM outbox WHERE id = 1")) == {"state": "queued", "attempts": 0}
    assert (await row(store, "SELECT health FROM channel")) == {"health": "token_invalid"}
    assert (await row(store, "SELECT code FROM channel_error")) == {"code": 190}
    assert await s.run_once() == 0 and len(graph.sent) == 1  # paused
    assert await store.scalar("SELECT count(*) FROM message WHERE status = 'failed'") == 0


async def test_a_lost_answer_is_reconciled_from_its_status_webhook_not_resent(store, anna):
    [message_id] = await queue(store, anna, "Hej")
    graph = Graph("timeout")
    clock = Clock()
    s = sender(store, graph, clock=clock, sleep=clock.sleep)
    await s.run_once()
    assert (await row(store, "SELECT state, lease_owner FROM outbox")) == {"state": "sending", "lease_owner": None}
    status = StatusUpdate(CHANNEL_A, "wamid.meta-had-it", "sent", 1795523000, callback_data="outbox:1")
    await store.write(lambda db: ingest(db, [status], channels=CHANNELS, now=1795523000))
    clock.advance(FAST.in_doubt_wait * 1.5)
    assert await s.run_once() == 0
    assert len(graph.sent) == 1
    assert (await row(store, "SELECT state, wamid, ambiguous FROM outbox")) == {
        "state": "sent", "wamid": "wamid.meta-had-it", "ambiguous": 0}
    assert (await row(store, "SELECT wamid, status FROM message WHERE id = ?", (message_id,))) == {
        "wamid": "wamid.meta-had-it", "status": "sent"}


async def test_a_lost_answer_without_a_webhook_is_resent_and_flagged_ambiguous(store, anna):
    await queue(store, anna, "Hej")
    graph = Graph("timeout")
    clock = Clock()
    s = sender(store, graph, clock=clock, sleep=clock.sleep)
    await s.run_once()
    assert await s.run_once() == 0  # waits for the webhook first
    clock.advance(FAST.in_doubt_wait * 1.5)
    assert await s.run_once() == 1
    assert (await row(store, "SELECT state, ambiguous, attempts FROM outbox")) == {
        "state": "sent", "ambiguous": 1, "attempts": 2}


async def test_a_dead_senders_lease_runs_out_and_another_sender_finishes_the_row(store, anna):
    await queue(store, anna, "Hej")
    clock = Clock()
    [claimed] = await sender(store, Graph(), owner="dead", lease_seconds=0.1, clock=clock).claim(5)
    other = Graph()
    s2 = sender(store, other, owner="alive", clock=clock, sleep=clock.sleep)
    assert await s2.run_once() == 0  # leased to "dead"
    clock.advance(0.15)
    assert await s2.run_once() == 1
    assert (await row(store, "SELECT state, ambiguous FROM outbox")) == {"state": "sent", "ambiguous": 1}


async def test_two_senders_never_send_one_row(store, anna):
    texts = [f"m{i}" for i in range(30)]
    for i, text in enumerate(texts):
        thread = await sending.thread_for_number(store, CHANNEL_A, f"+4850100{i:04d}", now=IN_SESSION)
        await store.write(lambda db, t=thread: db.execute("UPDATE thread SET last_inbound_at = ? WHERE id = ?",
                                                          (LAST_INBOUND, t)))
        await queue(store, thread, text)
    g1, g2 = Graph(prefix="wamid.one"), Graph(prefix="wamid.two")
    s1, s2 = sender(store, g1, owner="one", concurrency=4), sender(store, g2, owner="two", concurrency=4)
    while await store.scalar("SELECT count(*) FROM outbox WHERE state != 'sent'"):
        await asyncio.gather(s1.run_once(), s2.run_once())
    bodies = [r["text"]["body"] for r in g1.sent + g2.sent]
    assert sorted(bodies) == sorted(texts) and g1.sent and g2.sent


async def test_the_pacer_spreads_sends_at_the_configured_rate(store):
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = Pacer(store, 80, lambda: now[0], sleep)
    for _ in range(4):
        await pacer.wait("p")
    await pacer.wait("other number")
    assert slept == pytest.approx([1 / 80, 2 / 80, 3 / 80])


async def test_two_senders_on_one_number_share_its_pace(store):
    """Two processes (two connections) sending from one number take turns in its slots: together 80/s."""
    other = await Store.open(store.target)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    first, second = Pacer(store, 80, lambda: 100.0, sleep), Pacer(other, 80, lambda: 100.0, sleep)
    try:
        for pacer in (first, second, first, second):
            await pacer.wait("p")
    finally:
        await other.close()
    assert slept == pytest.approx([1 / 80, 2 / 80, 3 / 80])


async def test_media_is_uploaded_then_sent_by_id(store, anna, tmp_path):
    picture = tmp_path / "zdjęcie.jpg"
    picture.write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 100)
    await sending.queue_media(store, anna, picture, agent="kasia", now=IN_SESSION, caption="Proszę")
    uploads: list[httpx.Request] = []
    graph = Graph()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/media"):
            uploads.append(request)
            return httpx.Response(200, json={"id": "media-77"})
        return graph.handler(request)

    api = CloudApi(httpx.AsyncClient(transport=httpx.MockTransport(handler)), token="t",
                   base_url="https://graph.facebook.com/v23.0")
    await Sender(store, api, owner="m", backoff=FAST).run_once()
    assert len(uploads) == 1 and b"image/jpeg" in uploads[0].content
    assert graph.sent[0]["image"] == {"caption": "Proszę", "id": "media-77"}


async def test_the_pair_rate_limit_waits_at_least_six_seconds_for_that_customer_only(store, anna):
    other = await sending.thread_for_number(store, CHANNEL_A, "+48 501 000 111", now=IN_SESSION)
    await store.write(lambda db: db.execute("UPDATE thread SET last_inbound_at = ? WHERE id = ?",
                                            (LAST_INBOUND, other)))
    await queue(store, anna, "do Anny")
    await queue(store, other, "do kogoś innego")
    graph = Graph((429, 131056, "(Business Account, Consumer Account) pair rate limit hit", None))
    s = Sender(store, graph.api(), owner="s", rate_per_second=1000, rng=random.Random(1))  # real Backoff
    started = s.clock()
    assert await s.run_once() == 2
    anna_row = await row(store, "SELECT state, next_attempt_at, error_code FROM outbox WHERE id = 1")
    assert anna_row["state"] == "queued" and anna_row["error_code"] == 131056
    assert anna_row["next_attempt_at"] - started >= 6
    assert (await row(store, "SELECT state FROM outbox WHERE id = 2")) == {"state": "sent"}


async def test_an_unknown_template_fails_the_row_and_asks_for_a_template_sync(store, anna):
    await queue(store, anna, "x")
    synced: list[bool] = []

    async def resync() -> None:
        synced.append(True)

    graph = Graph((404, 132001, "(#132001) Template name does not exist in the translation", "order_update pl_PL"))
    await sender(store, graph, on_unknown_template=resync).run_once()
    assert synced == [True]
    assert (await row(store, "SELECT state, error_code FROM outbox")) == {"state": "failed", "error_code": 132001}
