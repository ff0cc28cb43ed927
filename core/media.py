"""Inbound media: downloaded as soon as the webhook is committed (Meta's URL lives 5 minutes, the id 7 days),
into the media directory under a name wabox makes — never the customer's file name — and checked by sha256."""

from __future__ import annotations

import base64
import hashlib
import logging
import mimetypes
import time
import uuid
from pathlib import Path

from core.cloudapi import CloudApi, CloudApiError
from core.policy import INBOUND_MAX
from core.private import private_dir
from core.store.db import Store, log_changes
from core.webhooks import InboundMessage

log = logging.getLogger("wabox.media")
_EXTENSIONS = {"audio/ogg": ".ogg", "image/jpeg": ".jpg", "image/webp": ".webp", "text/plain": ".txt",
               "audio/mpeg": ".mp3", "video/mp4": ".mp4"}


def extension_for(mime_type: str | None) -> str:
    base = (mime_type or "").split(";")[0].strip().lower()
    return _EXTENSIONS.get(base) or mimetypes.guess_extension(base) or ".bin"


def sha256_matches(data_sha256: bytes, given: str | None) -> bool:
    """Meta's sha256 is base64 in webhooks (hex in some copies): accept either encoding."""
    if not given:
        return True
    return given in (base64.b64encode(data_sha256).decode(), data_sha256.hex())


RETRY_FIRST_SECONDS = 30
RETRY_FACTOR = 4
RETRY_ATTEMPTS = 6  # 30 s, 2 min, 8 min, 32 min, ~2 h: well inside the 7 days Meta keeps a media id


def retry_delay(attempts: int) -> int | None:
    """Seconds to wait after the `attempts`-th failure, or None when there will be no more tries."""
    if attempts >= RETRY_ATTEMPTS:
        return None
    return RETRY_FIRST_SECONDS * RETRY_FACTOR ** (attempts - 1)


async def download_inbound(store: Store, api: CloudApi, media_dir: Path, message: InboundMessage, *,
                           now: float | None = None) -> Path | None:
    """Fetch one message's media right after its webhook is committed."""
    if not message.media_id:
        return None
    return await download_media(store, api, media_dir, channel=message.channel, wamid=message.wamid,
                                media_id=message.media_id, mime_type=message.mime_type, sha256=message.sha256,
                                now=time.time() if now is None else now)


async def download_media(store: Store, api: CloudApi, media_dir: Path, *, channel: str, wamid: str, media_id: str,
                         mime_type: str | None, sha256: str | None, now: float) -> Path | None:
    """Fetch and check one media file and record where it lives; on failure record why, and when to try again
    (a transient failure, with backoff) or that it will not be tried again (Meta refused it, or it was altered)."""
    private_dir(media_dir)  # 0700: nobody else can reach a file in it, even while it is being written
    dest = media_dir / f"{uuid.uuid4().hex}{extension_for(mime_type)}"
    try:
        info = await api.media_info(media_id)
        size = await api.download_media(info.url, dest, max_bytes=INBOUND_MAX)
    except CloudApiError as error:
        log.warning("media %s of %s not downloaded: %s", media_id, wamid, error)
        dest.unlink(missing_ok=True)
        await _failed(store, channel, wamid, str(error), retry=error.retryable, now=now)
        return None
    dest.chmod(0o600)  # and 0600 should it ever be copied or the folder opened up
    digest = hashlib.sha256(dest.read_bytes()).digest()
    if not sha256_matches(digest, sha256 or info.sha256):
        log.error("media %s of %s failed its sha256 check; discarded", media_id, wamid)
        dest.unlink(missing_ok=True)
        await _failed(store, channel, wamid, "the file did not match its sha256: discarded", retry=False, now=now)
        return None

    def record(db) -> None:
        row = db.execute("UPDATE message SET media_path = ?, file_size = ?, media_error = NULL,"
                         " media_retry_at = NULL WHERE channel = ? AND wamid = ? RETURNING thread_id",
                         (str(dest), size, channel, wamid)).fetchone()
        if row:
            log_changes(db, [("message", row["thread_id"])])

    await store.write(record)
    return dest


async def _failed(store: Store, channel: str, wamid: str, reason: str, *, retry: bool, now: float) -> None:
    def record(db) -> None:
        found = db.execute("SELECT media_attempts FROM message WHERE channel = ? AND wamid = ?",
                           (channel, wamid)).fetchone()
        if found is None:
            return
        attempts = found["media_attempts"] + 1
        delay = retry_delay(attempts) if retry else None
        row = db.execute("UPDATE message SET media_error = ?, media_attempts = ?, media_retry_at = ?"
                         " WHERE channel = ? AND wamid = ? RETURNING thread_id",
                         (reason[:500], attempts, int(now) + delay if delay is not None else None, channel,
                          wamid)).fetchone()
        log_changes(db, [("message", row["thread_id"])])

    await store.write(record)


async def retry_due(store: Store, api: CloudApi, media_dir: Path, *, now: float) -> int:
    """Try again every failed download whose time has come; returns how many were tried."""
    due = await store.fetchall("SELECT channel, wamid, media_id, mime_type, sha256 FROM message"
                               " WHERE media_retry_at IS NOT NULL AND media_retry_at <= ? AND media_path IS NULL"
                               " ORDER BY media_retry_at LIMIT 50", (int(now),))
    for row in due:
        await download_media(store, api, media_dir, channel=row["channel"], wamid=row["wamid"],
                             media_id=row["media_id"], mime_type=row["mime_type"], sha256=row["sha256"], now=now)
    return len(due)
