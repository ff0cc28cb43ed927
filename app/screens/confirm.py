"""A yes/no question before a bulk action on more than one thread ("Close 12 threads?")."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from app.screens.keys import hint


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt", id="confirm"):
            yield Static(Content.styled(self.question, "bold"), id="confirm-question")
            yield Static(Content.styled(hint(self.app, self.BINDINGS, ["answer(True)", "answer(False)"]), "dim"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
