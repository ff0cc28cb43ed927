"""Hand-offs to the operating system: the agent's $EDITOR for a long reply (media hand-offs belong here too).

Each takes the terminal from Textual for as long as the other program runs and gives back what it produced.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from textual.app import App


class HandoffFailed(Exception):
    """The other program could not be started; the message says why, for the agent."""


def edit_text(app: App, text: str) -> str:
    """`text` as the agent left it in $VISUAL / $EDITOR (vi if neither is set)."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".txt", delete=False, encoding="utf-8") as handle:
        handle.write(text)
        path = Path(handle.name)
    try:
        with app.suspend():
            subprocess.run([*shlex.split(editor), str(path)], check=False)
        return path.read_text(encoding="utf-8").rstrip("\n")
    except Exception as error:  # headless (tests) or no terminal to hand over
        raise HandoffFailed(f"Cannot start the editor: {error}") from error
    finally:
        path.unlink(missing_ok=True)
