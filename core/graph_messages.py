"""The `/messages` request bodies (reference §2), built here and nowhere else.

core.sending queues them (the sender adds `to` and the callback data before CloudApi.send posts them); tests send
them to the simulator. No httpx here, so the inbox can queue a reply without importing the HTTP client.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


def text_message(text: str) -> dict:
    """A text; WhatsApp shows a link preview when it carries an http(s) URL."""
    return {"type": "text", "text": {"body": text, "preview_url": bool(re.search(r"https?://", text))}}


def media_message(kind: str, *, media_id: str | None = None, caption: str | None = None,
                  filename: str | None = None, voice: bool = False) -> dict:
    """image/audio/video/document/sticker; what a kind cannot carry (a caption on audio) is left out."""
    content: dict[str, Any] = {"id": media_id} if media_id else {}
    if caption and kind in ("image", "video", "document"):
        content["caption"] = caption
    if filename and kind == "document":
        content["filename"] = filename
    if voice and kind == "audio":
        content["voice"] = True
    return {"type": kind, kind: content}


def template_message(name: str, language: str, parameters: Sequence[str] = (), *,
                     parameter_names: Sequence[str] | None = None) -> dict:
    """A template with its body parameters, positional or (with `parameter_names`) named."""
    names = list(parameter_names) if parameter_names is not None else [None] * len(parameters)
    body = [{"type": "text", "text": value, **({"parameter_name": name} if name else {})}
            for name, value in zip(names, parameters, strict=True)]
    return {"type": "template", "template": {"name": name, "language": {"code": language},
                                             "components": [{"type": "body", "parameters": body}] if body else []}}


def addressed(message: dict, *, to: str | None = None, reply_to: str | None = None,
              callback_data: str | None = None) -> dict:
    """A message made ready to POST: the product, the recipient, the quoted message and our callback data."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if to:
        body["to"] = to
    body.update(message)
    if reply_to:
        body["context"] = {"message_id": reply_to}
    if callback_data:
        body["biz_opaque_callback_data"] = callback_data
    return body
