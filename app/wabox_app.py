"""The Textual App: opens the store in its own loop, hands an Inbox to the inbox screen, closes it on the way out.

The TUI never loads secrets: it reads and writes the database only; `wabox serve` does the talking to Meta.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from app.gc_pauses import collect_and_freeze
from app.screens.commands import RecordCommands, ThreadCommands
from app.screens.inbox import InboxScreen
from app.thread_state import ThreadDrafts
from core import presence
from core.config import DEFAULT_DOWNLOADS
from core.inbox import Inbox
from core.store.db import Store, is_postgres

# styles.tcss lives at the top of the repository (the package is installed editable).
CSS_FILE = Path(__file__).resolve().parent.parent / "styles.tcss"
log = logging.getLogger("wabox.inbox")


class WaboxApp(App[None]):
    CSS_PATH = CSS_FILE
    TITLE = "wabox"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {ThreadCommands, RecordCommands}  # key bindings come from get_system_commands below
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", tooltip="Leave wabox", id="app.quit", priority=True),
                Binding("q", "quit", "Quit", show=False)]

    def __init__(self, db_path: Path | str, *, agent: str, clock: Callable[[], float] = time.time,
                 quota: int = 1000, media_dir: Path | None = None, title_note: str | None = None,
                 downloads_dir: Path = DEFAULT_DOWNLOADS, notify_command: str | None = None,
                 freeze_startup: bool = False) -> None:
        super().__init__()
        self.freeze_startup = freeze_startup  # the program's own run only (app/gc_pauses.py)
        self.notify_command = notify_command  # the config's hook for notifications (app/team_ui.py runs it)
        self.db_path = db_path if isinstance(db_path, str) and is_postgres(db_path) else Path(db_path)
        self.agent = agent
        self.clock = clock
        self.quota = quota
        self.media_dir = media_dir if media_dir is not None else (
            self.db_path.parent / "media" if isinstance(self.db_path, Path) else Path("media"))
        self.downloads_dir = downloads_dir
        self.sub_title = f"{agent}" + (f" · {title_note}" if title_note else "")
        self.store: Store | None = None
        self.inbox: Inbox | None = None
        self.drafts: ThreadDrafts | None = None

    async def on_mount(self) -> None:
        self.store = await Store.open(self.db_path)
        self.inbox = Inbox(self.store, agent=self.agent, clock=self.clock, quota=self.quota)
        self.drafts = ThreadDrafts(self.inbox)
        screen = InboxScreen(self.inbox, media_dir=self.media_dir, drafts=self.drafts,
                             downloads_dir=self.downloads_dir)
        await self.push_screen(screen)
        if self.freeze_startup:
            self.run_worker(collect_and_freeze(screen, screen.ready), group="gc", exit_on_error=False)

    async def on_unmount(self) -> None:
        for worker in list(self.workers):
            worker.cancel()
        if self.drafts is not None and self.store is not None:
            try:
                await self.drafts.flush()  # the last keystrokes before quitting are kept too
            except Exception:
                log.exception("drafts could not be saved on the way out")
        if self.store is not None:
            try:
                await presence.viewing(self.store, self.agent, None, now=int(self.clock()))  # gone: not viewing
            except Exception:
                log.exception("presence could not be cleared on the way out")
            await self.store.close()
            self.store = None

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every shown, enabled binding is also a palette command: the keys are described in one place."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        every = screen.all_bindings if isinstance(screen, InboxScreen) else screen.active_bindings  # not the footer's
        for active in every.values():
            binding = active.binding
            if binding.show and active.enabled and binding.action not in seen:
                seen.add(binding.action)
                yield SystemCommand(binding.description, binding.tooltip or binding.description,
                                    partial(self.run_action, binding.action, active.node))
