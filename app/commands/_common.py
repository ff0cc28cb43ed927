"""What every subcommand does first: load the config (with --config/--db), or explain why it cannot."""

from __future__ import annotations

import argparse
import os
import sys

from core.config import Config, ConfigError, Secrets, load_config, load_secrets
from core.logs import configure_logging


class CommandError(Exception):
    """A subcommand cannot go on; the message is for the person who ran it."""


def config_from(args: argparse.Namespace) -> Config:
    try:
        return load_config(getattr(args, "config", None), db=getattr(args, "db", None))
    except ConfigError as error:
        raise CommandError(str(error)) from None


def service_setup(args: argparse.Namespace) -> tuple[Config, Secrets]:
    """For the long-running commands that hold secrets (serve, sim): log to stderr, load the config and secrets."""
    configure_logging()
    config = config_from(args)
    try:
        return config, load_secrets(config)
    except ConfigError as error:
        raise CommandError(str(error)) from None


def agent_name(args: argparse.Namespace) -> str:
    return getattr(args, "agent", None) or os.environ.get("USER") or "agent"


def fail(message: str, code: int = 2) -> int:
    print(f"wabox: {message}", file=sys.stderr)
    return code
