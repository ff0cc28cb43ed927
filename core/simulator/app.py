"""A stand-in for Meta's Cloud API on loopback (F25): the Graph paths wabox calls, signed webhooks to the receiver,
simulated customers, and a control API for demos and tests.

    app = create_simulator(app_secret=..., access_token=..., webhook_url="http://127.0.0.1:8080/webhook")

Control API:
    POST /_sim/inbound    {"from": "48601234567", "name": "Anna", "type": "text", "text": "hi", "phone_number_id": …}
                          any type: image/audio/video/document/sticker (caption, filename, voice, size),
                          location, contacts, interactive, button, reaction (message_id, emoji; none = removed),
                          order, system (new_wa_id), unsupported (unsupported_type), or any other name;
                          "content" gives the type's object verbatim; "context" quotes a wamid.
                          -> {"wamid": "...", "delivered": true}
    GET  /_sim/outbound   what the business sent, in order: [{"phone_number_id", "wamid", "to", "at", "body"}]
    POST /_sim/faults     {"rates": {"500": 0.2, "429": 0.1, "hang": 0.05, "400": 0.02}, "latency": 0.0,
                           "hang_seconds": 30}; DELETE clears them
    POST /_sim/customers  {"enabled": true, "interval": 20}
    POST /_sim/window     {"phone_number_id", "wa_id", "at"} sets a customer's last message time
    GET  /_sim/health
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.simulator.customers import Customers, deliver_inbound
from core.simulator.graph import Graph, Recipient
from core.simulator.webhooks_out import WebhookSender, envelope
from core.simulator.world import World

def create_simulator(*, app_secret: str, access_token: str, webhook_url: str, clock: Callable[[], float] = time.time,
                     seed: int = 0, phone_numbers: list[dict] | None = None, templates: list[dict] | None = None,
                     status_delays: tuple[float, float, float] = (0.05, 0.3, 1.0)) -> Starlette:
    world = World(clock=clock, seed=seed, phone_numbers=phone_numbers, templates=templates,
                  status_delays=status_delays)
    sender = WebhookSender(webhook_url, app_secret)
    customers = Customers(world, sender)

    def on_accepted(number: dict, recipient: Recipient, wamid: str, body: dict) -> None:
        """What Meta does after a 200: statuses over the next second or so, then the customer may answer."""
        kind = body.get("type")
        wa_id = recipient.wa_id
        contact = {"profile": {"name": world.names.get(wa_id, f"+{wa_id}")}, "wa_id": wa_id,
                   "user_id": world.bsuid(wa_id)}
        addressed = {"recipient_user_id": recipient.user_id} if recipient.user_id else {"recipient_id": wa_id}
        if kind == "reaction" and not world.can_react_to(body["reaction"]["message_id"], number["id"], wa_id):
            failed = {"id": wamid, "status": "failed", "timestamp": str(int(world.clock())), **addressed,
                      "errors": [{"code": 131009, "title": "Parameter value is not valid",
                                  "message": "Parameter value is not valid",
                                  "error_data": {"details": "Message to react to was not found, is older than 30 "
                                                            "days or is a reaction"}}]}
            sender.schedule(envelope(number, statuses=[failed]), world.status_delays[0])
            return
        steps = ["sent"] if kind == "reaction" else (
            ["sent", "delivered"] if wa_id in world.read_receipts_off else ["sent", "delivered", "read"])
        in_window = world.window_open(number["id"], wa_id)
        pricing = {"billable": not in_window, "pricing_model": "PMP",
                   "type": "free_customer_service" if in_window else "regular",
                   "category": "service" if in_window else "utility"}
        for step, delay in zip(steps, world.status_delays):
            status: dict = {"id": wamid, "status": step, "timestamp": str(int(world.clock() + delay)), **addressed}
            if body.get("biz_opaque_callback_data"):
                status["biz_opaque_callback_data"] = body["biz_opaque_callback_data"]
            if step in ("sent", "delivered"):
                status["pricing"] = pricing
            sender.schedule(envelope(number, contacts=[contact], statuses=[status]), delay)
        if kind in ("text", "template", *("image", "audio", "video", "document")):
            customers.answer_later(number["id"], wa_id)

    graph = Graph(world, access_token, on_accepted)

    async def inbound(request: Request) -> Response:
        spec = await request.json()
        if not isinstance(spec, dict) or not spec.get("from"):
            return JSONResponse({"error": "give at least {\"from\": \"<wa_id>\"}"}, status_code=400)
        try:
            return JSONResponse(await deliver_inbound(world, sender, spec))
        except ValueError as error:
            return JSONResponse({"error": str(error)}, status_code=400)

    async def outbound(request: Request) -> Response:
        return JSONResponse(world.outbound)

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            world.faults.rates, world.faults.latency = {}, 0.0
        else:
            spec = await request.json()
            world.faults.rates = {str(k): float(v) for k, v in (spec.get("rates") or {}).items()}
            world.faults.latency = float(spec.get("latency", 0.0))
            world.faults.hang_seconds = float(spec.get("hang_seconds", world.faults.hang_seconds))
        return JSONResponse({"rates": world.faults.rates, "latency": world.faults.latency})

    async def set_customers(request: Request) -> Response:
        spec = await request.json()
        world.customers_enabled = bool(spec.get("enabled", True))
        world.customer_interval = float(spec.get("interval", world.customer_interval))
        return JSONResponse({"enabled": world.customers_enabled, "interval": world.customer_interval})

    async def window(request: Request) -> Response:
        spec = await request.json()
        world.last_inbound[(str(spec["phone_number_id"]), str(spec["wa_id"]))] = float(spec["at"])
        return JSONResponse({"ok": True})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "outbound": len(world.outbound), "webhooks_delivered": sender.delivered})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sender.start()
        task = asyncio.create_task(customers.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await sender.stop()

    routes = [
        Route("/_sim/inbound", inbound, methods=["POST"]),
        Route("/_sim/outbound", outbound, methods=["GET"]),
        Route("/_sim/faults", faults, methods=["POST", "DELETE"]),
        Route("/_sim/customers", set_customers, methods=["POST"]),
        Route("/_sim/window", window, methods=["POST"]),
        Route("/_sim/health", health, methods=["GET"]),
        Route("/_media/{token}", graph.download, methods=["GET"]),
        Route("/{version}/{node}/messages", graph.messages, methods=["POST"]),
        Route("/{version}/{node}/media", graph.upload, methods=["POST"]),
        Route("/{version}/{node}/message_templates", graph.templates, methods=["GET"]),
        Route("/{version}/{node}/phone_numbers", graph.phone_numbers, methods=["GET"]),
        Route("/{version}/{node}", graph.node, methods=["GET"]),
        Route("/{version}/{node}", graph.delete, methods=["DELETE"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.world = world
    app.state.customers = customers
    return app
