"""Shared by the team commands (agents, teams, assign, saved-replies): run one coroutine on the database and turn
a refused name into a one-line error (exit 1)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from app.commands._common import REFUSED, CommandError, config_from, open_store
from core.agents import TeamError
from core.saved_replies import SavedReplyError


def with_store(args: argparse.Namespace, job: Callable[[Any], Awaitable[int]]) -> int:
    async def run() -> int:
        store = await open_store(config_from(args))
        try:
            return await job(store)
        except (TeamError, SavedReplyError) as error:
            raise CommandError(str(error), REFUSED) from None
        finally:
            await store.close()

    return asyncio.run(run())
