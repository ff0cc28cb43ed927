"""The Graph client: exact request shapes for every endpoint, and every error code mapped from one table."""

from __future__ import annotations

import json

import httpx
import pytest

from core.cloudapi import ERRORS, TRANSPORT, CloudApi, CloudApiError
from core.graph_messages import addressed, media_message, template_message, text_message

BASE = "https://graph.facebook.com/v23.0"
TOKEN = "EAAG-secret-token"


class Graph:
    """Records requests and answers from a script."""

    def __init__(self, answer=None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer or (lambda request: httpx.Response(200, json={
            "messaging_product": "whatsapp", "contacts": [{"input": "+48601234567", "wa_id": "48601234567"}],
            "messages": [{"id": "wamid.ABC"}]}))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    @property
    def last_json(self) -> dict:
        return json.loads(self.requests[-1].content)


@pytest.fixture
async def graph():
    recorder = Graph()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        recorder.api = CloudApi(http, token=TOKEN, base_url=BASE)
        yield recorder


async def test_send_text_posts_metas_shape_with_the_token_in_the_header_only(graph):
    result = await graph.api.send("1234", addressed(text_message("Cześć https://x.pl"), to="+48601234567",
                                                    reply_to="wamid.Q", callback_data="outbox:7"))
    assert (result.wamid, result.wa_id, result.input) == ("wamid.ABC", "48601234567", "+48601234567")
    request = graph.requests[-1]
    assert request.method == "POST" and str(request.url) == f"{BASE}/1234/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url)
    assert graph.last_json == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+48601234567",
                               "type": "text", "text": {"body": "Cześć https://x.pl", "preview_url": True},
                               "context": {"message_id": "wamid.Q"}, "biz_opaque_callback_data": "outbox:7"}


@pytest.mark.parametrize("kind, kwargs, expected", [
    ("image", {"caption": "Foto"}, {"id": "M1", "caption": "Foto"}),
    ("document", {"caption": "Faktura", "filename": "f.pdf"}, {"id": "M1", "caption": "Faktura", "filename": "f.pdf"}),
    ("audio", {"voice": True, "caption": "ignored"}, {"id": "M1", "voice": True}),
    ("sticker", {"caption": "ignored"}, {"id": "M1"}),
    ("video", {}, {"id": "M1"}),
])
async def test_send_media_by_id(graph, kind, kwargs, expected):
    await graph.api.send("1234", addressed(media_message(kind, media_id="M1", **kwargs), to="+48601234567"))
    assert graph.last_json["type"] == kind and graph.last_json[kind] == expected


def test_template_bodies_positional_named_and_without_parameters():
    assert template_message("order_update", "pl_PL", ["Anna", "A-1"])["template"] == {
        "name": "order_update", "language": {"code": "pl_PL"}, "components": [{"type": "body", "parameters": [
            {"type": "text", "text": "Anna"}, {"type": "text", "text": "A-1"}]}]}
    named = template_message("booking", "pl_PL", ["3 maja"], parameter_names=["date"])
    assert named["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "3 maja", "parameter_name": "date"}]
    assert template_message("hello", "pl_PL")["template"]["components"] == []
    with pytest.raises(ValueError):  # a name for every value, or the template would be sent half-filled
        template_message("booking", "pl_PL", ["3 maja", "10:00"], parameter_names=["date"])


async def test_media_upload_is_multipart_with_type(graph):
    graph.answer = lambda request: httpx.Response(200, json={"id": "1037543291543636"})
    media_id = await graph.api.upload_media("1234", b"%PDF-1.4", "application/pdf", "faktura.pdf")
    assert media_id == "1037543291543636"
    request = graph.requests[-1]
    assert str(request.url) == f"{BASE}/1234/media"
    body = request.content
    assert b'name="messaging_product"' in body and b"whatsapp" in body and b'name="type"' in body
    assert b'filename="faktura.pdf"' in body and b"%PDF-1.4" in body


async def test_media_info_and_download_send_the_token_only_to_metas_hosts(graph, tmp_path):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "lookaside.fbsbx.com":
            assert request.headers["authorization"] == f"Bearer {TOKEN}"
            return httpx.Response(200, content=b"jpegdata")
        return httpx.Response(200, json={"url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
                                         "mime_type": "image/jpeg", "sha256": "abc", "file_size": "8", "id": "1"})
    graph.answer = answer
    info = await graph.api.media_info("1")
    assert (info.mime_type, info.file_size) == ("image/jpeg", 8)
    assert await graph.api.download_media(info.url, tmp_path / "a.jpg") == 8
    assert (tmp_path / "a.jpg").read_bytes() == b"jpegdata"
    before = len(graph.requests)
    with pytest.raises(CloudApiError, match="refusing to send the access token"):
        await graph.api.download_media("https://evil.example/steal", tmp_path / "b.jpg")
    assert len(graph.requests) == before  # nothing was sent there at all


async def test_a_download_over_the_limit_is_refused_and_leaves_no_file(graph, tmp_path):
    graph.answer = lambda request: httpx.Response(200, content=b"x" * 5000)
    with pytest.raises(CloudApiError):
        await graph.api.download_media("https://lookaside.fbsbx.com/x", tmp_path / "big.bin", max_bytes=1000)
    assert list(tmp_path.iterdir()) == []


async def test_templates_follow_the_cursor_paging(graph):
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("after") == "C1":
            return httpx.Response(200, json={"data": [{"name": "b"}], "paging": {"cursors": {"after": "C2"}}})
        return httpx.Response(200, json={"data": [{"name": "a"}],
                                         "paging": {"cursors": {"after": "C1"}, "next": "https://next"}})
    graph.answer = answer
    assert [t["name"] for t in await graph.api.templates("W1")] == ["a", "b"]
    assert graph.requests[0].url.path == "/v23.0/W1/message_templates"


async def test_phone_number_reads_the_current_limit_field(graph):
    graph.answer = lambda request: httpx.Response(200, json={
        "id": "1", "display_phone_number": "+1 555-078-3881", "verified_name": "Lucky Shrub", "quality_rating": "GREEN",
        "status": "CONNECTED", "whatsapp_business_manager_messaging_limit": "TIER_2K"})
    info = await graph.api.phone_number("1")
    assert (info.verified_name, info.quality_rating, info.messaging_limit_tier) == ("Lucky Shrub", "GREEN", "TIER_2K")
    assert "whatsapp_business_manager_messaging_limit" in graph.requests[-1].url.params["fields"]


@pytest.mark.parametrize("code", sorted(ERRORS))
async def test_every_graph_error_code_maps_from_the_one_table(graph, code):
    graph.answer = lambda request: httpx.Response(400, json={"error": {
        "message": f"(#{code}) Something", "type": "OAuthException", "code": code, "error_subcode": 2494010,
        "error_data": {"messaging_product": "whatsapp", "details": "the details"}, "fbtrace_id": "Ab1"}})
    with pytest.raises(CloudApiError) as caught:
        await graph.api.send("1234", addressed(text_message("x"), to="+48601234567"))
    error = caught.value
    assert (error.code, error.subcode, error.details, error.fbtrace_id) == (code, 2494010, "the details", "Ab1")
    assert error.message == f"(#{code}) Something"
    assert error.retryable is ERRORS[code][1]
    assert error.token_invalid is (code in (0, 190))


@pytest.mark.parametrize("code, retryable", [(130429, True), (131056, True), (131000, True), (131047, False),
                                             (132001, False), (190, False), (100, False)])
async def test_the_retry_column_of_the_reference(code, retryable):
    assert CloudApiError(code, "x").retryable is retryable


async def test_a_5xx_without_a_graph_body_is_retryable(graph):
    graph.answer = lambda request: httpx.Response(502, text="<html>bad gateway</html>")
    with pytest.raises(CloudApiError) as caught:
        await graph.api.send("1234", addressed(text_message("x"), to="+48601234567"))
    assert caught.value.retryable and caught.value.http_status == 502


@pytest.mark.parametrize("failure, maybe_sent", [(httpx.ConnectError("refused"), False),
                                                 (httpx.ReadTimeout("slow"), True)])
async def test_transport_failures_are_retryable_and_say_whether_meta_may_have_it(failure, maybe_sent):
    def answer(request):
        raise failure
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        with pytest.raises(CloudApiError) as caught:
            await CloudApi(http, token=TOKEN, base_url=BASE).send("1", addressed(text_message("x"),
                                                                                  to="+48601234567"))
    assert caught.value.code == TRANSPORT and caught.value.retryable and caught.value.maybe_sent is maybe_sent


async def test_the_token_never_shows_in_a_repr(graph):
    assert TOKEN not in repr(graph.api) and TOKEN not in str(vars(graph.api))
