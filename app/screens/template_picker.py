"""The template picker (F7, F9): search approved templates, fill one input per parameter, preview, send.

Template text comes from Meta but was written by whoever made the template: it is drawn with literal() too.
The picker says what is true of the thread it sends to: the session (open, with the time left, or closed), whether
sending starts a conversation that counts against the month's quota, and how much of it is used. The template in
the thread's language is highlighted first. `enter` acts where the agent is, resolved before the next key is
routed (a priority binding), so a fast typist's parameters land in the field they were typed for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from app.screens.keys import hint, keys_delivered
from core.model import ChatMessage, MessageType, Template
from core.sending import render_template, template_parameters
from widgets.literal import literal


@dataclass(frozen=True)
class TemplateChoice:
    template: Template
    params: list[str]


@dataclass(frozen=True)
class SendFacts:
    """What is true of the thread a template goes to, as the inbox knows it now."""
    customer: str
    session_left: str          # "23h", "12m" … or "closed"
    conversation: str | None   # what sending starts: "customer", "business", or None (one is open: not counted)
    quota_used: int
    quota: int
    language: str | None       # the thread's language: its last template's, else its country's


def conversation_line(facts: SendFacts) -> str:
    quota = f"Quota: {facts.quota_used} of {facts.quota} used this month."
    if facts.conversation == "business":
        return f"Sending opens a new business-initiated conversation (counted).\n{quota}"
    if facts.conversation == "customer":
        return f"Sending opens the conversation of this session (counted).\n{quota}"
    return f"A conversation is open: sending is not counted again.\n{quota}"


def thread_language(messages: list[ChatMessage], phone: str | None) -> str | None:
    """The language of the thread's last template, else the country of the customer's number ("pl", "gb")."""
    for message in reversed(messages):
        if message.type is MessageType.TEMPLATE:
            try:
                code = json.loads(message.payload or "{}").get("template", {}).get("language", {}).get("code")
            except (ValueError, AttributeError):
                code = None
            if code:
                return str(code)
    import phonenumbers  # imported when first used (core/phones.py says why)

    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone or ""))
    except phonenumbers.NumberParseException:
        return None
    return region.lower() if region and region != "ZZ" else None


def preferred_index(templates: list[Template], language: str | None) -> int:
    """The first template in the thread's language (`pl`, `en_US`; a country code matches `de` or `en_GB`)."""
    if language:
        wanted = language.lower()
        for exact in (True, False):
            for i, t in enumerate(templates):
                code = t.language.lower()
                if code == wanted or (not exact and wanted in code.replace("-", "_").split("_")):
                    return i
    return 0


class SearchBox(Input):
    """The search field: up and down move the list's highlight, so enter picks what the agent sees."""

    BINDINGS = [Binding("down", "move(1)", "Next template", show=False),
                Binding("up", "move(-1)", "Previous template", show=False)]

    @dataclass
    class Move(Message):
        delta: int

    def action_move(self, delta: int) -> None:
        self.post_message(self.Move(delta))


class TemplatePicker(ModalScreen[TemplateChoice | None]):
    BINDINGS = [
        Binding("enter", "enter", "Choose / next field", tooltip="Pick the highlighted template, then fill each "
                "parameter", priority=True),
        Binding("ctrl+s", "send", "Send template", tooltip="Send the template with these parameters"),
        Binding("escape", "dismiss_picker", "Cancel", tooltip="Close the template picker"),
    ]

    def __init__(self, templates: list[Template], facts: SendFacts) -> None:
        super().__init__()
        self.templates = templates
        self.facts = facts
        self.shown: list[Template] = []
        self.searched: str | None = None  # the search text the list shows
        self.chosen: Template | None = None

    def compose(self) -> ComposeResult:
        facts = self.facts
        session = ("session expired" if facts.session_left == "closed" else f"session open, {facts.session_left} left")
        with Vertical(id="picker"):
            yield Static(Content.assemble(("Template to ", "bold"), literal(facts.customer, limit=60,
                                                                             keep_newlines=False).stylize("bold"),
                                          f" · {session}"), id="picker-title")
            yield SearchBox(placeholder="search approved templates (↓ ↑ move)", id="template-search", compact=True)
            with VerticalScroll(id="picker-body"):  # shrinks first: the truth below stays on a 24-row screen
                yield OptionList(id="template-list", compact=True)
                yield Vertical(id="template-params")
                yield Static(Content(""), id="template-preview")
            yield Static(conversation_line(facts), id="template-warning",
                         classes="-counted" if facts.conversation else "")
            yield Static(Content.styled(hint(self.app, self.BINDINGS, ["enter", "send", "dismiss_picker"]), "dim"),
                         id="template-keys")

    def on_mount(self) -> None:
        self._search_for("")
        self.set_focus(self.query_one(SearchBox))  # now, not after the keys already queued (Widget.focus defers)

    def _search_for(self, text: str) -> None:
        if text == self.searched:
            return
        self.searched = text
        needle = text.strip().lower()
        templates = [t for t in self.templates if needle in t.name.lower()]
        self.shown = templates
        options = self.query_one("#template-list", OptionList)
        options.clear_options()
        options.add_options(Option(Content.assemble(literal(t.name, limit=80, keep_newlines=False),
                                                     (f"  {t.language} · {t.category}", "dim")))
                            for t in templates)
        if templates:
            options.highlighted = preferred_index(templates, self.facts.language)

    @on(Input.Changed, "#template-search")
    def _search(self, event: Input.Changed) -> None:
        self._search_for(event.value)

    @on(SearchBox.Move)
    def _move(self, event: SearchBox.Move) -> None:
        options = self.query_one("#template-list", OptionList)
        if options.option_count:
            options.highlighted = max(0, min((options.highlighted or 0) + event.delta, options.option_count - 1))

    async def action_enter(self) -> None:
        """In the search box or the list: choose the highlighted template. In a parameter: the next field."""
        focused = self.focused
        await keys_delivered(focused)
        if isinstance(focused, Input) and focused.has_class("template-param"):
            params = list(self.query(".template-param").results(Input))
            following = params[params.index(focused) + 1:]
            if following:
                self.set_focus(following[0])
            return
        self._search_for(self.query_one(SearchBox).value)  # what was typed, even before its Changed arrives
        highlighted = self.query_one("#template-list", OptionList).highlighted
        if highlighted is not None and highlighted < len(self.shown):
            await self._choose(self.shown[highlighted])

    @on(OptionList.OptionSelected, "#template-list")
    async def _clicked(self, event: OptionList.OptionSelected) -> None:
        await self._choose(self.shown[event.option_index])

    async def _choose(self, template: Template) -> None:
        self.chosen = template
        box = self.query_one("#template-params", Vertical)
        await box.remove_children()
        names = template_parameters(template)
        await box.mount_all(Input(placeholder=f"{{{{{name}}}}}", id=f"param-{i}", classes="template-param",
                                  compact=True) for i, name in enumerate(names))
        self._preview()
        params = list(box.query(Input))
        self.set_focus(params[0] if params else self.query_one("#template-list", OptionList))

    @on(Input.Changed, ".template-param")
    def _preview(self) -> None:
        if self.chosen is None:
            return
        names = template_parameters(self.chosen)
        text = render_template(self.chosen, [v or "{{" + n + "}}" for n, v in zip(names, self.values())])
        self.query_one("#template-preview", Static).update(
            Content.assemble(("Preview: ", "bold"), literal(text, limit=2000)))

    def values(self) -> list[str]:
        return [i.value for i in self.query_one("#template-params", Vertical).query(Input)]

    def action_send(self) -> None:
        if self.chosen is None:
            self.notify("Choose a template first.", severity="warning", markup=False)
            return
        values = self.values()
        if any(not v.strip() for v in values):
            self.notify("Fill every parameter first.", severity="warning", markup=False)
            return
        self.dismiss(TemplateChoice(self.chosen, values))

    def action_dismiss_picker(self) -> None:
        self.dismiss(None)
