"""Read queries for the inbox and the CLI, returning core.model objects. Paged: nothing reads a whole table."""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from core.model import SESSION_SECONDS, ChatMessage, Contact, StatusChange, ThreadSummary, View
from core.store import rows
from core.store.db import Store
from core.views import common_probe, search_clause, search_query, where

Order = Literal["recent", "expiring"]
_FROM = "FROM thread t LEFT JOIN contact c ON c.id = t.contact_id"


# The filters thread_tally can answer (schema._PERF_TABLES); unread is per agent, so it is counted on the threads.
TALLIED = {"status", "owner", "team", "channel", "source", "has_attachment", "last_direction", "snoozed"}
COMMON = 2000  # matching messages from which a search term counts as common (see views.search_clause)


def _filter(view: View, agent: str, search: str | None, common: bool = False,
            dialect: str = "sqlite") -> tuple[str, dict]:
    clause, params = where(view, agent)
    if search and search.strip():
        found, more = search_clause(search, common=common, dialect=dialect)
        clause, params = f"{clause} AND {found}", {**params, **more}
    return clause, params


async def _is_common(store: Store, search: str | None) -> bool:
    """A bounded probe (at most COMMON index rows): is this term in thousands of messages?"""
    query = search_query(search or "", store.dialect)
    if query is None:
        return False
    found = await store.scalar(common_probe(store.dialect), {"q": query, "limit": COMMON})
    return found >= COMMON


async def list_threads(store: Store, view: View, *, agent: str, search: str | None = None, offset: int = 0,
                       limit: int = 100, order: Order = "recent", now: int | None = None) -> list[ThreadSummary]:
    page = {"limit": limit, "offset": offset, "agent": agent}
    if order == "expiring":
        # Open sessions first, the one closing soonest on top; then the rest, newest activity first.
        page["cutoff"] = (now or 0) - SESSION_SECONDS
        order_by = ("CASE WHEN t.last_inbound_at > :cutoff THEN 0 ELSE 1 END, "
                    "CASE WHEN t.last_inbound_at > :cutoff THEN t.last_inbound_at END ASC, "
                    "t.last_message_at DESC, t.id DESC")
    else:
        order_by = "t.last_message_at DESC, t.id DESC"
    common = await _is_common(store, search)
    if common and store.dialect == "postgresql":
        walked = await _walk_newest(store, view, agent, search or "", order_by, page)
        if walked is not None:
            return walked
        common = False  # few threads match: collect them
    clause, params = _filter(view, agent, search, common=common, dialect=store.dialect)
    found = await store.fetchall(f"SELECT {rows.THREAD_COLUMNS} {_FROM} WHERE {clause}"
                                 f" ORDER BY {order_by} LIMIT :limit OFFSET :offset", {**params, **page})
    return [rows.thread_summary(r) for r in found]


WALK = 20  # threads a common search walks, per row asked for, before it collects its matches instead (PostgreSQL)


async def _walk_newest(store: Store, view: View, agent: str, search: str, order_by: str,
                       page: dict) -> list[ThreadSummary] | None:
    """A common term on PostgreSQL: the view's threads in order, each checked for a match, at most WALK per row
    asked for. The page when it is found that way (the first matches in order: the same rows as any shape),
    else None: fewer than 1 thread in WALK match, and collecting the matches (the rare shape) is quicker than
    walking on. Without the bound, a word in 2,000 messages of one old thread walked all 100,000 (0.7 s)."""
    inside, more = where(view, agent)
    found, terms = search_clause(search, common=True, dialect=store.dialect)
    found_rows = await store.fetchall(
        f"SELECT {rows.THREAD_COLUMNS} FROM (SELECT * FROM thread t WHERE {inside} ORDER BY {order_by}"
        f" LIMIT :walk) t LEFT JOIN contact c ON c.id = t.contact_id WHERE {found}"
        f" ORDER BY {order_by} LIMIT :limit OFFSET :offset",
        {**more, **terms, **page, "walk": (page["offset"] + page["limit"]) * WALK})
    return [rows.thread_summary(r) for r in found_rows] if len(found_rows) == page["limit"] else None


async def count_threads(store: Store, view: View, *, agent: str, search: str | None = None) -> int:
    clause, params = _filter(view, agent, search, dialect=store.dialect)
    if not (search and search.strip()) and set(view.filters) <= TALLIED:
        # The triggers' tally (schema._PERF_TABLES) has a row per group of the columns a view filters
        # on: the same WHERE over it, summed, is the count, at a cost that does not grow with the threads.
        return int(await store.scalar(f"SELECT coalesce(sum(t.n), 0) FROM thread_tally t WHERE {clause}", params))
    return int(await store.scalar(f"SELECT count(*) FROM thread t WHERE {clause}", params))


async def get_thread(store: Store, thread_id: int, *, agent: str | None = None) -> ThreadSummary | None:
    row = await store.fetchone(f"SELECT {rows.THREAD_COLUMNS} {_FROM} WHERE t.id = :id",
                               {"id": thread_id, "agent": agent})
    return rows.thread_summary(row) if row else None


async def thread_messages(store: Store, thread_id: int, *, before_id: int | None = None,
                          limit: int = 200) -> list[ChatMessage]:
    """The newest `limit` messages (before `before_id` when paging back), oldest first, with status histories."""
    params: dict = {"thread": thread_id, "limit": limit}
    older = ""
    if before_id is not None:
        older = (" AND (timestamp, id) < (SELECT timestamp, id FROM message WHERE id = :before)")
        params["before"] = before_id
    found = await store.fetchall(
        "SELECT m.*, m.status = 'failed' AND EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id) AS retryable"
        f" FROM message m WHERE thread_id = :thread{older} ORDER BY timestamp DESC, id DESC LIMIT :limit",
        params)
    found.reverse()
    wamids = [r["wamid"] for r in found if r["wamid"] and r["direction"] == "out"]
    history: dict[str, list[StatusChange]] = defaultdict(list)
    if wamids:
        marks = ",".join("?" * len(wamids))
        for r in await store.fetchall(f"SELECT * FROM status_event WHERE wamid IN ({marks})"
                                      " ORDER BY timestamp, id", wamids):
            history[r["wamid"]].append(rows.status_change(r))
    return [rows.chat_message(r, tuple(history.get(r["wamid"], ()))) for r in found]


async def message_count(store: Store, thread_id: int) -> int:
    return int(await store.scalar("SELECT count(*) FROM message WHERE thread_id = ?", (thread_id,)))


async def get_contact(store: Store, contact_id: int) -> Contact | None:
    row = await store.fetchone("SELECT * FROM contact WHERE id = ?", (contact_id,))
    return rows.contact(row) if row else None


async def contact_threads(store: Store, contact_id: int, *, agent: str | None = None) -> list[ThreadSummary]:
    found = await store.fetchall(f"SELECT {rows.THREAD_COLUMNS} {_FROM} WHERE t.contact_id = :contact"
                                 " ORDER BY t.last_message_at DESC", {"contact": contact_id, "agent": agent})
    return [rows.thread_summary(r) for r in found]
