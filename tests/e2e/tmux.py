"""Drive a real terminal program under tmux: type keys, read the screen, wait for text to appear."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable


class Tmux:
    def __init__(self, command: list[str], *, width: int = 160, height: int = 48, env: dict[str, str] | None = None):
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed")
        self.name = f"wabox-e2e-{uuid.uuid4().hex[:8]}"
        # Under pytest the program inside the pane has been seen to read 80x24 instead of the pane's size:
        # COLUMNS/LINES pin what it sees to the pane we made.
        env = {"COLUMNS": str(width), "LINES": str(height), **(env or {})}
        exports = " ".join(f"{k}={_quote(v)}" for k, v in env.items())
        shell = f"{exports} exec {' '.join(_quote(part) for part in command)}".strip()
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), shell],
                       check=True)
        # Keep the pane after the program exits, so a crash's last screen can be read.
        subprocess.run(["tmux", "set-option", "-t", self.name, "remain-on-exit", "on"], check=False)

    def screen(self) -> str:
        result = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return result.stdout

    def send(self, *keys: str, literal: bool = False) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *(["-l"] if literal else []), *keys], check=True)

    def type(self, text: str) -> None:
        self.send(text, literal=True)

    def wait_for(self, predicate: str | Callable[[str], bool], timeout: float = 20.0) -> str:
        check = (lambda screen: predicate in screen) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {predicate!r}; the screen was:\n{screen}")

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"
