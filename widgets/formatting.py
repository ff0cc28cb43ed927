"""Small, pure formatting shared by the widgets: times, sizes, session badges. No customer text here."""

from __future__ import annotations

from datetime import datetime, timezone

from core import policy


def short_time(ts: int | None, now: float) -> str:
    """`14:05` today, `Mon 14:05` this week, else `2026-11-02` (local time)."""
    if ts is None:
        return ""
    when, today = datetime.fromtimestamp(ts).astimezone(), datetime.fromtimestamp(now).astimezone()
    if when.date() == today.date():
        return when.strftime("%H:%M")
    if 0 < (today.date() - when.date()).days < 7:
        return when.strftime("%a %H:%M")
    return when.strftime("%Y-%m-%d")


def exact_time(ts: int | None) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def session_badge(last_inbound_at: int | None, now: float) -> str:
    """`23h`, `12m`, `45s` or `closed`: what is left of the 24-hour session."""
    return policy.format_session_left(policy.session_left(last_inbound_at, now))


def session_left(last_inbound_at: int | None, now: float) -> str | None:
    """`23h`, `12m`, `45s` left of the customer's 24-hour session, or None when it expired."""
    seconds = policy.session_left(last_inbound_at, now)
    return policy.format_session_left(seconds) if seconds > 0 else None


def file_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"
