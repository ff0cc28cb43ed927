"""The inbox screen: composes the widgets, owns how they talk, and runs the workers that call core.Inbox."""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TextArea

from app.handoff import save_copy
from app.screens.confirm import ConfirmScreen
from app.screens.help import HelpScreen, sections
from app.screens.keys import focused_pane, footer_bindings, hint, keys_delivered
from app.screens.media import MediaScreen
from app.screens.prompts import (AssignPrompt, Assignment, Attachment, AttachPrompt, NewView, NewViewPrompt,
                                 SettingsScreen)
from app.screens.template_picker import SendFacts, TemplateChoice, TemplatePicker, thread_language
from core.config import DEFAULT_DOWNLOADS
from core.inbox import PAGE, Changes, Inbox, ReplyRefused
from core.model import ChatMessage, DeliveryStatus, MEDIA_TYPES, ThreadStatus, ThreadSummary, View
from core.text import printable
from core.views import search_problem
from widgets.composer import ComposeTarget, Composer
from widgets.contact_panel import ContactPanel
from widgets.formatting import session_badge
from widgets.literal import literal
from widgets.sidebar import ViewSidebar
from widgets.thread_list import ThreadList
from widgets.thread_pane import ThreadPane

# Actions that need a thread (the highlighted row, the selection, or the open thread).
_ON_THREADS = {"close_threads", "reopen_threads", "assign_me", "assign", "mark_unread"}
_ON_OPEN = {"reply", "template", "note", "attach", "toggle_metadata"}
_MOVE_TYPING = {"reply", "template", "note", "attach"}  # priority keys: a text field with focus keeps its letters
_ON_MESSAGE = {"reveal", "retry", "view_media", "save_media"}


class InboxScreen(Screen[None]):
    AUTO_FOCUS = "ThreadList"
    # Below 120 columns one pane at a time (the list, or the thread while it has focus); below 160 the contact
    # panel is an overlay that i shows. styles.tcss draws each.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-medium"), (160, "-wide")]
    BINDINGS = [
        Binding("slash", "search", "Search", tooltip="Search messages, names and numbers in this view",
                id="inbox.search"),
        # Keys that move the typing elsewhere are priority bindings: resolved as they are routed, so the keys typed
        # right after them follow (check_action gives them back to a text field that has focus).
        Binding("r", "reply", "Reply", tooltip="Write in the open thread (a template when the session is closed)",
                id="inbox.reply", priority=True),
        Binding("t", "template", "Template", tooltip="Send an approved template", id="inbox.template",
                priority=True),
        Binding("N", "note", "Note", tooltip="Write an internal note (agents only)", id="inbox.note", priority=True),
        Binding("c", "close_threads", "Close", tooltip="Close the thread (or the selected threads)",
                id="inbox.close"),
        Binding("o", "reopen_threads", "Reopen", tooltip="Reopen the thread (or the selected threads)",
                id="inbox.reopen"),
        Binding("m", "assign_me", "Mine", tooltip="Assign the thread (or the selection) to me", id="inbox.mine"),
        Binding("a", "assign", "Assign", tooltip="Assign to an agent or a team", id="inbox.assign"),
        Binding("u", "mark_unread", "Unread", tooltip="Mark the thread unread", id="inbox.unread"),
        Binding("n", "next_unanswered", "Next", tooltip="Jump to the next unanswered thread", id="inbox.next"),
        Binding("e", "toggle_order", "Expiring", tooltip="Order by session expiring soonest / newest activity",
                id="inbox.order"),
        Binding("d", "toggle_metadata", "Details", tooltip="Show numbers, exact times and message ids",
                id="inbox.details"),
        Binding("R", "reveal", "Reveal", tooltip="Reveal the selected quarantined message", id="inbox.reveal"),
        Binding("y", "retry", "Retry", tooltip="Retry the selected failed message", id="inbox.retry"),
        Binding("A", "attach", "Attach", tooltip="Attach a file to the open thread", id="inbox.attach",
                priority=True),
        Binding("O", "view_media", "View", tooltip="Show the selected media here: an image drawn in the terminal",
                id="inbox.view_media"),
        Binding("S", "save_media", "Save", tooltip="Save the selected media to the downloads folder",
                id="inbox.save_media"),
        Binding("i", "toggle_contact", "Contact", tooltip="Show or hide the contact panel", id="inbox.contact"),
        Binding("b", "toggle_views", "Views", tooltip="Show or hide the views on a narrow screen", id="inbox.views"),
        Binding("question_mark,f1", "help", "Help", tooltip="Every key, by pane (f1 while typing)", id="inbox.help"),
        Binding("v", "new_view", "New view", tooltip="Create a custom view from filters", id="inbox.new_view"),
        Binding("comma", "settings", "Settings", tooltip="Notification settings", id="inbox.settings"),
        Binding("escape", "back", "Back", tooltip="Back to the thread list"),
    ]

    open_thread: var[ThreadSummary | None] = var(None)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """What the footer shows: the keys that matter in the focused pane (`all_bindings` has every one)."""
        return footer_bindings(_SCREEN_ACTIONS, focused_pane(self.focused), self.all_bindings)

    @property
    def all_bindings(self) -> dict[str, ActiveBinding]:
        return super().active_bindings

    def __init__(self, inbox: Inbox, *, media_dir: Path | None = None,
                 downloads_dir: Path = DEFAULT_DOWNLOADS) -> None:
        super().__init__()
        self.inbox = inbox
        self.media_dir = media_dir
        self.downloads_dir = downloads_dir
        self.views: list[View] = []
        self.view: View | None = None
        self.search = ""
        self.order = "recent"
        self.numbers: dict[str, str] = {}
        self.channel_names: dict[str, str] = {}  # what the thread list calls each channel
        self.settings: dict[str, bool] = {}
        self.message: ChatMessage | None = None
        self.notified = 0  # toasts shown (tests read it)
        self._last_inbound: dict[int, int | None] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ViewSidebar(id="views")
            with Vertical(id="list-column"):
                yield Input(placeholder="search (enter to apply, esc to clear)", id="search")
                yield Static(Content(""), id="list-title")
                yield ThreadList(id="threads")
            with Vertical(id="conversation"):
                yield Static(Content(""), id="thread-title")
                yield ThreadPane(id="thread")
                yield Composer(id="composer")
            yield ContactPanel(id="contact")
        yield Footer(compact=True)  # ~25 keys: compact fits more of them; all are in the palette (ctrl+p)

    def on_mount(self) -> None:
        self.query_one(ThreadPane).media_keys = hint(self.app, self.BINDINGS, ["view_media", "save_media"])
        self.start()
        self.set_interval(30, self.tick)  # session badges count down even when nothing is written

    def tick(self) -> None:
        now = self.inbox.now()
        thread_list = self.query_one(ThreadList)
        thread_list.now = now
        thread_list.refresh()
        if self.open_thread is not None:
            composer = self.query_one(Composer)
            composer.show_targets([replace(t, session=session_badge(self._last_inbound.get(t.thread_id), now))
                                   for t in composer.targets], quota=composer.quota, keep=True)

    # ---- loading ----------------------------------------------------------------------------------------------
    @work(exclusive=True, group="load")
    async def start(self) -> None:
        self.numbers = {k: c.display_phone_number for k, c in (await self.inbox.channels()).items()}
        self.channel_names = {k: c.name or c.display_phone_number for k, c in (await self.inbox.channels()).items()}
        self.settings = await self.inbox.settings()
        self.views = await self.inbox.views()
        self.view = self.views[0]
        await self._load_list()
        await self._load_counts()
        self.follow_changes()

    async def _load_counts(self) -> None:
        self.views = await self.inbox.views()
        counts = await self.inbox.counts(self.views)
        key = self.view.key if self.view else "open"
        try:
            sidebar = self.query_one(ViewSidebar)
        except NoMatches:  # the app is quitting and took the widgets away while this load was in flight
            return
        if [v.key for v in sidebar.views] == [v.key for v in self.views]:
            sidebar.update_counts(counts)  # keeps wherever the agent's highlight is
        else:
            sidebar.show_views(self.views, counts, key)

    async def _load_list(self, *, keep_cursor: bool = False) -> None:
        assert self.view is not None
        try:
            thread_list = self.query_one(ThreadList)
        except NoMatches:  # the app is quitting and took the widgets away while this load was in flight
            return
        view, search, order = self.view, self.search or None, self.order
        page_at = (thread_list.cursor // PAGE) * PAGE if keep_cursor else 0
        first = await self.inbox.threads(view, search=search, offset=page_at, order=order)

        async def loader(offset: int, limit: int) -> list[ThreadSummary]:
            return await self.inbox.threads(view, search=search, offset=offset, limit=limit, order=order)

        if search and len(first) == PAGE and not keep_cursor:
            # A broad search: show the first page now, count the rest after (the count costs as much again).
            thread_list.show(PAGE, first, loader, now=self.inbox.now(), channels=self.channel_names)
            self._list_title(view, None, search, order)
            await asyncio.sleep(0)
        total = page_at + len(first) if len(first) < PAGE else await self.inbox.count(view, search)
        thread_list.show(total, first, loader, now=self.inbox.now(), channels=self.channel_names,
                         keep_cursor=keep_cursor or bool(search and len(first) == PAGE), page_at=page_at)
        self._list_title(view, total, search, order)

    def _list_title(self, view: View, total: int | None, search: str | None, order: str) -> None:
        count = f"  {total:,}" if total is not None else "  counting…"
        title = Content.assemble((view.name, "bold"), (count, "dim"),
                                 ("  · expiring first" if order == "expiring" else "", "yellow"))
        if search:
            title = title.append(Content.assemble(("  / ", "dim"), literal(search, limit=40, keep_newlines=False)))
        self.query_one("#list-title", Static).update(title)

    @work(exclusive=True, group="load")
    async def reload_list(self, keep_cursor: bool = False) -> None:
        await self._load_list(keep_cursor=keep_cursor)

    @on(ViewSidebar.ViewChosen)
    def choose_view(self, event: ViewSidebar.ViewChosen) -> None:
        self.view = event.view
        self.remove_class("-views-shown")
        self.reload_list()
        self.query_one(ThreadList).focus()

    @on(ThreadList.ThreadOpened)
    def open_from_list(self, event: ThreadList.ThreadOpened) -> None:
        self.load_thread(event.thread_id)
        if self.has_class("-narrow"):  # one pane at a time: the thread takes the screen, escape gives it back
            self.set_focus(self.query_one(ThreadPane))

    def on_descendant_focus(self) -> None:
        """On a narrow screen the pane with focus is the one shown (styles.tcss: -reading)."""
        self.set_class(focused_pane(self.focused) != "list", "-reading")

    @work(exclusive=True, group="open-thread")
    async def load_thread(self, thread_id: int, refresh: bool = False) -> None:
        thread = await self.inbox.thread(thread_id)
        if thread is None:
            return
        if not refresh and thread.unread:
            await self.inbox.mark_read(thread_id)
        messages = await self.inbox.messages(thread_id)
        more = len(messages) >= 200 and await self.inbox.message_count(thread_id) > len(messages)
        self.open_thread = thread
        self.query_one(ThreadPane).show_thread(thread, messages, more_before=more, now=self.inbox.now(),
                                               our_number=self.numbers.get(thread.channel, thread.channel),
                                               keep_selection=refresh)
        await self._show_context(thread, keep=refresh)

    async def _show_context(self, thread: ThreadSummary, *, keep: bool) -> None:
        now = self.inbox.now()
        contact = await self.inbox.contact(thread.contact_id)
        others = await self.inbox.contact_threads(thread.contact_id) or [thread]
        self.query_one(ContactPanel).show_contact(contact, others, current=thread.id, numbers=self.numbers, now=now)
        self._last_inbound = {t.id: t.last_inbound_at for t in [thread, *others]}
        targets = [ComposeTarget(self.numbers.get(thread.channel, thread.channel), thread.id,
                                 session=session_badge(thread.last_inbound_at, now))]
        targets += [ComposeTarget(self.numbers.get(t.channel, t.channel), t.id,
                                  session=session_badge(t.last_inbound_at, now))
                    for t in others if t.id != thread.id and t.channel != thread.channel]
        targets.append(ComposeTarget("Internal note", thread.id, note=True))
        quota = await self.inbox.quota()
        opens = await self.inbox.opens_conversation(thread, is_template=False)
        quota_text = f"{quota.used}/{quota.quota} this month" + (" · a reply opens a new conversation"
                                                                 if opens else "")
        self.query_one(Composer).show_targets(targets, quota=quota_text, keep=keep)
        name = literal(thread.contact_name or thread.e164 or thread.wa_id or "?", limit=80, keep_newlines=False)
        status = "closed" if thread.status is ThreadStatus.CLOSED else "open"
        self.query_one("#thread-title", Static).update(Content.assemble(
            name.stylize("bold"), (f"  via {self.numbers.get(thread.channel, thread.channel)}", "dim"),
            (f"  · {status}", "dim"), (f"  · @{thread.owner}" if thread.owner else "  · unassigned", "dim"),
            (f"  · team {thread.team}" if thread.team else "", "dim")))

    @on(ThreadPane.OlderWanted)
    def older(self, event: ThreadPane.OlderWanted) -> None:
        self.load_older(event.before_id)

    @work(exclusive=True, group="older")
    async def load_older(self, before_id: int) -> None:
        pane = self.query_one(ThreadPane)
        if pane.thread is None:
            return
        older = await self.inbox.messages(pane.thread.id, before_id=before_id)
        if pane.messages and pane.messages[0].id == before_id:
            pane.prepend(older, more_before=len(older) >= 200)

    @on(ThreadPane.MessageSelected)
    def message_selected(self, event: ThreadPane.MessageSelected) -> None:
        self.message = event.message
        self._refresh_bindings_if_changed()

    def watch_open_thread(self, old: ThreadSummary | None, new: ThreadSummary | None) -> None:
        self._refresh_bindings_if_changed()
        if new is not None and (old is None or old.id != new.id) and self.has_class("-narrow"):
            self.set_focus(self.query_one(ThreadPane))  # however it was opened (n, palette): one pane, this one

    def _refresh_bindings_if_changed(self) -> None:
        """The footer rebuilds its keys on every refresh (~25 widgets restyled): only when something changed."""
        state = tuple(self.check_action(a, ()) for a in sorted(_ON_THREADS | _ON_OPEN | _ON_MESSAGE))
        if state != getattr(self, "_binding_state", None):
            self._binding_state = state
            self.refresh_bindings()

    # ---- live -------------------------------------------------------------------------------------------------
    @work(exclusive=True, group="follow-changes")
    async def follow_changes(self) -> None:
        async for changes in self.inbox.changes():
            await self._apply(changes)

    async def _apply(self, changes: Changes) -> None:
        if "view" in changes.kinds or "channel" in changes.kinds:
            self.numbers = {k: c.display_phone_number for k, c in (await self.inbox.channels(fresh=True)).items()}
            self.channel_names = {k: c.name or c.display_phone_number for k, c in (await self.inbox.channels()).items()}
        await self._load_list(keep_cursor=True)  # what the agent is looking at first, the counts after
        pane = self.query_one(ThreadPane)
        if pane.thread is not None and pane.thread.id in changes.thread_ids:
            self.load_thread(pane.thread.id, refresh=True)
        for thread_id in changes.new_inbound:
            await self._notify_inbound(thread_id)
        await self._load_counts()

    async def _notify_inbound(self, thread_id: int) -> None:
        thread = await self.inbox.thread(thread_id)
        if thread is None:
            return
        if self.settings.get("notify.toast", True):
            self.notified += 1
            name = printable(thread.contact_name or thread.wa_id or "a customer", limit=60)
            self.notify(f"{name}: {printable(thread.preview, limit=120)}", title="New message", markup=False)
        if self.settings.get("notify.bell", True):
            self.app.bell()

    # ---- which threads an action applies to -------------------------------------------------------------------
    def _targets(self) -> list[int]:
        thread_list = self.query_one(ThreadList)
        if thread_list.selected:
            return sorted(thread_list.selected)
        if thread_list.has_focus and thread_list.current is not None:
            return [thread_list.current.id]
        if self.open_thread is not None:
            return [self.open_thread.id]
        return thread_list.selected_or_current()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """False hides a key that does nothing here, so a narrow footer holds the ones that do."""
        if action in _MOVE_TYPING and isinstance(self.focused, (Input, TextArea)):
            return False  # a letter typed into a field
        if action in _ON_THREADS and not (self.open_thread or self.query_one(ThreadList).total):
            return False
        if action in _ON_OPEN and self.open_thread is None:
            return False
        message = self.message
        if action == "reveal" and not (message and message.quarantined):
            return False
        if action == "retry" and not (message and message.status is DeliveryStatus.FAILED):
            return False
        if action == "toggle_views" and not self.has_class("-narrow"):
            return False
        if action in ("view_media", "save_media") and not (message and message.type in MEDIA_TYPES
                                                            and message.media_path):
            return False
        return True

    # ---- agent actions ----------------------------------------------------------------------------------------
    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        self.add_class("-searching")
        search.focus()

    @on(Input.Submitted, "#search")
    def apply_search(self, event: Input.Submitted) -> None:
        problem = search_problem(event.value.strip())
        if problem:  # e.g. thousands of pasted words: say so instead of a search that takes seconds
            self.notify(problem, severity="error")
            return
        self.search = event.value.strip()
        if not self.search:
            self.remove_class("-searching")
        self.reload_list()
        self.query_one(ThreadList).focus()

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if search.has_focus or self.search:
            search.value = ""
            self.search = ""
            self.remove_class("-searching")
            self.reload_list()
        self.query_one(ThreadList).focus()

    async def action_reply(self) -> None:
        await keys_delivered(self.focused)
        composer = self.query_one(Composer)
        if composer.session_closed:
            await self.action_template()
            return
        self.set_focus(composer.area)  # now: Widget.focus() would wait behind the keys already typed

    def action_note(self) -> None:
        composer = self.query_one(Composer)
        composer.target_index = len(composer.targets) - 1
        self.set_focus(composer.area)

    @on(Composer.Leave)
    def leave_composer(self) -> None:
        self.query_one(ThreadList).focus()

    @on(Composer.Send)
    def send(self, event: Composer.Send) -> None:
        self.queue_reply(event.target, event.text)

    @work(group="outbox")
    async def queue_reply(self, target: ComposeTarget, text: str) -> None:
        try:
            if target.note:
                await self.inbox.add_note(target.thread_id, text)
            else:
                await self.inbox.queue_text(target.thread_id, text)
        except ReplyRefused as refused:
            self.notify(refused.reason, title="Not sent", severity="error", markup=False)
            return
        self.query_one(Composer).clear()
        self.load_thread(target.thread_id, refresh=True)

    @on(Composer.TemplateWanted)
    async def template_wanted(self) -> None:
        await self.action_template()

    async def action_template(self) -> None:
        """Awaited where the key was routed, so the keys typed after `t` go to the picker's search box."""
        await keys_delivered(self.focused)
        thread, target = self.open_thread, self.query_one(Composer).target
        if thread is None:
            return
        thread_id = target.thread_id if target and not target.note else thread.id
        target_thread = await self.inbox.thread(thread_id) or thread
        quota = await self.inbox.quota()
        opens = await self.inbox.opens_conversation(target_thread, is_template=True)
        left = session_badge(target_thread.last_inbound_at, self.inbox.now())
        facts = SendFacts(
            customer=target_thread.contact_name or target_thread.e164 or target_thread.wa_id or "?",
            session_left=left, conversation=("business" if left == "closed" else "customer") if opens else None,
            quota_used=quota.used, quota=quota.quota,
            language=thread_language(self.query_one(ThreadPane).messages, target_thread.e164))

        def chosen(choice: TemplateChoice | None) -> None:
            if choice is not None:
                self.run_worker(self._send_template(thread_id, choice), group="outbox")

        await self.app.push_screen(TemplatePicker(await self.inbox.templates(), facts), callback=chosen)

    async def _send_template(self, thread_id: int, choice: TemplateChoice) -> None:
        try:
            await self.inbox.queue_template(thread_id, choice.template, choice.params)
        except ReplyRefused as refused:
            self.notify(refused.reason, title="Not sent", severity="error", markup=False)
            return
        self.load_thread(thread_id, refresh=True)

    async def action_attach(self) -> None:
        await keys_delivered(self.focused)
        thread = self.open_thread
        if thread is None:
            return

        def chosen(choice: Attachment | None) -> None:
            if choice is not None:
                self.run_worker(self._queue_attachment(thread.id, choice), group="outbox")

        await self.app.push_screen(AttachPrompt(), callback=chosen)  # awaited: the next keys go to its path field

    async def _queue_attachment(self, thread_id: int, choice: Attachment) -> None:
        try:
            await self.inbox.queue_media(thread_id, Path(choice.path).expanduser(), caption=choice.caption or None)
        except ReplyRefused as refused:
            self.notify(refused.reason, title="Not attached", severity="error", markup=False)
            return
        except OSError as error:
            self.notify(f"Cannot read the file: {printable(str(error))}", title="Not attached", severity="error",
                        markup=False)
            return
        self.load_thread(thread_id, refresh=True)

    @on(Composer.EditorWanted)
    def edit_in_editor(self, event: Composer.EditorWanted) -> None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.NamedTemporaryFile("w+", suffix=".txt", delete=False, encoding="utf-8") as handle:
            handle.write(event.text)
            path = Path(handle.name)
        try:
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), str(path)], check=False)
        except Exception as error:  # headless (tests) or no terminal to hand over
            self.notify(f"Cannot start the editor: {printable(str(error))}", severity="warning", markup=False)
        else:
            self.query_one(Composer).area.load_text(path.read_text(encoding="utf-8").rstrip("\n"))
        finally:
            path.unlink(missing_ok=True)
        self.query_one(Composer).area.focus()

    def action_close_threads(self) -> None:
        self._confirmed("Close", lambda ids: self.act("close", ids=ids))

    def action_reopen_threads(self) -> None:
        self._confirmed("Reopen", lambda ids: self.act("reopen", ids=ids))

    def action_assign_me(self) -> None:
        self._confirmed("Assign to you", lambda ids: self.act("assign", Assignment(owner=self.inbox.agent), ids))

    def _confirmed(self, verb: str, run: Callable[[list[int]], object]) -> None:
        """An action on more than one thread asks first ("Close 12 threads?"); on one, it just acts."""
        ids = self._targets()
        if len(ids) <= 1:
            run(ids)
            return
        self.app.push_screen(ConfirmScreen(f"{verb}: {len(ids)} threads?"),
                             callback=lambda yes: run(ids) if yes else None)

    def action_mark_unread(self) -> None:
        self.act("unread")

    def action_assign(self) -> None:
        self.assign_prompt()

    @work(group="assign")
    async def assign_prompt(self) -> None:
        ids = self._targets()
        choice: Assignment | None = await self.app.push_screen_wait(AssignPrompt())
        if choice is not None and (len(ids) <= 1 or await self.app.push_screen_wait(
                ConfirmScreen(f"Assign {len(ids)} threads to {choice.team or choice.owner or 'nobody'}?"))):
            self.act("assign", choice, ids)

    @work(group="outbox")
    async def act(self, what: str, assignment: Assignment | None = None, ids: list[int] | None = None) -> None:
        ids = ids if ids is not None else self._targets()
        if not ids:
            return
        if what == "close":
            await self.inbox.close(ids)
        elif what == "reopen":
            await self.inbox.reopen(ids)
        elif what == "unread":
            await self.inbox.mark_unread(ids[0]) if len(ids) == 1 else [await self.inbox.mark_unread(i) for i in ids]
        elif what == "assign" and assignment is not None:
            await self.inbox.assign(ids, owner=assignment.owner, team=assignment.team)
        self.query_one(ThreadList).selected.clear()
        done = {"close": "Closed", "reopen": "Reopened", "unread": "Marked unread", "assign": "Assigned"}[what]
        self.notify(f"{done}: {len(ids)} thread{'s' if len(ids) != 1 else ''}", markup=False, timeout=2)
        await self._load_counts()
        await self._load_list(keep_cursor=True)
        if self.open_thread is not None and self.open_thread.id in ids:
            self.load_thread(self.open_thread.id, refresh=True)

    def action_next_unanswered(self) -> None:
        self.jump_next()

    @work(exclusive=True, group="load")
    async def jump_next(self) -> None:
        assert self.view is not None
        found = await self.inbox.next_unanswered(self.view, self.open_thread)
        if found is None:
            self.notify("No unanswered thread in this view.", markup=False, timeout=2)
            return
        position = await self.inbox.position(self.view, found, search=self.search or None)
        if position is not None and self.order == "recent":
            thread_list = self.query_one(ThreadList)
            if thread_list.thread_at(position) is None:
                rows = await self.inbox.threads(self.view, search=self.search or None,
                                                offset=(position // PAGE) * PAGE)
                thread_list._pages[position // PAGE] = rows
            thread_list.move_to(position)
        self.load_thread(found.id)

    def action_toggle_order(self) -> None:
        self.order = "expiring" if self.order == "recent" else "recent"
        self.reload_list()

    def action_toggle_metadata(self) -> None:
        pane = self.query_one(ThreadPane)
        pane.show_metadata = not pane.show_metadata

    def action_toggle_contact(self) -> None:
        self.toggle_class("-contact-toggled")

    def action_toggle_views(self) -> None:
        self.toggle_class("-views-shown")
        if self.has_class("-views-shown"):
            self.query_one(ViewSidebar).focus()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(sections(
            self.app.BINDINGS, self.BINDINGS, {"list": ThreadList.BINDINGS, "views": ViewSidebar.BINDINGS,
                                               "thread": ThreadPane.BINDINGS, "composer": Composer.BINDINGS,
                                               "template": TemplatePicker.BINDINGS})))

    def action_reveal(self) -> None:
        pane = self.query_one(ThreadPane)
        if pane.current is not None:
            pane.reveal(pane.current.id)

    def action_retry(self) -> None:
        if self.message is not None:
            self.retry(self.message.id, self.message.thread_id)

    @work(group="outbox")
    async def retry(self, message_id: int, thread_id: int) -> None:
        try:
            await self.inbox.retry_failed(message_id)
        except ReplyRefused as refused:
            self.notify(refused.reason, title="Not retried", severity="error", markup=False)
            return
        self.notify("Queued again.", markup=False, timeout=2)
        self.load_thread(thread_id, refresh=True)

    def _media_file(self) -> Path | None:
        message = self.message
        if message is None or not message.media_path:
            return None
        path = Path(message.media_path)
        if not path.is_absolute() and self.media_dir is not None:
            path = self.media_dir / path
        return path if path.is_file() else None

    def action_view_media(self) -> None:
        path, message = self._media_file(), self.message
        if path is None or message is None:
            self.notify("The file is not on this machine yet.", severity="warning", markup=False)
            return
        self.app.push_screen(MediaScreen(message, path),
                             callback=lambda save: self.action_save_media() if save else None)

    def action_save_media(self) -> None:
        path, message = self._media_file(), self.message
        if path is None or message is None:
            self.notify("The file is not on this machine yet.", severity="warning", markup=False)
            return
        try:
            target = save_copy(path, self.downloads_dir, message.file_name)
        except OSError as error:
            self.notify(f"Not saved: {printable(str(error), limit=200)}", severity="error", markup=False)
            return
        self.notify(f"Saved to {printable(str(target), limit=300)}", markup=False)

    def action_new_view(self) -> None:
        self.new_view()

    @work(group="view")
    async def new_view(self) -> None:
        choice: NewView | None = await self.app.push_screen_wait(NewViewPrompt())
        if choice is None:
            return
        try:
            view = await self.inbox.create_view(choice.name, choice.filters)
        except ReplyRefused as refused:
            self.notify(refused.reason, severity="error", markup=False)
            return
        self.view = view
        await self._load_counts()
        await self._load_list()

    def action_settings(self) -> None:
        self.edit_settings()

    @work(group="settings")
    async def edit_settings(self) -> None:
        chosen = await self.app.push_screen_wait(SettingsScreen(self.settings))
        if chosen is None:
            return
        for key, value in chosen.items():
            if self.settings.get(key) != value:
                await self.inbox.set_setting(key, value)
        self.settings = await self.inbox.settings()


_SCREEN_ACTIONS = {binding.action for binding in InboxScreen.BINDINGS}  # the footer filters only these
