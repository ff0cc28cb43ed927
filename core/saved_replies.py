"""Saved replies (F29): shared ('' owner) and personal ones, found by fuzzy search, with variables filled in from
the thread's contact and the agent, importable and exportable as JSON."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass

from core.store.db import Store

VARIABLE = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")
VARIABLES = ("contact.first_name", "contact.name", "contact.phone", "agent.name", "agent.display_name")


class SavedReplyError(ValueError):
    """A saved reply or an import that cannot be accepted; the message says why."""


@dataclass(frozen=True, slots=True)
class SavedReply:
    id: int
    name: str
    body: str
    shared: bool


def render(body: str, values: dict[str, str]) -> str:
    """The body with each known {{variable}} replaced; an unknown one stays as typed, for the agent to see."""
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def variables(*, contact_name: str, phone: str, agent: str, agent_display: str) -> dict[str, str]:
    name = contact_name.strip()
    return {"contact.first_name": name.split()[0] if name else "", "contact.name": name, "contact.phone": phone,
            "agent.name": agent, "agent.display_name": agent_display or agent}


def fuzzy_score(query: str, text: str) -> int | None:
    """None unless every letter of `query` appears in `text` in order; higher for tighter, earlier matches."""
    query, text = query.lower().strip(), text.lower()
    if not query:
        return 0
    at, score, previous = 0, 0, -2
    for char in query:
        if char == " ":
            continue
        found = text.find(char, at)
        if found < 0:
            return None
        score += 3 if found == previous + 1 else 1
        score -= found // 20
        previous, at = found, found + 1
    return score


def _check(name: str, body: str) -> tuple[str, str]:
    name = name.strip()
    if not name or len(name) > 80:
        raise SavedReplyError("a saved reply needs a name of 1 to 80 characters")
    if not body.strip():
        raise SavedReplyError(f"saved reply {name!r} has no text")
    return name, body


async def save(store: Store, name: str, body: str, *, owner: str = "", now: int) -> None:
    """Add or replace the saved reply `name` (shared when `owner` is '', else `owner`'s own)."""
    name, body = _check(name, body)
    await store.write(lambda conn: _upsert(conn, owner, name, body, now))


def _upsert(conn: sqlite3.Connection, owner: str, name: str, body: str, now: int) -> None:
    conn.execute("INSERT INTO saved_reply(owner, name, body, updated_at) VALUES (?, ?, ?, ?)"
                 " ON CONFLICT (owner, name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                 (owner, name, body, now))


async def delete(store: Store, reply_id: int) -> None:
    await store.write(lambda conn: conn.execute("DELETE FROM saved_reply WHERE id = ?", (reply_id,)))


async def available(store: Store, agent: str) -> list[SavedReply]:
    """The shared ones and this agent's own."""
    found = await store.fetchall("SELECT * FROM saved_reply WHERE owner IN ('', ?) ORDER BY name, owner", (agent,))
    return [SavedReply(r["id"], r["name"], r["body"], r["owner"] == "") for r in found]


def search(replies: list[SavedReply], query: str) -> list[SavedReply]:
    scored = []
    for reply in replies:
        score = fuzzy_score(query, reply.name)
        if score is None:
            score = fuzzy_score(query, reply.body)
            score = None if score is None else score - 50  # a name match first
        if score is not None:
            scored.append((-score, reply.name, reply))
    return [reply for *_, reply in sorted(scored, key=lambda s: (s[0], s[1]))]


async def export(store: Store) -> list[dict]:
    found = await store.fetchall("SELECT owner, name, body FROM saved_reply ORDER BY owner, name")
    return [{"name": r["name"], "body": r["body"], **({"owner": r["owner"]} if r["owner"] else {})} for r in found]


async def import_replies(store: Store, text: str, *, now: int) -> int:
    """Import a JSON list of {"name", "body", optional "owner"} (what `export` writes); all or nothing."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise SavedReplyError(f"not JSON: {error}") from None
    if not isinstance(data, list):
        raise SavedReplyError("expected a JSON list of {\"name\": …, \"body\": …} objects")
    rows = []
    for number, entry in enumerate(data, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not isinstance(
                entry.get("body"), str) or not isinstance(entry.get("owner", ""), str):
            raise SavedReplyError(f"entry {number}: needs \"name\" and \"body\" strings (and an optional \"owner\")")
        try:
            rows.append((entry.get("owner", ""), *_check(entry["name"], entry["body"])))
        except SavedReplyError as error:
            raise SavedReplyError(f"entry {number}: {error}") from None

    def write(conn: sqlite3.Connection) -> int:
        for owner, name, body in rows:
            _upsert(conn, owner, name, body, now)
        return len(rows)

    return await store.write(write)
