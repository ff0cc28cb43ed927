"""`wabox` / `wabox inbox`: open the TUI on the configured database. Loads the config, never the secrets."""

from __future__ import annotations

import argparse

from app.commands._common import agent_name, config_from, existing_db


def run(args: argparse.Namespace) -> int:
    config = existing_db(config_from(args))
    from app.screens.media import prepare_terminal_images
    from app.wabox_app import WaboxApp  # Textual costs ~0.4 s to import: only when the inbox opens

    prepare_terminal_images()
    WaboxApp(config.db, agent=agent_name(args), quota=config.monthly_quota, media_dir=config.media_path,
             downloads_dir=config.downloads_dir).run()
    return 0
