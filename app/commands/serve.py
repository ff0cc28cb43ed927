"""`wabox serve`: the webhook receiver plus the sender and periodic sync, for production."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from app.commands._common import CommandError, service_setup
from core.assignment import run_assigner
from core.asgi import Limits, serve_asgi, until_stopped
from core.config import Config, Secrets
from core.server import create_receiver
from core.service import background_tasks, media_hook
from core.store import Store

log = logging.getLogger("wabox.serve")


async def upsert_channels(config: Config) -> None:
    """The config's [[channels]] are the numbers we serve; the table lets every process read their names."""
    store = await Store.open(config.db)
    try:
        await store.write(lambda db: db.executemany(
            "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, updated_at)"
            " VALUES (?,?,?,?,?) ON CONFLICT(phone_number_id) DO UPDATE SET waba_id = excluded.waba_id,"
            " name = excluded.name, display_phone_number = excluded.display_phone_number",
            [(c.phone_number_id, c.waba_id, c.name, c.display_phone_number, int(time.time()))
             for c in config.channels]))
    finally:
        await store.close()


async def serve(config: Config, secrets: Secrets, host: str, port: int, *, sender: bool = True,
                limits: Limits = Limits()) -> None:
    await upsert_channels(config)
    if not config.channels:
        log.warning("no [[channels]] in the config: every webhook will be kept raw only (run `wabox connect`)")
    receiver = create_receiver(config.db, app_secret=secrets.app_secret.reveal(),
                               verify_token=secrets.verify_token.reveal(),
                               channels={c.phone_number_id for c in config.channels},
                               on_committed=media_hook(config, secrets) if sender else None,
                               read_timeout=limits.header_timeout)
    async with serve_asgi(receiver, host, port, log_level="info", limits=limits) as bound:
        log.info("receiving webhooks on http://%s:%d/webhook (database %s)", host, bound, config.db)
        tasks = [asyncio.create_task(job) for job in (background_tasks(config, secrets, config.db) if sender else [])]
        tasks.append(asyncio.create_task(_assign(config)))
        await until_stopped()
        log.info("stopping")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _assign(config: Config) -> None:
    """Auto-assignment and snooze wake-ups, on a connection of their own (the receiver's is for webhooks), on one
    `wabox serve` at a time (another takes over when it stops)."""
    store = await Store.open(config.db)
    try:
        async with store.one_host("wabox:assignment"):
            await run_assigner(store, config.assignment)
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    config, secrets = service_setup(args)
    missing = [name for name in ("app_secret", "verify_token") if not getattr(secrets, name)]
    if missing:
        raise CommandError("cannot receive webhooks without " + " and ".join(missing) + ": set $WABOX_APP_SECRET "
                           "and $WABOX_VERIFY_TOKEN, or put them in secrets.toml (mode 0600) beside the config file")
    if not secrets.access_token and not args.no_sender:
        log.warning("no access token ($WABOX_ACCESS_TOKEN): receiving only, nothing will be sent")
        args.no_sender = True
    runner_options = {}
    try:
        import uvloop
        runner_options["loop_factory"] = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(**runner_options) as runner:
        runner.run(serve(config, secrets, args.host, args.port, sender=not args.no_sender,
                         limits=Limits(header_timeout=args.read_timeout, max_connections=args.max_connections)))
    return 0
