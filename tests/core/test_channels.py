"""Connecting numbers (checked with the Graph API, written to the config) and reading their health."""

from __future__ import annotations

import json
import tomllib

import httpx
import pytest

from core.channels import ConnectRefused, channel_health, connect, refresh_health
from core.cloudapi import CloudApi
from core.config import ChannelConfig, Config, load_config

WABA = "310492887654321"
NUMBERS = {
    "209837465112233": {"id": "209837465112233", "display_phone_number": "+48 22 123 45 67",
                        "verified_name": "Sklep Kowalski", "quality_rating": "GREEN", "status": "CONNECTED",
                        "whatsapp_business_manager_messaging_limit": "TIER_2K", "platform_type": "CLOUD_API"},
    "209837465998877": {"id": "209837465998877", "display_phone_number": "+48 22 765 43 21",
                        "verified_name": "Serwis", "quality_rating": "YELLOW", "messaging_limit_tier": "TIER_250",
                        "platform_type": "CLOUD_API"},
}


def graph(numbers=NUMBERS, token_ok=True, wabas=None) -> CloudApi:
    """Graph's answers for the numbers (GET /{id}) and the WABAs' lists (GET /{waba}/phone_numbers)."""
    wabas = {WABA: list(numbers)} if wabas is None else wabas

    def handler(request: httpx.Request) -> httpx.Response:
        if not token_ok:
            return httpx.Response(401, json={"error": {"message": "Error validating access token", "code": 190}})
        *_, node, edge = request.url.path.split("/")
        if edge == "phone_numbers":
            if node not in wabas:
                return httpx.Response(400, json={"error": {"message": "Unsupported get request.", "code": 100}})
            return httpx.Response(200, json={"data": [numbers[n] for n in wabas[node]]})
        number = edge
        if number not in numbers:
            return httpx.Response(400, json={"error": {"message": "Unsupported get request.", "code": 100,
                                                       "error_subcode": 33}})
        return httpx.Response(200, json=numbers[number])

    return CloudApi(httpx.AsyncClient(transport=httpx.MockTransport(handler)), token="t",
                    base_url="https://graph.facebook.com/v23.0")


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(f'# my settings\ndb = "{tmp_path / "wabox.db"}"\n\n[limits]\nmonthly_quota = 500\n')
    return path


async def test_connect_writes_the_config_the_table_and_the_default_view(store, config_file):
    config = load_config(config_file)
    added = await connect(store, graph(), config, config_file, WABA, list(NUMBERS), now=1000)
    assert [c.name for c in added] == ["Sklep Kowalski", "Serwis"]
    reloaded = load_config(config_file)
    assert reloaded.monthly_quota == 500 and "# my settings" in config_file.read_text()  # kept as written
    assert reloaded.channels == (
        ChannelConfig("Sklep Kowalski", WABA, "209837465112233", "+48 22 123 45 67"),
        ChannelConfig("Serwis", WABA, "209837465998877", "+48 22 765 43 21"))
    rows = [dict(r) for r in await store.fetchall(
        "SELECT phone_number_id, quality_rating, messaging_limit_tier, health FROM channel ORDER BY 1")]
    assert rows == [{"phone_number_id": "209837465112233", "quality_rating": "GREEN",
                     "messaging_limit_tier": "TIER_2K", "health": "ok"},
                    {"phone_number_id": "209837465998877", "quality_rating": "YELLOW",
                     "messaging_limit_tier": "TIER_250", "health": "ok"}]
    [view] = await store.fetchall("SELECT name, filters FROM custom_view")
    assert (view["name"], json.loads(view["filters"])) == ("WhatsApp", {"source": ["whatsapp"]})


async def test_a_missing_config_file_is_created(store, tmp_path):
    path = tmp_path / "new" / "config.toml"
    await connect(store, graph(), Config(path=None, db=tmp_path / "x.db"), path, WABA, ["209837465112233"],
                  now=1000, name="Sklep")
    assert tomllib.loads(path.read_text())["channels"][0]["name"] == "Sklep"


async def test_an_already_connected_number_is_refused_and_nothing_changes(store, config_file):
    await connect(store, graph(), load_config(config_file), config_file, WABA, ["209837465112233"], now=1000)
    before = config_file.read_text()
    with pytest.raises(ConnectRefused, match="209837465112233 is already connected"):
        await connect(store, graph(), load_config(config_file), config_file, WABA,
                      ["209837465998877", "209837465112233"], now=1000)
    assert config_file.read_text() == before
    assert await store.scalar("SELECT count(*) FROM custom_view") == 1


async def test_more_than_the_per_waba_limit_is_refused(store, config_file):
    config_file.write_text(config_file.read_text().replace("monthly_quota = 500", "numbers_per_waba = 1"))
    with pytest.raises(ConnectRefused, match="at most 1 may be connected"):
        await connect(store, graph(), load_config(config_file), config_file, WABA, list(NUMBERS), now=1000)
    assert await store.scalar("SELECT count(*) FROM channel") == 0


async def test_a_number_that_is_not_in_the_waba_is_refused_naming_the_wabas_numbers(store, config_file):
    with pytest.raises(ConnectRefused, match=r"209000 is not a phone number of WABA 310492887654321 \(its numbers: "
                                             r"209837465112233, 209837465998877\)"):
        await connect(store, graph(), load_config(config_file), config_file, WABA,
                      ["209837465112233", "209000"], now=1000)
    other_wabas = {WABA: ["209837465112233"], "999": ["209837465998877"]}
    with pytest.raises(ConnectRefused, match="209837465998877 is not a phone number of WABA"):
        await connect(store, graph(wabas=other_wabas), load_config(config_file), config_file, WABA,
                      ["209837465998877"], now=1000)
    assert "channels" not in tomllib.loads(config_file.read_text())
    assert await store.scalar("SELECT count(*) FROM channel") == 0


async def test_a_waba_the_graph_api_does_not_know_is_refused_with_its_answer(store, config_file):
    with pytest.raises(ConnectRefused, match=r"WABA 42: the Graph API refused to list its numbers: \(100\)"):
        await connect(store, graph(), load_config(config_file), config_file, "42", ["209837465112233"], now=1000)


async def test_a_number_not_on_the_cloud_api_is_refused(store, config_file):
    on_premise = {**NUMBERS, "209837465998877": {**NUMBERS["209837465998877"], "platform_type": "ON_PREMISE"}}
    with pytest.raises(ConnectRefused, match="209837465998877 is on ON_PREMISE, not the Cloud API"):
        await connect(store, graph(on_premise), load_config(config_file), config_file, WABA, list(NUMBERS), now=1000)
    assert "channels" not in tomllib.loads(config_file.read_text())


async def test_a_channel_name_with_quotes_newlines_and_escapes_is_written_as_readable_toml(store, config_file):
    name = 'Ogrody "Kowalski"\nline two \\ \x1b[31m'
    await connect(store, graph(), load_config(config_file), config_file, WABA, ["209837465112233"], now=1000,
                  name=name)
    [channel] = load_config(config_file).channels
    assert channel.name == name


async def test_health_shows_quality_tier_token_backlog_and_recent_errors(store, config_file):
    await connect(store, graph(), load_config(config_file), config_file, WABA, list(NUMBERS), now=1000)
    await store.write(lambda db: db.execute(
        "INSERT INTO outbox(channel, recipient, kind, request, created_at) VALUES (?, '+48601234567', 'text', '{}',"
        " 1000)", ("209837465112233",)))
    await refresh_health(store, graph(token_ok=False), ["209837465998877"], now=2000)
    health = {h.phone_number_id: h for h in await channel_health(store, now=3000)}
    first, second = health["209837465112233"], health["209837465998877"]
    assert (first.quality_rating, first.messaging_limit_tier, first.token, first.backlog) == (
        "GREEN", "TIER_2K", "ok", 1)
    assert (second.token, second.backlog, second.recent_errors[0]["code"]) == ("invalid", 0, 190)
    changed = {**NUMBERS["209837465998877"], "quality_rating": "RED"}
    await refresh_health(store, graph({"209837465998877": changed}), ["209837465998877"], now=4000)
    second = {h.phone_number_id: h for h in await channel_health(store, now=5000)}["209837465998877"]
    assert (second.quality_rating, second.token) == ("RED", "ok")
