"""The TUI's one door to data: paged reads for the screens, agent operations, and live changes.

Threads, messages and contacts are read through core/store/reads.py (views, channels, templates and counts with
their own small queries here); sending goes through core/sending.py (policy first, nothing queued on a
refusal). Every agent write here logs its change in the same transaction, so other agents' TUIs see it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core import activity, agents, assignment, policy, sending
from core.agents import Agent
from core.model import Activity, Channel, ChatMessage, Contact, Draft, Template, ThreadSummary, View
from core.sending import ReplyRefused, ReplyRules
from core.store import conversations, reads, rows
from core.store.db import Store, integrity_errors, log_changes
from core.views import BUILTIN_VIEWS, FILTER_KEYS

PAGE = 100
QUARANTINED_PREVIEW = "⛔ hidden message (quarantined)"
DEFAULT_SETTINGS = {"notify.toast": True, "notify.bell": True, "notify.desktop": True, "notify.mine": True,
                    "notify.queue": True, "notify.mention": True, "notify.assigned": True}


@dataclass(frozen=True, slots=True)
class Changes:
    """What other processes (and this one) committed since the last look."""

    thread_ids: frozenset[int]
    kinds: frozenset[str]
    new_inbound: tuple[int, ...] = ()  # threads that got a customer message concerning this agent
    marks: activity.Marks = activity.Marks()  # where the reader is after these: `changes(since=marks)` goes on
    concerning: activity.Concerning = activity.Concerning()  # the same, by kind, with mentions and assignments


@dataclass(frozen=True, slots=True)
class Quota:
    used: int
    quota: int

    @property
    def left(self) -> int:
        return policy.quota_left(self.used, self.quota)


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where a reply from the open thread can go: the thread itself, or the contact's thread on another number."""

    thread_id: int
    channel: str
    via: str  # our number as the agent knows it
    rules: ReplyRules  # the same rules the queue applies (core/sending.py)


@dataclass(frozen=True, slots=True)
class OpenThread:
    """Everything the screen shows for an open thread, read in one go."""

    thread: ThreadSummary
    messages: list[ChatMessage]
    more_before: bool  # older messages than these exist
    contact: Contact | None
    contact_threads: list[ThreadSummary]  # all of the contact's threads (this one included)
    targets: list[ReplyTarget]  # this thread first, then the contact's threads on our other numbers
    quota: Quota
    activity: list[Activity] = ()  # type: ignore[assignment]  # assignments, close/reopen, snooze, among messages


# After each wake-up, look again after these pauses: SQLite's log is written (and synced) before the commit is
# published to readers, so a reader woken by the write can look too early, and one wake-up can stand for several
# commits (the receiver's raw event, then its message).
LOOK_AGAIN = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032)
# While changes keep coming (a burst of webhooks), one look per this many seconds at most: the screen repaints at
# that pace, not once a commit.
BUSY_GAP = 0.05


class Inbox:
    def __init__(self, store: Store, *, agent: str, clock: Callable[[], float] = time.time,
                 quota: int = 1000) -> None:
        self.store = store
        self.agent = agent
        self._clock = clock
        self._quota = quota
        self._channels: dict[str, Channel] | None = None

    def now(self) -> int:
        return int(self._clock())

    # ---- reads ------------------------------------------------------------------------------------------------
    async def views(self) -> list[View]:
        found = await self.store.fetchall("SELECT id, name, filters FROM custom_view ORDER BY position, id")
        custom = []
        for row in found:
            try:
                filters = json.loads(row["filters"])
            except ValueError:
                filters = {}
            custom.append(View(f"custom:{row['id']}", row["name"], filters if isinstance(filters, dict) else {},
                               builtin=False))
        has_whatsapp = any(v.filters.get("source") == ["whatsapp"] and len(v.filters) == 1 for v in custom)
        if not has_whatsapp and await self.store.scalar("SELECT 1 FROM channel LIMIT 1"):
            # F5: a "WhatsApp" view exists once the first number is connected.
            custom.insert(0, View("whatsapp", "WhatsApp", {"source": ["whatsapp"]}, builtin=False))
        return [*BUILTIN_VIEWS, *custom]

    async def count(self, view: View, search: str | None = None) -> int:
        return await reads.count_threads(self.store, view, agent=self.agent, search=search)

    async def counts(self, views: Iterable[View]) -> dict[str, int]:
        return {view.key: await self.count(view) for view in views}

    async def threads(self, view: View, *, search: str | None = None, offset: int = 0, limit: int = PAGE,
                      order: str = "recent") -> list[ThreadSummary]:
        found = await reads.list_threads(self.store, view, agent=self.agent, search=search, offset=offset,
                                         limit=limit, order=order, now=self.now())  # type: ignore[arg-type]
        return await self._veil(found)

    async def _veil(self, threads: list[ThreadSummary]) -> list[ThreadSummary]:
        """A quarantined last message must not show in the list's preview either (F16)."""
        if not threads:
            return threads
        marks = ",".join("?" * len(threads))
        hidden = {r[0] for r in await self.store.fetchall(
            f"SELECT t.id FROM thread t WHERE t.id IN ({marks}) AND (SELECT m.quarantined FROM message m"
            " WHERE m.thread_id = t.id ORDER BY m.timestamp DESC, m.id DESC LIMIT 1) = 1", [t.id for t in threads])}
        return [replace(t, preview=QUARANTINED_PREVIEW) if t.id in hidden else t for t in threads]

    async def thread(self, thread_id: int) -> ThreadSummary | None:
        found = await reads.get_thread(self.store, thread_id, agent=self.agent)
        return None if found is None else (await self._veil([found]))[0]

    async def messages(self, thread_id: int, *, before_id: int | None = None, limit: int = 200) -> list[ChatMessage]:
        return await reads.thread_messages(self.store, thread_id, before_id=before_id, limit=limit)

    async def message_count(self, thread_id: int) -> int:
        return await reads.message_count(self.store, thread_id)

    async def contact(self, contact_id: int | None) -> Contact | None:
        return None if contact_id is None else await reads.get_contact(self.store, contact_id)

    async def contact_threads(self, contact_id: int | None) -> list[ThreadSummary]:
        return [] if contact_id is None else await self._veil(
            await reads.contact_threads(self.store, contact_id, agent=self.agent))

    async def channels(self, *, fresh: bool = False) -> dict[str, Channel]:
        if self._channels is None or fresh:
            found = await self.store.fetchall("SELECT * FROM channel ORDER BY name")
            self._channels = {
                r["phone_number_id"]: Channel(
                    phone_number_id=r["phone_number_id"], name=r["name"], waba_id=r["waba_id"],
                    display_phone_number=r["display_phone_number"], verified_name=r["verified_name"],
                    quality_rating=r["quality_rating"], messaging_limit_tier=r["messaging_limit_tier"],
                    health=r["health"], last_webhook_at=r["last_webhook_at"])
                for r in found}
        return self._channels

    async def templates(self, search: str = "") -> list[Template]:
        """Approved templates only: Meta refuses anything else."""
        found = await self.store.fetchall(
            "SELECT * FROM template WHERE upper(status) = 'APPROVED' AND name LIKE :q ESCAPE '\\'"
            " ORDER BY name, language",
            {"q": "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"})
        return [rows.template(r) for r in found]

    async def quota(self) -> Quota:
        return Quota(await self.store.run(conversations.used, self.now()), self._quota)

    async def rules(self, thread_id: int) -> ReplyRules:
        """What the sending rules say about this thread now (the template picker's warning reads this)."""
        return await self.store.run(sending.reply_rules, thread_id, self.now(), self._limits())

    async def open_thread(self, thread_id: int, *, mark_read: bool = True) -> OpenThread | None:
        """The thread as the screen shows it: newest messages, contact, where a reply can go and what the rules
        say about each, and the quota. Opening it reads it (unless this is a refresh of what is on screen)."""
        thread = await self.thread(thread_id)
        if thread is None:
            return None
        if mark_read and thread.unread:
            await self.mark_read(thread_id)
        messages = await self.messages(thread_id)
        more = len(messages) >= 200 and await self.message_count(thread_id) > len(messages)
        contact = await self.contact(thread.contact_id)
        others = await self.contact_threads(thread.contact_id) or [thread]
        numbers = await self.channels()
        targets = [thread, *(t for t in others if t.id != thread.id and t.channel != thread.channel)]
        used, rules = await self.store.run(self._rules_for, [t.id for t in targets], self.now())
        events = await activity.for_thread(self.store, thread_id,
                                           since=messages[0].timestamp if more and messages else None)
        return OpenThread(thread, messages, more, contact, others,
                          [ReplyTarget(t.id, t.channel, numbers[t.channel].display_phone_number
                                       if t.channel in numbers else t.channel, r) for t, r in zip(targets, rules)],
                          Quota(used, self._quota), events)

    def _rules_for(self, db: sqlite3.Connection, thread_ids: list[int], now: int) -> tuple[int, list[ReplyRules]]:
        """The month's count (read once: it scans the month) and the rules for each thread, in one hop."""
        used = conversations.used(db, now)
        return used, [sending.reply_rules(db, i, now, self._limits(), used=lambda: used) for i in thread_ids]

    async def thread_names(self, ids: Iterable[int]) -> list[str]:
        """Who each thread is with, as stored (untrusted text: the caller draws it literally)."""
        names = []
        for thread_id in ids:
            thread = await self.thread(thread_id)
            if thread is not None:
                names.append(thread.contact_name or thread.e164 or thread.wa_id or thread.user_id or "?")
        return names

    # ---- drafts (issue 7: what an agent typed belongs to its thread, and survives a restart) ------------------
    async def drafts(self) -> dict[int, Draft]:
        found = await self.store.fetchall("SELECT * FROM draft WHERE agent = ?", (self.agent,))
        return {r["thread_id"]: Draft(thread_id=r["thread_id"], client_key=r["client_key"], mode=r["mode"],
                                      reply_text=r["reply_text"], note_text=r["note_text"],
                                      target_thread=r["target_thread"], attachment=r["attachment"],
                                      caption=r["caption"]) for r in found}

    async def save_drafts(self, drafts: Iterable[Draft]) -> None:
        """Store these drafts (an empty one is deleted), in one transaction."""
        drafts, now = list(drafts), self.now()

        def write(conn: sqlite3.Connection) -> None:
            for d in drafts:
                if d.empty:
                    conn.execute("DELETE FROM draft WHERE agent = ? AND thread_id = ?", (self.agent, d.thread_id))
                    continue
                conn.execute(
                    "INSERT INTO draft(agent, thread_id, mode, reply_text, note_text, target_thread, attachment,"
                    " caption, client_key, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(agent, thread_id) DO UPDATE SET mode = excluded.mode,"
                    " reply_text = excluded.reply_text, note_text = excluded.note_text,"
                    " target_thread = excluded.target_thread, attachment = excluded.attachment,"
                    " caption = excluded.caption, client_key = excluded.client_key, updated_at = excluded.updated_at",
                    (self.agent, d.thread_id, d.mode, d.reply_text, d.note_text, d.target_thread, d.attachment,
                     d.caption, d.client_key, now))

        if drafts:
            await self.store.write(write)

    async def position(self, view: View, thread: ThreadSummary, *, search: str | None = None) -> int | None:
        """The thread's row in the view's newest-first order, or None when it is not in the view."""
        from core.views import search_clause, where
        clause, params = where(view, self.agent)
        if search and search.strip():
            found, more = search_clause(search, dialect=self.store.dialect)
            clause, params = f"{clause} AND {found}", {**params, **more}
        inside = await self.store.scalar(f"SELECT count(*) FROM thread t WHERE {clause} AND t.id = :me",
                                         {**params, "me": thread.id})
        if not inside:
            return None
        params.update(at=thread.last_message_at or 0, me=thread.id)
        return int(await self.store.scalar(
            f"SELECT count(*) FROM thread t WHERE {clause} AND (coalesce(t.last_message_at, 0) > :at"
            " OR (coalesce(t.last_message_at, 0) = :at AND t.id > :me))", params))

    async def next_unanswered(self, view: View, after: ThreadSummary | None = None) -> ThreadSummary | None:
        """The next open thread in this view whose customer wrote last, longest-waiting first, after `after`
        in that order (wrapping round), so pressing it again walks through every unanswered thread."""
        from core.views import where
        clause, params = where(view, self.agent)
        base = f"SELECT t.id FROM thread t WHERE {clause} AND t.status = 'open' AND t.last_direction = 'in'"
        order = " ORDER BY coalesce(t.last_inbound_at, 0) ASC, t.id ASC LIMIT 1"
        row = None
        if after is not None:
            row = await self.store.fetchone(
                base + " AND (coalesce(t.last_inbound_at, 0) > :at OR (coalesce(t.last_inbound_at, 0) = :at"
                " AND t.id > :me))" + order, {**params, "at": after.last_inbound_at or 0, "me": after.id})
        if row is None:
            row = await self.store.fetchone(base + " AND t.id != :me" + order,
                                            {**params, "me": after.id if after else 0})
        return None if row is None else await self.thread(row["id"])

    async def me(self) -> Agent | None:
        """The signed-in agent (status, capacity, teams), or None if they are not (or no longer) known."""
        return await agents.get_agent(self.store, self.agent)

    async def settings(self) -> dict[str, bool]:
        found = await self.store.fetchall("SELECT key, value FROM setting WHERE agent = ?", (self.agent,))
        values = dict(DEFAULT_SETTINGS)
        for row in found:
            if row["key"] in values:
                values[row["key"]] = row["value"] == "1"
        return values

    # ---- agent writes -----------------------------------------------------------------------------------------
    async def _update_threads(self, ids: Iterable[int], sql: str, params: dict[str, Any],
                              event: tuple[str, str] | None = None) -> int:
        """`event`: (kind, detail) of the activity shown in each thread's pane, by this agent."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return 0
        now = self.now()

        def write(conn: sqlite3.Connection) -> int:
            marks = ",".join(f":id{i}" for i in range(len(ids)))
            changed = conn.execute(f"UPDATE thread SET {sql} WHERE id IN ({marks})",
                                   {**params, **{f"id{i}": v for i, v in enumerate(ids)}, "now": now}).rowcount
            if event is not None:
                activity.record(conn, ids, event[0], self.agent, event[1], now)
            log_changes(conn, [("thread", i) for i in ids], at=now)
            return changed

        return await self.store.write(write)

    async def close(self, ids: Iterable[int]) -> int:
        ids = list(ids)
        closed = await self._update_threads(ids, "status = 'closed', closed_at = :now", {},
                                            event=("closed", "closed"))
        await assignment.drain(self.store, now=self.now())  # capacity freed: the team queue moves
        return closed

    async def reopen(self, ids: Iterable[int]) -> int:
        reopened = await self._update_threads(ids, "status = 'open', closed_at = NULL", {},
                                              event=("reopened", "reopened"))
        await assignment.drain(self.store, now=self.now())  # back to its previous owner, or the team's rules
        return reopened

    async def assign(self, ids: Iterable[int], *, owner: str | None = None, team: str | None = None) -> int:
        """Set the owner (a known agent) or the team (a known team); an empty name clears it. Unknown names raise
        core.agents.TeamError. Each assignment is recorded."""
        ids = list(dict.fromkeys(ids))
        target = f"team:{team.strip()}" if team is not None else (owner or "").strip()
        await assignment.assign(self.store, ids, target, by=self.agent, now=self.now())
        return len(ids)

    async def mark_unread(self, thread_id: int) -> int:
        def write(conn: sqlite3.Connection) -> None:  # unread stays as it is if it already is, else one
            conn.execute("INSERT INTO thread_read(agent, thread_id, seen) SELECT ?, id, unread - 1 FROM thread"
                         " WHERE id = ? ON CONFLICT (agent, thread_id) DO UPDATE SET"
                         " seen = CASE WHEN excluded.seen < thread_read.seen THEN excluded.seen"
                         " ELSE thread_read.seen END", (self.agent, thread_id))

        await self.store.write(write)
        return 1

    async def mark_read(self, thread_id: int) -> int:
        await self.store.write(sending.mark_read_in, self.agent, thread_id)
        return 1

    async def create_view(self, name: str, filters: dict) -> View:
        name = name.strip()
        if not name:
            raise ReplyRefused("A view needs a name.")
        unknown = set(filters) - set(FILTER_KEYS)
        if unknown:
            raise ReplyRefused(f"Unknown filter: {', '.join(sorted(unknown))}")
        now = self.now()

        def write(conn: sqlite3.Connection) -> int:
            position = conn.execute("SELECT coalesce(max(position), 0) + 1 FROM custom_view").fetchone()[0]
            try:
                cursor = conn.execute("INSERT INTO custom_view(name, filters, created_by, created_at, position)"
                                      " VALUES (?, ?, ?, ?, ?)", (name, json.dumps(filters), self.agent, now,
                                                                  position))
            except integrity_errors():
                raise ReplyRefused(f"A view named {name!r} already exists.") from None
            log_changes(conn, [("view", None)], at=now)
            return int(cursor.lastrowid or 0)

        view_id = await self.store.write(write)
        return View(f"custom:{view_id}", name, dict(filters), builtin=False)

    async def set_setting(self, key: str, value: bool) -> None:
        if key not in DEFAULT_SETTINGS:
            raise KeyError(key)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO setting(agent, key, value) VALUES (?, ?, ?)"
                         " ON CONFLICT(agent, key) DO UPDATE SET value = excluded.value",
                         (self.agent, key, "1" if value else "0"))

        await self.store.write(write)

    # ---- sending (the rules live in core/sending.py; its ReplyRefused is the one the screen catches) ---------
    def _limits(self) -> sending.SendingLimits:
        return sending.SendingLimits(monthly_quota=self._quota)

    def _sending_kwargs(self) -> dict[str, Any]:
        return {"agent": self.agent, "now": self.now(), "config": self._limits()}

    async def queue_text(self, thread_id: int, text: str, *, reply_to: str | None = None,
                         client_key: str | None = None) -> int:
        return await sending.queue_text(self.store, thread_id, text, reply_to=reply_to, client_key=client_key,
                                        **self._sending_kwargs())

    async def queue_template(self, thread_id: int, template: Template, params: list[str], *,
                             client_key: str | None = None) -> int:
        return await sending.queue_template(self.store, thread_id, template, params, client_key=client_key,
                                            **self._sending_kwargs())

    async def queue_media(self, thread_id: int, path: Path, *, caption: str | None = None,
                          client_key: str | None = None) -> int:
        return await sending.queue_media(self.store, thread_id, Path(path), caption=caption, client_key=client_key,
                                         **self._sending_kwargs())

    async def add_note(self, thread_id: int, text: str, *, client_key: str | None = None) -> int:
        return await sending.add_note(self.store, thread_id, text, agent=self.agent, now=self.now(),
                                      client_key=client_key)

    async def retry_failed(self, message_id: int) -> Any:
        return await sending.retry_failed(self.store, message_id, **self._sending_kwargs())

    # ---- live -------------------------------------------------------------------------------------------------
    async def live_marks(self) -> activity.Marks:
        """Where the change log (and what concerns this agent) is now: a reader that starts here misses nothing
        committed after, neither a change nor a message, mention or assignment to notify."""
        return await activity.marks(self.store)

    async def changes(self, poll: float = 0.05, *, since: activity.Marks | None = None) -> AsyncIterator[Changes]:
        """Yields what was committed since the last look (or since `since`). The store wakes this the moment
        anyone commits (SQLite: inotify on its log; PostgreSQL: LISTEN/NOTIFY), or it polls every `poll` s
        where it cannot; its data_version keeps each look at one cheap check."""
        marks = await self.live_marks() if since is None else since
        seq = marks.change
        version = await self.store.data_version()
        loop = asyncio.get_running_loop()
        last_yield, again = -BUSY_GAP, ()
        while True:
            if again:
                await asyncio.sleep(again[0])
                again = again[1:]
            elif await self.store.changed(poll):
                again = LOOK_AGAIN
            await asyncio.sleep(max(0.0, last_yield + BUSY_GAP - loop.time()))
            current = await self.store.data_version()
            newest = await self.store.last_change_seq() if current == version else None
            if current == version and newest == seq:
                continue  # nothing from others, nothing from ourselves
            version = current
            seq, logged = await self.store.changes_since(seq)
            if not logged:
                continue
            kinds = frozenset(k for k, _ in logged)
            found = activity.Concerning()
            if kinds - {"presence"}:  # presence alone (viewing / typing) brings no message
                found, marks = await activity.concerning(self.store, self.agent, marks)
            marks = replace(marks, change=seq)
            last_yield = loop.time()
            yield Changes(thread_ids=frozenset(t for _, t in logged if t is not None), kinds=kinds,
                          new_inbound=tuple(dict.fromkeys(found.mine + found.queue)), marks=marks,
                          concerning=found)
