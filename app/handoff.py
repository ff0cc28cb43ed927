"""Hand-offs from the inbox to the agent's files: saving a message's media into the downloads folder.

No process is started on the server to "open" a file: an agent over SSH would never see it. Images are drawn in
the terminal instead (app/screens/media.py); everything else is saved, under a name wabox makes safe.
"""

from __future__ import annotations

import os
import shutil
import unicodedata
from pathlib import Path

MAX_NAME_BYTES = 120  # well under every filesystem's 255, with room for "-12" on a clash
_ALLOWED = set("._- ()+,@")


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
