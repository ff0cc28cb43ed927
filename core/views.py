"""Views: the sidebar's built-in views (F4) and custom views built from filters (F5), as SQL over `thread t`.

A filter dict may hold: status ("open"/"closed"), owner (a list of names, "me", or None for unassigned),
team (list), channel (list of phone_number_ids), source (list; every thread today is "whatsapp"),
unread (true: unread by the agent looking), has_attachment (true), last_direction ("in"/"out"), snoozed (true: only
snoozed threads; false: none of them).
"""

from __future__ import annotations

import re
from typing import Any

from core.model import View
from core.store.schema import FOLDS

BUILTIN_VIEWS: tuple[View, ...] = (
    View("open", "All open", {"status": "open", "snoozed": False}),
    View("closed", "All closed", {"status": "closed"}),
    # an agent wrote last: awaiting the customer
    View("sent", "Sent", {"status": "open", "last_direction": "out", "snoozed": False}),
    View("mine", "Assigned to me", {"status": "open", "owner": "me", "snoozed": False}),
    View("unassigned", "Unassigned", {"status": "open", "owner": None, "snoozed": False}),
    View("snoozed", "Snoozed", {"status": "open", "snoozed": True}),  # back in the others when they wake
)
BUILTIN_BY_KEY = {view.key: view for view in BUILTIN_VIEWS}
SOURCES = ("whatsapp",)
FILTER_KEYS = ("status", "owner", "team", "channel", "source", "unread", "has_attachment", "last_direction",
               "snoozed")


def where(view: View, agent: str) -> tuple[str, dict[str, Any]]:
    """A WHERE clause (over alias `t`) and its named parameters. Only our own constants go into the SQL text."""
    filters = view.filters
    clauses: list[str] = []
    params: dict[str, Any] = {"agent": agent}

    def listed(column: str, name: str, values: list) -> None:
        keys = [f"{name}{i}" for i in range(len(values))]
        params.update(zip(keys, values))
        clauses.append(f"{column} IN ({', '.join(':' + k for k in keys)})" if keys else "1 = 0")

    if filters.get("status") in ("open", "closed"):
        clauses.append("t.status = :status")
        params["status"] = filters["status"]
    if filters.get("last_direction") in ("in", "out"):
        clauses.append("t.last_direction = :last_direction")
        params["last_direction"] = filters["last_direction"]
    if "owner" in filters:
        owner = filters["owner"]
        if owner is None:
            clauses.append("t.owner IS NULL")
        else:
            names = [agent if o == "me" else o for o in ([owner] if isinstance(owner, str) else owner)]
            listed("t.owner", "owner", names)
    if filters.get("team"):
        listed("t.team", "team", list(filters["team"]))
    if filters.get("channel"):
        listed("t.channel", "channel", [str(c) for c in filters["channel"]])
    if filters.get("source") and not set(filters["source"]) & set(SOURCES):
        clauses.append("1 = 0")  # a source we do not have yet: nothing matches
    if filters.get("unread"):
        clauses.append("t.unread > coalesce((SELECT r.seen FROM thread_read r WHERE r.thread_id = t.id"
                       " AND r.agent = :agent), 0)")  # unread by this agent
    if filters.get("snoozed") is True:
        clauses.append("t.snoozed_until > 0")  # a range: SQLite walks thread_by_snooze, not every open thread
    elif filters.get("snoozed") is False:
        clauses.append("t.snoozed_until IS NULL")
    if filters.get("has_attachment"):
        clauses.append("t.has_attachment = 1")
    return (" AND ".join(clauses) or "1 = 1"), params


# Every term is one more index walk: thousands of terms took 14 s. Past these, the agent is asked to narrow it.
MAX_SEARCH_TERMS = 16
MAX_SEARCH_CHARS = 500
_TERM_SPLIT = re.compile(r"[\s\x00-\x1f\x7f]+")  # control characters too: a NUL ends a quoted FTS5 string early
_FOLD = str.maketrans(dict(FOLDS))


class SearchError(ValueError):
    """The search cannot run as typed; the message says why, for the agent (TUI) or the user (CLI)."""


def search_problem(text: str) -> str | None:
    """Why `text` cannot be searched, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # e.g. argv bytes from a terminal in another encoding (surrogateescape)
        return "the search text is not valid UTF-8"
    if len(text) > MAX_SEARCH_CHARS or len([t for t in _TERM_SPLIT.split(text) if t]) > MAX_SEARCH_TERMS:
        return (f"query too broad: search with at most {MAX_SEARCH_TERMS} words and {MAX_SEARCH_CHARS} characters")
    return None


def fold(text: str) -> str:
    """The letters the search index folds (ł→l, ø→o, ß→ss, …), folded the same way in a query."""
    return text.translate(_FOLD)


def fts_query(text: str) -> str | None:
    """User text as an FTS5 query of quoted, folded terms (the last one a prefix): never FTS syntax from the user.

    Raises SearchError for text that cannot be searched (see search_problem)."""
    problem = search_problem(text)
    if problem:
        raise SearchError(problem)
    terms = [t for t in _TERM_SPLIT.split(fold(text)) if t]
    if not terms:
        return None
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


def search_terms(text: str) -> str | None:
    """User text as the PostgreSQL index's query (core.store.schema's wabox_tsquery): the same terms as
    fts_query, one a line; the database folds them as it folds the text."""
    problem = search_problem(text)
    if problem:
        raise SearchError(problem)
    terms = [t for t in _TERM_SPLIT.split(fold(text)) if t]
    return "\n".join(terms) if terms else None


# The full-text part per backend: SQLite's FTS5 tables, PostgreSQL's expression indexes (core.store.schema).
_MATCH = {
    "sqlite": {
        "rare": "t.id IN (SELECT m.thread_id FROM message_fts f JOIN message m ON m.id = f.rowid"
                " WHERE message_fts MATCH :q)",
        "common": "EXISTS (SELECT 1 FROM message m WHERE m.thread_id = t.id"
                  " AND m.id IN (SELECT rowid FROM message_fts WHERE message_fts MATCH :q))",
        "contact": "t.contact_id IN (SELECT rowid FROM contact_fts WHERE contact_fts MATCH :q)",
        "probe": "SELECT count(*) FROM (SELECT 1 FROM message_fts WHERE message_fts MATCH :q LIMIT :limit) AS p",
    },
    "postgresql": {  # a rare term: _THREAD_IDS
        # OFFSET 0 keeps the check per thread: without it the planner may collect every match first (the rare
        # shape), which took 150 ms for a word in 1 message of 16 at 1M messages (core.store.reads.list_threads).
        "common": "EXISTS (SELECT 1 FROM message m WHERE m.thread_id = t.id AND m.search @@ wabox_tsquery(:q)"
                  " OFFSET 0)",
        "contact": "t.contact_id IN (SELECT c.id FROM contact c WHERE c.search @@ wabox_tsquery(:q))",
        "probe": "SELECT count(*) FROM (SELECT 1 FROM message WHERE search @@ wabox_tsquery(:q) LIMIT :limit) AS p",
    },
}


# The ids of the threads matching by message, by contact and by number (the last one portable: both backends).
# PostgreSQL takes a rare term's as one set, a semi-join: ORed IN subqueries were planned as lists scanned once a
# thread when the matches outgrew work_mem, and counting the threads with a word in every message took minutes.
_THREAD_IDS = {
    "message": "SELECT m.thread_id FROM message m WHERE m.search @@ wabox_tsquery(:q)",
    "contact": "SELECT x.id FROM thread x JOIN contact c ON c.id = x.contact_id WHERE c.search @@ wabox_tsquery(:q)",
    "digits": "SELECT d.thread_id FROM thread_digits d WHERE d.tail >= :digits AND d.tail < :beyond",
}


def search_query(text: str, dialect: str = "sqlite") -> str | None:
    return fts_query(text) if dialect == "sqlite" else search_terms(text)


def common_probe(dialect: str = "sqlite") -> str:
    """SQL counting (up to :limit) the messages matching :q: how common a search is."""
    return _MATCH[dialect]["probe"]


def search_clause(text: str, *, common: bool = False, dialect: str = "sqlite") -> tuple[str, dict[str, Any]]:
    """Threads whose messages or contact (name, numbers, email) match `text`.

    Two shapes of the same question, because SQLite walks them differently: for a rare term the set of matching
    threads is small, so build it (IN); for a `common` one (thousands of messages) that set is costly, while
    walking threads newest first finds a page of matches at once (EXISTS). On 1M messages each shape takes a few
    ms in its own case and ~70 ms in the other's; core.store.reads probes which case it is."""
    query = search_query(text, dialect)
    if query is None:
        return "1 = 1", {}
    params: dict[str, Any] = {"q": query}
    digits = re.sub(r"\D", "", text)
    phone = len(digits) >= 4 and len(digits) >= len(text.strip()) - 4  # looks like (part of) a phone number
    if phone:
        # Digits anywhere in the number: a prefix of one of its tails (schema._PERF_TABLES), on an index.
        params.update(digits=digits, beyond=digits + ":")  # ":" sorts right after "9"
    if dialect == "postgresql" and not common:
        sets = [_THREAD_IDS["message"], _THREAD_IDS["contact"], *([_THREAD_IDS["digits"]] if phone else [])]
        return "t.id IN (" + " UNION ALL ".join(sets) + ")", params
    match = _MATCH[dialect]
    parts = [match["common" if common else "rare"], match["contact"]]
    if phone:
        parts.append(f"t.id IN ({_THREAD_IDS['digits']})")
    return "(" + " OR ".join(parts) + ")", params
