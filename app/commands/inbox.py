"""`wabox` / `wabox inbox`: open the TUI on the configured database. Loads the config, never the secrets."""

from __future__ import annotations

import argparse

from app.commands._common import CommandError, agent_name, config_from, fail


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from(args)
    except CommandError as error:
        return fail(str(error))
    from app.screens.media import prepare_terminal_images
    from app.wabox_app import WaboxApp  # Textual costs ~0.4 s to import: only when the inbox opens

    prepare_terminal_images()
    WaboxApp(config.db, agent=agent_name(args), quota=config.monthly_quota, media_dir=config.media_path,
             downloads_dir=config.downloads_dir).run()
    return 0
