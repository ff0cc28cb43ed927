"""Waking a reader the moment another process commits to the SQLite file, at no cost while nobody writes.

A WAL database only works between processes on one host (they share the -shm memory), so every commit, from any
process, is a write to the `-wal` file this kernel sees: inotify on the database's folder says so at once. The
database stays the truth — a wake-up only says "look now" (the reader then checks `PRAGMA data_version` and the
change log as before); where inotify is missing (not Linux) or fails, the reader polls as it did.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import struct
from pathlib import Path

log = logging.getLogger("wabox.wake")

_IN_MODIFY, _IN_MOVED_TO, _IN_CREATE, _IN_Q_OVERFLOW = 0x2, 0x80, 0x100, 0x4000
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then `len` bytes of name


class WalWatch:
    """Set when the database's write-ahead log changes (any process's commit, this one's too)."""

    def __init__(self, fd: int, names: frozenset[bytes]) -> None:
        self._fd, self._names = fd, names
        self._changed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._read)

    @classmethod
    def start(cls, db: Path) -> "WalWatch | None":
        """Watching `db`'s folder (the -wal file comes and goes with the last connection), or None if this
        system cannot."""
        try:
            libc = ctypes.CDLL(None, use_errno=True)  # this process's own libc: find_library would run ldconfig
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if fd < 0:
                raise OSError(ctypes.get_errno(), "inotify_init1")
            if libc.inotify_add_watch(fd, os.fsencode(db.parent), _IN_MODIFY | _IN_CREATE | _IN_MOVED_TO) < 0:
                error = ctypes.get_errno()
                os.close(fd)
                raise OSError(error, "inotify_add_watch")
        except (OSError, AttributeError) as error:  # AttributeError: a libc without inotify (macOS)
            log.info("no inotify (%s): changes are polled", error)
            return None
        return cls(fd, frozenset({os.fsencode(db.name), os.fsencode(db.name + "-wal")}))

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        offset = 0
        while offset + _EVENT.size <= len(data):
            _wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            name = data[offset + _EVENT.size:offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            if mask & _IN_Q_OVERFLOW or name in self._names:  # other files in the folder (logs, media): not ours
                self._changed.set()
                return

    async def wait(self, timeout: float) -> bool:
        """Until the log changes (True) or `timeout` seconds pass (False: the safety net)."""
        return await woken(self._changed, timeout)

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        os.close(self._fd)


async def woken(event: asyncio.Event, timeout: float) -> bool:
    """True as soon as `event` is set (and it is cleared for the next wake-up), False after `timeout` seconds."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        return False
    event.clear()
    return True
