"""Hand-offs between the inbox and the agent: the agent's $EDITOR for a long reply, and a message's media saved
into the downloads folder.

The editor takes the terminal from Textual for as long as it runs and gives back what it produced. No process is
started on the server to "open" a file: an agent over SSH would never see it. Images are drawn in the terminal
instead (app/screens/media.py); everything else is saved, under a name wabox makes safe.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from textual.app import App

MAX_NAME_BYTES = 120  # well under every filesystem's 255, with room for "-12" on a clash
_ALLOWED = set("._- ()+,@")


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


def safe_file_name(wanted: str | None, fallback: str) -> str:
    """A customer's file name made safe: its last path part only, no control or format characters, nothing but
    letters, digits and a few marks, no leading dot, and at most MAX_NAME_BYTES of UTF-8 (the extension kept)."""
    base = (wanted or "").replace("\\", "/").split("/")[-1]
    cleaned = "".join(ch if (ch.isalnum() or ch in _ALLOWED) and not unicodedata.category(ch).startswith("C")
                      else "_" for ch in base)
    cleaned = cleaned.strip(" ._") or fallback
    stem, dot, ext = cleaned.rpartition(".")
    if not dot or not stem or len(ext) > 10:
        stem, ext = cleaned, ""
    suffix = f".{ext}" if ext else ""
    room = MAX_NAME_BYTES - len(suffix.encode())
    stem = stem.encode()[:room].decode(errors="ignore").rstrip(" ._") or "file"
    return stem + suffix


def save_copy(source: Path, folder: Path, wanted: str | None) -> Path:
    """Copy `source` into `folder` (made 0700 if missing) under a safe name that never replaces a file there."""
    folder = folder.expanduser()
    if not folder.is_dir():
        folder.mkdir(parents=True, mode=0o700)
    name = safe_file_name(wanted, source.name)
    stem, suffix = (name.rsplit(".", 1)[0], "." + name.rsplit(".", 1)[1]) if "." in name else (name, "")
    for n in range(1000):
        target = folder / (name if n == 0 else f"{stem}-{n}{suffix}")
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never over a file
        except FileExistsError:
            continue
        with os.fdopen(descriptor, "wb") as out, source.open("rb") as data:
            shutil.copyfileobj(data, out)
        return target
    raise FileExistsError(f"too many files named {name} in {folder}")
