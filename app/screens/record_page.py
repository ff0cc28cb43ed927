"""A record's page (issue 9): its properties (the ones agents change are editable with `e`, checked by type), its
associations and its WhatsApp threads; `enter` opens the highlighted one (a thread opens in the inbox), `w` starts a
WhatsApp conversation. Every value is drawn literally."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from app.screens.record_flows import ChoicePrompt, go_to_thread
from app.screens.records import BUILTIN_LABELS, write_from_record
from core.inbox import Inbox
from core.records.properties import CONTACT_FIELDS, PropertyError
from core.records.service import EDITABLE, Records
from widgets.literal import literal


class EditPrompt(ModalScreen[str | None]):
    """One property's new value (what is typed is checked when saved; a refusal says why)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, label: str, value: str) -> None:
        super().__init__()
        self.label, self.value = label, value

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt", id="edit-property"):
            yield Static(literal(f"{self.label} (enter saves, esc cancels)", keep_newlines=False).stylize("bold"))
            yield Input(self.value, id="edit-value")

    @on(Input.Submitted, "#edit-value")
    def _done(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RecordPage(Screen[None]):
    BINDINGS = [
        Binding("e", "edit", "Edit", tooltip="Edit a property (name, phones, email, owner, deal stage, ticket status)"),
        Binding("w", "whatsapp", "WhatsApp", tooltip="Start a WhatsApp conversation from this record"),
        Binding("escape", "back", "Back", tooltip="Back to the records"),
    ]

    def __init__(self, inbox: Inbox, kind: str, record_id: int) -> None:
        super().__init__()
        self.inbox, self.kind, self.record_id = inbox, kind, record_id
        self.records = Records(inbox.store)
        self.values: dict[str, str] = {}
        self.links: list[tuple[str, int]] = []  # (kind | "thread", id) of each line of the links list

    def compose(self) -> ComposeResult:
        yield Static(Content(""), id="record-title")
        yield Static(Content(""), id="record-props")
        yield Static(Content.styled("Associations and WhatsApp threads (enter opens)", "bold underline"))
        yield OptionList(id="record-links")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        await self.load()
        self.query_one(OptionList).focus()

    async def load(self) -> None:
        numbers = {c.phone_number_id: c.name for c in (await self.inbox.channels()).values()}
        if self.kind == "contact":
            page = await self.records.contact_page(self.record_id)
            if page is None:
                self.dismiss()
                return
            c = page.contact
            title = c.name
            self.values = {"name": c.name, "phone": c.phone or "", "mobile": c.mobile or "", "email": c.email or "",
                           "owner": c.owner or "", "opt_in_source": c.opt_in_source or "",
                           "opt_in_date": c.opt_in_date or "", **c.props}
            labels = {p.name: p.label for p in CONTACT_FIELDS}
            if c.e164 or c.wa_id:
                self.values["whatsapp"] = c.e164 or c.wa_id or ""
                labels["whatsapp"] = "WhatsApp"
            related, contacts, threads = page.records, [], page.threads
        else:
            record_page = await self.records.record_page(self.record_id)
            if record_page is None:
                self.dismiss()
                return
            r = record_page.record
            title = r.name
            self.values = {"name": r.name, "owner": r.owner or "",
                           **{p.name: r.props.get(p.name, "") for p in record_page.type.properties},
                           **{k: v for k, v in r.props.items() if record_page.type.property(k) is None}}
            labels = {"name": "Name", "owner": "Owner", **{p.name: p.label or p.name for p in record_page.type.properties}}
            related, contacts, threads = record_page.records, record_page.contacts, record_page.threads
        kind_label = BUILTIN_LABELS.get(self.kind, self.kind)
        self.query_one("#record-title", Static).update(Content.assemble(
            (f"{kind_label.rstrip('s') if self.kind != 'company' else 'Company'}  ", "dim"),
            literal(title, limit=120, keep_newlines=False).stylize("bold")))
        editable = EDITABLE.get(self.kind, ("name", "owner"))
        lines = [Content.assemble((f"{labels.get(name, name) or name:<24}", "dim"),
                                  literal(value, limit=300, keep_newlines=False) if value else Content.styled("—", "dim"),
                                  ("  ✎" if name in editable else "", "dim"))
                 for name, value in self.values.items()]
        self.query_one("#record-props", Static).update(Content("\n").join(lines))
        names = await self.inbox.thread_names([t for t in threads]) if threads else []
        self.links = [(r.type, r.id) for r in related] + [("contact", c.id) for c in contacts] + [
            ("thread", t) for t in threads]
        options = [Option(Content.assemble((f"{r.type:<9}", "dim"), literal(r.name, limit=100, keep_newlines=False)))
                   for r in related]
        options += [Option(Content.assemble(("contact  ", "dim"), literal(c.name, limit=100, keep_newlines=False),
                                            (f"  {c.whatsapp_number() or ''}", "dim"))) for c in contacts]
        thread_rows = {t.id: t for t in [await self.inbox.thread(t) for t in threads] if t is not None}
        options += [Option(Content.assemble(("thread   ", "dim"), literal(name, limit=60, keep_newlines=False),
                                            (f"  via {numbers.get(thread_rows[t].channel, thread_rows[t].channel)}"
                                             f" · {thread_rows[t].status}" if t in thread_rows else "", "dim")))
                    for t, name in zip(threads, names)]
        links = self.query_one(OptionList)
        kept = links.highlighted
        links.clear_options()
        links.add_options(options or [Option(Content.styled("none", "dim"), disabled=True)])
        if options:  # the cursor on a link at once (enter opens it), where it was when the page is read again
            links.highlighted = min(kept or 0, len(options) - 1)

    @on(OptionList.OptionSelected, "#record-links")
    def _open(self, event: OptionList.OptionSelected) -> None:
        if event.option_index >= len(self.links):
            return
        kind, target = self.links[event.option_index]
        if kind == "thread":
            self.open_thread(target)
        else:
            self.app.push_screen(RecordPage(self.inbox, kind, target))

    def open_thread(self, thread_id: int) -> None:
        self.app.run_worker(go_to_thread(self.app, thread_id), group="record-open", exit_on_error=False)

    def action_back(self) -> None:
        self.dismiss()

    def action_whatsapp(self) -> None:
        write_from_record(self.app, self.records, self.inbox, self.kind, self.record_id)

    def action_edit(self) -> None:
        self.edit()

    @work(group="record-edit", exclusive=True)
    async def edit(self) -> None:
        fields = [f for f in EDITABLE.get(self.kind, ("name", "owner"))]
        picked = await self.app.push_screen_wait(ChoicePrompt("Edit which property?", [
            Content.assemble((f"{name:<16}", "dim"), literal(self.values.get(name, ""), limit=60,
                                                              keep_newlines=False)) for name in fields]))
        if picked is None:
            return
        name = fields[picked]
        typed = await self.app.push_screen_wait(EditPrompt(name, self.values.get(name, "")))
        if typed is None:
            return
        try:
            stored = await self.records.edit(self.kind, self.record_id, name, typed)
        except PropertyError as error:
            self.notify(str(error), title="Not saved", severity="error", markup=False)
            return
        self.notify(f"{name}: {stored or '(cleared)'}", title="Saved", markup=False)
        await self.load()
