"""The sidebar of views (F4, F5): built-in views, then custom ones, each with its live count."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from core.model import View
from widgets.literal import literal


class ViewSidebar(OptionList):
    """A handful of rows, so a stock OptionList is fine here (the thread list is the one that must be virtual)."""

    BINDINGS = [Binding("j", "cursor_down", show=False), Binding("k", "cursor_up", show=False)]

    @dataclass
    class ViewChosen(Message):
        view: View

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.views: list[View] = []
        self.counts: dict[str, int] = {}

    def show_views(self, views: list[View], counts: dict[str, int], current: str) -> None:
        keep = self.highlighted
        self.views, self.counts = views, counts
        self.clear_options()
        options: list[Option | None] = []
        separated = False
        for view in views:
            if not view.builtin and not separated:
                options.append(None)  # a separator between built-in and custom views
                separated = True
            options.append(Option(self._prompt(view, counts.get(view.key)), id=view.key))
        self.add_options(options)
        keys = [v.key for v in views]
        self.highlighted = keys.index(current) if current in keys else (keep or 0)

    def update_counts(self, counts: dict[str, int]) -> None:
        self.counts.update(counts)
        for view in self.views:
            if view.key in counts:
                self.replace_option_prompt(view.key, self._prompt(view, counts[view.key]))

    @staticmethod
    def _prompt(view: View, count: int | None) -> Content:
        name = literal(view.name, limit=40, keep_newlines=False)  # custom view names are typed by people
        return Content.assemble(name, (f"  {count:,}" if count is not None else "", "dim"))

    @on(OptionList.OptionSelected)
    def _announce(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        view = next((v for v in self.views if v.key == event.option.id), None)
        if view is not None:
            self.post_message(self.ViewChosen(view))
