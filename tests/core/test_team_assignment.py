"""Agents, teams and assignment (issue 10): names are checked, assignment is balanced, capped and recorded, the team
queue drains as capacity frees, a reopened thread goes back to its owner, and racing assigners never assign twice."""

from __future__ import annotations

import asyncio

import pytest

from core import agents, assignment
from core.agents import TeamError
from core.inbox import Inbox
from core.store import Store
from tests.core.team_helpers import NOW, customer_writes, loads, owners, team


async def test_names_are_checked_everywhere(store: Store):
    await agents.add_agent(store, "ola", now=NOW)
    await agents.add_team(store, "Wsparcie", now=NOW)
    await agents.add_team(store, "Sprzedaż", now=NOW)  # any language's letters
    for bad in ("", "ola k", "@ola", "-x", "_x", "x" * 41, "ola;drop", "a\x1b[31m"):
        with pytest.raises(TeamError, match="is not valid"):
            await agents.add_agent(store, bad, now=NOW)
    with pytest.raises(TeamError, match="already exists"):
        await agents.add_agent(store, "ola", now=NOW)
    with pytest.raises(TeamError, match="no agent named 'mrek' \\(known: ola\\)"):
        await agents.set_members(store, "Wsparcie", add=["mrek"], now=NOW)
    thread = await customer_writes(store, "48600000001")
    with pytest.raises(TeamError, match="no agent named 'mrek'"):
        await assignment.assign(store, [thread], "mrek", by="ola", now=NOW)
    with pytest.raises(TeamError, match="no team named 'Sales' \\(known: Sprzedaż, Wsparcie\\)"):
        await assignment.assign(store, [thread], "team:Sales", by="ola", now=NOW)
    with pytest.raises(TeamError, match="status must be one of available, away, offline"):
        await agents.set_status(store, "ola", "lunch", now=NOW)
    assert (await owners(store))[thread] is None  # nothing was half-done
    await assignment.assign(store, [thread], "@ola", by="ola", now=NOW)
    assert (await owners(store))[thread] == "ola"
    [record] = await assignment.history(store, thread)
    assert (record["owner"], record["by_agent"], record["rule"], record["at"]) == ("ola", "ola", None, NOW)


async def test_a_new_thread_goes_to_the_least_loaded_available_member_and_is_recorded(store: Store):
    await team(store, "Wsparcie", {"ola": 5, "marek": 5, "kasia": 5})
    await agents.set_status(store, "kasia", "away", now=NOW)
    first = await customer_writes(store, "48600000001")
    assert await assignment.drain(store, now=NOW) == [assignment.Assigned(first, "marek", "Wsparcie")]  # tie: a-z
    second = await customer_writes(store, "48600000002")
    await assignment.drain(store, now=NOW)
    assert (await owners(store))[second] == "ola"  # marek has one already; kasia is away
    [record] = await assignment.history(store, second)
    assert (record["owner"], record["team"], record["by_agent"], record["rule"]) == (
        "ola", "Wsparcie", None, "channel 209837465112233 -> Wsparcie")
    again = await customer_writes(store, "48600000002", "jeszcze jedno", at=NOW + 5)
    assert again == second and await assignment.drain(store, now=NOW + 5) == []  # an open thread keeps its owner


async def test_a_thousand_conversations_over_eight_agents_differ_by_at_most_one(store: Store):
    await team(store, "Wsparcie", {f"agent{i}": 1000 for i in range(8)})
    await agents.set_status(store, "agent7", "offline", now=NOW)
    for i in range(1000):
        await customer_writes(store, f"4860{i:07d}", at=NOW + i)
        if i % 97 == 0:
            await assignment.drain(store, now=NOW + i)  # drained now and then, as serve does
    await assignment.drain(store, now=NOW + 1000)
    counts = await loads(store)
    assert counts.pop("agent7") == 0
    assert sum(counts.values()) == 1000 and max(counts.values()) - min(counts.values()) <= 1


async def test_nobody_goes_over_capacity_and_the_queue_drains_as_capacity_frees(store: Store):
    await team(store, "Wsparcie", {"ola": 1, "marek": 1})
    threads = [await customer_writes(store, f"4860000000{i}", at=NOW + i) for i in range(4)]
    await assignment.drain(store, now=NOW + 10)
    assert await loads(store) == {"marek": 1, "ola": 1}
    waiting = [t for t, owner in (await owners(store)).items() if owner is None]
    assert waiting == threads[2:]  # in the team's queue: team set, nobody owns them yet
    assert {r[0] for r in await store.fetchall("SELECT team FROM thread WHERE id IN (?, ?)", waiting)} == {"Wsparcie"}
    holder = (await owners(store))[threads[0]]
    await Inbox(store, agent=holder, clock=lambda: NOW + 20).close([threads[0]])  # closing frees one: drained at once
    assert (await owners(store))[threads[2]] == holder and (await owners(store))[threads[3]] is None
    await agents.set_capacity(store, "ola", 2, now=NOW + 30)
    await agents.set_capacity(store, "marek", 2, now=NOW + 30)
    await assignment.drain(store, now=NOW + 30)
    assert (await owners(store))[threads[3]] is not None and max((await loads(store)).values()) <= 2


async def test_when_everyone_is_away_threads_wait_until_someone_is_available(store: Store):
    await team(store, "Wsparcie", {"ola": 5})
    await agents.set_status(store, "ola", "away", now=NOW)
    thread = await customer_writes(store, "48600000001")
    await assignment.drain(store, now=NOW)
    assert (await owners(store))[thread] is None
    await agents.set_status(store, "ola", "available", now=NOW + 60)
    await assignment.drain(store, now=NOW + 60)
    assert (await owners(store))[thread] == "ola"


async def test_a_reopened_thread_goes_back_to_its_previous_owner_if_available(store: Store):
    await team(store, "Wsparcie", {"ola": 5, "marek": 5})
    thread = await customer_writes(store, "48600000001")
    await assignment.drain(store, now=NOW)
    owner = (await owners(store))[thread]
    other = "ola" if owner == "marek" else "marek"
    await Inbox(store, agent=owner, clock=lambda: NOW + 10).close([thread])
    busy = [await customer_writes(store, f"4870000000{i}", at=NOW + 20 + i) for i in range(2)]
    await assignment.assign(store, busy, owner, by=owner, now=NOW + 30)  # the owner is now the busier one
    await customer_writes(store, "48600000001", "to znowu ja", at=NOW + 100)  # the customer reopens it
    await assignment.drain(store, now=NOW + 100)
    assert (await owners(store))[thread] == owner
    assert (await assignment.history(store, thread))[-1]["rule"] == "reopened: previous owner"
    # Away when it reopens: the team's rules give it to someone available.
    await Inbox(store, agent=owner, clock=lambda: NOW + 110).close([thread])
    await agents.set_status(store, owner, "away", now=NOW + 120)
    await customer_writes(store, "48600000001", "halo?", at=NOW + 130)
    await assignment.drain(store, now=NOW + 130)
    assert (await owners(store))[thread] == other
    assert (await assignment.history(store, thread))[-1]["rule"] == "channel 209837465112233 -> Wsparcie"


async def test_a_disabled_agents_threads_return_to_their_teams_queue(store: Store):
    await team(store, "Wsparcie", {"ola": 5, "marek": 5})
    threads = [await customer_writes(store, f"4860000000{i}", at=NOW + i) for i in range(4)]
    await assignment.drain(store, now=NOW + 10)
    olas = [t for t, o in (await owners(store)).items() if o == "ola"]
    assert await agents.disable_agent(store, "ola", now=NOW + 20) == len(olas) == 2
    await assignment.drain(store, now=NOW + 20)
    assert {o for o in (await owners(store)).values()} == {"marek"} and len(threads) == 4
    with pytest.raises(TeamError, match="agent 'ola' is disabled"):
        await agents.signed_in(store, "ola")


async def _drain_in_own_store(target, now: int) -> int:
    """One racer: a store of its own on the same database, its own write transaction (what each serve process does)."""
    other = await Store.open(target)
    try:
        return len(await other.write(assignment.drain_in, now))
    finally:
        await other.close()


async def test_two_racing_assigners_never_assign_twice_nor_lose_one(store: Store, db_target):
    await team(store, "Wsparcie", {f"agent{i}": 100 for i in range(4)})
    for i in range(200):
        await customer_writes(store, f"4860{i:07d}", at=NOW + i)
    results = await asyncio.gather(*(_drain_in_own_store(db_target, NOW + 300) for _ in range(2)),
                                   assignment.drain(store, now=NOW + 300))
    assigned = results[0] + results[1] + len(results[2])
    assert assigned == 200  # every thread once: whoever got the lock first did them all or some, the others the rest
    history = await store.fetchall("SELECT thread_id, count(*) AS n FROM assignment GROUP BY thread_id")
    assert len(history) == 200 and {r["n"] for r in history} == {1}
    counts = await loads(store)
    assert sum(counts.values()) == 200 and max(counts.values()) - min(counts.values()) <= 1
    assert await store.scalar("SELECT count(*) FROM assignment_queue") == 0
