"""The simulator speaks Meta's wire format: its webhooks parse with core.webhooks and have the fixtures' shapes;
its Graph answers validate like Meta's."""

from __future__ import annotations

import json

import httpx
import pytest

from core import webhooks
from core.cloudapi import CloudApiError
from core.graph_messages import addressed, text_message
from core.store import Store
from tests.core.sim_helpers import NUMBER_A, TOKEN, running_loop

FIXTURE_FOR = {"text": "text.json", "image": "image_with_caption.json", "audio": "audio_voice.json",
               "video": "video.json", "document": "document.json", "sticker": "sticker.json",
               "location": "location.json", "contacts": "contacts.json", "interactive": "interactive_button_reply.json",
               "button": "button_template_reply.json", "reaction": "reaction.json", "unsupported": "unsupported.json",
               "system": "system_number_change.json"}


def shape(value, depth: int = 0):
    """The keys (not values) of a JSON document, recursively; lists by their first item."""
    if isinstance(value, dict):
        return {k: shape(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0], depth + 1)] if value else []
    return type(value).__name__


async def received(db) -> list[dict]:
    store = await Store.open(db)
    try:
        return [json.loads(r["body"]) for r in await store.fetchall("SELECT body FROM raw_event ORDER BY id")]
    finally:
        await store.close()


@pytest.mark.parametrize("kind", sorted(FIXTURE_FOR))
async def test_each_inbound_type_has_the_fixtures_shape_and_parses(tmp_path, fixtures_dir, kind):
    spec = {"from": "48601234567", "type": kind, "caption": "c", "text": "t", "new_wa_id": "48609876543",
            "message_id": "wamid.X", "emoji": "❤️", "context": "wamid.Q" if kind in ("interactive", "button") else None}
    async with running_loop(tmp_path) as loop:
        result = await loop.inbound(phone_number_id=NUMBER_A, **spec)
        assert result["delivered"] is True
        [body] = await received(loop.db)
    fixture = json.loads((fixtures_dir / FIXTURE_FOR[kind]).read_text())
    ours, theirs = body["entry"][0]["changes"][0]["value"], fixture["entry"][0]["changes"][0]["value"]
    assert set(ours) == set(theirs)                          # contacts present exactly when Meta sends them
    mine, meta = ours["messages"][0], theirs["messages"][0]
    assert set(meta) <= set(mine)                              # every field Meta sends, we send
    if isinstance(meta[kind], dict):
        assert set(meta[kind]) - {"url"} <= set(mine[kind])   # (the optional media url aside)
    else:
        assert set(shape(meta[kind])[0]) >= set(shape(mine[kind])[0])
    [event] = webhooks.parse(body)
    assert isinstance(event, webhooks.InboundMessage) and event.wamid == result["wamid"]
    assert event.type == kind


async def test_an_unknown_type_is_delivered_and_parsed_as_unsupported(tmp_path):
    async with running_loop(tmp_path) as loop:
        await loop.inbound(phone_number_id=NUMBER_A, **{"from": "48601234567"}, type="hologram")
        [body] = await received(loop.db)
    [event] = webhooks.parse(body)
    assert (event.type, event.raw_type) == ("unsupported", "hologram")


async def test_status_webhooks_have_the_fixtures_shape(tmp_path, fixtures_dir):
    async with running_loop(tmp_path) as loop:
        await loop.inbound(phone_number_id=NUMBER_A, **{"from": "48601234567"}, text="hej")
        await loop.api().send(NUMBER_A, addressed(text_message("odp"), to="+48601234567", callback_data="outbox:1"))
        import asyncio
        for _ in range(100):
            bodies = await received(loop.db)
            if len(bodies) == 4:
                break
            await asyncio.sleep(0.02)
    statuses = {b["entry"][0]["changes"][0]["value"]["statuses"][0]["status"]: b for b in bodies[1:]}
    assert set(statuses) == {"sent", "delivered", "read"}
    for name in ("sent", "delivered", "read"):
        fixture = json.loads((fixtures_dir / f"status_{name}.json").read_text())
        meta = fixture["entry"][0]["changes"][0]["value"]["statuses"][0]
        ours = statuses[name]["entry"][0]["changes"][0]["value"]["statuses"][0]
        assert set(meta) - {"conversation"} <= set(ours)  # conversation: gone from v24.0 on, as here
        assert ours["biz_opaque_callback_data"] == "outbox:1"
        [event] = webhooks.parse(statuses[name])
        assert event.status == name


@pytest.mark.parametrize("body, code", [
    ({"to": "+48601234567", "type": "template", "template": {"name": "nope", "language": {"code": "pl_PL"}}}, 132001),
    ({"to": "+48601234567", "type": "template", "template": {"name": "spring_sale", "language": {"code": "pl_PL"}}},
     132001),  # pending: not sendable
    ({"to": "+48601234567", "type": "template", "template": {"name": "order_update", "language": {"code": "pl_PL"},
      "components": [{"type": "body", "parameters": [{"type": "text", "text": "a"}]}]}}, 132000),
    ({"to": "+48601234567", "type": "template", "template": {"name": "order_update", "language": {"code": "pl_PL"},
      "components": [{"type": "body", "parameters": [{"type": "text", "text": "a\nb"}, {"type": "text", "text": "c"}]}]}},
     132018),
    ({"to": "+48601230000", "type": "text", "text": {"body": "x"}}, 131026),
    ({"to": "+48512345678", "type": "text", "text": {"body": "x"}}, 131047),  # never wrote: no window
    ({"to": "+48601234567", "type": "image", "image": {"id": "404"}}, 131053),
    ({"to": "+48601234567", "type": "text", "text": {"body": "x" * 4097}}, 100),
])
async def test_graph_validates_like_meta(tmp_path, body, code):
    async with running_loop(tmp_path) as loop:
        await loop.inbound(phone_number_id=NUMBER_A, **{"from": "48601234567"}, text="hej")
        with pytest.raises(CloudApiError) as caught:
            await loop.api().send(NUMBER_A, body)
        assert caught.value.code == code


async def test_a_bad_token_is_190_and_media_needs_the_token(tmp_path):
    async with running_loop(tmp_path) as loop:
        response = await loop.http.post(f"{loop.graph_url}/{NUMBER_A}/messages", json={"messaging_product": "whatsapp"},
                                        headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401 and response.json()["error"]["code"] == 190
        media_id = await loop.api().upload_media(NUMBER_A, b"\xff\xd8" + bytes(100), "image/jpeg", "a.jpg")
        info = await loop.api().media_info(media_id)
        assert (await loop.http.get(info.url)).status_code == 401  # without the token: no file
        with_token = await loop.http.get(info.url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert with_token.content == b"\xff\xd8" + bytes(100)
        with pytest.raises(CloudApiError) as caught:
            await loop.api().upload_media(NUMBER_A, bytes(6 * 2**20), "image/jpeg", "big.jpg")
        assert caught.value.code == 131053


async def test_faults_produce_the_configured_codes(tmp_path):
    async with running_loop(tmp_path) as loop:
        await loop.inbound(phone_number_id=NUMBER_A, **{"from": "48601234567"}, text="hej")
        await loop.http.post(f"{loop.sim_url}/_sim/faults", json={"rates": {"429": 1.0}})
        with pytest.raises(CloudApiError) as caught:
            await loop.api().send(NUMBER_A, addressed(text_message("x"), to="+48601234567"))
        assert caught.value.code == 130429 and caught.value.retryable
        await loop.http.delete(f"{loop.sim_url}/_sim/faults")
        assert (await loop.api().send(NUMBER_A, addressed(text_message("x"), to="+48601234567"))).wamid.startswith("wamid.")


async def test_webhooks_are_retried_until_the_receiver_answers(tmp_path):
    """A receiver that is down when the customer writes still gets the message once it is back."""
    from core.asgi import serve_asgi
    from core.simulator.app import create_simulator
    from tests.conftest import APP_SECRET
    from tests.core.receiver_process import free_port
    from core.server import create_receiver
    port = free_port()
    sim = create_simulator(app_secret=APP_SECRET, access_token=TOKEN, webhook_url=f"http://127.0.0.1:{port}/webhook")
    async with serve_asgi(sim) as sim_port, httpx.AsyncClient() as http:
        result = (await http.post(f"http://127.0.0.1:{sim_port}/_sim/inbound",
                                  json={"from": "48601234567", "text": "czy ktoś tam jest?"})).json()
        assert result["delivered"] is False
        receiver = create_receiver(tmp_path / "w.db", app_secret=APP_SECRET, verify_token="v", channels=None)
        async with serve_asgi(receiver, port=port):
            import asyncio
            store = await Store.open(tmp_path / "w.db")
            try:
                for _ in range(100):
                    if await store.scalar("SELECT count(*) FROM message"):
                        break
                    await asyncio.sleep(0.05)
                assert await store.scalar("SELECT wamid FROM message") == result["wamid"]
            finally:
                await store.close()
