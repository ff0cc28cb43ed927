"""The Graph API client for WhatsApp's Cloud API (reference §1–4, §7).

The `httpx.AsyncClient` is injected (tests pass a MockTransport or point it at the simulator). The access token
goes only in the Authorization header, only to the Graph host and Meta's media hosts, and never into a repr or log.
Every Graph error becomes one CloudApiError whose `retryable` comes from one table keyed on Meta's code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from core.config import Secret

# code -> (title, retry). "yes": back off and send again; "no": fix something first.
ERRORS: dict[int, tuple[str, bool]] = {
    0: ("Cannot authenticate (token expired, invalidated or revoked)", False),
    1: ("Invalid request or possible server error", True),
    2: ("Temporary downtime or overload", True),
    3: ("Capability or permission issue of the app", False),
    4: ("App-level Graph call rate limit", True),
    10: ("Permission not granted or removed", False),
    33: ("Business phone number deleted", False),
    100: ("Invalid parameter", False),
    190: ("Access token expired or invalid", False),
    200: ("Permission not granted or removed", False),
    368: ("Temporarily blocked for policy violations", False),
    80007: ("WhatsApp Business Account rate limit", True),
    130429: ("Cloud API throughput reached", True),
    130472: ("User's number is in a marketing experiment group", False),
    130497: ("Business may not message users in this country", False),
    131000: ("Something went wrong", True),
    131005: ("Access denied", False),
    131008: ("Required parameter missing", False),
    131009: ("Parameter value invalid", False),
    131016: ("Service temporarily unavailable", True),
    131021: ("Recipient cannot be sender", False),
    131026: ("Message undeliverable", False),
    131030: ("Recipient not in allowed list", False),
    131031: ("Account locked", False),
    131037: ("Display name not approved", False),
    131042: ("Business eligibility payment issue", False),
    131045: ("Phone number registration error", False),
    131047: ("Re-engagement message: more than 24 hours since the customer last replied", False),
    131048: ("Spam rate limit hit", False),
    131049: ("Not delivered to maintain healthy ecosystem engagement", False),
    131050: ("User stopped marketing messages", False),
    131051: ("Unsupported message type", False),
    131052: ("Media download error", False),
    131053: ("Media upload error", False),
    131056: ("Pair rate limit: too many messages to this customer", True),
    131057: ("Account in maintenance mode", True),
    131062: ("Business-scoped user id recipient not allowed", False),
    131064: ("Messaging limit reached (template classification)", False),
    132000: ("Template parameter count mismatch", False),
    132001: ("Template does not exist in that language or is not approved", False),
    132005: ("Translated text too long", False),
    132007: ("Template format policy violated", False),
    132012: ("Template parameter format mismatch", False),
    132015: ("Template paused", False),
    132016: ("Template disabled", False),
    132018: ("Template parameter validation error", False),
    132068: ("Flow blocked", False),
    132069: ("Flow throttled", False),
    133010: ("Phone number not registered", False),
    133016: ("Too many register/deregister attempts", True),
    135000: ("Generic user error", False),
    137000: ("Recipient identity key hash mismatch", False),
}
TOKEN_CODES = frozenset({0, 190})
TRANSPORT = -1  # our code for "no answer from Graph at all"


class CloudApiError(Exception):
    def __init__(self, code: int, message: str, *, subcode: int | None = None, details: str | None = None,
                 http_status: int | None = None, fbtrace_id: str | None = None, maybe_sent: bool = False) -> None:
        super().__init__(f"({code}) {message}" + (f": {details}" if details else ""))
        self.code, self.message, self.subcode, self.details = code, message, subcode, details
        self.http_status, self.fbtrace_id, self.maybe_sent = http_status, fbtrace_id, maybe_sent

    @property
    def retryable(self) -> bool:
        if self.code == TRANSPORT:
            return True
        known = ERRORS.get(self.code)
        if known is not None:
            return known[1]
        if 200 <= self.code <= 299:
            return False
        return self.http_status is not None and self.http_status >= 500  # unknown code: trust a 5xx

    @property
    def token_invalid(self) -> bool:
        return self.code in TOKEN_CODES

    @property
    def title(self) -> str:
        return ERRORS.get(self.code, (self.message, False))[0]


@dataclass(frozen=True, slots=True)
class SendResult:
    wamid: str
    wa_id: str | None = None
    input: str | None = None
    message_status: str | None = None


@dataclass(frozen=True, slots=True)
class MediaInfo:
    id: str
    url: str
    mime_type: str
    sha256: str | None
    file_size: int | None


@dataclass(frozen=True, slots=True)
class PhoneNumberInfo:
    id: str
    display_phone_number: str
    verified_name: str | None
    quality_rating: str | None
    status: str | None
    messaging_limit_tier: str | None
    raw: dict


PHONE_FIELDS = ("display_phone_number,verified_name,quality_rating,status,name_status,code_verification_status,"
                "platform_type,throughput,whatsapp_business_manager_messaging_limit,messaging_limit_tier")
TEMPLATE_FIELDS = "id,name,status,category,language,components,parameter_format,quality_score,rejected_reason"


class CloudApi:
    def __init__(self, http: httpx.AsyncClient, *, token: str, base_url: str,
                 media_hosts: tuple[str, ...] = ("lookaside.fbsbx.com",)) -> None:
        self._http = http
        self._token = Secret(token)  # its repr is masked: tracebacks that print attributes show "***"
        self.base_url = base_url.rstrip("/")
        graph = urlsplit(self.base_url)
        self._trusted = {graph.netloc, *media_hosts}

    def __repr__(self) -> str:
        return f"CloudApi(base_url={self.base_url!r})"

    # --- plumbing -------------------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.reveal()}"}

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict:
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            response = await self._http.request(method, url, headers=self._auth(), **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:  # nothing reached Graph
            raise CloudApiError(TRANSPORT, f"cannot reach the Graph API: {type(error).__name__}") from None
        except httpx.TransportError as error:  # the request may have arrived; the answer did not
            raise CloudApiError(TRANSPORT, f"no answer from the Graph API: {type(error).__name__}",
                                maybe_sent=True) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400 or not isinstance(data, dict) or "error" in data:
            raise _error(response.status_code, data)
        return data

    # --- messages -------------------------------------------------------------------------------------------

    async def send(self, phone_number_id: str, payload: dict) -> SendResult:
        """POST a complete /messages body; a 200 means accepted, not delivered."""
        data = await self._call("POST", f"{phone_number_id}/messages",
                                json={"messaging_product": "whatsapp", **payload})
        messages = data.get("messages") or [{}]
        contacts = data.get("contacts") or [{}]
        if not messages[0].get("id"):
            raise CloudApiError(1, "the Graph API accepted the message but returned no id", http_status=200)
        return SendResult(wamid=messages[0]["id"], wa_id=contacts[0].get("wa_id"), input=contacts[0].get("input"),
                          message_status=messages[0].get("message_status"))

    # --- media ----------------------------------------------------------------------------------------------

    async def upload_media(self, phone_number_id: str, data: bytes, mime_type: str, filename: str) -> str:
        data_part = {"messaging_product": "whatsapp", "type": mime_type}
        result = await self._call("POST", f"{phone_number_id}/media", data=data_part,
                                  files={"file": (filename, data, mime_type)})
        return str(result["id"])

    async def media_info(self, media_id: str) -> MediaInfo:
        data = await self._call("GET", media_id)
        size = data.get("file_size")
        return MediaInfo(id=str(data.get("id", media_id)), url=data["url"], mime_type=data.get("mime_type", ""),
                         sha256=data.get("sha256"), file_size=int(size) if size not in (None, "") else None)

    async def download_media(self, url: str, dest: Path, *, max_bytes: int = 100 * 2**20) -> int:
        """Stream a media URL to `dest`; the token goes only to hosts we trust, never to another origin."""
        host = urlsplit(url).netloc
        if host not in self._trusted:
            raise CloudApiError(100, f"refusing to send the access token to {host or 'an unknown host'}")
        written = 0
        partial = dest.with_name(dest.name + ".part")
        try:
            async with self._http.stream("GET", url, headers=self._auth(), follow_redirects=False) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error(response.status_code, _json_or_none(response))
                with partial.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        written += len(chunk)
                        if written > max_bytes:
                            raise CloudApiError(131052, f"media larger than {max_bytes} bytes")
                        out.write(chunk)
        except httpx.TransportError as error:
            partial.unlink(missing_ok=True)
            raise CloudApiError(TRANSPORT, f"media download failed: {type(error).__name__}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(dest)
        return written

    # --- templates and numbers ------------------------------------------------------------------------------

    async def templates(self, waba_id: str) -> list[dict]:
        """Every template of the WABA, following the cursor paging."""
        return await self._pages(f"{waba_id}/message_templates", {"fields": TEMPLATE_FIELDS, "limit": 100})

    async def phone_number(self, phone_number_id: str) -> PhoneNumberInfo:
        return _phone(await self._call("GET", phone_number_id, params={"fields": PHONE_FIELDS}))

    async def phone_numbers(self, waba_id: str) -> list[PhoneNumberInfo]:
        """Every number of the WABA, following the cursor paging."""
        return [_phone(item) for item in await self._pages(f"{waba_id}/phone_numbers", {"fields": PHONE_FIELDS})]

    async def _pages(self, path: str, params: dict[str, Any]) -> list[dict]:
        found: list[dict] = []
        while True:
            data = await self._call("GET", path, params=params)
            found.extend(data.get("data") or [])
            paging = data.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return found
            params = {**params, "after": after}


def _phone(data: dict) -> PhoneNumberInfo:
    return PhoneNumberInfo(
        id=str(data.get("id", "")), display_phone_number=str(data.get("display_phone_number", "")),
        verified_name=data.get("verified_name"), quality_rating=data.get("quality_rating"), status=data.get("status"),
        messaging_limit_tier=data.get("whatsapp_business_manager_messaging_limit") or data.get("messaging_limit_tier"),
        raw=data)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


def _error(status: int, data: Any) -> CloudApiError:
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        code = 131000 if status >= 500 else 1
        return CloudApiError(code, f"HTTP {status} without a Graph error body", http_status=status)
    details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else None
    code = error.get("code")
    return CloudApiError(int(code) if isinstance(code, int) or str(code).isdigit() else 1,
                         str(error.get("message") or "Graph API error"), subcode=error.get("error_subcode"),
                         details=details, http_status=status, fbtrace_id=error.get("fbtrace_id"))
