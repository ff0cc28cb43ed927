"""The shared vocabulary: what the store returns and the UI draws.

Frozen dataclasses and StrEnums only; no I/O. Every enum has UNKNOWN so that a value written by a newer
wabox (or sent by Meta tomorrow) reads back without a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

SESSION_SECONDS = 24 * 60 * 60


class _Lenient(StrEnum):
    @classmethod
    def _missing_(cls, value: object) -> "_Lenient":
        return cls("unknown")


class Direction(_Lenient):
    IN = "in"
    OUT = "out"
    UNKNOWN = "unknown"


class ThreadStatus(_Lenient):
    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class DeliveryStatus(_Lenient):
    """Outbound delivery state. Order matters: statuses only move forward (see RANK)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    UNKNOWN = "unknown"


# Forward-only ranking. `failed` beats `sent` but never `delivered`/`read`/`played`
# (Meta delivers statuses at least once and unordered; a late failure after delivery is history only).
STATUS_RANK: dict[DeliveryStatus, int] = {
    DeliveryStatus.UNKNOWN: -1,
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.FAILED: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.READ: 4,
    DeliveryStatus.PLAYED: 5,
}


def status_moves_forward(current: DeliveryStatus | None, new: DeliveryStatus) -> bool:
    """True when `new` should replace `current` as the message's state."""
    if current is None:
        return True
    return STATUS_RANK.get(new, -1) > STATUS_RANK.get(current, -1)


class MessageType(_Lenient):
    """Meta's message types, plus our own `note` (internal, never sent) and `unsupported`."""

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    INTERACTIVE = "interactive"
    BUTTON = "button"
    REACTION = "reaction"
    ORDER = "order"
    SYSTEM = "system"
    TEMPLATE = "template"
    NOTE = "note"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"


MEDIA_TYPES = frozenset(
    {MessageType.IMAGE, MessageType.AUDIO, MessageType.VIDEO, MessageType.DOCUMENT, MessageType.STICKER}
)


@dataclass(frozen=True, slots=True)
class Channel:
    """A connected WhatsApp number."""

    phone_number_id: str
    name: str
    waba_id: str
    display_phone_number: str
    verified_name: str | None = None
    quality_rating: str | None = None
    messaging_limit_tier: str | None = None
    health: str = "unknown"  # ok | token_invalid | unknown
    last_webhook_at: int | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    name: str
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    owner: str | None = None
    wa_id: str | None = None
    user_id: str | None = None
    e164: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    """One row of the thread list: everything needed to draw it, nothing more."""

    id: int
    channel: str  # phone_number_id
    status: ThreadStatus
    contact_id: int | None
    contact_name: str
    wa_id: str | None
    user_id: str | None
    e164: str | None
    owner: str | None
    team: str | None
    last_message_at: int | None
    last_inbound_at: int | None  # Meta's timestamp of the customer's last real message
    last_direction: Direction | None
    preview: str
    unread: int  # for the agent who reads it (per-agent read state)
    has_attachment: bool = False
    snoozed_until: int | None = None  # core.snooze.UNTIL_REPLY: until the customer writes

    @property
    def session_expires_at(self) -> int | None:
        return None if self.last_inbound_at is None else self.last_inbound_at + SESSION_SECONDS


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: DeliveryStatus
    timestamp: int
    error_code: int | None = None
    error_title: str | None = None
    error_details: str | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    id: int
    thread_id: int
    channel: str
    wamid: str | None
    direction: Direction
    type: MessageType
    text: str  # body or caption; "" when none. Untrusted for inbound.
    timestamp: int
    status: DeliveryStatus | None = None  # outbound only
    error_code: int | None = None
    error_title: str | None = None
    error_details: str | None = None
    context_wamid: str | None = None  # quoted message, or the message a reaction is for
    author: str | None = None  # agent who wrote an outbound message or note
    raw_type: str | None = None  # Meta's type as received, for `unsupported` placeholders
    media_id: str | None = None
    mime_type: str | None = None
    file_size: int | None = None
    file_name: str | None = None
    media_path: str | None = None  # where the downloaded file lives (a name wabox made)
    media_error: str | None = None  # why the last download failed
    media_retrying: bool = False  # wabox serve tries that download again later
    sha256: str | None = None
    quarantined: bool = False
    quarantine_reason: str | None = None
    payload: str | None = None  # the raw JSON object as received or sent
    retryable: bool = False  # failed, and sent through our outbox: `y` can queue it again
    status_history: tuple[StatusChange, ...] = field(default=())
    edited_at: int | None = None  # the customer edited it: `text` is the newest version
    revoked_at: int | None = None  # the customer deleted it for everyone

    @property
    def error_reason(self) -> str | None:
        """Meta's reason in one line: why a send failed, or what was wrong with a message Meta passed on."""
        if self.error_code is None and not self.error_title:
            return None
        title = (self.error_title or "").removeprefix(f"(#{self.error_code})").strip()  # Graph repeats the code
        reason = " — ".join(p for p in (title, self.error_details) if p) or "no reason given"
        return f"({self.error_code}) {reason}" if self.error_code is not None else reason


@dataclass(frozen=True, slots=True)
class Template:
    id: str
    waba_id: str
    name: str
    language: str
    status: str
    category: str
    parameter_format: str
    components: tuple[dict, ...]  # Meta's component objects, as synced

    @property
    def body(self) -> str:
        for component in self.components:
            if str(component.get("type", "")).upper() == "BODY":
                return str(component.get("text", ""))
        return ""


@dataclass(frozen=True, slots=True)
class View:
    """A sidebar entry: built-in or custom. `filters` maps a filter name to its value(s)."""

    key: str  # "open", "closed", "sent", "mine", "unassigned", or "custom:<id>"
    name: str
    filters: dict = field(default_factory=dict)
    builtin: bool = True


@dataclass(frozen=True, slots=True)
class Draft:
    """What an agent has typed for one thread and not sent yet (issue 7): kept per thread and per agent.

    `client_key` is the key its next send is queued under: a second submit of the same compose, even from another
    process or after a crash between queueing and clearing the draft, finds the first one instead of a copy."""

    thread_id: int
    client_key: str
    mode: str = "reply"  # reply | note
    reply_text: str = ""
    note_text: str = ""
    target_thread: int | None = None  # the chosen channel: the contact's thread on another of our numbers
    attachment: str | None = None  # a file picked for this thread and not sent yet
    caption: str = ""

    @property
    def written(self) -> bool:
        """Something the agent would lose: the thread list marks these threads."""
        return bool(self.reply_text.strip() or self.note_text.strip() or self.attachment)

    @property
    def empty(self) -> bool:
        return not (self.written or self.target_thread is not None or self.mode != "reply")


@dataclass(frozen=True, slots=True)
class Activity:
    """Something agents did to a thread (assigned, closed, reopened, snoozed, woke), shown among its messages."""

    id: int
    thread_id: int
    kind: str
    agent: str | None
    detail: str
    at: int
