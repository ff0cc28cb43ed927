"""What every subcommand does first: load the config (with --config/--db), open the database, or explain why not."""

from __future__ import annotations

import argparse
import os
from core.store.db import database_errors

from core.config import Config, ConfigError, Secrets, load_config, load_secrets
from core.logs import configure_logging

REFUSED = 1  # the rules, Meta or the Graph API said no; or it failed
USAGE = 2    # fix the command line, the config or the database path first


class CommandError(Exception):
    """A subcommand cannot go on; the message is for the person who ran it, `code` is the exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def config_from(args: argparse.Namespace) -> Config:
    try:
        return load_config(args.config, db=args.db)
    except ConfigError as error:
        raise CommandError(str(error)) from None


def existing_db(config: Config) -> Config:
    """The reading commands never create a database: a mistyped --db would show an empty inbox and look fine."""
    if isinstance(config.db, str):  # PostgreSQL: the server says whether the database exists
        return config
    if not config.db.is_file():
        raise CommandError(f"no database at {config.db}: check --db, $WABOX_DB or the config's db "
                           "(`wabox serve` and `wabox connect` create it)")
    return config


async def open_store(config: Config, *, create: bool = False):
    """The store at config.db (which must exist unless `create`), or a one-line reason it cannot be opened."""
    from core.store import Store

    if not create:
        existing_db(config)
    try:
        return await Store.open(config.db)
    except database_errors() as error:
        raise CommandError(f"{config.db}: {error}") from None


def service_setup(args: argparse.Namespace) -> tuple[Config, Secrets]:
    """For the long-running commands that hold secrets (serve, sim): log to stderr, load the config and secrets."""
    configure_logging()
    config = config_from(args)
    try:
        return config, load_secrets(config)
    except ConfigError as error:
        raise CommandError(str(error)) from None


def agent_name(args: argparse.Namespace) -> str:
    return args.agent or os.environ.get("USER") or "agent"
