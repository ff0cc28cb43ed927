"""Inbound media: downloaded as soon as the webhook is committed (Meta's URL lives 5 minutes, the id 7 days),
into the media directory under a name wabox makes — never the customer's file name — and checked by sha256."""

from __future__ import annotations

import base64
import hashlib
import logging
import mimetypes
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


async def download_inbound(store: Store, api: CloudApi, media_dir: Path, message: InboundMessage) -> Path | None:
    """Fetch one message's media and record where it lives; on failure log and leave the row as it was."""
    if not message.media_id:
        return None
    private_dir(media_dir)  # 0700: nobody else can reach a file in it, even while it is being written
    dest = media_dir / f"{uuid.uuid4().hex}{extension_for(message.mime_type)}"
    try:
        info = await api.media_info(message.media_id)
        size = await api.download_media(info.url, dest, max_bytes=INBOUND_MAX)
    except CloudApiError as error:
        log.warning("media %s of %s not downloaded: %s", message.media_id, message.wamid, error)
        return None
    dest.chmod(0o600)  # and 0600 should it ever be copied or the folder opened up
    digest = hashlib.sha256(dest.read_bytes()).digest()
    if not sha256_matches(digest, message.sha256 or info.sha256):
        log.error("media %s of %s failed its sha256 check; discarded", message.media_id, message.wamid)
        dest.unlink(missing_ok=True)
        return None

    def record(db) -> None:
        row = db.execute("UPDATE message SET media_path = ?, file_size = ? WHERE channel = ? AND wamid = ?"
                         " RETURNING thread_id", (str(dest), size, message.channel, message.wamid)).fetchone()
        if row:
            log_changes(db, [("message", row["thread_id"])])

    await store.write(record)
    return dest
