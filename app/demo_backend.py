"""The back half of `wabox demo`, run as its own process: the Cloud API simulator and `wabox serve`'s receiver and
sender, on loopback, sharing the demo database with the inbox.

It lives in a separate process for the same reason production does: the inbox process never holds the access
token or app secret (Textual's crash dump prints local variables). The secrets are made up here, fresh each run.

    python -m app.demo_backend --db PATH --port N --sim-port M [--customers]

It prints one line `ready receiver=<url> sim=<url>` once both listen, and stops on SIGTERM/SIGINT, or when its
standard input reaches end of file: the inbox holds the other end of that pipe, and the kernel closes it however
the inbox ends (quit, crash, SIGKILL, or SIGHUP when the terminal or SSH connection drops). So the back end never
outlives the inbox holding its ports.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sqlite3
import sys
from pathlib import Path

from core.asgi import serve_asgi, until_stopped
from core.assignment import run_assigner
from core.config import AssignmentRule, ChannelConfig, Config, Secret, Secrets
from core.demo_seed import DEMO_CHANNELS
from core.server import create_receiver
from core.service import background_tasks, media_hook
from core.simulator.app import create_simulator
from core.store import Store


def demo_config(db: Path, sim_port: int) -> Config:
    return Config(
        path=None, db=db, graph_url=f"http://127.0.0.1:{sim_port}/v23.0",
        channels=tuple(ChannelConfig(c.name, c.waba_id, c.phone_number_id, c.display_phone_number)
                       for c in DEMO_CHANNELS),
        media_dir=db.parent / "media",
    )


async def run(db: Path, port: int, sim_port: int, customers: bool) -> None:
    made_up = Secrets(app_secret=Secret(secrets.token_hex(16)), verify_token=Secret(secrets.token_hex(8)),
                      access_token=Secret("DEMO-" + secrets.token_hex(16)))
    channels = tuple(ChannelConfig(c.name, c.waba_id, c.phone_number_id, c.display_phone_number)
                     for c in DEMO_CHANNELS)
    download: dict = {}  # the media downloader needs the simulator's address, known only once it listens

    async def on_committed(messages) -> None:
        if "hook" in download:
            await download["hook"](messages)

    receiver = create_receiver(db, app_secret=made_up.app_secret.reveal(), verify_token=made_up.verify_token.reveal(),
                               channels={c.phone_number_id for c in channels}, on_committed=on_committed)
    # The receiver first: the simulator needs its URL to send webhooks to; the receiver needs nothing of the sim.
    async with serve_asgi(receiver, "127.0.0.1", port) as receiver_port:
        sim = create_simulator(
            app_secret=made_up.app_secret.reveal(), access_token=made_up.access_token.reveal(),
            webhook_url=f"http://127.0.0.1:{receiver_port}/webhook",
            phone_numbers=[{"id": c.phone_number_id, "waba_id": c.waba_id,
                            "display_phone_number": c.display_phone_number, "verified_name": c.name}
                           for c in channels],
        )
        _teach_the_seeded_world(sim.state.world, db)
        async with serve_asgi(sim, "127.0.0.1", sim_port) as bound_sim_port:
            config = demo_config(db, bound_sim_port)
            download["hook"] = media_hook(config, made_up)
            tasks = [asyncio.create_task(job) for job in background_tasks(config, made_up, db)]
            tasks.append(asyncio.create_task(_assign(db)))
            if customers:
                sim.state.world.customers_enabled = True
            print(f"ready receiver=http://127.0.0.1:{receiver_port} sim=http://127.0.0.1:{bound_sim_port}",
                  flush=True)
            await _first(until_stopped(), _until_parent_gone())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


# New and reopened conversations on the first number go to the support team, as a `[[assignment]]` rule would.
DEMO_RULES = (AssignmentRule(team="Wsparcie", channel=DEMO_CHANNELS[0].phone_number_id),)


async def _assign(db: Path) -> None:
    """As `wabox serve` does: rules applied, snoozes woken on time, team queues drained."""
    store = await Store.open(db)
    try:
        await run_assigner(store, DEMO_RULES)
    finally:
        await store.close()


async def _until_parent_gone() -> None:
    """Returns when standard input is closed: the parent that holds the pipe's other end has gone."""
    gone = asyncio.Event()

    class Watch(asyncio.Protocol):
        def connection_lost(self, exc: Exception | None) -> None:
            gone.set()

    await asyncio.get_running_loop().connect_read_pipe(Watch, sys.stdin)
    await gone.wait()


async def _first(*waits) -> None:
    tasks = [asyncio.create_task(w) for w in waits]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()


def _teach_the_seeded_world(world, db: Path) -> None:
    """The seeded customers wrote "before" the simulator started: give it their windows and names, so it answers
    replies to them the way Meta would (inside 24 h: accepted; after: 131047) and they can write back."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT t.channel, t.wa_id, t.last_inbound_at, c.name FROM thread t"
                            " LEFT JOIN contact c ON c.id = t.contact_id WHERE t.wa_id IS NOT NULL").fetchall()
    for channel, wa_id, last_inbound_at, name in rows:
        if last_inbound_at:
            world.last_inbound[(channel, wa_id)] = float(last_inbound_at)
        if name:
            world.names[wa_id] = name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.demo_backend")
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--sim-port", type=int, default=0)
    parser.add_argument("--customers", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("WABOX_LOG", "INFO"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(run(args.db, args.port, args.sim_port, args.customers))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
