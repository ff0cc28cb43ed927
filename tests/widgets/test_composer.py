"""The composer holds one thread at a time: its text is that thread's draft, a send carries that thread and the
draft's client key, a second submit of the same compose is ignored, and a note is never a reply's text."""

from __future__ import annotations

from textual.app import App, ComposeResult

from core.model import Draft
from widgets.composer import ComposeTarget, Composer

NOW = 1_764_072_000


class Holder(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.posted: list = []

    def compose(self) -> ComposeResult:
        yield Composer()

    def on_composer_send(self, event: Composer.Send) -> None:
        self.posted.append(event)


def targets(thread_id: int) -> list[ComposeTarget]:
    return [ComposeTarget(thread_id, to="Anna (+48 600 100 200)", via="+1 555 0100", expires_at=NOW + 3600),
            ComposeTarget(thread_id, note=True)]


async def test_binding_another_thread_hands_back_what_was_typed_and_shows_its_own_draft():
    app = Holder()
    async with app.run_test() as pilot:
        composer = app.query_one(Composer)
        assert composer.bind(Draft(1, "k1")) is None
        composer.show_targets(1, targets(1), quota="1/1000", now=NOW)
        composer.area.focus()
        await pilot.press(*"dla Anny")
        left = composer.bind(Draft(2, "k2", reply_text="dla Jana"))
        assert (left.thread_id, left.reply_text, left.client_key) == (1, "dla Anny", "k1")
        assert composer.area.text == "dla Jana" and composer.target is None  # B's targets are not in yet
        composer.show_targets(1, targets(1), quota="", now=NOW)  # a late answer for A: ignored
        assert composer.target is None
        await pilot.press("enter")
        await pilot.pause()
        assert app.posted == []  # nothing can be sent before B's own targets are known


async def test_a_send_carries_its_thread_and_key_and_a_second_enter_waits_for_the_first():
    app = Holder()
    async with app.run_test() as pilot:
        composer = app.query_one(Composer)
        composer.bind(Draft(7, "key-7", reply_text="Zwrot jutro."))
        composer.show_targets(7, targets(7), quota="", now=NOW)
        composer.area.focus()
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert [(e.thread_id, e.text, e.client_key) for e in app.posted] == [(7, "Zwrot jutro.", "key-7")]
        composer.finish_send("key-7", Draft(7, "key-8"))
        assert composer.area.text == ""
        await pilot.press(*"Jeszcze raz", "enter")
        await pilot.pause()
        assert [e.client_key for e in app.posted] == ["key-7", "key-8"]


async def test_the_note_and_the_reply_are_two_texts():
    app = Holder()
    async with app.run_test() as pilot:
        composer = app.query_one(Composer)
        composer.bind(Draft(3, "k3", reply_text="do klienta"))
        composer.show_targets(3, targets(3), quota="", now=NOW)
        composer.use_note()
        await pilot.pause()
        assert composer.area.text == "" and composer.target.note
        composer.area.focus()
        await pilot.press(*"tylko dla nas")
        draft = composer.draft()
        assert (draft.mode, draft.reply_text, draft.note_text) == ("note", "do klienta", "tylko dla nas")
        composer.switch_channel()
        await pilot.pause()
        assert composer.area.text == "do klienta" and not composer.target.note
