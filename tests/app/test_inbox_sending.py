"""Pilot tests of the composer in both modes (free-form and template), notes, channel switch, attach, retry.

Sending itself (policy, queueing) is core/sending.py's; these check what the agent does and sees, and what lands
in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.helpers import AGENT, SIZE, db_rows, make_app, open_row, screen_text, seed, settle
from widgets.composer import Composer
from widgets.thread_pane import ThreadPane

@pytest.fixture
def seeded_db(db_target) -> Path | str:
    return seed(db_target)


async def test_reply_is_queued_and_shown_as_queued(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("r", *"Thanks!", "enter")
        await settle(pilot)
        last = app.screen.query_one(ThreadPane).messages[-1]
        assert last.text == "Thanks!" and last.status.value == "queued"
        assert "◷ queued" in screen_text(pilot)
        assert app.screen.query_one(Composer).area.text == ""
        assert db_rows(seeded_db, "SELECT count(*) FROM outbox WHERE thread_id = 1") == [(1,)]


async def test_closed_session_turns_the_composer_into_the_template_picker(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)  # Bob: session expired 6 h ago
        assert "session expired" in screen_text(pilot) and "session closed" not in screen_text(pilot)
        assert "The 24-hour session has expired: only an approved" in screen_text(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press(*"order", "enter")
        await pilot.pause()
        text = screen_text(pilot)
        assert "pending_one" not in text and "opens a new business-initiated conversation" in text
        assert "Quota: 0 of 1000 used this month." in text  # the seed's one conversation only holds a failed reply
        await pilot.press(*"Bob", "enter", *"A-42")
        await pilot.pause()
        assert "Preview: Hi Bob, your order A-42 is on its way." in screen_text(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        rows = db_rows(seeded_db, "SELECT type, status FROM message WHERE thread_id = 2 ORDER BY id DESC LIMIT 1")
        assert rows == [("template", "queued")]
        assert db_rows(seeded_db, "SELECT kind FROM outbox WHERE thread_id = 2 AND state = 'queued'") == [("template",)]


async def test_internal_note(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("N", *"call her back", "enter")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT type, author, text FROM message WHERE thread_id = 1 ORDER BY id DESC"
                                  " LIMIT 1") == [("note", AGENT, "call her back")]
        assert db_rows(seeded_db, "SELECT count(*) FROM outbox WHERE state = 'queued'") == [(0,)]
        assert "📝 note by tester" in screen_text(pilot)


async def test_channel_switch_sends_from_the_other_connected_number(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # Alice on +1 555 0100; she also writes to +1 555 0200 (thread 4)
        await settle(pilot)
        await pilot.press("r")
        assert "To Alice Nowak (+48 600 100 200) via +1 555 0100" in screen_text(pilot)  # the customer, not us
        await pilot.press("ctrl+o")
        assert "To Alice Nowak (+48 600 100 200) via +1 555 0200" in screen_text(pilot)
        await pilot.press(*"From support", "enter")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT thread_id, channel FROM message WHERE text = 'From support'") == [
            (4, "2220002")]


async def test_attachment_refused_shows_the_reason(seeded_db: Path, tmp_path: Path):
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as handle:
        handle.truncate(6 * 1024 * 1024)  # images are limited to 5 MB
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("A")
        await pilot.pause()
        await pilot.press(*str(huge), "enter", "enter")
        await settle(pilot)
        shown = [n.message for n in app._notifications]
        assert any("5" in m and "MB" in m for m in shown), shown
        assert db_rows(seeded_db, "SELECT count(*) FROM outbox WHERE state = 'queued'") == [(0,)]


async def test_failed_message_is_queued_again_with_y(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 3)  # Alice on +1 555 0200: the last message failed, the session is open
        assert "(131000) Something went wrong" in screen_text(pilot)
        await pilot.press("tab", "y")
        await settle(pilot)
        assert db_rows(seeded_db, "SELECT status FROM message WHERE text = 'Retry me'") == [("queued",)]
        assert db_rows(seeded_db, "SELECT state FROM outbox WHERE thread_id = 4") == [("queued",)]
        assert "◷ queued" in screen_text(pilot)
        assert "Queued again: the message to Alice Nowak" in [n.message for n in app._notifications]


async def test_retry_refused_when_the_session_has_closed(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)  # Bob: failed, and the session ended 6 h ago
        await pilot.press("tab", "y")
        await settle(pilot)
        shown = [n.message for n in app._notifications]
        assert any("only an approved template can be sent" in m for m in shown), shown
        assert db_rows(seeded_db, "SELECT status FROM message WHERE wamid = 'wamid.B2'") == [("failed",)]
