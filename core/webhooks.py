"""Meta's webhooks, pure: signature check and parsing into typed events. No I/O.

Parsing is lenient (reference §5): unknown keys are ignored, optional ones may be missing, every entry/change/
message/status is visited, and an unknown message type becomes an `unsupported` message carrying its raw JSON.
Bytes from the network go through `loads`, which makes text storable: a lone surrogate (valid JSON, invalid
UTF-8) becomes U+FFFD.
Only an unusable envelope raises ParseError.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any

SIGNATURE_PREFIX = "sha256="
_HEX64 = re.compile(r"[0-9a-f]{64}")

# Types whose content we understand; anything else is kept as `unsupported` with raw_type = Meta's name.
KNOWN_TYPES = frozenset({"text", "image", "audio", "video", "document", "sticker", "location", "contacts",
                         "interactive", "button", "reaction", "order", "system", "unsupported", "edit", "revoke"})
MEDIA_KINDS = frozenset({"image", "audio", "video", "document", "sticker"})


_SURROGATE = re.compile("[\ud800-\udfff]")
# Where json.loads can get one from: a \uD800-\uDFFF escape, UTF-8 bytes of a surrogate (it decodes with
# "surrogatepass"), or a UTF-16/32 body (NUL bytes)
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]|\x00")


def loads(raw: bytes) -> Any:
    """json.loads, with every string (keys too) made valid Unicode: JSON may escape a lone surrogate ("\\ud83d"),
    which SQLite and every UTF-8 encoder refuse, so it becomes U+FFFD here, once, instead of failing later."""
    payload = json.loads(raw)
    if not _MAYBE_SURROGATE.search(raw):
        return payload  # nothing in these bytes can have decoded to a surrogate: skip the walk
    stack = [payload]
    while stack:  # iterative: json.loads accepts nesting deeper than Python's recursion limit allows to walk
        node = stack.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = _valid(item)
                elif isinstance(item, (dict, list)):
                    stack.append(item)
        elif isinstance(node, dict):
            if any(not key.isascii() and _SURROGATE.search(key) for key in node):
                fixed = {_valid(key): value for key, value in node.items()}
                node.clear()
                node.update(fixed)
            for key, item in node.items():
                if isinstance(item, str):
                    node[key] = _valid(item)
                elif isinstance(item, (dict, list)):
                    stack.append(item)
    return _valid(payload) if isinstance(payload, str) else payload


def _valid(text: str) -> str:
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


class ParseError(ValueError):
    """The body is not a WhatsApp webhook we can read at all (it is still kept raw)."""


def sign(raw: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 header value Meta would send for these exact bytes."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify_signature(raw: bytes, header: str | None, secret: str) -> bool:
    """Constant-time check over the exact bytes received; malformed headers are refused before comparing."""
    if not header or not secret or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header[len(SIGNATURE_PREFIX):]
    if not _HEX64.fullmatch(given):
        return False
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)


@dataclass(frozen=True, slots=True)
class Customer:
    wa_id: str | None
    user_id: str | None
    name: str | None


@dataclass(frozen=True, slots=True)
class MessageError:
    code: int | None
    title: str | None
    details: str | None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    channel: str  # phone_number_id that received it
    waba_id: str | None
    wamid: str
    customer: Customer
    timestamp: int
    type: str  # our type: Meta's known type, or "unsupported"
    raw_type: str  # Meta's type (or unsupported subtype) as sent
    text: str  # body / caption / the human-readable gist; byte-exact where Meta sent text
    context_wamid: str | None = None
    media_id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    media_url: str | None = None
    file_name: str | None = None
    voice: bool = False
    animated: bool = False
    forwarded: bool = False
    referral: dict | None = None
    new_wa_id: str | None = None  # system user_changed_number
    new_user_id: str | None = None  # system user_changed_number / user_changed_user_id: the BSUID from now on
    previous_user_id: str | None = None  # ... and the one it replaces (these notices may have no sender at all)
    original_wamid: str | None = None  # edit / revoke: the customer's message they change
    error: MessageError | None = None  # the first of the message's own errors[] (131051 unsupported, 131026, …)
    payload: dict = field(default_factory=dict)  # the message object as received


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    channel: str
    wamid: str
    status: str  # sent | delivered | read | played | failed | (unknown, kept as history)
    timestamp: int
    recipient_id: str | None = None
    callback_data: str | None = None
    error_code: int | None = None
    error_title: str | None = None
    error_details: str | None = None
    pricing: dict | None = None
    conversation: dict | None = None


@dataclass(frozen=True, slots=True)
class ChannelError:
    """A value-level `errors[]` entry: a problem with the account or the app, not one message."""

    channel: str | None
    waba_id: str | None
    code: int | None
    title: str | None
    message: str | None
    details: str | None


@dataclass(frozen=True, slots=True)
class OtherChange:
    """A change for a field we do not act on (template status, quality, account updates): logged, kept raw."""

    waba_id: str | None
    field: str
    value: dict


Event = InboundMessage | StatusUpdate | ChannelError | OtherChange


def parse(payload: Any) -> list[Event]:
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ParseError("not a webhook body: no entry[] list")
    events: list[Event] = []
    for entry in _dicts(payload["entry"]):
        waba_id = _str(entry.get("id"))
        for change in _dicts(entry.get("changes")):
            if not isinstance(change.get("value"), dict):
                continue
            value = change["value"]
            name = str(change.get("field") or "")
            if name != "messages":
                events.append(OtherChange(waba_id, name, value))
                continue
            events.extend(_parse_messages_value(value, waba_id))
    return events


def _parse_messages_value(value: dict, waba_id: str | None) -> list[Event]:
    channel = _str(_dict(value.get("metadata")).get("phone_number_id"))
    events: list[Event] = []
    contacts = [Customer(_str(c.get("wa_id")) or None, _str(c.get("user_id")) or None,
                         _str(_dict(c.get("profile")).get("name"))) for c in _dicts(value.get("contacts"))]
    for error in _dicts(value.get("errors")):
        events.append(_channel_error(error, channel, waba_id))
    if channel is None:
        if _dicts(value.get("messages")) or _dicts(value.get("statuses")):
            raise ParseError("messages or statuses without metadata.phone_number_id")
        return events
    for message in _dicts(value.get("messages")):
        if _str(message.get("id")):
            events.append(_inbound(message, channel, waba_id, contacts))
    for status in _dicts(value.get("statuses")):
        if _str(status.get("id")):
            events.append(_status(status, channel))
    return events


def _sender(m: dict, contacts: list[Customer]) -> Customer:
    """Who sent `m`: `from`/`from_user_id`, completed from the value's contacts[] (wa_id, BSUID, profile name).

    contacts[] may carry the BSUID the message lacks; a message with no sender at all takes the one contact
    of its value, if there is exactly one."""
    wa_id, user_id = _str(m.get("from")) or None, _str(m.get("from_user_id")) or None
    match = [c for c in contacts if (wa_id and c.wa_id == wa_id) or (user_id and c.user_id == user_id)]
    if not match and not wa_id and not user_id and len(contacts) == 1:
        match = contacts
    contact = match[0] if match else Customer(None, None, None)
    return Customer(wa_id or contact.wa_id, user_id or contact.user_id, contact.name)


def _inbound(m: dict, channel: str, waba_id: str | None, contacts: list[Customer]) -> InboundMessage:
    customer = _sender(m, contacts)
    raw_type = _str(m.get("type")) or "unknown"
    content = m.get(raw_type)
    body = content if isinstance(content, dict) else {}
    context = m.get("context") if isinstance(m.get("context"), dict) else {}
    fields: dict[str, Any] = {}
    kind = raw_type if raw_type in KNOWN_TYPES else "unsupported"
    text = ""
    if raw_type == "text":
        text = _str(body.get("body")) or ""
    elif raw_type in MEDIA_KINDS:
        text = _str(body.get("caption")) or ""
        fields = dict(media_id=_str(body.get("id")), mime_type=_str(body.get("mime_type")),
                      sha256=_str(body.get("sha256")), media_url=_str(body.get("url")),
                      file_name=_str(body.get("filename")), voice=body.get("voice") is True,
                      animated=body.get("animated") is True)
    elif raw_type == "location":
        text = " · ".join(p for p in (_str(body.get("name")), _str(body.get("address"))) if p)
    elif raw_type == "contacts":
        cards = content if isinstance(content, list) else []
        text = ", ".join(_str(_dict(c.get("name")).get("formatted_name")) or "?" for c in _dicts(cards))
    elif raw_type == "interactive":
        reply = _dict(body.get(_str(body.get("type")) or ""))
        text = " — ".join(p for p in (_str(reply.get("title")), _str(reply.get("description"))) if p) \
            or _str(reply.get("body")) or ""
        if _str(body.get("type")) == "nfm_reply":
            text = _flow_fields(reply.get("response_json")) or _str(reply.get("body")) or "Flow response"
    elif raw_type == "button":
        text = _str(body.get("text")) or _str(body.get("payload")) or ""
    elif raw_type == "reaction":
        text = _str(body.get("emoji")) or ""  # missing or "" both mean the reaction was taken back
        context = {"id": body.get("message_id")}
    elif raw_type == "order":
        items = _dicts(body.get("product_items"))
        text = _str(body.get("text")) or f"Order: {len(items)} item(s)"
    elif raw_type == "system":
        text = _str(body.get("body")) or ""
        fields = dict(new_wa_id=_str(body.get("wa_id")) or _str(body.get("new_wa_id")) or None,
                      new_user_id=_str(body.get("user_id")) or None,
                      previous_user_id=_str(body.get("previous_user_id")) or None)
    elif raw_type == "edit":  # coexistence: the customer edited an earlier message (text, or a caption)
        edited = _dict(body.get("message"))
        content = _dict(edited.get(_str(edited.get("type")) or ""))
        text = _str(content.get("body")) or _str(content.get("caption")) or ""
        fields = dict(original_wamid=_str(body.get("original_message_id")))
    elif raw_type == "revoke":  # coexistence: the customer deleted an earlier message for everyone
        fields = dict(original_wamid=_str(body.get("original_message_id")))
    elif raw_type == "unsupported":
        raw_type = _str(body.get("type")) or "unsupported"
    error = next(iter(_dicts(m.get("errors"))), None)
    if error is not None:
        fields["error"] = MessageError(_int(error.get("code")), _str(error.get("title")) or _str(error.get("message")),
                                       _str(_dict(error.get("error_data")).get("details")))
    return InboundMessage(
        channel=channel, waba_id=waba_id, wamid=_str(m["id"]) or "", customer=customer,
        timestamp=_int(m.get("timestamp")) or 0, type=kind, raw_type=raw_type, text=text,
        context_wamid=_str(context.get("id")), forwarded=bool(context.get("forwarded") or
                                                                context.get("frequently_forwarded")),
        referral=m.get("referral") if isinstance(m.get("referral"), dict) else None, payload=m, **fields,
    )


def _flow_fields(response_json: Any) -> str:
    """A WhatsApp Flow's answers as "key: value" lines (the flow_token is ours, not the customer's answer)."""
    try:
        answers = json.loads(response_json) if isinstance(response_json, str) else None
    except (ValueError, RecursionError):  # not JSON, or nested past what Python parses: keep it as sent
        return _str(response_json) or ""
    if not isinstance(answers, dict):
        return _str(response_json) or ""
    return "\n".join(f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
                     for key, value in answers.items() if key != "flow_token")


def _status(s: dict, channel: str) -> StatusUpdate:
    error = next(iter(_dicts(s.get("errors"))), None)
    return StatusUpdate(
        channel=channel, wamid=_str(s["id"]) or "", status=(_str(s.get("status")) or "unknown").lower(),
        timestamp=_int(s.get("timestamp")) or 0, recipient_id=_str(s.get("recipient_id")),
        callback_data=_str(s.get("biz_opaque_callback_data")),
        error_code=_int(error.get("code")) if error else None,
        error_title=(_str(error.get("title")) or _str(error.get("message"))) if error else None,
        error_details=_str(_dict(error.get("error_data")).get("details")) if error else None,
        pricing=s.get("pricing") if isinstance(s.get("pricing"), dict) else None,
        conversation=s.get("conversation") if isinstance(s.get("conversation"), dict) else None,
    )


def _channel_error(e: dict, channel: str | None, waba_id: str | None) -> ChannelError:
    return ChannelError(channel=channel, waba_id=waba_id, code=_int(e.get("code")), title=_str(e.get("title")),
                        message=_str(e.get("message")), details=_str(_dict(e.get("error_data")).get("details")))


def envelope(number: dict, *, contacts: list | None = None, messages: list | None = None,
             statuses: list | None = None) -> dict:
    """A `messages` webhook body as Meta sends it; `number` has id, waba_id and display_phone_number."""
    value: dict = {"messaging_product": "whatsapp",
                   "metadata": {"display_phone_number": number["display_phone_number"],
                                "phone_number_id": number["id"]}}
    if contacts:
        value["contacts"] = contacts
    if messages:
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account",
            "entry": [{"id": number["waba_id"], "changes": [{"value": value, "field": "messages"}]}]}


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _int(value: Any) -> int | None:
    """An integer SQLite can store, else None (Meta sends strings; odd bodies may send floats, inf or 10**30)."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -2**63 <= number < 2**63 else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict]:
    """The dict items of a list; anything else (a string, a number, one object) counts as no items."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
