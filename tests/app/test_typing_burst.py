"""Keys typed in one burst, with no pause between them, land in the field that had focus when each was pressed
(issue 7, bug 6): the keys that open a modal or move between fields are resolved before the next key is routed."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from textual import events
from textual.app import App

from tests.app.helpers import SIZE, db_rows, make_app, open_row, seed, settle


@pytest.fixture
def seeded_db(db_target) -> Path | str:
    return seed(db_target)


def burst(app: App, *keys: str) -> None:
    """Queue every key at once, as a fast typist on a loaded machine does: nothing is processed in between."""
    for key in keys:
        if len(key) == 1:
            char: str | None = key
            name = {" ": "space", "-": "minus", ".": "full_stop", "/": "slash", "_": "underscore"}.get(key, key)
        else:
            name = key
            try:
                char = unicodedata.lookup(key.upper().replace("_", " "))
            except KeyError:
                char = "\r" if key == "enter" else None
        app.post_message(events.Key(name, char))


async def test_a_burst_through_the_template_picker_fills_each_field_exactly(seeded_db: Path):
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 1)  # Bob: the session expired, a template is the only way
        burst(app, "t", *"order", "enter", *"Jan", "enter", *"A-17", "ctrl+s")
        await settle(pilot)
        await pilot.pause(0.1)
        await settle(pilot)
        rows = db_rows(seeded_db, "SELECT request FROM outbox WHERE thread_id = 2 AND kind = 'template'")
        assert len(rows) == 1
        request = json.loads(rows[0][0])
        assert request["template"]["name"] == "order_update"
        params = [p["text"] for c in request["template"]["components"] for p in c["parameters"]]
        assert params == ["Jan", "A-17"]
        assert db_rows(seeded_db, "SELECT status FROM thread WHERE id = 2") == [("open",)]  # no stray `o` reopen


async def test_a_burst_through_the_attach_prompt_fills_path_and_caption_exactly(seeded_db: Path, tmp_path: Path):
    document = tmp_path / "note.txt"
    document.write_text("order 17")
    app = make_app(seeded_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_row(pilot, 0)  # Alice: the session is open
        burst(app, "A", *str(document), "enter", *"see attached", "enter")
        await settle(pilot)
        await pilot.pause(0.1)
        await settle(pilot)
        rows = db_rows(seeded_db, "SELECT type, text, file_name FROM message WHERE thread_id = 1 AND direction = 'out'"
                                  " AND type != 'text'")
        assert rows == [("document", "see attached", "note.txt")]
