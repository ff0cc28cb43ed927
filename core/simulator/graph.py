"""The Graph API paths the simulator answers, under any `/vNN.N/` prefix, with Meta's validation and error shapes."""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core import policy
from core.simulator.world import REACTION_MAX_AGE, World

_VERSION = re.compile(r"v\d+\.\d+")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_HTTP_FOR = {130429: 429, 131056: 429, 131000: 500, 131016: 503, 2: 503, 190: 401, 132001: 404, 4: 429, 80007: 429}
MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")
MESSAGE_TYPES = ("text", "template", "reaction", "location", "contacts", "interactive", *MEDIA_KINDS)


_BSUID = re.compile(r"[A-Z]{2}\.[0-9]+|user\.[0-9a-f]+")  # both forms sources show (reference §1.3)


class Refused(Exception):
    """The request is refused with Meta's error body (reference §7.1)."""

    def __init__(self, code: int, title: str, details: str) -> None:
        super().__init__(f"({code}) {title}: {details}")
        self.response = graph_error(code, title, details)


@dataclass(frozen=True, slots=True)
class Recipient:
    given: str            # what the business sent in `to` / `recipient`
    wa_id: str            # the customer the world knows
    user_id: str | None   # the BSUID, when the business addressed the customer by it


def _coordinate(value: object, limit: int) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and -limit <= value <= limit


def _validate_interactive(content: dict) -> None:
    """Reply buttons and lists, the two kinds an inbox sends, with Meta's limits (reference §2.8)."""
    kind = content.get("type")
    if not kind:
        raise Refused(131008, "Required parameter is missing", "The parameter interactive['type'] is required.")
    if kind not in ("button", "list", "cta_url", "flow", "location_request_message", "product", "product_list"):
        raise Refused(100, "Invalid parameter", f"Param interactive['type'] is not valid: {kind!r}")
    text = (content.get("body") or {}).get("text") if isinstance(content.get("body"), dict) else None
    if kind not in ("product",) and (not isinstance(text, str) or not text):
        raise Refused(131008, "Required parameter is missing", "The parameter interactive['body']['text'] is required.")
    action = content.get("action")
    if not isinstance(action, dict) or not action:
        raise Refused(131008, "Required parameter is missing", "The parameter interactive['action'] is required.")
    if kind == "button":
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise Refused(131009, "Parameter value is not valid", "Param interactive['action']['buttons'] must "
                          "have between 1 and 3 buttons")
        for button in buttons:
            reply = button.get("reply") if isinstance(button, dict) else None
            title = reply.get("title") if isinstance(reply, dict) else None
            if not isinstance(title, str) or not title or len(title) > 20 or not reply.get("id"):
                raise Refused(131009, "Parameter value is not valid", "Each button needs a reply id and a title of "
                              "1 to 20 characters")
    elif kind == "list":
        label = action.get("button")
        sections = action.get("sections")
        if not isinstance(label, str) or not label or len(label) > 20:
            raise Refused(131009, "Parameter value is not valid", "Param interactive['action']['button'] must be 1 "
                          "to 20 characters")
        rows = [row for section in sections if isinstance(section, dict) for row in section.get("rows") or []] \
            if isinstance(sections, list) else []
        if not rows or len(rows) > 10 or len(sections) > 10:
            raise Refused(131009, "Parameter value is not valid", "A list needs 1 to 10 rows in at most 10 sections")
        for row in rows:
            if not isinstance(row, dict) or not row.get("id") or not isinstance(row.get("title"), str) \
                    or not row["title"] or len(row["title"]) > 24 or len(str(row.get("description", ""))) > 72:
                raise Refused(131009, "Parameter value is not valid", "Each row needs an id, a title of 1 to 24 "
                              "characters and at most 72 characters of description")


def graph_error(code: int, message: str, details: str | None = None, status: int | None = None) -> JSONResponse:
    """Meta's error body (reference §7.1)."""
    error = {"message": f"(#{code}) {message}", "type": "OAuthException", "code": code,
             "fbtrace_id": "Sim" + base64.b64encode(message.encode()[:9]).decode().rstrip("=")}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return JSONResponse({"error": error}, status_code=status or _HTTP_FOR.get(code, 400))


class Graph:
    def __init__(self, world: World, access_token: str, on_accepted) -> None:
        self.world, self._token = world, access_token
        self._on_accepted = on_accepted  # (phone number, Recipient, wamid, body) -> None: statuses, replies

    def _authorised(self, request: Request) -> JSONResponse | None:
        given = request.headers.get("authorization", "")
        if given != f"Bearer {self._token}":
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token",
                               "Error validating access token", status=401)
        if not _VERSION.fullmatch(request.path_params.get("version", "")):
            return graph_error(100, "Unknown path components", status=400)
        return None

    async def _faults(self) -> JSONResponse | str | None:
        faults = self.world.faults
        if faults.latency:
            await asyncio.sleep(faults.latency)
        outcome = self.world.pick_fault()
        if outcome is None:
            return None
        if outcome == "hang":
            return "hang"  # processed, then the answer never comes (the caller decides when)
        if outcome == "500":
            return graph_error(131000, "Something went wrong", "Internal error, please retry", status=500)
        if outcome == "429":
            return graph_error(130429, "Rate limit hit", "Cloud API message throughput has been reached.")
        if outcome == "400":
            return graph_error(131009, "Parameter value is not valid", "Simulated permanent failure")
        if outcome.isdigit():
            return graph_error(int(outcome), "Simulated error")
        return None

    # --- POST /{phone_number_id}/messages ------------------------------------------------------------------

    async def messages(self, request: Request) -> Response:
        if refused := self._authorised(request):
            return refused
        number = self.world.numbers.get(request.path_params["node"])
        if number is None:
            return graph_error(100, "Invalid parameter", "Unsupported post request. Object with ID "
                               f"'{request.path_params['node']}' does not exist")
        try:
            body = await request.json()
        except ClientDisconnect:  # the caller gave up (a killed sender): nothing was accepted
            return Response(status_code=499)
        except ValueError:
            return graph_error(100, "Invalid parameter", "Request body is not JSON")
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return graph_error(100, "Invalid parameter", "messaging_product must be whatsapp")
        fault = await self._faults()
        if isinstance(fault, JSONResponse):
            return fault
        if "status" in body:
            return self._mark_read(number, body) or JSONResponse({"success": True})
        try:
            recipient = self._recipient(body)
            self._validate(number, recipient, body)
        except Refused as refused:
            return refused.response
        wamid = self.world.wamid(recipient.wa_id)
        self.world.remember(wamid, number["id"], recipient.wa_id, "out", str(body.get("type", "text")))
        self.world.outbound.append({"phone_number_id": number["id"], "wamid": wamid, "to": recipient.wa_id,
                                    "at": self.world.clock(), "body": body})
        self._on_accepted(number, recipient, wamid, body)
        if fault == "hang":
            await asyncio.sleep(self.world.faults.hang_seconds)
        message: dict = {"id": wamid}
        if body.get("type") == "template":
            message["message_status"] = "accepted"
        contact = ({"input": recipient.given, "wa_id": "", "user_id": recipient.user_id} if recipient.user_id
                   else {"input": recipient.given, "wa_id": recipient.wa_id})
        return JSONResponse({"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]})

    def _mark_read(self, number: dict, body: dict) -> JSONResponse | None:
        """Mark-as-read (and typing indicator): the wamid must be a message this number received (reference §2.7)."""
        if body.get("status") != "read":
            return graph_error(100, "Invalid parameter", "Param status must be one of {READ} - got "
                               f"\"{body.get('status')}\".")
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            return graph_error(131008, "Required parameter is missing", "The parameter message_id is required.")
        known = self.world.messages.get(message_id)
        if known is None or known.phone_number_id != number["id"] or known.direction != "in" \
                or known.at < self.world.clock() - REACTION_MAX_AGE:
            return graph_error(131009, "Parameter value is not valid", f"Invalid message_id: {message_id}")
        typing = body.get("typing_indicator")
        if typing is not None and (not isinstance(typing, dict) or typing.get("type") != "text"):
            return graph_error(100, "Invalid parameter", "Param typing_indicator['type'] must be one of {TEXT}")
        return None

    def _recipient(self, body: dict) -> Recipient:
        """`to` (a phone number or a BSUID) wins over `recipient` (a BSUID), as Meta reads them (reference §2.1)."""
        given = body.get("to") if body.get("to") not in (None, "") else body.get("recipient")
        if given in (None, ""):
            raise Refused(131008, "Required parameter is missing", "The parameter to is required.")
        given = str(given)
        if _BSUID.fullmatch(given):
            wa_id = self.world.users.get(given)
            if wa_id is None:
                raise Refused(100, "Invalid parameter", f"Invalid parameter recipient: no user with id {given}")
            return Recipient(given, wa_id, given)
        wa_id = re.sub(r"[\s+()\-]", "", given)
        if not wa_id.isascii() or not wa_id.isdigit() or len(wa_id) < 8 or len(wa_id) > 15:
            raise Refused(100, "Invalid parameter", f"Invalid 'to' parameter: {given!r}")
        if wa_id in self.world.not_on_whatsapp or wa_id.endswith("0000"):
            raise Refused(131026, "Message undeliverable",
                          "Unable to deliver message. Reasons can include: the recipient phone number is not a "
                          "WhatsApp phone number.")
        return Recipient(given, wa_id, None)

    def _validate(self, number: dict, recipient: Recipient, body: dict) -> None:
        kind = body.get("type", "text")
        if kind not in MESSAGE_TYPES:
            raise Refused(100, "Invalid parameter", f"Param type must be one of {{{', '.join(MESSAGE_TYPES)}}}")
        content = body.get(kind)
        if not isinstance(content, list if kind == "contacts" else dict):
            raise Refused(131008, "Required parameter is missing", f"The parameter {kind} is required.")
        if kind != "template" and not self.world.window_open(number["id"], recipient.wa_id):
            raise Refused(131047, "Re-engagement message",
                          "Message failed to send because more than 24 hours have passed since the customer last "
                          "replied to this number.")
        if kind == "text":
            text = content.get("body")
            if not isinstance(text, str) or not text:
                raise Refused(131008, "Required parameter is missing", "The parameter text['body'] is required.")
            if len(text) > 4096:
                raise Refused(100, "Invalid parameter", "Param text['body'] must be at most 4096 characters long.")
        elif kind == "template":
            self._validate_template(content, recipient)
        elif kind in MEDIA_KINDS:
            media_id, link = content.get("id"), content.get("link")
            if bool(media_id) == bool(link):
                raise Refused(100, "Invalid parameter", f"Param {kind} must have exactly one of id or link")
            if media_id and str(media_id) not in self.world.media:
                raise Refused(131053, "Media upload error", f"Media id {media_id} not found")
            if content.get("caption") and kind in ("audio", "sticker"):
                raise Refused(100, "Invalid parameter", f"Param {kind}['caption'] is not allowed for {kind}")
        elif kind == "reaction":
            if not isinstance(content.get("message_id"), str) or not content["message_id"]:
                raise Refused(131008, "Required parameter is missing",
                              "The parameter reaction['message_id'] is required.")
            if not isinstance(content.get("emoji", ""), str):
                raise Refused(100, "Invalid parameter", "Param reaction['emoji'] must be a string")
        elif kind == "location":
            for key in ("latitude", "longitude"):
                if key not in content:
                    raise Refused(131008, "Required parameter is missing",
                                  f"The parameter location['{key}'] is required.")
                if not _coordinate(content[key], 90 if key == "latitude" else 180):
                    raise Refused(100, "Invalid parameter", f"Param location['{key}'] is not a valid {key}")
        elif kind == "contacts":
            if not content or not all(isinstance(c, dict) and isinstance(c.get("name"), dict)
                                      and c["name"].get("formatted_name") for c in content):
                raise Refused(131008, "Required parameter is missing",
                              "The parameter contacts[0]['name']['formatted_name'] is required.")
        elif kind == "interactive":
            _validate_interactive(content)

    def _validate_template(self, content: dict, recipient: Recipient) -> None:
        name, language = content.get("name"), (content.get("language") or {}).get("code")
        template = self.world.template(str(name), str(language))
        if template is None or template["status"] != "APPROVED":
            raise Refused(132001, "Template name does not exist in the translation",
                          f"template name ({name}) does not exist in {language}")
        if recipient.user_id and template["category"] == "AUTHENTICATION":
            raise Refused(131062, "Business-scoped user ID recipient not allowed",
                          "Authentication templates can only be sent to a phone number.")
        body_text = next((c.get("text", "") for c in template["components"] if c.get("type") == "BODY"), "")
        expected = list(dict.fromkeys(_PLACEHOLDER.findall(body_text)))
        given = [p for c in content.get("components") or [] if str(c.get("type")).lower() == "body"
                 for p in c.get("parameters") or []]
        if len(given) != len(expected):
            raise Refused(132000, "Number of parameters does not match the expected number of params",
                          f"body: number of localizable_params ({len(given)}) does not match the expected number of "
                          f"params ({len(expected)})")
        names = [p.get("parameter_name") if isinstance(p, dict) else None for p in given]
        if template.get("parameter_format") == "NAMED":
            if sorted(map(str, names)) != sorted(expected):
                unexpected = [n for n in names if n not in expected] or ["(none)"]
                raise Refused(132012, "Parameter format does not match format in the created template",
                              f"body: parameter_name {unexpected[0]} is not one of "
                              f"{{{', '.join(expected)}}}, or a name is given twice")
        elif any(n is not None for n in names):
            raise Refused(132012, "Parameter format does not match format in the created template",
                          "body: this template takes positional parameters, without parameter_name")
        for parameter in given:
            text = parameter.get("text") if isinstance(parameter, dict) else None
            if not isinstance(text, str) or not text:
                raise Refused(131008, "Required parameter is missing", "The parameter text is required.")
            if re.search(r"[\n\t]| {5,}", text):
                raise Refused(132018, "There was an issue with the parameters in your template.",
                              "Param text cannot have new-line/tab characters or more than 4 consecutive spaces")

    # --- media -------------------------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        if refused := self._authorised(request):
            return refused
        number = self.world.numbers.get(request.path_params["node"])
        if number is None:
            return graph_error(100, "Invalid parameter", "Unknown phone number id")
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            return graph_error(100, "Invalid parameter", "file is required")
        data = await upload.read()
        mime = str(form.get("type") or upload.content_type or "")
        kind = policy.kind_for_mime(mime)
        reason = policy.check_media(kind, mime, len(data)) if kind else f"{mime} is not a supported type"
        if reason:
            return graph_error(131053, "Media upload error", reason)
        return JSONResponse({"id": self.world.store_media(data, mime, number["id"]).id})

    async def node(self, request: Request) -> Response:
        """GET /{id}: a media object or a phone number."""
        if refused := self._authorised(request):
            return refused
        node = request.path_params["node"]
        if node in self.world.media:
            item = self.world.media[node]
            base = str(request.base_url).rstrip("/")
            return JSONResponse({"messaging_product": "whatsapp", "url": self.world.media_url(base, node),
                                 "mime_type": item.mime_type, "sha256": item.sha256_b64,
                                 "file_size": str(len(item.data)), "id": node})
        if node in self.world.numbers:
            return JSONResponse(_phone(self.world.numbers[node]))
        return graph_error(100, "Invalid parameter", f"Unsupported get request. Object with ID '{node}' does not exist")

    async def delete(self, request: Request) -> Response:
        if refused := self._authorised(request):
            return refused
        if self.world.media.pop(request.path_params["node"], None) is None:
            return graph_error(100, "Invalid parameter", "Media not found")
        return JSONResponse({"success": True})

    async def download(self, request: Request) -> Response:
        """The media URL: needs the same Bearer token, valid for 5 minutes."""
        if request.headers.get("authorization", "") != f"Bearer {self._token}":
            return Response("unauthorised", status_code=401)
        found = self.world.media_urls.get(request.path_params["token"])
        if found is None or found[1] < self.world.clock() or found[0] not in self.world.media:
            return Response("not found or expired", status_code=404)
        item = self.world.media[found[0]]
        return Response(item.data, media_type=item.mime_type)

    # --- templates and numbers -------------------------------------------------------------------------

    async def templates(self, request: Request) -> Response:
        if refused := self._authorised(request):
            return refused
        q = request.query_params
        items = [t for t in self.world.templates
                 if all(not q.get(k) or str(t.get(k)).upper() == q[k].upper() for k in ("status", "name", "language"))]
        limit = max(1, min(int(q.get("limit", "25") or 25), 100))
        start = int(base64.b64decode(q["after"]).decode()) if q.get("after") else 0
        page = items[start:start + limit]
        result: dict = {"data": page}
        if start + limit < len(items):
            after = base64.b64encode(str(start + limit).encode()).decode()
            result["paging"] = {"cursors": {"after": after},
                                "next": str(request.url.include_query_params(after=after))}
        return JSONResponse(result)

    async def phone_numbers(self, request: Request) -> Response:
        if refused := self._authorised(request):
            return refused
        waba = request.path_params["node"]
        numbers = [_phone(n) for n in self.world.numbers.values() if n["waba_id"] == waba]
        if not numbers:  # the simulator knows a WABA only through its numbers
            return graph_error(100, "Invalid parameter", f"Unsupported get request. Object with ID '{waba}' does not "
                               "exist, cannot be loaded due to missing permissions, or does not support this operation")
        return JSONResponse({"data": numbers})


def _phone(n: dict) -> dict:
    digits = n["display_phone_number"]
    return {"id": n["id"], "display_phone_number": f"+{digits[:2]} {digits[2:4]} {digits[4:7]} {digits[7:]}",
            "verified_name": n.get("verified_name", "Simulated Business"), "quality_rating": n["quality_rating"],
            "status": n["status"], "name_status": "APPROVED", "code_verification_status": "VERIFIED",
            "platform_type": n["platform_type"], "throughput": {"level": "STANDARD"},
            "whatsapp_business_manager_messaging_limit": n["tier"]}
