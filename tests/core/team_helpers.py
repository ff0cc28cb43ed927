"""A team on a real database: agents, teams, rules, and customers writing in through webhooks and ingest."""

from __future__ import annotations

from core import agents, assignment
from core.config import AssignmentRule
from core.store import Store
from tests.core.ingest_helpers import CHANNEL_A, CHANNELS, apply

NOW = 1_795_620_000


def inbound(wa_id: str, text: str, wamid: str, *, at: int = NOW, channel: str = CHANNEL_A, name: str = "Klient"
            ) -> dict:
    """A Meta-shaped webhook body: customer `wa_id` writes `text`."""
    return {"object": "whatsapp_business_account", "entry": [{"id": "310492887654321", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "48221234567", "phone_number_id": channel},
                      "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                      "messages": [{"from": wa_id, "id": wamid, "timestamp": str(at), "type": "text",
                                    "text": {"body": text}}]}}]}]}


async def customer_writes(store: Store, wa_id: str, text: str = "Dzień dobry", *, at: int = NOW,
                          name: str = "Klient") -> int:
    await apply(store, inbound(wa_id, text, f"wamid.{wa_id}.{at}.{abs(hash(text)) % 10**8}", at=at, name=name),
                channels=CHANNELS, now=at)
    return int(await store.scalar("SELECT id FROM thread WHERE wa_id = ?", (wa_id,)))


async def team(store: Store, name: str, members: dict[str, int], *, rule_channel: str | None = CHANNEL_A) -> None:
    """Team `name` with `members` (name -> capacity), and a rule sending `rule_channel`'s threads to it."""
    await agents.add_team(store, name, now=NOW)
    for member, capacity in members.items():
        await agents.add_agent(store, member, capacity=capacity, now=NOW)
    await agents.set_members(store, name, add=list(members), now=NOW)
    if rule_channel:
        await store.write(assignment.save_rules, [AssignmentRule(team=name, channel=rule_channel)])


async def owners(store: Store) -> dict[int, str | None]:
    return {r["id"]: r["owner"] for r in await store.fetchall("SELECT id, owner FROM thread ORDER BY id")}


async def loads(store: Store) -> dict[str, int]:
    return {a.name: a.open_threads for a in await agents.list_agents(store)}
