"""The inbox screen: a router. core.Inbox returns what is shown, the widgets draw it and post typed messages, and
this screen passes one to the other in workers that share one error policy (a failure is shown and logged; the
inbox stays up).

The target of an action is what the agent sees: the open thread when focus is on the thread or the composer, the
highlighted row (or the selection) when focus is on the list. The composer is bound to one thread; what is typed
is that thread's draft (app/thread_state.py) and is sent there and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.reactive import Reactive, var
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Static, TextArea
from textual.worker import Worker, WorkerState

from app import handoff
from app.frame_hold import FrameHold, HeldScreen
from app.screens.confirm import ConfirmScreen
from app.screens.keys import focused_pane, footer_bindings, hint, keys_delivered
from app.team_ui import TeamDesk, presence_line
from app.thread_state import SAVE_AFTER, ThreadDrafts
from core import phones, policy
from core.activity import Marks
from core.agents import TeamError
from core.config import DEFAULT_DOWNLOADS
from core.presence import HEARTBEAT_SECONDS
from core.inbox import PAGE, Changes, Inbox, OpenThread, ReplyRefused
from core.model import ChatMessage, MEDIA_TYPES, ThreadStatus, ThreadSummary, View
from core.text import printable
from core.views import search_problem
from widgets.composer import ComposeTarget, Composer, ReplyArea
from widgets.contact_panel import ContactPanel
from widgets.key_footer import KeyFooter
from widgets.literal import literal
from widgets.sidebar import ViewSidebar
from widgets.thread_list import ThreadList
from widgets.thread_pane import ThreadPane

if TYPE_CHECKING:  # the dialogs load when first opened (the inbox's cold start)
    from app.screens.prompts import Assignment, Attachment, NewView
    from app.screens.template_picker import TemplateChoice

# Actions that need a thread (the highlighted row, the selection, or the open thread).
_ON_THREADS = {"close_threads", "reopen_threads", "assign_me", "assign", "mark_unread", "snooze"}
_ON_OPEN = {"reply", "template", "note", "attach", "toggle_metadata", "link_record"}
_MOVE_TYPING = {"reply", "template", "note", "attach"}  # priority keys: a text field with focus keeps its letters
_ON_MESSAGE = {"reveal", "retry", "view_media", "save_media"}
_PANES = "#views, #list-column, #conversation"  # what can hold the focus, as the agent sees it
_DONE = {"close": "Closed", "reopen": "Reopened", "unread": "Marked unread", "assign": "Assigned"}

RETRY_FOLLOW = 0.5  # seconds before the live follower starts again after a failed read
log = logging.getLogger("wabox.inbox")


# A terminal sends escape and the key typed right after it as one alt+key ("esc j" typed fast is alt+j): out of
# the composer, that is the key itself; typed into the draft, "esc j enter" would send it.
_AFTER_ESCAPE = [Binding(f"alt+{key}", f"after_escape({char!r})", show=False, priority=True, system=True)
                 for key, char in [*((c, c) for c in "abcdefghijklmnopqrstuvwxyz"),
                                   *((f"shift+{c}", c.upper()) for c in "abcdefghijklmnopqrstuvwxyz"),
                                   ("enter", "enter"), ("slash", "slash"), ("comma", "comma"), ("space", "space")]]


def job(*, group: str, exclusive: bool = False) -> Callable:
    """Every worker of this screen: a failure never ends the agent's session (on_worker_state_changed shows it)."""
    return work(group=group, exclusive=exclusive, exit_on_error=False)


class InboxScreen(HeldScreen[None]):
    AUTO_FOCUS = "ThreadList"
    # Below 120 columns one pane at a time (the list, or the thread while it has focus); below 160 the contact
    # panel is an overlay that i shows. styles.tcss draws each.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-medium"), (160, "-wide")]
    BINDINGS = [
        Binding("slash", "search", "Search", tooltip="Search messages, names and numbers in this view",
                id="inbox.search"),
        # Keys that move the typing elsewhere are priority bindings: resolved as they are routed, so the keys typed
        # right after them follow (check_action gives them back to a text field that has focus).
        Binding("r", "reply", "Reply", tooltip="Write in the open thread (a template when the session has expired)",
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
        # Issue 10 (app/team_ui.py does the work)
        Binding("z", "snooze", "Snooze", tooltip="Snooze until a time or the customer's reply (z again wakes it)",
                id="inbox.snooze"),
        Binding("P", "availability", "Availability", tooltip="Switch your availability: available / away / offline",
                id="inbox.availability"),
        Binding("T", "team_admin", "Agents & teams", tooltip="Agents and teams: add, status, disable, members",
                id="inbox.team_admin"),
        # Issue 9 (app/screens/records.py, record_page.py, record_flows.py)
        Binding("C", "records", "Records", tooltip="Contacts, companies, deals, tickets and custom objects",
                id="inbox.records"),
        Binding("L", "link_record", "Link", tooltip="Link the open thread to a deal or ticket", id="inbox.link"),
        # Priority: escape moves the focus as it is pressed, so keys typed right after it go where it leads.
        Binding("escape", "back", "Back", tooltip="Back to the thread list", priority=True),
        # Enter in the search box too (a plain binding of the box would run after the next key reached the box).
        Binding("enter", "apply_search", show=False, priority=True, system=True),
        *_AFTER_ESCAPE,
    ]

    open_thread: var[ThreadSummary | None] = var(None)
    # Textual's Screen repaints the whole screen when the focus moves (a full frame, ~a third of a view switch);
    # the widgets whose look changes with focus restyle and redraw themselves, so the rest need not be drawn again.
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """What the footer shows: the keys that matter in the focused pane (`all_bindings` has every one)."""
        return footer_bindings(_SCREEN_ACTIONS, focused_pane(self.focused), self.all_bindings)

    @property
    def all_bindings(self) -> dict[str, ActiveBinding]:
        return super().active_bindings

    def __init__(self, inbox: Inbox, *, media_dir: Path | None = None, drafts: ThreadDrafts | None = None,
                 downloads_dir: Path = DEFAULT_DOWNLOADS) -> None:
        super().__init__()
        self.inbox = inbox
        self.media_dir = media_dir
        self.downloads_dir = downloads_dir
        self.drafts = drafts or ThreadDrafts(inbox)
        self.views: list[View] = []
        self.view: View | None = None
        self.search = ""
        self.order = "recent"
        self.numbers: dict[str, str] = {}
        self.channel_names: dict[str, str] = {}  # what the thread list calls each channel
        self.settings: dict[str, bool] = {}
        self.message: ChatMessage | None = None
        self.notified = 0  # toasts shown (tests read it)
        self.ready = asyncio.Event()  # the first view is chosen (and its rows shown): live changes can be applied
        self._list_generation = 0
        self._save_timer: Timer | None = None
        self._last_tick = 0
        self._last_failure = ""
        self._live_marks: Marks | None = None  # how far the screen is current (the change log, what to notify)
        self.desk = TeamDesk(self)  # presence, collision, notifications by kind, snooze, saved replies
        self.frames = FrameHold(self.app)  # a new view or search: its rows and the focus move drawn in one frame
        self.frames.hold()  # and the first screen: drawn once, with its rows, not once per widget mounted

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ViewSidebar(id="views")
            with Vertical(id="list-column"):
                yield Input(placeholder="search (enter to apply, esc to clear)", id="search")
                yield Static(Content(""), id="list-title")
                yield ThreadList(id="threads")
            with Vertical(id="conversation"):
                yield Static(Content(""), id="thread-title")
                yield presence_line()
                yield ThreadPane(id="thread")
                yield Composer(id="composer")
            yield ContactPanel(id="contact")
        yield KeyFooter()  # ~25 keys on one line; all are in the palette (ctrl+p)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    def on_mount(self) -> None:
        self.query_one(ThreadPane).media_keys = hint(self.app, self.BINDINGS, ["view_media", "save_media"])
        self._last_tick = self.inbox.now()
        self.start()
        self.follow_changes()  # its own worker: no load the agent starts can cancel it
        self.set_interval(30, self.tick)  # session badges count down even when nothing is written
        self.set_interval(HEARTBEAT_SECONDS, self.heartbeat)  # "viewing" expires unless renewed

    @job(group="presence")
    async def heartbeat(self) -> None:
        await self.desk.heartbeat()

    def tick(self) -> None:
        now = self.inbox.now()
        thread_list = self.query_one(ThreadList)
        thread_list.now = now
        thread_list.refresh()
        composer = self.composer
        composer.tick(now)
        if composer.thread_id is not None and any(t.expires_at and self._last_tick < t.expires_at <= now
                                                  for t in composer.targets):
            self.refresh_thread(composer.thread_id)  # a session closed: the rules say what may be sent now
        self._last_tick = now

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The pane holding the focus is marked (styles.tcss: `.-focused`): the agent sees what keys act on."""
        for pane in self.query(_PANES):
            pane.set_class(event.widget is pane or pane in event.widget.ancestors, "-focused")
        self.set_class(focused_pane(event.widget) != "list", "-reading")  # narrow: the focused pane is shown

    # ---- one error policy -------------------------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            self._failed(event.worker.group, event.worker.error)

    @on(ThreadList.LoadFailed)
    def _page_failed(self, event: ThreadList.LoadFailed) -> None:
        self._failed("thread-page", event.error)

    def _failed(self, group: str, error: BaseException) -> None:
        if isinstance(error, NoMatches) and not self.query(ThreadPane):
            return  # the app is quitting and took the widgets away while this load was in flight
        log.error("inbox worker %s failed", group, exc_info=error)
        said = f"{type(error).__name__}: {printable(str(error), limit=300)}"
        if said != self._last_failure:  # a failure that repeats (the follower's retries) is said once
            self.notify(said, title="Something went wrong (the inbox is still running)", severity="error",
                        markup=False)
        self._last_failure = said
        if group == "follow-changes":
            self.set_timer(RETRY_FOLLOW, self.follow_changes)  # live updates must outlive a failed read

    # ---- loading ----------------------------------------------------------------------------------------------
    @job(group="start")
    async def start(self) -> None:
        self.frames.hold()  # the mounting took some of the first hold's LIMIT: the reads get a whole one
        try:
            self._live_marks = await self.inbox.live_marks()  # the follower misses nothing from here on
            await self.drafts.load()
            self.query_one(ThreadList).mark_drafted(self.drafts.written)
            self._channels_known(await self.inbox.channels())
            self.views = await self.inbox.views()
            if self.view is None:  # the agent may have picked one already
                self.view = self.views[0]
            await self._load_list()  # the first rows before what the first screen does not show
            self.settings = await self.inbox.settings()
            me = await self.inbox.me()
            if me is not None:
                self.desk.show_status(me.status)
        finally:
            self.ready.set()
            self.frames.release()
        await self._load_counts()

    def _channels_known(self, channels: dict) -> None:
        self.numbers = {k: c.display_phone_number for k, c in channels.items()}
        self.channel_names = {k: c.name or c.display_phone_number for k, c in channels.items()}

    async def _load_counts(self) -> None:
        self.views = await self.inbox.views()
        counts = await self.inbox.counts(self.views)
        key = self.view.key if self.view else "open"
        sidebar = self.query_one(ViewSidebar)
        if [v.key for v in sidebar.views] == [v.key for v in self.views]:
            sidebar.update_counts(counts)  # keeps wherever the agent's highlight is
        else:
            sidebar.show_views(self.views, counts, key)

    async def _load_list(self, *, keep_cursor: bool = False) -> None:
        if self.view is None:
            return  # the first load will read it
        self._list_generation += 1
        generation = self._list_generation
        thread_list = self.query_one(ThreadList)
        view, search, order = self.view, self.search or None, self.order
        page_at = (thread_list.cursor // PAGE) * PAGE if keep_cursor else 0
        first = await self.inbox.threads(view, search=search, offset=page_at, order=order)

        async def loader(offset: int, limit: int) -> list[ThreadSummary]:
            return await self.inbox.threads(view, search=search, offset=offset, limit=limit, order=order)

        if generation != self._list_generation:
            return  # a newer list (another view, search or order) was asked for meanwhile
        if search and len(first) == PAGE and not keep_cursor:
            # A broad search: show the first page now, count the rest after (the count costs as much again).
            thread_list.show(PAGE, first, loader, now=self.inbox.now(), channels=self.channel_names)
            self._list_title(view, None, search, order)
            self.frames.release()
            await asyncio.sleep(0)
        total = page_at + len(first) if len(first) < PAGE else await self.inbox.count(view, search)
        if generation != self._list_generation:
            return
        thread_list.show(total, first, loader, now=self.inbox.now(), channels=self.channel_names,
                         keep_cursor=keep_cursor or bool(search and len(first) == PAGE), page_at=page_at)
        self._list_title(view, total, search, order)
        self.frames.release()
        self._refresh_bindings_if_changed()  # the thread keys show once there are threads to act on

    def _list_title(self, view: View, total: int | None, search: str | None, order: str) -> None:
        count = f"  {total:,}" if total is not None else "  counting…"
        title = Content.assemble((view.name, "bold"), (count, "dim"),
                                 ("  · expiring first" if order == "expiring" else "", "yellow"))
        if search:
            title = title.append(Content.assemble(("  / ", "dim"), literal(search, limit=40, keep_newlines=False)))
        self.query_one("#list-title", Static).update(title, layout=False)  # one line, fixed: no layout

    @job(group="load", exclusive=True)
    async def reload_list(self, keep_cursor: bool = False) -> None:
        try:
            await self._load_list(keep_cursor=keep_cursor)
        finally:
            self.frames.release()  # also when the read failed or a newer one replaced it

    @on(ViewSidebar.ViewChosen)
    def choose_view(self, event: ViewSidebar.ViewChosen) -> None:
        self.view = event.view
        self.remove_class("-views-shown")
        self.frames.hold()
        self.reload_list()
        self.query_one(ThreadList).focus()

    # ---- the open thread --------------------------------------------------------------------------------------
    @on(ThreadList.ThreadOpened)
    def open_from_list(self, event: ThreadList.ThreadOpened) -> None:
        self.show_thread(event.thread_id)

    def show_thread(self, thread_id: int) -> None:
        """Open a thread, however it was asked for (list, palette, search, `n`). The composer moves to it now,
        before anything is read: a key pressed from here on can only write into this thread's draft."""
        self._bind_composer(thread_id)
        self.load_thread(thread_id)
        if self.has_class("-narrow"):  # one pane at a time: the thread takes the screen, escape gives it back
            self.set_focus(self.query_one(ThreadPane))

    def refresh_thread(self, thread_id: int) -> None:
        """Read the open thread again (a live change, a send), keeping the agent's place in it."""
        if thread_id == self.composer.thread_id:
            self.reload_thread(thread_id)

    def _bind_composer(self, thread_id: int) -> None:
        composer = self.composer
        if composer.thread_id == thread_id:
            return
        left = composer.bind(self.drafts.get(thread_id))
        if left is not None:
            self.drafts.put(left)
            self.save_drafts()  # leaving a thread writes its draft at once
        self.query_one(ThreadList).mark_drafted(self.drafts.written)

    @job(group="open-thread", exclusive=True)
    async def load_thread(self, thread_id: int) -> None:
        opened = await self.inbox.open_thread(thread_id, mark_read=False)  # drawn first, marked read after
        if opened is not None and thread_id == self.composer.thread_id:
            self._show_open(opened, refresh=False)
            # The highlight follows in the same frame (no wait when the row is loaded): moved after the presence
            # write, it took back a cursor the agent had moved on meanwhile.
            await self._follow_in_list(opened.thread)
            if opened.thread.unread:
                await self.inbox.mark_read(thread_id)  # a write: it may wait for the receiver's commit
                self.query_one(ThreadList).update_thread(replace(opened.thread, unread=0))
                await self._load_counts()  # a view of unread threads counts one fewer
            await self.desk.opened(thread_id)

    @job(group="refresh-thread", exclusive=True)
    async def reload_thread(self, thread_id: int) -> None:
        opened = await self.inbox.open_thread(thread_id, mark_read=False)
        if opened is not None and thread_id == self.composer.thread_id:
            self._show_open(opened, refresh=True)

    def _show_open(self, opened: OpenThread, *, refresh: bool) -> None:
        thread, now = opened.thread, self.inbox.now()
        self.open_thread = thread
        self.query_one(ThreadPane).show_thread(thread, opened.messages, more_before=opened.more_before, now=now,
                                               our_number=self.numbers.get(thread.channel, thread.channel),
                                               keep_selection=refresh, activity=opened.activity)
        self.query_one(ContactPanel).show_contact(opened.contact, opened.contact_threads, current=thread.id,
                                                  numbers=self.numbers, now=now)
        self.load_thread_records(thread.id)
        threads = {t.id: t for t in [thread, *opened.contact_threads]}
        targets = [ComposeTarget(t.thread_id, to=_customer(threads.get(t.thread_id, thread)), via=t.via,
                                 expires_at=t.rules.session_expires_at, refused=t.rules.text_refused,
                                 opens=t.rules.text_opens is not None) for t in opened.targets]
        targets.append(ComposeTarget(thread.id, note=True))
        self.composer.show_targets(thread.id, targets, quota=f"{opened.quota.used}/{opened.quota.quota} this month",
                                   now=now)
        name = literal(thread.contact_name or thread.e164 or thread.wa_id or "?", limit=80, keep_newlines=False)
        status = "closed" if thread.status is ThreadStatus.CLOSED else "open"
        title = Content.assemble(
            name.stylize("bold"), (f"  via {self.numbers.get(thread.channel, thread.channel)}", "dim"),
            (f"  · {status}", "dim"), (f"  · @{thread.owner}" if thread.owner else "  · unassigned", "dim"),
            (f"  · team {thread.team}" if thread.team else "", "dim"))
        self.query_one("#thread-title", Static).update(title, layout=False)  # one line, fixed: no layout

    async def _follow_in_list(self, thread: ThreadSummary) -> None:
        """The list's highlight moves to the open thread, however it was opened."""
        thread_list = self.query_one(ThreadList)
        row = thread_list.index_of(thread.id)
        if row is None and self.view is not None and self.order == "recent":
            row = await self.inbox.position(self.view, thread, search=self.search or None)
            if row is not None and thread_list.thread_at(row) is None:
                thread_list.show_page(row, await self.inbox.threads(self.view, search=self.search or None,
                                                                    offset=(row // PAGE) * PAGE))
        if row is not None and thread.id == self.composer.thread_id:
            thread_list.move_to(row)

    @on(ThreadPane.OlderWanted)
    def older(self, event: ThreadPane.OlderWanted) -> None:
        self.load_older(event.before_id)

    @job(group="older", exclusive=True)
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

    def watch_open_thread(self) -> None:
        self._refresh_bindings_if_changed()

    def _refresh_bindings_if_changed(self) -> None:
        """The footer rebuilds its keys on every refresh (~25 widgets restyled): only when something changed."""
        state = tuple(self.check_action(a, ()) for a in sorted(_ON_THREADS | _ON_OPEN | _ON_MESSAGE))
        if state != getattr(self, "_binding_state", None):
            self._binding_state = state
            self.refresh_bindings()

    # ---- drafts -----------------------------------------------------------------------------------------------
    @on(Composer.DraftChanged)
    def draft_changed(self, event: Composer.DraftChanged) -> None:
        draft = event.draft
        if self.composer.area.has_focus:  # typed by the agent, not a draft loaded with its thread
            self.typing(draft.thread_id, draft.note_text if draft.mode == "note" else draft.reply_text)
        self.drafts.put(event.draft)
        self.query_one(ThreadList).mark_drafted(self.drafts.written)
        if self._save_timer is not None:
            self._save_timer.stop()
        self._save_timer = self.set_timer(SAVE_AFTER, self.save_drafts)

    @job(group="presence")
    async def typing(self, thread_id: int, text: str) -> None:
        await self.desk.typed(thread_id, text)  # others see "typing" (a note counts: they would collide too)

    @job(group="drafts")
    async def save_drafts(self) -> None:
        await self.drafts.flush()

    # ---- live -------------------------------------------------------------------------------------------------
    @job(group="follow-changes", exclusive=True)
    async def follow_changes(self) -> None:
        await self.ready.wait()
        async for changes in self.inbox.changes(since=self._live_marks):
            await self._apply(changes)
            self._live_marks = changes.marks  # applied: a follower started again after a failure goes on from here

    async def _apply(self, changes: Changes) -> None:
        bound = self.composer.thread_id
        if bound is not None and "presence" in changes.kinds:
            await self.desk.show_presence(bound)
        if changes.kinds == {"presence"}:
            return  # someone opened a thread or typed: nothing else to read again
        if "view" in changes.kinds or "channel" in changes.kinds:
            self._channels_known(await self.inbox.channels(fresh=True))
        await self._load_list(keep_cursor=True)  # what the agent is looking at first, the counts after
        await self.wait_for_refresh()  # on screen before the rest (toasts, counts) takes the next frame's time
        if bound is not None and bound in changes.thread_ids:
            self.refresh_thread(bound)
        elif bound is not None and {"record", "contact"} & changes.kinds:  # a link or a record changed elsewhere
            self.load_thread_records(bound)
        await self.desk.notify(changes)  # only what concerns this agent, by kind
        await self._load_counts()

    # ---- which threads an action applies to -------------------------------------------------------------------
    def _targets(self) -> list[int]:
        """On the list: the selection, else the highlighted row. Anywhere else: the open thread."""
        thread_list = self.query_one(ThreadList)
        if thread_list.has_focus or self.open_thread is None:
            return thread_list.selected_or_current()
        return [self.open_thread.id]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """False hides a key that does nothing here, so a narrow footer holds the ones that do."""
        if action == "apply_search":
            return self.focused is self.query_one("#search")  # elsewhere enter is the focused widget's
        if action in _MOVE_TYPING and isinstance(self.focused, (Input, TextArea)):
            return False  # a letter typed into a field
        if action in _ON_THREADS and not (self.open_thread or self.query_one(ThreadList).total):
            return False
        if action in _ON_OPEN and self.open_thread is None:
            return False
        message = self.message
        if action == "reveal" and not (message and message.quarantined):
            return False
        if action == "retry" and not (message and message.retryable):
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
        self.query_one("#list-column").add_class("-searching")  # the column, not the screen: less to restyle
        search.focus()

    async def action_apply_search(self) -> None:
        """Enter in the search box: the search is what was typed before it, and the keys after it go to the list."""
        search = self.query_one("#search", Input)
        await keys_delivered(search)
        problem = search_problem(search.value.strip())
        if problem:  # e.g. thousands of pasted words: say so instead of a search that takes seconds
            self.notify(problem, severity="error", markup=False)
            return
        self.search = search.value.strip()
        if not self.search:
            self.query_one("#list-column").remove_class("-searching")
        self.frames.hold()
        self.reload_list()
        self.set_focus(self.query_one(ThreadList))  # now: Widget.focus() would wait behind the keys already typed

    async def action_back(self) -> None:
        """Back to the list: out of the composer or the thread, or clearing the search."""
        await keys_delivered(self.focused)  # what was typed before escape lands where it was typed
        search, thread_list = self.query_one("#search", Input), self.query_one(ThreadList)
        if search.has_focus or (self.search and thread_list.has_focus):
            search.value = ""
            self.search = ""
            self.query_one("#list-column").remove_class("-searching")
            self.reload_list()
        self.set_focus(thread_list)  # now, not after a refresh: the next key is already on its way

    async def action_after_escape(self, key: str) -> None:
        await self.action_back()
        # To the list as the key itself, before any key that came after it (private: Textual has no public way).
        thread_list = self.query_one(ThreadList)
        thread_list._forward_event(events.Key(key, key if len(key) == 1 else None))

    async def action_reply(self) -> None:
        await keys_delivered(self.focused)
        if self.composer.session_closed:
            await self.action_template()
            return
        self.set_focus(self.composer.area)  # now: Widget.focus() would wait behind the keys already typed

    def action_note(self) -> None:
        self.composer.use_note()
        self.set_focus(self.composer.area)

    @on(Composer.Send)
    def send(self, event: Composer.Send) -> None:
        self.send_checked(event.thread_id, event.target, event.text, event.client_key)

    @job(group="send-check")
    async def send_checked(self, thread_id: int, target: ComposeTarget, text: str, client_key: str) -> None:
        await self.desk.send(thread_id, target, text, client_key)  # warns first if another agent replied

    @job(group="outbox")
    async def queue_compose(self, thread_id: int, target: ComposeTarget, text: str, client_key: str) -> None:
        after = None
        try:
            if target.note:
                await self.inbox.add_note(thread_id, text, client_key=client_key)
            else:
                await self.inbox.queue_text(target.thread_id, text, client_key=client_key)
            after = self.drafts.sent(thread_id, client_key, note=target.note)
        except ReplyRefused as refused:
            self.notify(refused.reason, title="Not sent", severity="error", markup=False)
            return
        finally:
            self.composer.finish_send(client_key, after)
        self.query_one(ThreadList).mark_drafted(self.drafts.written)
        await self.drafts.flush()
        self.refresh_thread(thread_id)

    @on(Composer.TemplateWanted)
    async def template_wanted(self) -> None:
        await self.action_template()

    async def action_template(self) -> None:
        """Awaited where the key was routed, so the keys typed after `t` go to the picker's search box."""
        await keys_delivered(self.focused)
        composer = self.composer
        target, thread_id = composer.target, composer.thread_id
        if thread_id is None:
            return
        to = target.thread_id if target and not target.note else thread_id
        now = self.inbox.now()
        try:  # not a worker (the keys typed next must wait for the picker): the one error policy by hand
            thread = await self.inbox.thread(to)
            quota, rules, templates = await self.inbox.quota(), await self.inbox.rules(to), await self.inbox.templates()
            consent = await self._records().consent_problem(to, now)
        except Exception as error:
            self._failed("template", error)
            return
        if thread is None:
            return
        left = (policy.format_session_left(int(rules.session_expires_at - now))
                if rules.session_expires_at and rules.session_expires_at > now and not rules.text_refused
                else "closed")
        from app.screens.template_picker import SendFacts, TemplatePicker, thread_language

        facts = SendFacts(customer=_customer(thread), session_left=left, conversation=rules.template_opens,
                          quota_used=quota.used, quota=quota.quota,
                          language=thread_language(self.query_one(ThreadPane).messages, thread.e164))

        def chosen(choice: TemplateChoice | None) -> None:
            if choice is not None:
                self.send_template(to, thread_id, choice)

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.app.push_screen(TemplatePicker(templates, facts), callback=chosen)

        if consent:  # F30: no opt-in on record and no open session: the agent confirms before picking
            await self.app.push_screen(ConfirmScreen(f"{consent}. Send a template?"), callback=confirmed)
        else:
            await self.app.push_screen(TemplatePicker(templates, facts), callback=chosen)

    @job(group="outbox")
    async def send_template(self, to: int, thread_id: int, choice: TemplateChoice) -> None:
        await self._send_template(to, choice)
        self.refresh_thread(thread_id)

    async def _send_template(self, thread_id: int, choice: TemplateChoice) -> None:
        try:
            await self.inbox.queue_template(thread_id, choice.template, choice.params)
        except ReplyRefused as refused:
            self.notify(refused.reason, title="Not sent", severity="error", markup=False)

    async def action_attach(self) -> None:
        await keys_delivered(self.focused)
        thread_id = self.composer.thread_id
        if thread_id is None:
            return
        from app.screens.prompts import Attachment, AttachPrompt

        draft = self.drafts.get(thread_id)
        kept = Attachment(draft.attachment, draft.caption) if draft.attachment else None

        def chosen(choice: Attachment | None) -> None:
            if choice is not None:
                self.attach(thread_id, choice)

        await self.app.push_screen(AttachPrompt(kept), callback=chosen)  # awaited: the next keys go to its path

    @job(group="outbox")
    async def attach(self, thread_id: int, choice: Attachment) -> None:
        draft = self.drafts.get(thread_id)
        self.drafts.put(replace(self.drafts.get(thread_id), attachment=choice.path, caption=choice.caption))
        try:
            await self.inbox.queue_media(thread_id, Path(choice.path).expanduser(), caption=choice.caption or None,
                                         client_key=f"{draft.client_key}:file")
        except (ReplyRefused, OSError) as error:
            reason = error.reason if isinstance(error, ReplyRefused) else f"Cannot read the file: {error}"
            self.notify(printable(reason), title="Not attached (kept: A to try again)", severity="error",
                        markup=False)
        else:
            self.drafts.sent(thread_id, draft.client_key, note=False, attachment=True)
            self.refresh_thread(thread_id)
        self.query_one(ThreadList).mark_drafted(self.drafts.written)
        await self.drafts.flush()

    @on(Composer.EditorWanted)
    def edit_in_editor(self, event: Composer.EditorWanted) -> None:
        try:
            text = handoff.edit_text(self.app, event.text)
        except handoff.HandoffFailed as failed:
            self.notify(printable(str(failed)), severity="warning", markup=False)
        else:
            if self.composer.thread_id == event.thread_id:
                self.composer.load_text(text)
        self.composer.area.focus()

    def action_close_threads(self) -> None:
        self._confirmed("Close", lambda ids: self.act("close", ids=ids))

    def action_reopen_threads(self) -> None:
        self._confirmed("Reopen", lambda ids: self.act("reopen", ids=ids))

    def action_assign_me(self) -> None:
        from app.screens.prompts import Assignment

        self._confirmed("Assign to you", lambda ids: self.act("assign", Assignment(owner=self.inbox.agent), ids))

    def _confirmed(self, verb: str, run: Callable[[list[int]], object]) -> None:
        """An action on more than one thread asks first ("Close: 12 threads?"); on one, it just acts."""
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

    @job(group="assign")
    async def assign_prompt(self) -> None:
        from app.screens.prompts import Assignment

        ids = self._targets()
        named = await self.desk.assign_names()  # known agents and teams only, completed as typed
        choice = None if named is None else (Assignment(team=named[5:]) if named.lower().startswith("team:")
                                             else Assignment(owner=named))
        if choice is not None and (len(ids) <= 1 or await self.app.push_screen_wait(
                ConfirmScreen(f"Assign {len(ids)} threads to {choice.team or choice.owner or 'nobody'}?"))):
            self.act("assign", choice, ids)

    @job(group="outbox")
    async def act(self, what: str, assignment: Assignment | None = None, ids: list[int] | None = None) -> None:
        ids = ids if ids is not None else self._targets()
        if not ids:
            return
        names = await self.inbox.thread_names(ids)
        if what == "close":
            await self.inbox.close(ids)
        elif what == "reopen":
            await self.inbox.reopen(ids)
        elif what == "unread":
            for thread_id in ids:
                await self.inbox.mark_unread(thread_id)
        elif what == "assign" and assignment is not None:
            try:
                await self.inbox.assign(ids, owner=assignment.owner, team=assignment.team)
            except TeamError as refused:
                self.notify(str(refused), title="Not assigned", severity="error", markup=False)
                return
        self.query_one(ThreadList).selected.clear()
        self.notify(_acted(what, names, assignment), markup=False, timeout=3)
        await self._load_counts()
        await self._load_list(keep_cursor=True)
        if self.open_thread is not None and self.open_thread.id in ids:
            self.refresh_thread(self.open_thread.id)

    def action_next_unanswered(self) -> None:
        self.jump_next()

    @job(group="jump", exclusive=True)
    async def jump_next(self) -> None:
        if self.view is None:
            return
        found = await self.inbox.next_unanswered(self.view, self.open_thread)
        if found is None:
            self.notify("No unanswered thread in this view.", markup=False, timeout=2)
            return
        self.show_thread(found.id)

    def action_toggle_order(self) -> None:
        self.order = "expiring" if self.order == "recent" else "recent"
        self.reload_list()

    def action_toggle_metadata(self) -> None:
        pane = self.query_one(ThreadPane)
        pane.show_metadata = not pane.show_metadata

    # ---- records beside the thread (issue 9: app/screens/record_flows.py) --------------------------------------
    def action_records(self) -> None:
        from app.screens.records import RecordsScreen

        self.app.push_screen(RecordsScreen(self.inbox))

    def _records(self):
        from core.records.service import Records  # imported when first used: not on the first screen's path

        return Records(self.inbox.store)

    @job(group="thread-records", exclusive=True)
    async def load_thread_records(self, thread_id: int) -> None:
        from app.screens import record_flows

        await record_flows.show_thread_records(self, self._records(), thread_id)

    @job(group="link-record", exclusive=True)
    async def action_link_record(self) -> None:
        from app.screens import record_flows

        if self.open_thread is not None:
            thread_id = self.open_thread.id
            if await record_flows.link_thread(self.app, self._records(), thread_id):
                self.load_thread_records(thread_id)

    def action_toggle_contact(self) -> None:
        self.toggle_class("-contact-toggled")

    def action_toggle_views(self) -> None:
        self.toggle_class("-views-shown")
        if self.has_class("-views-shown"):
            self.query_one(ViewSidebar).focus()

    def action_help(self) -> None:
        from app.screens.help import HelpScreen, sections
        from app.screens.template_picker import TemplatePicker

        self.app.push_screen(HelpScreen(sections(
            self.app.BINDINGS, self.BINDINGS, {"list": ThreadList.BINDINGS, "views": ViewSidebar.BINDINGS,
                                               "thread": ThreadPane.BINDINGS, "composer": ReplyArea.BINDINGS,
                                               "template": TemplatePicker.BINDINGS})))

    def action_reveal(self) -> None:
        pane = self.query_one(ThreadPane)
        if pane.current is not None:
            pane.reveal(pane.current.id)

    def action_retry(self) -> None:
        if self.message is not None:
            self.retry(self.message.id, self.message.thread_id)

    @job(group="outbox")
    async def retry(self, message_id: int, thread_id: int) -> None:
        try:
            await self.inbox.retry_failed(message_id)
        except ReplyRefused as refused:
            self.notify(refused.reason, title="Not retried", severity="error", markup=False)
            return
        names = await self.inbox.thread_names([thread_id])
        self.notify(f"Queued again: the message to {printable(names[0] if names else '?', limit=60)}",
                    markup=False, timeout=2)
        self.refresh_thread(thread_id)

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
        from app.screens.media import MediaScreen

        self.app.push_screen(MediaScreen(message, path),
                             callback=lambda save: self.action_save_media() if save else None)

    def action_save_media(self) -> None:
        path, message = self._media_file(), self.message
        if path is None or message is None:
            self.notify("The file is not on this machine yet.", severity="warning", markup=False)
            return
        try:
            target = handoff.save_copy(path, self.downloads_dir, message.file_name)
        except OSError as error:
            self.notify(f"Not saved: {printable(str(error), limit=200)}", severity="error", markup=False)
            return
        self.notify(f"Saved to {printable(str(target), limit=300)}", markup=False)

    def action_snooze(self) -> None:
        self.team_job("snooze")

    @on(Composer.SavedReplyWanted)
    def saved_reply_wanted(self) -> None:
        self.team_job("saved_reply")

    def action_availability(self) -> None:
        self.team_job("availability")

    def action_team_admin(self) -> None:
        self.team_job("admin")

    @job(group="team")
    async def team_job(self, what: str) -> None:
        if what == "snooze":
            ids = self._targets()
            await self.desk.snooze(ids)
            self.query_one(ThreadList).selected.clear()
            await self._load_counts()
            await self._load_list(keep_cursor=True)
        elif what == "saved_reply":
            await self.desk.saved_reply()
        elif what == "availability":
            await self.desk.cycle_availability()
        else:
            await self.desk.admin()

    def action_new_view(self) -> None:
        self.new_view()

    @job(group="view")
    async def new_view(self) -> None:
        from app.screens.prompts import NewViewPrompt

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

    @job(group="settings")
    async def edit_settings(self) -> None:
        from app.screens.prompts import SettingsScreen

        chosen = await self.app.push_screen_wait(SettingsScreen(self.settings))
        if chosen is None:
            return
        for key, value in chosen.items():
            if self.settings.get(key) != value:
                await self.inbox.set_setting(key, value)
        self.settings = await self.inbox.settings()


def _customer(thread: ThreadSummary) -> str:
    """Who a reply goes to: the customer's name and number (their own text: the composer draws it literally)."""
    number = phones.display(thread.e164 or thread.wa_id) or thread.user_id or "?"
    name = thread.contact_name.strip()
    return f"{name} ({number})" if name and name not in (number, thread.wa_id, thread.e164) else number


def _acted(what: str, names: list[str], assignment: Assignment | None) -> str:
    """The toast after an action names what it acted on: "Closed: Jan Wiśniewski", "Assigned 3 threads to @ola"."""
    done = _DONE[what]
    if assignment is not None and assignment.team is not None:
        to = f" to team {assignment.team.strip()}" if assignment.team.strip() else " to no team"
    elif assignment is not None:
        to = f" to @{assignment.owner.strip()}" if (assignment.owner or "").strip() else " to nobody"
    else:
        to = ""
    if len(names) == 1:
        return f"{done}: {printable(names[0], limit=60)}{printable(to, limit=60)}"
    return f"{done} {len(names)} threads{printable(to, limit=60)}"


_SCREEN_ACTIONS = {binding.action for binding in InboxScreen.BINDINGS}  # the footer filters only these
