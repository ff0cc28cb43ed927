"""The template picker (F7, F9): search approved templates, fill one input per parameter, preview, send.

Template text comes from Meta but was written by whoever made the template: it is drawn with literal() too.
Before sending, the agent sees that a new conversation will be counted and how much of the month's quota is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from core.model import Template
from core.sending import render_template, template_parameters
from widgets.literal import literal


@dataclass(frozen=True)
class TemplateChoice:
    template: Template
    params: list[str]


class TemplatePicker(ModalScreen[TemplateChoice | None]):
    BINDINGS = [
        Binding("escape", "dismiss_picker", "Cancel", tooltip="Close the template picker"),
        Binding("ctrl+s", "send", "Send template", tooltip="Send the template with these parameters"),
    ]

    def __init__(self, templates: list[Template], *, warning: str | None, quota: str) -> None:
        super().__init__()
        self.templates = templates
        self.warning = warning
        self.quota = quota
        self.chosen: Template | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(Content.styled("Send a template (the session is closed)", "bold"), id="picker-title")
            yield Input(placeholder="search approved templates", id="template-search")
            yield OptionList(id="template-list")
            yield VerticalScroll(id="template-params")
            yield Static(Content(""), id="template-preview")
            yield Static(Content(""), id="template-warning")
            yield Static(Content.styled("enter: choose / next field · ctrl+s: send · esc: cancel", "dim"))

    def on_mount(self) -> None:
        self._list(self.templates)
        self.query_one("#template-warning", Static).update(Content.assemble(
            ("⚠ " + self.warning + " " if self.warning else "", "bold yellow"), (f"Quota: {self.quota}", "dim")))
        self.query_one("#template-search", Input).focus()

    def _list(self, templates: list[Template]) -> None:
        options = self.query_one("#template-list", OptionList)
        options.clear_options()
        options.add_options(Option(Content.assemble(literal(t.name, limit=80, keep_newlines=False),
                                                     (f"  {t.language} · {t.category}", "dim")), id=str(i))
                            for i, t in enumerate(self.templates) if t in templates)
        if templates:
            options.highlighted = 0

    @on(Input.Changed, "#template-search")
    def _search(self, event: Input.Changed) -> None:
        needle = event.value.strip().lower()
        self._list([t for t in self.templates if needle in t.name.lower()])

    @on(Input.Submitted, "#template-search")
    def _first(self) -> None:
        options = self.query_one("#template-list", OptionList)
        if options.highlighted is not None:
            options.action_select()

    @on(OptionList.OptionSelected, "#template-list")
    async def _choose(self, event: OptionList.OptionSelected) -> None:
        self.chosen = self.templates[int(event.option.id or 0)]
        box = self.query_one("#template-params", VerticalScroll)
        await box.remove_children()
        names = template_parameters(self.chosen)
        await box.mount_all(Input(placeholder=f"{{{{{name}}}}}", id=f"param-{i}", classes="template-param")
                            for i, name in enumerate(names))
        self._preview()
        inputs = list(box.query(Input))
        (inputs[0] if inputs else self.query_one("#template-list", OptionList)).focus()

    @on(Input.Changed, ".template-param")
    def _preview(self) -> None:
        if self.chosen is None:
            return
        values = self.values()
        names = template_parameters(self.chosen)
        text = render_template(self.chosen, [v or "{{" + n + "}}" for n, v in zip(names, values)])
        self.query_one("#template-preview", Static).update(
            Content.assemble(("Preview: ", "bold"), literal(text, limit=2000)))

    @on(Input.Submitted, ".template-param")
    def _next_field(self) -> None:
        self.focus_next()

    def values(self) -> list[str]:
        return [i.value for i in self.query_one("#template-params", VerticalScroll).query(Input)]

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
