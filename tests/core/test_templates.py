"""Template sync: the table mirrors what the Graph API lists, per WABA."""

from __future__ import annotations

import httpx
import pytest

from core.cloudapi import CloudApi, CloudApiError
from core.templates import find_template, list_templates, sync_templates

ORDER_UPDATE = {"id": "111", "name": "order_update", "language": "pl_PL", "status": "APPROVED", "category": "UTILITY",
                "parameter_format": "POSITIONAL",
                "components": [{"type": "BODY", "text": "Cześć {{1}}, zamówienie {{2}} jest gotowe."}]}
PROMO = {"id": "222", "name": "promo", "language": "en_US", "status": "REJECTED", "category": "MARKETING",
         "components": [{"type": "BODY", "text": "Sale!"}]}


def graph(listing: dict[str, list[dict]], seen: list[str] | None = None) -> CloudApi:
    def handler(request: httpx.Request) -> httpx.Response:
        waba = request.url.path.split("/")[-2]
        if seen is not None:
            seen.append(str(request.url))
        if waba not in listing:
            return httpx.Response(400, json={"error": {"message": "Unsupported get request", "code": 100}})
        items = listing[waba]
        after = request.url.params.get("after")
        page = items[1:] if after else items[:1]
        paging = {"cursors": {"after": "c1"}, "next": "https://next"} if not after and len(items) > 1 else {}
        return httpx.Response(200, json={"data": page, "paging": paging})

    return CloudApi(httpx.AsyncClient(transport=httpx.MockTransport(handler)), token="t",
                    base_url="https://graph.facebook.com/v23.0")


async def test_sync_stores_every_page_and_lists_approved_ones_for_the_composer(store):
    assert await sync_templates(store, graph({"w1": [ORDER_UPDATE, PROMO]}), ["w1"], now=1000) == 2
    assert [t.name for t in await list_templates(store)] == ["order_update", "promo"]
    [approved] = await list_templates(store, approved_only=True)
    assert approved.body == "Cześć {{1}}, zamówienie {{2}} jest gotowe." and approved.waba_id == "w1"
    assert await store.scalar("SELECT count(*) FROM change_log WHERE kind = 'template'") == 1


async def test_a_later_sync_updates_status_and_drops_deleted_templates(store):
    await sync_templates(store, graph({"w1": [ORDER_UPDATE, PROMO]}), ["w1"], now=1000)
    paused = {**ORDER_UPDATE, "status": "PAUSED"}
    await sync_templates(store, graph({"w1": [paused]}), ["w1"], now=2000)
    [only] = await list_templates(store)
    assert (only.name, only.status) == ("order_update", "PAUSED")
    assert await find_template(store, "order_update", "pl_PL") == only
    assert await find_template(store, "order_update", "en_US") is None


async def test_one_failing_waba_keeps_its_templates_and_the_others_still_sync(store):
    await sync_templates(store, graph({"w1": [ORDER_UPDATE]}), ["w1"], now=1000)
    with pytest.raises(CloudApiError):
        await sync_templates(store, graph({"w2": [PROMO]}), ["w1", "w2"], now=2000)
    assert sorted(t.name for t in await list_templates(store)) == ["order_update", "promo"]
