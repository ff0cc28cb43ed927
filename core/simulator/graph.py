"""The Graph API paths the simulator answers, under any `/vNN.N/` prefix, with Meta's validation and error shapes."""

from __future__ import annotations

import asyncio
import base64
import re

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core import policy
from core.simulator.world import World

_VERSION = re.compile(r"v\d+\.\d+")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_HTTP_FOR = {130429: 429, 131056: 429, 131000: 500, 131016: 503, 2: 503, 190: 401, 132001: 404, 4: 429, 80007: 429}
MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")
MESSAGE_TYPES = ("text", "template", "reaction", "location", "contacts", "interactive", *MEDIA_KINDS)


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
        self._on_accepted = on_accepted  # (phone number, wa_id, wamid, body) -> None: statuses, replies

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
        if body.get("status") == "read":
            return JSONResponse({"success": True})
        refused, wa_id = self._validate(number, body)
        if refused:
            return refused
        wamid = self.world.wamid(wa_id)
        record = {"phone_number_id": number["id"], "wamid": wamid, "to": wa_id, "at": self.world.clock(),
                  "body": body}
        self.world.outbound.append(record)
        self._on_accepted(number, wa_id, wamid, body)
        if fault == "hang":
            await asyncio.sleep(self.world.faults.hang_seconds)
        message: dict = {"id": wamid}
        if body.get("type") == "template":
            message["message_status"] = "accepted"
        return JSONResponse({"messaging_product": "whatsapp",
                             "contacts": [{"input": str(body.get("to", "")), "wa_id": wa_id}],
                             "messages": [message]})

    def _validate(self, number: dict, body: dict) -> tuple[JSONResponse | None, str]:
        kind = body.get("type", "text")
        wa_id = re.sub(r"[\s+()\-]", "", str(body.get("to") or ""))
        if not wa_id:
            return graph_error(131008, "Required parameter is missing", "The parameter to is required."), ""
        if not wa_id.isdigit() or len(wa_id) < 8 or len(wa_id) > 15:
            return graph_error(100, "Invalid parameter", f"Invalid 'to' parameter: {body.get('to')!r}"), ""
        if wa_id in self.world.not_on_whatsapp or wa_id.endswith("0000"):
            return graph_error(131026, "Message undeliverable",
                               "Unable to deliver message. Reasons can include: the recipient phone number is not "
                               "a WhatsApp phone number."), ""
        if kind not in MESSAGE_TYPES or not isinstance(body.get(kind), dict):
            return graph_error(100, "Invalid parameter", f"Unexpected or missing object for type {kind!r}"), ""
        content = body[kind]
        if kind != "template" and not self.world.window_open(number["id"], wa_id):
            return graph_error(131047, "Re-engagement message",
                               "Message failed to send because more than 24 hours have passed since the customer "
                               "last replied to this number."), ""
        if kind == "text":
            text = content.get("body")
            if not isinstance(text, str) or not text:
                return graph_error(100, "Invalid parameter", "text.body is required"), ""
            if len(text) > 4096:
                return graph_error(100, "Invalid parameter", "Param text['body'] must be at most 4096 characters long."), ""
        elif kind == "template":
            return self._validate_template(content), wa_id
        elif kind in MEDIA_KINDS:
            media_id, link = content.get("id"), content.get("link")
            if bool(media_id) == bool(link):
                return graph_error(100, "Invalid parameter", f"{kind} needs exactly one of id or link"), ""
            if media_id and str(media_id) not in self.world.media:
                return graph_error(131053, "Media upload error", f"Media id {media_id} not found"), ""
            if content.get("caption") and kind in ("audio", "sticker"):
                return graph_error(100, "Invalid parameter", f"{kind} messages take no caption"), ""
        return None, wa_id

    def _validate_template(self, content: dict) -> JSONResponse | None:
        name, language = content.get("name"), (content.get("language") or {}).get("code")
        template = self.world.template(str(name), str(language))
        if template is None or template["status"] != "APPROVED":
            return graph_error(132001, "Template name does not exist in the translation",
                               f"template name ({name}) does not exist in {language}")
        body_text = next((c.get("text", "") for c in template["components"] if c.get("type") == "BODY"), "")
        expected = len(dict.fromkeys(_PLACEHOLDER.findall(body_text)))
        given = [p for c in content.get("components") or [] if str(c.get("type")).lower() == "body"
                 for p in c.get("parameters") or []]
        if len(given) != expected:
            return graph_error(132000, "Number of parameters does not match the expected number of params",
                               f"body: number of localizable_params ({len(given)}) does not match the expected "
                               f"number of params ({expected})")
        for parameter in given:
            text = str(parameter.get("text", ""))
            if re.search(r"[\n\t]| {5,}", text):
                return graph_error(132018, "There was an issue with the parameters in your template.",
                                   "Param text cannot have new-line/tab characters or more than 4 consecutive spaces")
        return None

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
        return JSONResponse({"data": [_phone(n) for n in self.world.numbers.values() if n["waba_id"] == waba]})


def _phone(n: dict) -> dict:
    digits = n["display_phone_number"]
    return {"id": n["id"], "display_phone_number": f"+{digits[:2]} {digits[2:4]} {digits[4:7]} {digits[7:]}",
            "verified_name": n.get("verified_name", "Simulated Business"), "quality_rating": n["quality_rating"],
            "status": n["status"], "name_status": "APPROVED", "code_verification_status": "VERIFIED",
            "platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"},
            "whatsapp_business_manager_messaging_limit": n["tier"]}
