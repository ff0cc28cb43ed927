"""The rules, as pure functions: the 24-hour session (F7), the monthly quota (F8), the messaging-limit tier (F3),
media limits (F12) and quarantine (F16). No I/O and no clock: callers pass `now`."""

from __future__ import annotations

import mimetypes
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

from core.model import SESSION_SECONDS

# --- the 24-hour customer service window ------------------------------------------------------------------


def session_expires_at(last_inbound_at: int | None) -> int | None:
    """24 h from the customer's last message, by Meta's timestamp."""
    return None if last_inbound_at is None else last_inbound_at + SESSION_SECONDS


# Free-form replies stop this long before Meta's 24 h: a reply queued at 23:59:50 reaches Meta after the window
# closed and fails with 131047 (the clocks, the outbox and the network all take their time).
FREEFORM_MARGIN = 5 * 60


def session_open(last_inbound_at: int | None, now: float) -> bool:
    """Meta's window: what counts for conversations."""
    expires = session_expires_at(last_inbound_at)
    return expires is not None and now < expires


def freeform_open(last_inbound_at: int | None, now: float) -> bool:
    """May a free-form (non-template) reply be sent now? Until FREEFORM_MARGIN before the window closes."""
    expires = session_expires_at(last_inbound_at)
    return expires is not None and now < expires - FREEFORM_MARGIN


def session_left(last_inbound_at: int | None, now: float) -> int:
    """Seconds of the session left; 0 when it is closed."""
    expires = session_expires_at(last_inbound_at)
    return 0 if expires is None else max(0, int(expires - now))


def format_session_left(seconds: int) -> str:
    """The badge: "23h", "12m", "45s" or "closed" — the largest whole unit, rounded down."""
    if seconds <= 0:
        return "closed"
    if seconds >= 3600:
        return f"{seconds // 3600}h"
    if seconds >= 60:
        return f"{seconds // 60}m"
    return f"{seconds}s"


# --- the monthly conversation quota (F8) ------------------------------------------------------------------


def month_key(ts: float) -> str:
    return time.strftime("%Y-%m", time.gmtime(ts))


def next_month_start(ts: float) -> int:
    t = time.gmtime(ts)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return int(time.mktime((year, month, 1, 0, 0, 0, 0, 0, 0)) - time.timezone)


def conversation_needed(open_conversation_expires_at: int | None, now: float, session_is_open: bool,
                        is_template: bool) -> str | None:
    """Which conversation a business message starts, if any: "customer", "business", or None (already counted).

    Customer-initiated: everything sent during one 24-hour session counts once — the first business message in an
    open session starts a conversation that lasts 24 h. Business-initiated: each template sent outside an open
    session counts once. A free-form message outside a session is not allowed at all (the caller refuses it).
    """
    if session_is_open:
        if open_conversation_expires_at is not None and now < open_conversation_expires_at:
            return None
        return "customer"
    return "business" if is_template else None


def conversation_end(expires_at: int, renewals: list[int]) -> int:
    """When a conversation ends: 24 h after it started, carried on while the customer keeps the session open (each
    customer message before the end moves it to 24 h after that message). `renewals` are sorted timestamps."""
    end = expires_at
    for at in renewals:
        if at >= end:
            break
        end = max(end, at + SESSION_SECONDS)
    return end


def quota_left(used: int, quota: int) -> int:
    return max(0, quota - used)


# --- the messaging-limit tier (F3) ------------------------------------------------------------------------

_TIERS = {"TIER_50": 50, "TIER_250": 250, "TIER_1K": 1000, "TIER_2K": 2000, "TIER_10K": 10_000,
          "TIER_100K": 100_000, "TIER_UNLIMITED": None}


def messaging_tier_limit(tier: str | None) -> int | None:
    """Distinct customers a number may reach with business-initiated messages in a rolling 24 h; None = no limit.

    An unknown tier is read as the lowest current one (250): refusing early beats being blocked by Meta."""
    if tier is None:
        return 250
    return _TIERS.get(tier.upper(), 250)


# --- media (reference §3.6) ------------------------------------------------------------------------------

MB = 1024 * 1024
MEDIA_LIMITS: dict[str, tuple[frozenset[str], int]] = {
    "audio": (frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg; codecs=opus"}), 16 * MB),
    "document": (frozenset({
        "text/plain", "application/pdf", "application/msword", "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"}), 100 * MB),
    "image": (frozenset({"image/jpeg", "image/png"}), 5 * MB),
    "sticker": (frozenset({"image/webp"}), 100 * 1024),
    "video": (frozenset({"video/mp4", "video/3gpp"}), 16 * MB),
}
ANIMATED_STICKER_MAX = 500 * 1024
INBOUND_MAX = 100 * MB


def _normal_mime(mime_type: str) -> str:
    base, _, params = mime_type.lower().partition(";")
    base = base.strip()
    if base == "audio/ogg" and "opus" in params:
        return "audio/ogg; codecs=opus"
    return base


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / 1024:.0f} KB"


def check_media(kind: str, mime_type: str, size: int, animated: bool = False) -> str | None:
    """None when WhatsApp takes this file as `kind`; otherwise the reason, for the agent."""
    if kind not in MEDIA_LIMITS:
        return f"{kind!r} is not a kind of media WhatsApp sends (image, audio, video, document, sticker)"
    types, limit = MEDIA_LIMITS[kind]
    mime = _normal_mime(mime_type)
    if mime not in types:
        if mime == "audio/ogg":
            return "audio/ogg is accepted only with the Opus codec (audio/ogg; codecs=opus)"
        return f"{mime} is not a type WhatsApp accepts for {kind} (use {', '.join(sorted(types))})"
    if kind == "sticker" and animated:
        limit = ANIMATED_STICKER_MAX
    if size > limit:
        return f"{kind} is {_size(size)}; WhatsApp takes at most {_size(limit)}"
    if size <= 0:
        return "the file is empty"
    return None


def kind_for_mime(mime_type: str) -> str | None:
    """Which kind an outbound file goes as (a webp goes as a sticker; any other accepted type by its family)."""
    mime = _normal_mime(mime_type)
    for kind in ("sticker", "image", "video", "audio", "document"):
        if mime in MEDIA_LIMITS[kind][0]:
            return kind
    return None


_EXTRA_TYPES = {".opus": "audio/ogg; codecs=opus", ".ogg": "audio/ogg; codecs=opus", ".webp": "image/webp",
                ".m4a": "audio/mp4", ".amr": "audio/amr", ".aac": "audio/aac", ".3gp": "video/3gpp",
                ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}


def guess_mime(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    return _EXTRA_TYPES.get(suffix) or mimetypes.guess_type(str(path))[0] or "application/octet-stream"


# --- quarantine (F16) -------------------------------------------------------------------------------------

_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
_SHORTENERS = {"bit.ly", "tinyurl.com", "t.co", "goo.gl", "is.gd", "cutt.ly", "ow.ly", "rb.gy", "shorturl.at",
               "tiny.cc", "s.id"}
_LOOKALIKE = re.compile(r"paypa1|faceb00k|g00gle|app1e|amaz0n|micr0soft|whatsapp-(?:verify|support|security)"
                        r"|-login\.|login-|verify-account|secure-update|wa-verify", re.IGNORECASE)
_IP_HOST = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _looks_like_card(text: str) -> bool:
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits):
            return True
    return False


def _phishy(url: str) -> bool:
    target = url if "://" in url else "http://" + url
    try:
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
    except ValueError:
        return True  # a URL even urllib cannot read is not one to click
    return bool(
        "@" in parts.netloc or _IP_HOST.match(host) or host.startswith("xn--") or ".xn--" in host
        or host in _SHORTENERS or _LOOKALIKE.search(url)
    )


def quarantine_reason(text: str) -> str | None:
    """Why this inbound text should stay veiled until an agent reveals it, or None."""
    if not text:
        return None
    if _looks_like_card(text):
        return "looks like a payment card number"
    if any(_phishy(m.group(0)) for m in _URL.finditer(text)):
        return "looks like a phishing link"
    return None
