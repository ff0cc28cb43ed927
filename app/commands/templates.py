"""`wabox templates`: the synced message templates (`--sync` asks the Graph API first)."""

from __future__ import annotations

import argparse
import asyncio
import time

from app.commands._common import REFUSED, CommandError, config_from, open_store
from app.commands._graph import graph_client, http_client
from app.commands.output import print_json, table
from core.cloudapi import CloudApiError
from core.templates import list_templates, sync_templates


async def _templates(args: argparse.Namespace) -> int:
    config = config_from(args)
    store = await open_store(config)
    try:
        if args.sync:
            wabas = {c.waba_id for c in config.channels} | {
                r["waba_id"] for r in await store.fetchall("SELECT DISTINCT waba_id FROM channel")}
            if not wabas:
                raise CommandError("no connected numbers to sync templates for (run `wabox connect`)", REFUSED)
            async with http_client() as http:
                try:
                    await sync_templates(store, graph_client(config, http), wabas, now=time.time())
                except CloudApiError as error:
                    raise CommandError(f"template sync failed: ({error.code}) {error.message}",
                                       REFUSED) from None
        found = await list_templates(store)
    finally:
        await store.close()
    if args.json:
        print_json([{"id": t.id, "waba_id": t.waba_id, "name": t.name, "language": t.language, "status": t.status,
                     "category": t.category, "parameter_format": t.parameter_format, "body": t.body,
                     "components": list(t.components)} for t in found])
        return 0
    print(table(["NAME", "LANGUAGE", "STATUS", "CATEGORY", "BODY"],
                [[t.name, t.language, t.status, t.category, t.body] for t in found], widths={4: 70}))
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_templates(args))
