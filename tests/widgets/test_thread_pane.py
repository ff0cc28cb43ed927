"""The thread pane: lines, not widgets; quarantine veil; failed reason; reactions under their message."""

from __future__ import annotations


from textual.app import App, ComposeResult

from core.model import ChatMessage, DeliveryStatus, Direction, MessageType, ThreadStatus, ThreadSummary
from widgets.thread_pane import ThreadPane

NOW = 1_764_072_000
THREAD = ThreadSummary(id=1, channel="111", status=ThreadStatus.OPEN, contact_id=None, contact_name="Ann",
                       wa_id="48600100200", user_id=None, e164="+48600100200", owner=None, team=None,
                       last_message_at=NOW, last_inbound_at=NOW, last_direction=Direction.IN, preview="", unread=0)


def message(i: int, **more) -> ChatMessage:
    values = dict(id=i, thread_id=1, channel="111", wamid=f"wamid.{i}", direction=Direction.IN,
                  type=MessageType.TEXT, text=f"message {i}", timestamp=NOW - 10_000 + i)
    values.update(more)
    return ChatMessage(**values)


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ThreadPane()


def text_of(pane: ThreadPane) -> str:
    return "\n".join(line.plain for _, line in pane._lines)


async def test_two_thousand_messages_draw_and_mount_no_widgets():  # timed in tests/bench/bench_render.py
    app = PaneApp()
    async with app.run_test(size=(100, 40)) as pilot:
        pane = app.query_one(ThreadPane)
        messages = [message(i) for i in range(2000)]
        pane.show_thread(THREAD, messages, more_before=False, now=NOW)
        await pilot.pause()
        assert len(pane.children) == 0
        assert "message 1999" in "".join(s.text for y in range(40) for s in pane.render_line(y))


async def test_veil_failed_reason_and_reactions():
    app = PaneApp()
    async with app.run_test(size=(100, 40)) as pilot:
        pane = app.query_one(ThreadPane)
        pane.show_thread(THREAD, [
            message(1, text="card 4111 1111 1111 1111", quarantined=True, quarantine_reason="card number"),
            message(2, direction=Direction.OUT, status=DeliveryStatus.FAILED, error_code=131026,
                    error_title="Message undeliverable", text="hi"),
            message(3, type=MessageType.REACTION, text="❤", context_wamid="wamid.2"),
        ], more_before=False, now=NOW)
        await pilot.pause()
        text = text_of(pane)
        assert "⛔ Hidden: card number" in text and "4111" not in text
        assert "✗ (131026) Message undeliverable" in text and "✗ failed" in text
        assert "reactions: ❤" in text
        pane.reveal(1)
        assert "card 4111 1111 1111 1111" in text_of(pane)


async def test_a_newer_reaction_replaces_the_older_and_an_empty_one_removes_it():
    app = PaneApp()
    async with app.run_test(size=(100, 40)):
        pane = app.query_one(ThreadPane)
        first = message(1, direction=Direction.OUT, text="our offer")
        pane.show_thread(THREAD, [first, message(2, type=MessageType.REACTION, text="👍", context_wamid="wamid.1"),
                                  message(3, type=MessageType.REACTION, text="❤", context_wamid="wamid.1")],
                         more_before=False, now=NOW)
        assert "reactions: ❤" in text_of(pane) and "👍" not in text_of(pane)
        pane.show_thread(THREAD, [first, message(2, type=MessageType.REACTION, text="👍", context_wamid="wamid.1"),
                                  message(3, type=MessageType.REACTION, text="", context_wamid="wamid.1")],
                         more_before=False, now=NOW)
        assert "reactions" not in text_of(pane)


async def test_a_failed_media_download_says_why_and_whether_it_is_retried():
    retrying = message(1, type=MessageType.IMAGE, text="", media_id="m1", file_name="a.jpg",
                       media_error="(131052) Media download error", media_retrying=True)
    given_up = message(2, type=MessageType.DOCUMENT, text="", media_id="m2", file_name="b.pdf",
                       media_error="the file did not match its sha256: discarded")
    app = PaneApp()
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ThreadPane)
        pane.media_keys = "O view · S save"
        pane.show_thread(THREAD, [retrying, given_up], more_before=False, now=NOW)
        await pilot.pause()
        text = text_of(pane)
        assert "✗ download failed: (131052) Media download error — trying again" in text
        assert "✗ download failed: the file did not match its sha256: discarded — wabox will not retry" in text
        assert "O view" not in text  # no keys for a file that is not here


async def test_metas_reason_on_an_inbound_message_edits_and_deletions_are_shown():
    app = PaneApp()
    async with app.run_test(size=(100, 40)) as pilot:
        pane = app.query_one(ThreadPane)
        pane.show_thread(THREAD, [
            message(1, type=MessageType.UNSUPPORTED, raw_type="poll_creation", text="", error_code=131051,
                    error_title="Message type unknown", error_details="Message type is currently not supported."),
            message(2, text="new words", edited_at=NOW - 60),
            message(3, text="gone words", revoked_at=NOW - 30),
        ], more_before=False, now=NOW)
        await pilot.pause()
        text = text_of(pane)
        assert "⚠ (131051) Message type unknown — Message type is currently not supported." in text
        assert "new words" in text and "(edited " in text
        assert "🗑 deleted by the customer" in text


async def test_a_thread_opens_at_its_newest_message_and_every_older_one_follows():
    """The first frame lays out only the newest messages (issue 12); the rest when the agent goes up to them."""
    app = PaneApp()
    async with app.run_test(size=(100, 40)) as pilot:
        pane = app.query_one(ThreadPane)
        pane.show_thread(THREAD, [message(i) for i in range(2000)], more_before=True, now=NOW)
        assert "message 1999\n" in text_of(pane) and "message 0\n" not in text_of(pane)  # the newest, first
        await pilot.pause()
        await pilot.pause()
        assert "message 1999" in "".join(s.text for y in range(40) for s in pane.render_line(y))
        assert "message 0\n" not in text_of(pane)  # nobody went up: nothing more was laid out
        pane.action_select_first()
        await pilot.pause()
        await pilot.pause()
        layout = text_of(pane)
        assert layout.startswith("  ↑ older messages") and all(f"message {i}\n" in layout for i in range(2000))
        assert "message 0" in "".join(s.text for y in range(40) for s in pane.render_line(y))
