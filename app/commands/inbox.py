"""`wabox` / `wabox inbox`: open the TUI on the configured database. Loads the config, never the secrets."""

from __future__ import annotations

import argparse
import asyncio

from app.commands._common import CommandError, agent_name, config_from, existing_db, open_store
from app.terminal_images import ask_terminal, terminal_asked
from core.agents import TeamError, signed_in


async def _check_agent(config, name: str) -> None:
    """Only a known, enabled agent signs in: their name is on every reply, note and assignment."""
    store = await open_store(config)
    try:
        await signed_in(store, name)
    except TeamError as error:
        raise CommandError(f"cannot sign in as {name!r}: {error}; see `wabox agents list`, or pass --agent NAME")
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    config = existing_db(config_from(args))
    asking = ask_terminal()  # answered while the rest imports
    try:
        asyncio.run(_check_agent(config, agent_name(args)))
        from app.wabox_app import WaboxApp  # Textual costs ~0.3 s to import: only when the inbox opens
    finally:
        asking.join()  # the terminal is back in its own mode whatever happens
    terminal_asked(asking)
    WaboxApp(config.db, agent=agent_name(args), quota=config.monthly_quota, media_dir=config.media_path,
             downloads_dir=config.downloads_dir, notify_command=config.notify_command, freeze_startup=True).run()
    return 0
