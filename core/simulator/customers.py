"""Simulated customers: inbound messages of every type in Meta's shape, and a cast who write and answer."""

from __future__ import annotations

import asyncio

from core.simulator.webhooks_out import WebhookSender, envelope
from core.simulator.world import ANSWERS, CAST, OPENERS, World

# Message types that open or renew the 24-hour window (the same conservative reading wabox takes).
_SESSION_TYPES = {"text", "image", "audio", "video", "document", "sticker", "location", "contacts", "interactive",
                  "button", "order"}
_MEDIA = {"image": ("image/jpeg", 24_000), "audio": ("audio/ogg; codecs=opus", 12_000),
          "video": ("video/mp4", 200_000), "document": ("application/pdf", 40_000), "sticker": ("image/webp", 20_000)}


def inbound_message(world: World, spec: dict) -> tuple[dict, str, dict | None]:
    """(message object, wamid, contacts entry or None) for a control-API request like
    {"from": "48601234567", "name": "Anna", "type": "image", "caption": "…"}; "content" overrides the body."""
    wa_id = str(spec["from"])
    kind = str(spec.get("type", "text"))
    wamid = world.wamid(wa_id)
    content = spec.get("content")
    if content is None:
        content = _content(world, kind, spec, spec.get("phone_number_id") or next(iter(world.numbers)))
    message: dict = {"from": wa_id, "from_user_id": world.bsuid(wa_id), "id": wamid,
                     "timestamp": str(int(world.clock())), "type": kind}
    if content is not None:
        message[kind] = content
    if kind == "unsupported":
        message["errors"] = [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                              "error_data": {"details": "Message type is currently not supported."}}]
    if spec.get("context"):
        message["context"] = {"from": spec.get("context_from", ""), "id": spec["context"]}
    if spec.get("referral"):
        message["referral"] = spec["referral"]
    contacts = None
    if kind != "system":  # Meta sends no contacts block with a number change
        name = spec.get("name") or world.names.get(wa_id) or f"+{wa_id}"
        contacts = {"profile": {"name": name}, "wa_id": wa_id, "user_id": world.bsuid(wa_id)}
    return message, wamid, contacts


def _content(world: World, kind: str, spec: dict, phone_number_id: str) -> dict | list | None:
    if kind == "text":
        return {"body": str(spec.get("text", ""))}
    if kind in _MEDIA:
        mime, size = _MEDIA[kind]
        mime = spec.get("mime_type", mime)
        item = world.store_media(spec.get("data", b"") or world.rng.randbytes(int(spec.get("size", size))), mime,
                                 phone_number_id)
        body: dict = {"mime_type": mime, "sha256": item.sha256_b64, "id": item.id}
        if spec.get("caption") and kind in ("image", "video", "document"):
            body["caption"] = spec["caption"]
        if kind == "document":
            body["filename"] = spec.get("filename", "dokument.pdf")
        if kind == "audio":
            body["voice"] = bool(spec.get("voice", True))
        if kind == "sticker":
            body["animated"] = bool(spec.get("animated", False))
        return body
    if kind == "location":
        return {"latitude": spec.get("latitude", 54.352), "longitude": spec.get("longitude", 18.6466),
                "name": spec.get("place", "Przystań"), "address": spec.get("address", "Gdańsk")}
    if kind == "contacts":
        return [{"name": {"formatted_name": spec.get("card_name", "Ewa Mazur"), "first_name": "Ewa"},
                 "phones": [{"phone": spec.get("card_phone", "+48 601 555 123"), "type": "CELL"}]}]
    if kind == "interactive":
        return {"type": "button_reply", "button_reply": {"id": spec.get("reply_id", "yes"),
                                                         "title": spec.get("text", "Tak")}}
    if kind == "button":
        return {"payload": spec.get("payload", "confirm"), "text": spec.get("text", "Potwierdzam")}
    if kind == "reaction":
        body = {"message_id": spec.get("message_id", "")}
        if spec.get("emoji"):  # no emoji: the reaction was taken back
            body["emoji"] = spec["emoji"]
        return body
    if kind == "order":
        return {"catalog_id": "1", "text": spec.get("text", ""), "product_items": [
            {"product_retailer_id": "sku-1", "quantity": 1, "item_price": 99.0, "currency": "PLN"}]}
    if kind == "system":
        new = str(spec.get("new_wa_id", ""))
        return {"body": f"{spec.get('name', 'Customer')} changed from {spec['from']} to {new}", "wa_id": new,
                "user_id": world.bsuid(new), "previous_user_id": world.bsuid(str(spec["from"])),
                "type": "user_changed_number"}
    if kind == "unsupported":
        return {"type": spec.get("unsupported_type", "poll_creation")}
    return {"note": "a type the simulator has never heard of either"}


async def deliver_inbound(world: World, sender: WebhookSender, spec: dict) -> dict:
    phone_number_id = spec.get("phone_number_id") or next(iter(world.numbers))
    number = world.numbers.get(phone_number_id)
    if number is None:
        raise ValueError(f"unknown phone_number_id {phone_number_id}")
    message, wamid, contact = inbound_message(world, {**spec, "phone_number_id": phone_number_id,
                                                      "context_from": number["display_phone_number"]})
    world.remember(wamid, phone_number_id, str(spec["from"]), "in", message["type"])
    if message["type"] in _SESSION_TYPES:
        world.last_inbound[(phone_number_id, str(spec["from"]))] = world.clock()
    body = envelope(number, contacts=[contact] if contact else None, messages=[message])
    delivered = await sender.deliver_now(body)
    if not delivered:
        sender.schedule(body)  # keep trying in the background, as Meta would
    return {"wamid": wamid, "delivered": delivered}


class Customers:
    """Now and then a customer writes; a customer the business wrote to answers after a few seconds."""

    def __init__(self, world: World, sender: WebhookSender) -> None:
        self.world, self.sender = world, sender

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.world.customer_interval * self.world.rng.uniform(0.5, 1.5))
            if self.world.customers_enabled:
                name, wa_id = self.world.rng.choice(CAST)
                number = self.world.rng.choice(list(self.world.numbers))
                await deliver_inbound(self.world, self.sender, {"phone_number_id": number, "from": wa_id,
                                                                "name": name, "type": "text",
                                                                "text": self.world.rng.choice(OPENERS)})

    def answer_later(self, phone_number_id: str, wa_id: str) -> None:
        if not self.world.customers_enabled or wa_id not in self.world.names:
            return

        async def answer() -> None:
            await asyncio.sleep(self.world.rng.uniform(3, 8))
            await deliver_inbound(self.world, self.sender, {"phone_number_id": phone_number_id, "from": wa_id,
                                                            "type": "text", "text": self.world.rng.choice(ANSWERS)})
        task = asyncio.get_running_loop().create_task(answer())
        self.sender._tasks.add(task)
        task.add_done_callback(self.sender._tasks.discard)
