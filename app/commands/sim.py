"""`wabox sim`: the Cloud API simulator on its own, for trying `wabox serve` against something that answers."""

from __future__ import annotations

import argparse
import asyncio
import logging

from app.commands._common import CommandError, fail, service_setup
from core.asgi import serve_asgi, until_stopped
from core.simulator import create_simulator


async def _run(args: argparse.Namespace, app_secret: str, access_token: str, numbers: list[dict] | None) -> None:
    sim = create_simulator(app_secret=app_secret, access_token=access_token, webhook_url=args.webhook_url,
                           phone_numbers=numbers)
    sim.state.world.customers_enabled = args.customers
    async with serve_asgi(sim, args.host, args.port, log_level="info") as port:
        logging.getLogger("wabox.sim").info(
            "Cloud API simulator on http://%s:%d/v23.0 (control API under /_sim/), webhooks to %s",
            args.host, port, args.webhook_url)
        await until_stopped()


def run(args: argparse.Namespace) -> int:
    try:
        config, secrets = service_setup(args)
    except CommandError as error:
        return fail(str(error))
    if not secrets.app_secret or not secrets.access_token:
        return fail("the simulator signs webhooks with $WABOX_APP_SECRET and accepts $WABOX_ACCESS_TOKEN: set both "
                    "(the same values `wabox serve` uses)")
    numbers = [{"id": c.phone_number_id, "waba_id": c.waba_id, "display_phone_number": c.display_phone_number,
                "verified_name": c.name} for c in config.channels] or None
    asyncio.run(_run(args, secrets.app_secret.reveal(), secrets.access_token.reveal(), numbers))
    return 0
