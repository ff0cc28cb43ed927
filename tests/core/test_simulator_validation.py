"""The simulator refuses what Meta refuses and accepts what Meta accepts, with Meta's error bodies (reference §2, §7):
BSUID recipients, mark-as-read and reactions that point at real messages, named template parameters, and the
objects interactive / location / contacts messages need."""

from __future__ import annotations

import asyncio
import json

import pytest

from core.graph_messages import addressed, template_message, text_message
from core.simulator.world import World
from tests.core.sim_helpers import NUMBER_A, NUMBER_B, TOKEN, running_loop
from tests.core.test_simulator import received

ANNA = "48601234567"
ANNA_BSUID = World().bsuid(ANNA)  # the BSUID the simulator hands out for Anna in her webhooks


async def post(loop, body: dict, number: str = NUMBER_A) -> tuple[int, dict]:
    response = await loop.http.post(f"{loop.graph_url}/{number}/messages", json={"messaging_product": "whatsapp",
                                                                                 **body},
                                    headers={"Authorization": f"Bearer {TOKEN}"})
    return response.status_code, response.json()


async def statuses_for(loop, wamid: str, count: int) -> list[dict]:
    """The status webhooks the receiver stored for `wamid` (waiting until `count` arrived)."""
    for _ in range(250):
        found = [s for body in await received(loop.db) for e in body["entry"] for c in e["changes"]
                 for s in c["value"].get("statuses", []) if s["id"] == wamid]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} status webhook(s) for {wamid} never came: {found}")


def error_of(status: int, answer: dict) -> tuple[int, int, str]:
    """(HTTP status, code, details), after checking the body has every field of Meta's error (reference §7.1)."""
    error = answer["error"]
    assert error["message"].startswith(f"(#{error['code']}) ") and error["type"] == "OAuthException"
    assert error["error_data"]["messaging_product"] == "whatsapp" and error["fbtrace_id"]
    return status, error["code"], error["error_data"]["details"]


async def test_a_bsuid_recipient_is_accepted_in_recipient_or_to_and_answered_as_meta_does(tmp_path):
    async with running_loop(tmp_path) as loop:
        await loop.inbound(phone_number_id=NUMBER_A, **{"from": ANNA}, text="hej")
        for field in ("recipient", "to"):
            status, answer = await post(loop, {field: ANNA_BSUID, **text_message("Dzień dobry")})
            assert status == 200, answer
            assert answer["contacts"] == [{"input": ANNA_BSUID, "wa_id": "", "user_id": ANNA_BSUID}]
            wamid = answer["messages"][0]["id"]
            [sent, *_] = await statuses_for(loop, wamid, 1)
            assert sent["recipient_user_id"] == ANNA_BSUID and "recipient_id" not in sent
        # `to` wins when both are given
        status, answer = await post(loop, {"to": "+" + ANNA, "recipient": "PL.0000000000000001",
                                           **text_message("x")})
        assert status == 200 and answer["contacts"] == [{"input": "+" + ANNA, "wa_id": ANNA}]
        outbound = await loop.outbound()
        assert [o["to"] for o in outbound] == [ANNA, ANNA, ANNA]
        # a BSUID Meta never handed out names nobody
        assert error_of(*await post(loop, {"recipient": "PL.0000000000000001", **text_message("x")}))[:2] == (400, 100)


async def test_an_authentication_template_is_refused_to_a_bsuid(tmp_path):
    async with running_loop(tmp_path) as loop:
        loop.world.templates.append({"id": "9", "name": "login_code", "language": "pl_PL", "status": "APPROVED",
                                     "category": "AUTHENTICATION", "parameter_format": "POSITIONAL",
                                     "components": [{"type": "BODY", "text": "Kod: {{1}}"}]})
        status, answer = await post(loop, {"recipient": ANNA_BSUID, **template_message("login_code", "pl_PL",
                                                                                        ["123456"])})
        assert error_of(status, answer)[:2] == (400, 131062)
        status, answer = await post(loop, {"to": "+" + ANNA, **template_message("login_code", "pl_PL", ["123456"])})
        assert status == 200, answer


async def test_mark_as_read_needs_a_message_this_number_received(tmp_path):
    async with running_loop(tmp_path) as loop:
        inbound = await loop.inbound(phone_number_id=NUMBER_A, **{"from": ANNA}, text="hej")
        read = {"status": "read", "message_id": inbound["wamid"]}
        assert await post(loop, read) == (200, {"success": True})
        assert await post(loop, {**read, "typing_indicator": {"type": "text"}}) == (200, {"success": True})
        _, sent = await post(loop, addressed(text_message("odp"), to="+" + ANNA))
        for body, number in [({"status": "read", "message_id": "wamid.NOPE"}, NUMBER_A),
                             (read, NUMBER_B),  # another number's message
                             ({"status": "read", "message_id": sent["messages"][0]["id"]}, NUMBER_A)]:  # ours
            status, code, details = error_of(*await post(loop, body, number))
            assert (status, code) == (400, 131009) and "message_id" in details
        status, code, _ = error_of(*await post(loop, {"status": "read"}))
        assert (status, code) == (400, 131008)


async def test_a_reaction_to_an_unknown_message_fails_by_webhook_with_131009(tmp_path):
    async with running_loop(tmp_path) as loop:
        inbound = await loop.inbound(phone_number_id=NUMBER_A, **{"from": ANNA}, text="hej")
        react = lambda wamid: {"to": "+" + ANNA, "type": "reaction",  # noqa: E731
                               "reaction": {"message_id": wamid, "emoji": "👍"}}
        status, answer = await post(loop, react(inbound["wamid"]))
        assert status == 200
        [ok] = await statuses_for(loop, answer["messages"][0]["id"], 1)
        assert ok["status"] == "sent"
        status, answer = await post(loop, react("wamid.NEVER-SENT"))
        assert status == 200  # Meta accepts, then reports the failure by webhook (reference §2.6)
        [failed] = await statuses_for(loop, answer["messages"][0]["id"], 1)
        assert failed["status"] == "failed" and failed["errors"][0]["code"] == 131009
        status, code, _ = error_of(*await post(loop, {"to": "+" + ANNA, "type": "reaction", "reaction": {}}))
        assert (status, code) == (400, 131008)


BOOKING = template_message("booking_reminder", "pl_PL", ["3 maja", "10:00"], parameter_names=["date", "time"])


def _with_parameters(parameters: list[dict]) -> dict:
    return {**BOOKING, "template": {**BOOKING["template"], "components": [{"type": "body",
                                                                          "parameters": parameters}]}}


@pytest.mark.parametrize("body, code", [
    (_with_parameters([{"type": "text", "text": "3 maja", "parameter_name": "date"},
                       {"type": "text", "text": "10:00", "parameter_name": "hour"}]), 132012),   # unknown name
    (_with_parameters([{"type": "text", "text": "3 maja", "parameter_name": "date"},
                       {"type": "text", "text": "10:00", "parameter_name": "date"}]), 132012),   # twice
    (_with_parameters([{"type": "text", "text": "3 maja"}, {"type": "text", "text": "10:00"}]), 132012),  # unnamed
    (template_message("order_update", "pl_PL", ["Anna", "A-1"], parameter_names=["1", "2"]), 132012),  # positional
    (_with_parameters([{"type": "text", "text": "3 maja", "parameter_name": "date"}]), 132000),  # one missing
    ({"type": "interactive", "interactive": {}}, 131008),
    ({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Tak?"}}}, 131008),
    ({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Tak?"}, "action": {"buttons": [
        {"type": "reply", "reply": {"id": "y", "title": "A title that is far too long"}}]}}}, 131009),
    ({"type": "interactive", "interactive": {"type": "list", "body": {"text": "Wybierz"}, "action": {
        "button": "Opcje", "sections": [{"rows": [{"id": str(i), "title": f"R{i}"} for i in range(11)]}]}}}, 131009),
    ({"type": "location", "location": {}}, 131008),
    ({"type": "location", "location": {"latitude": 54.35}}, 131008),
    ({"type": "location", "location": {"latitude": "north", "longitude": 18.6}}, 100),
    ({"type": "contacts", "contacts": []}, 131008),
    ({"type": "text", "text": {}}, 131008),
    ({"type": "text"}, 131008),
])
async def test_graph_refuses_what_meta_refuses_with_its_error_body(tmp_path, body, code):
    async with running_loop(tmp_path) as loop:
        await loop.inbound(phone_number_id=NUMBER_A, **{"from": ANNA}, text="hej")
        status, answer = await post(loop, {"to": "+" + ANNA, **body})
        assert error_of(status, answer)[1] == code, json.dumps(answer)
        assert await loop.outbound() == []


@pytest.mark.parametrize("body", [
    BOOKING,
    _with_parameters([{"type": "text", "text": "10:00", "parameter_name": "time"},
                      {"type": "text", "text": "3 maja", "parameter_name": "date"}]),  # named: any order
    {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Tak?"}, "action": {"buttons": [
        {"type": "reply", "reply": {"id": "y", "title": "Tak"}}, {"type": "reply", "reply": {"id": "n", "title": "Nie"}}]}}},
    {"type": "location", "location": {"latitude": 54.352, "longitude": 18.6466, "name": "Przystań"}},
    {"type": "contacts", "contacts": [{"name": {"formatted_name": "Ewa Mazur"}, "phones": [{"phone": "+48601555123"}]}]},
])
async def test_graph_accepts_what_meta_accepts(tmp_path, body):
    async with running_loop(tmp_path) as loop:
        await loop.inbound(phone_number_id=NUMBER_A, **{"from": ANNA}, text="hej")
        status, answer = await post(loop, {"to": "+" + ANNA, **body})
        assert status == 200, answer
        assert [o["body"]["type"] for o in await loop.outbound()] == [body["type"]]
