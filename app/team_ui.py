"""The inbox's team side (issue 10), kept out of app/screens/inbox.py, which calls in at a few hooks: who else is
viewing or typing in the open thread (from the database, refreshed by the live follower), the collision warning
before a send, notifications by kind (toast, bell, the terminal's desktop notification, notify_command), snooze,
saved replies, availability and the agents & teams admin screen."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from app import handoff
from app.screens.confirm import ConfirmScreen
from core import agents, notify, presence, saved_replies, snooze
from core.agents import TeamError
from core.assignment import drain
from core.inbox import Changes
from core.text import printable

if TYPE_CHECKING:
    from app.screens.inbox import InboxScreen
    from widgets.composer import ComposeTarget

TYPING_WRITE_EVERY = 2  # seconds between typing heartbeats while the agent keeps typing
_KINDS = (("mine", "New message"), ("queue", "New message in the queue"), ("mention", "You were mentioned"),
          ("assigned", "Assigned to you"))


class TeamDesk:
    def __init__(self, screen: InboxScreen) -> None:
        self.screen = screen
        self.inbox = screen.inbox
        self.store = screen.inbox.store
        self.agent = screen.inbox.agent
        self.marks: dict[int, int] = {}  # thread -> last message id when this agent opened it / began typing
        self.present = presence.Present((), ())
        self._typed_at = 0.0
        self._typing_thread: int | None = None
        self.desktop_sent = 0  # desktop notifications written (tests read it)

    def now(self) -> int:
        return self.inbox.now()

    # ---- presence ---------------------------------------------------------------------------------------------
    async def opened(self, thread_id: int) -> None:
        """The agent opened `thread_id`: others see them viewing it; replies from now on are news to them."""
        self.marks[thread_id] = await presence.last_message_id(self.store, thread_id)
        await presence.viewing(self.store, self.agent, thread_id, now=self.now())
        await self.show_presence(thread_id)

    async def heartbeat(self) -> None:
        await presence.viewing(self.store, self.agent, self.screen.composer.thread_id, now=self.now())
        if self.screen.composer.thread_id is not None:
            await self.show_presence(self.screen.composer.thread_id)  # a typing or viewing mark may have expired

    async def typed(self, thread_id: int, text: str) -> None:
        if not text.strip():
            if self._typing_thread is not None:
                self._typing_thread = None
                await presence.stopped_typing(self.store, self.agent, now=self.now())
            return
        now = time.monotonic()
        if self._typing_thread == thread_id and now - self._typed_at < TYPING_WRITE_EVERY:
            return
        self._typed_at, started = now, self._typing_thread != thread_id
        self._typing_thread = thread_id
        if await presence.typing(self.store, self.agent, thread_id, now=self.now()) and started:
            self.marks[thread_id] = max(self.marks.get(thread_id, 0),
                                        await presence.last_message_id(self.store, thread_id))

    async def show_presence(self, thread_id: int) -> None:
        if thread_id != self.screen.composer.thread_id:
            return
        self.present = await presence.present(self.store, thread_id, agent=self.agent, now=self.now())
        line = self.screen.query_one("#thread-presence", Static)
        parts: list[Content] = []
        if self.present.typing:
            parts.append(Content.styled("✎ " + ", ".join(f"@{a}" for a in self.present.typing) + " typing…",
                                        "bold yellow"))
        watching = [a for a in self.present.viewing if a not in self.present.typing]
        if watching:
            parts.append(Content.styled("👁 " + ", ".join(f"@{a}" for a in watching) + " viewing", "yellow"))
        text = Content("  ").join(parts) if parts else Content("")
        if text != line.content or line.display != bool(parts):  # unchanged (most refreshes): no layout, no frame
            line.update(text, layout=line.display != bool(parts))  # one line: only showing/hiding it lays out
            line.display = bool(parts)

    # ---- collision --------------------------------------------------------------------------------------------
    async def send(self, thread_id: int, target: ComposeTarget, text: str, client_key: str) -> None:
        """Before a reply goes: warn if another agent replied since this one opened the thread or began typing."""
        if not target.note:
            others = await presence.replied_since(self.store, target.thread_id, agent=self.agent,
                                                  after_id=self.marks.get(thread_id, 0))
            if others and not await self.screen.app.push_screen_wait(ConfirmScreen(
                    f"{', '.join('@' + printable(o, limit=30) for o in others)} replied since you opened this "
                    "thread. Send yours anyway?")):
                self.screen.composer.finish_send(client_key, None)
                self.marks[thread_id] = await presence.last_message_id(self.store, thread_id)  # seen now
                return
        await self.screen.queue_compose(thread_id, target, text, client_key).wait()
        self.marks[thread_id] = await presence.last_message_id(self.store, thread_id)
        self._typing_thread = None
        await presence.stopped_typing(self.store, self.agent, now=self.now())

    # ---- notifications ----------------------------------------------------------------------------------------
    async def notify(self, changes: Changes) -> None:
        """Only what concerns this agent, each kind as switched in settings (`,`)."""
        settings = self.screen.settings
        found = changes.concerning
        for kind, title in _KINDS:
            if not settings.get(f"notify.{kind}", True):
                continue
            for thread_id in getattr(found, kind):
                thread = await self.inbox.thread(thread_id)
                if thread is None:
                    continue
                name = printable(thread.contact_name or thread.wa_id or "a customer", limit=60)
                body = f"{name}: {printable(thread.preview, limit=120)}" if kind in ("mine", "queue") else name
                await self._deliver(kind, title, body, thread_id)

    async def _deliver(self, kind: str, title: str, body: str, thread_id: int) -> None:
        settings, app = self.screen.settings, self.screen.app
        if settings.get("notify.toast", True):
            self.screen.notified += 1
            self.screen.notify(body, title=title, markup=False)
        desktop = settings.get("notify.desktop", True) and notify.protocol() != "bell"
        if desktop and not app.is_headless and app._driver is not None:  # Textual's own bell() writes so too
            app._driver.write(notify.sequence(title, body))
            self.desktop_sent += 1
        elif settings.get("notify.bell", True):
            app.bell()
        command = getattr(app, "notify_command", None)
        if command:
            asyncio.create_task(notify.run_hook(command, {"kind": kind, "title": title, "body": body,
                                                          "thread_id": thread_id, "agent": self.agent,
                                                          "at": self.now()}))

    # ---- assignment, snooze, saved replies, availability, admin ----------------------------------------------
    async def assign_names(self) -> str | None:
        from app.screens.team import AssignNames  # its screens load when first opened

        names = [a.name for a in await agents.list_agents(self.store, include_disabled=False)]
        names += [f"team:{t.name}" for t in await agents.list_teams(self.store)]
        return await self.screen.app.push_screen_wait(AssignNames(names))

    async def snooze(self, ids: list[int]) -> None:
        from app.screens.team import SnoozePrompt  # its screens load when first opened

        if not ids:
            return
        threads = [await self.inbox.thread(i) for i in ids]
        if all(t is not None and t.snoozed_until for t in threads):  # z on a snoozed thread wakes it
            await snooze.unsnooze(self.store, ids, agent=self.agent, now=self.now())
            self.screen.notify(f"Woken: {len(ids)} thread(s)", markup=False, timeout=3)
            return
        when = await self.screen.app.push_screen_wait(SnoozePrompt())
        if when is None:
            return
        try:
            until = snooze.parse_until(when, self.now())
        except snooze.SnoozeError as error:
            self.screen.notify(str(error), severity="error", markup=False)
            return
        await snooze.snooze(self.store, ids, until, agent=self.agent, now=self.now())
        said = "until the customer writes" if until is None else time.strftime("until %a %H:%M",
                                                                               time.localtime(until))
        names = await self.inbox.thread_names(ids)
        self.screen.notify(f"Snoozed {said}: " + (printable(names[0], limit=60) if len(names) == 1
                                                   else f"{len(names)} threads"), markup=False, timeout=3)

    async def saved_reply(self) -> None:
        from app.screens.team import ReplyChoice, SavedReplyPicker  # its screens load when first opened

        composer = self.screen.composer
        thread_id = composer.thread_id
        if thread_id is None:
            return
        replies = await saved_replies.available(self.store, self.agent)
        if not replies:
            self.screen.notify("No saved replies yet: `wabox saved-replies add` or import some.", markup=False)
            return
        choice: ReplyChoice | None = await self.screen.app.push_screen_wait(SavedReplyPicker(replies))
        if choice is None:
            return
        if choice.edit:
            try:
                body = handoff.edit_text(self.screen.app, choice.reply.body)
            except handoff.HandoffFailed as failed:
                self.screen.notify(printable(str(failed)), severity="warning", markup=False)
                return
            owner = "" if choice.reply.shared else self.agent
            await saved_replies.save(self.store, choice.reply.name, body, owner=owner, now=self.now())
            self.screen.notify(f"Saved reply {printable(choice.reply.name, limit=40)!r} updated", markup=False)
            return
        thread = await self.inbox.thread(thread_id)
        me = await agents.get_agent(self.store, self.agent)
        values = saved_replies.variables(contact_name=thread.contact_name if thread else "",
                                         phone=(thread.e164 or thread.wa_id or "") if thread else "",
                                         agent=self.agent, agent_display=me.display_name if me else self.agent)
        if composer.thread_id == thread_id:  # the agent may have left meanwhile: never into another thread
            text = composer.area.text
            composer.load_text((text.rstrip() + " " if text.strip() else "") + saved_replies.render(
                choice.reply.body, values))
            composer.area.focus()

    async def cycle_availability(self) -> None:
        me = await agents.get_agent(self.store, self.agent)
        if me is None:
            return
        status = agents.STATUSES[(agents.STATUSES.index(me.status) + 1) % len(agents.STATUSES)]
        await agents.set_status(self.store, self.agent, status, now=self.now())
        await drain(self.store, now=self.now())
        self.show_status(status)
        self.screen.notify(f"You are {status}", markup=False, timeout=2)

    def show_status(self, status: str) -> None:
        self.screen.app.sub_title = f"{self.agent} · {status}"

    async def admin(self) -> None:
        from app.screens.team import AdminChange, AdminScreen  # its screens load when first opened

        change: AdminChange | None = await self.screen.app.push_screen_wait(AdminScreen(
            await agents.list_agents(self.store), await agents.list_teams(self.store)))
        if change is None:
            return
        now = self.now()
        try:
            if change.action == "add_agent":
                await agents.add_agent(self.store, change.args[0], now=now)
            elif change.action == "status":
                await agents.set_status(self.store, change.args[0], change.args[1], now=now)
            elif change.action == "disable":
                await agents.disable_agent(self.store, change.args[0], now=now)
            elif change.action == "add_team":
                await agents.add_team(self.store, change.args[0], now=now)
            elif change.action == "members":
                words = change.args[1].split()
                await agents.set_members(self.store, change.args[0], add=[w[1:] for w in words if w[:1] == "+"],
                                         remove=[w[1:] for w in words if w[:1] == "-"], now=now)
        except TeamError as error:
            self.screen.notify(str(error), severity="error", markup=False)
            return
        await drain(self.store, now=now)
        self.screen.notify("Done: " + printable(" ".join((change.action, *change.args)), limit=80), markup=False,
                           timeout=2)



def presence_line() -> Static:
    line = Static(Content(""), id="thread-presence")
    line.display = False
    return line
