"""`wabox connect`: check each number with the Graph API and add it to the config's [[channels]]."""

from __future__ import annotations

import argparse
import asyncio
import time

from app.commands._common import REFUSED, CommandError, config_from, open_store
from app.commands._graph import graph_client, http_client
from core.channels import ConnectRefused, connect
from core.config import config_path
from core.text import printable


async def _connect(args: argparse.Namespace) -> int:
    config = config_from(args)
    config_file = config.path or config_path(args.config)
    async with http_client() as http:
        api = graph_client(config, http)
        store = await open_store(config, create=True)  # connecting is how a production database comes to be
        try:
            added = await connect(store, api, config, config_file, args.waba_id, args.phone_number_id,
                                  now=time.time(), name=args.name)
        except ConnectRefused as refused:
            raise CommandError(str(refused), REFUSED) from None
        finally:
            await store.close()
    for channel in added:
        print(printable(f"connected {channel.phone_number_id} {channel.display_phone_number} "
                        f"({channel.name}) of WABA {channel.waba_id}"))
    print(printable(f"written to {config_file}; restart `wabox serve` to receive and send on the new numbers"))
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_connect(args))
