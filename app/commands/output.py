"""How the scripting commands print: JSON for scripts, aligned neutralised text for people."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from core import policy
from core.model import ChatMessage, Direction, ThreadSummary
from core.text import one_line


def print_json(value: object) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def session_state(t: ThreadSummary, now: float) -> str:
    """The customer's 24-hour window: "active" or "expired" — never "closed", which is the thread's status."""
    return "active" if t.session_expires_at is not None and t.session_expires_at > now else "expired"


def session_text(t: ThreadSummary, now: float) -> str:
    left = policy.session_left(t.last_inbound_at, now)
    return f"{policy.format_session_left(left)} left" if left > 0 else "expired"


def thread_json(t: ThreadSummary, now: float | None = None) -> dict:
    """`status` is the thread's (open/closed); `session` the customer's 24-hour window (active/expired)."""
    return {"id": t.id, "status": t.status.value,
            "session": session_state(t, time.time() if now is None else now), "channel": t.channel,
            "contact": {"id": t.contact_id, "name": t.contact_name, "wa_id": t.wa_id, "user_id": t.user_id,
                        "e164": t.e164},
            "owner": t.owner, "team": t.team, "session_expires_at": t.session_expires_at,
            "last_inbound_at": t.last_inbound_at, "last_message_at": t.last_message_at,
            "last_direction": t.last_direction.value if t.last_direction else None,
            "preview": t.preview, "unread": t.unread, "has_attachment": t.has_attachment}


def message_json(m: ChatMessage) -> dict:
    return {"id": m.id, "wamid": m.wamid, "direction": m.direction.value, "type": m.type.value,
            "raw_type": m.raw_type, "text": m.text, "timestamp": m.timestamp,
            "status": m.status.value if m.status else None,
            "status_history": [{"status": s.status.value, "timestamp": s.timestamp, "error_code": s.error_code,
                                "error_title": s.error_title, "error_details": s.error_details}
                               for s in m.status_history],
            "error": ({"code": m.error_code, "title": m.error_title, "details": m.error_details}
                      if m.error_code is not None else None),
            "context_wamid": m.context_wamid, "author": m.author,
            "media": ({"id": m.media_id, "mime_type": m.mime_type, "size": m.file_size, "file_name": m.file_name,
                       "sha256": m.sha256, "path": m.media_path} if m.media_id or m.media_path else None),
            "quarantined": m.quarantined, "quarantine_reason": m.quarantine_reason,
            "edited_at": m.edited_at, "revoked_at": m.revoked_at}


def message_text(m: ChatMessage) -> str:
    """The TEXT column of `wabox thread`: the body, what the customer did to it, and Meta's reason if any."""
    if m.quarantined:
        return "[quarantined: " + (m.quarantine_reason or "") + "]"
    marks = (["[deleted by the customer]"] if m.revoked_at else []) + [m.text or m.file_name or ""]
    marks += ["[edited]"] if m.edited_at else []
    marks += [f"[{m.error_reason}]"] if m.direction is Direction.IN and m.error_reason else []
    return " ".join(p for p in marks if p)


def when(ts: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], widths: dict[int, int] | None = None) -> str:
    """Columns padded to their widest cell (capped per column by `widths`); every cell already neutralised."""
    cells = [[one_line(str(c), (widths or {}).get(i)) for i, c in enumerate(row)] for row in rows]
    size = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(size[i]) for i, h in enumerate(headers)).rstrip()]
    lines += ["  ".join(c.ljust(size[i]) for i, c in enumerate(r)).rstrip() for r in cells]
    return "\n".join(lines)
