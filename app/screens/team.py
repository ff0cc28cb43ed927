"""The team's screens: snooze prompt, saved-reply picker, and the agents & teams admin screen (`T`)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from core.agents import STATUSES, Agent, Team
from core.saved_replies import SavedReply, search
from widgets.literal import literal


class SnoozePrompt(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt"):
            yield Static(Content.styled("Snooze until… (30m, 2h, 1d, tomorrow, 14:30, or reply = until the "
                                        "customer writes)", "bold"))
            yield Input(placeholder="2h", id="snooze-until")

    @on(Input.Submitted, "#snooze-until")
    def _done(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AssignNames(ModalScreen[str | None]):
    """Assign: agent names and team:NAME complete as you type (→ accepts); only known names are accepted."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt"):
            yield Static(Content.styled("Assign to an agent, or team:NAME for a team (empty = unassign)", "bold"))
            yield Input(placeholder="agent name or team:NAME", id="assign-to",
                        suggester=SuggestFromList(self.names, case_sensitive=False))
            yield Static(Content.styled("known: " + ", ".join(self.names[:12]), "dim"), id="assign-known")

    @on(Input.Submitted, "#assign-to")
    def _done(self, event: Input.Submitted) -> None:
        value = event.value.strip().lstrip("@")
        if value and value not in self.names and value.lower() != "team:":
            match = [n for n in self.names if n.lower() == value.lower()]
            if not match:
                self.query_one("#assign-known", Static).update(Content.assemble(
                    ("no agent or team named ", "bold red"), literal(value, limit=40, keep_newlines=False),
                    ("; known: " + ", ".join(self.names[:12]), "dim")))
                return
            value = match[0]
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class ReplyChoice:
    reply: SavedReply
    edit: bool  # ctrl+e: edit it in $EDITOR instead of inserting it


class SavedReplyPicker(ModalScreen[ReplyChoice | None]):
    """Type to narrow (fuzzy: "thx" finds "thanks"), ↓/↑ to move, enter inserts it, ctrl+e edits it in $EDITOR."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("down", "move(1)", show=False, priority=True),
                Binding("up", "move(-1)", show=False, priority=True),
                Binding("ctrl+e", "edit", "Edit in $EDITOR", priority=True)]

    def __init__(self, replies: list[SavedReply]) -> None:
        super().__init__()
        self.replies = replies
        self.shown: list[SavedReply] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt", id="saved-replies"):
            yield Static(Content.styled("Saved replies: type to search · enter insert · ctrl+e edit · esc", "bold"))
            yield Input(placeholder="search", id="saved-search")
            yield OptionList(id="saved-list")

    def on_mount(self) -> None:
        self._fill("")
        self.set_focus(self.query_one("#saved-search", Input))

    def _fill(self, query: str) -> None:
        self.shown = search(self.replies, query)
        options = self.query_one("#saved-list", OptionList)
        options.clear_options()
        options.add_options([Option(Content.assemble(literal(r.name, limit=40, keep_newlines=False).stylize("bold"),
                                                     ("  (mine)" if not r.shared else "", "dim"), "  ",
                                                     literal(r.body, limit=80, keep_newlines=False)))
                             for r in self.shown])
        options.highlighted = 0 if self.shown else None

    @on(Input.Changed, "#saved-search")
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_move(self, delta: int) -> None:
        options = self.query_one("#saved-list", OptionList)
        if self.shown:
            options.highlighted = max(0, min(len(self.shown) - 1, (options.highlighted or 0) + delta))

    def _current(self) -> SavedReply | None:
        index = self.query_one("#saved-list", OptionList).highlighted
        return self.shown[index] if index is not None and 0 <= index < len(self.shown) else None

    @on(Input.Submitted, "#saved-search")
    def _pick(self) -> None:
        current = self._current()
        if current is not None:
            self.dismiss(ReplyChoice(current, edit=False))

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self._pick()

    def action_edit(self) -> None:
        current = self._current()
        if current is not None:
            self.dismiss(ReplyChoice(current, edit=True))

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class AdminChange:
    """What the admin screen asks the inbox to do: ("add_agent", name) / ("status", name, status) /
    ("disable", name) / ("add_team", name) / ("members", team, "+agent -agent")."""

    action: str
    args: tuple[str, ...]


class AdminScreen(ModalScreen[AdminChange | None]):
    """Agents and teams, as `wabox agents` / `wabox teams` show them; each change is made by the inbox screen."""

    BINDINGS = [Binding("escape", "cancel", "Close"), Binding("s", "status", "Cycle status"),
                Binding("D", "disable", "Disable"), Binding("a", "ask('add_agent')", "Add agent"),
                Binding("t", "ask('add_team')", "Add team"), Binding("m", "ask('members')", "Members")]

    def __init__(self, agents: list[Agent], teams: list[Team]) -> None:
        super().__init__()
        self.agents, self.teams = agents, teams
        self.asking: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt", id="admin"):
            yield Static(Content.styled("Agents and teams · a add agent · s status · D disable · t add team · "
                                        "m members · esc", "bold"))
            yield DataTable(id="admin-agents", cursor_type="row")
            yield Static(Content.assemble(("Teams: ", "bold"), "; ".join(
                f"{t.name} ({', '.join(t.members) or 'no members'})" for t in self.teams) or "none"),
                id="admin-teams")
            yield Input(id="admin-input", placeholder="")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("agent", "status", "open / capacity", "teams")
        for a in self.agents:
            table.add_row(a.name, "disabled" if a.disabled else a.status, f"{a.open_threads} / {a.capacity}",
                          ", ".join(a.teams), key=a.name)
        self.query_one("#admin-input", Input).display = False
        table.focus()

    def _agent(self) -> Agent | None:
        table = self.query_one(DataTable)
        return self.agents[table.cursor_row] if 0 <= table.cursor_row < len(self.agents) else None

    def action_status(self) -> None:
        agent = self._agent()
        if agent is not None and not agent.disabled:
            next_status = STATUSES[(STATUSES.index(agent.status) + 1) % len(STATUSES)]
            self.dismiss(AdminChange("status", (agent.name, next_status)))

    def action_disable(self) -> None:
        agent = self._agent()
        if agent is not None and not agent.disabled:
            self.dismiss(AdminChange("disable", (agent.name,)))

    def action_ask(self, what: str) -> None:
        field = self.query_one("#admin-input", Input)
        field.placeholder = {"add_agent": "new agent's name", "add_team": "new team's name",
                             "members": "TEAM +agent -agent"}[what]
        self.asking = what
        field.display = True
        field.focus()

    @on(Input.Submitted, "#admin-input")
    def _asked(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value or self.asking is None:
            return
        if self.asking == "members":
            team, _, changes = value.partition(" ")
            self.dismiss(AdminChange("members", (team, changes)))
        else:
            self.dismiss(AdminChange(self.asking, (value,)))

    def action_cancel(self) -> None:
        self.dismiss(None)
