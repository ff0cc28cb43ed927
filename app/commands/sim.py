"""`wabox sim`: the Cloud API simulator on its own, for trying `wabox serve` and `wabox connect` against something
that answers. It hosts the config's [[channels]], or the default numbers named in `wabox sim --help`."""

from __future__ import annotations

import argparse
import asyncio
import logging

from app.commands._common import CommandError, service_setup
from core.asgi import serve_asgi, until_stopped
from core.simulator.app import create_simulator


async def _run(args: argparse.Namespace, app_secret: str, access_token: str, numbers: list[dict] | None) -> None:
    sim = create_simulator(app_secret=app_secret, access_token=access_token, webhook_url=args.webhook_url,
                           phone_numbers=numbers)
    sim.state.world.customers_enabled = args.customers
    async with serve_asgi(sim, args.host, args.port, log_level="info") as port:
        graph_url = f"http://{args.host}:{port}/v23.0"
        for number in sim.state.world.numbers.values():
            print(f"hosting WABA {number['waba_id']} phone number {number['id']} (+{number['display_phone_number']})",
                  flush=True)
        print(f"Graph API on {graph_url} (control API under /_sim/), webhooks to {args.webhook_url}; try: "
              f"WABOX_GRAPH_URL={graph_url} wabox connect --waba-id {number['waba_id']} "
              f"--phone-number-id {number['id']}", flush=True)
        logging.getLogger("wabox.sim").info("simulator ready on %s", graph_url)
        await until_stopped()


def run(args: argparse.Namespace) -> int:
    config, secrets = service_setup(args)
    if not secrets.app_secret or not secrets.access_token:
        raise CommandError("the simulator signs webhooks with $WABOX_APP_SECRET and accepts $WABOX_ACCESS_TOKEN: set "
                           "both (the same values `wabox serve` uses)")
    numbers = [{"id": c.phone_number_id, "waba_id": c.waba_id,
                "display_phone_number": "".join(d for d in c.display_phone_number if d.isdigit()),
                "verified_name": c.name} for c in config.channels] or None
    asyncio.run(_run(args, secrets.app_secret.reveal(), secrets.access_token.reveal(), numbers))
    return 0
