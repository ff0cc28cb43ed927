"""Media an agent over SSH can use (issue 7, bug 8): images drawn in the terminal, files saved under a safe name to
the configured downloads folder, hints naming the real keys, and no process started on the server to "open" one."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from app.handoff import MAX_NAME_BYTES, safe_file_name, save_copy
from app.screens.media import MediaScreen
from app.wabox_app import WaboxApp
from core.config import load_config
from tests.app.helpers import AGENT, NOW, SIZE, connect, screen_text, seed, settle
from tests.conftest import REPO
from widgets.thread_pane import ThreadPane

MEDIA = REPO / "tests" / "fixtures" / "media"
HOSTILE = "../" * 20 + "\x1b[2J\x07" + "ż" * 100 + "\u202e" + "a" * 150 + ".pdf"  # ~300 characters, ~480 bytes


def test_a_hostile_file_name_becomes_a_short_safe_one():
    name = safe_file_name(HOSTILE, "fallback.bin")
    assert len(name.encode()) <= MAX_NAME_BYTES and name.endswith(".pdf")
    assert "/" not in name and ".." not in name and not name.startswith(".")
    assert all(ch.isprintable() for ch in name) and "\u202e" not in name
    assert safe_file_name("..", "abc.jpg") == "abc.jpg" and safe_file_name(None, "abc.jpg") == "abc.jpg"
    assert safe_file_name("C:\\Users\\x\\faktura 12.pdf", "f") == "faktura 12.pdf"


def test_saving_makes_a_private_folder_and_never_replaces_a_file(tmp_path: Path):
    folder = tmp_path / "nowhere" / "Downloads"
    first = save_copy(MEDIA / "receipt.png", folder, "receipt.png")
    second = save_copy(MEDIA / "receipt.png", folder, "receipt.png")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert (first.name, second.name) == ("receipt.png", "receipt-1.png")
    assert first.parent == second.parent == folder
    assert second.read_bytes() == (MEDIA / "receipt.png").read_bytes()


def test_the_downloads_folder_is_configurable(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('downloads_dir = "/srv/agents/saved"\n')
    assert load_config(config, env={}).downloads_dir == Path("/srv/agents/saved")
    config.write_text("")
    assert load_config(config, env={}).downloads_dir == Path("~/Downloads")


@pytest.fixture
def media_db(db_target, tmp_path: Path) -> tuple[Path | str, Path]:
    db = seed(db_target)
    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(MEDIA / "receipt.png", media / "abc123.png")
    shutil.copy(MEDIA / "broken.jpg", media / "def456.jpg")
    conn = connect(db)
    with conn:  # the image on thread 1; on thread 3 a document whose customer-given name is hostile and long
        conn.execute("UPDATE message SET media_path = 'abc123.png', mime_type = 'image/png' WHERE wamid = 'wamid.A4'")
        conn.execute("UPDATE message SET media_path = 'def456.jpg', file_name = ? WHERE wamid = 'wamid.C2'",
                     (HOSTILE,))
    conn.close()
    return db, media


@pytest.fixture
def no_processes(monkeypatch: pytest.MonkeyPatch) -> list:
    started: list = []
    for name in ("Popen", "run", "call"):
        monkeypatch.setattr(f"subprocess.{name}", lambda *a, **k: started.append(a))
    monkeypatch.setattr(os, "system", lambda *a: started.append(a))
    return started


async def select_media(pilot, row: int, steps_up: int) -> None:
    from widgets.thread_list import ThreadList
    pilot.app.screen.query_one(ThreadList).move_to(row)
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("tab", *["k"] * steps_up)


async def test_an_image_is_drawn_in_the_terminal_and_saved_with_S(media_db, tmp_path: Path, no_processes: list):
    db, media = media_db
    downloads = tmp_path / "home" / "Downloads"  # does not exist yet
    app = WaboxApp(db, agent=AGENT, clock=lambda: NOW, media_dir=media, downloads_dir=downloads)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_media(pilot, 0, 4)
        assert app.screen.query_one(ThreadPane).current.file_name == "receipt.jpg"
        assert "(O view · S save)" in screen_text(pilot)  # the real keys, not "o open · s save"
        await pilot.press("O")
        await pilot.pause(0.2)
        assert isinstance(app.screen, MediaScreen)
        image = app.screen.query_one("#media-image")
        assert image.size.width > 0 and image.size.height > 0  # drawn here, not handed to a server-side opener
        assert "image · image/png · 120.6 KB · receipt.jpg" in screen_text(pilot)
        await pilot.press("S")
        await settle(pilot)
        assert (downloads / "receipt.jpg").read_bytes() == (MEDIA / "receipt.png").read_bytes()
        assert stat.S_IMODE(downloads.stat().st_mode) == 0o700
    assert no_processes == []


async def test_a_hostile_300_character_name_is_saved_safely_and_the_inbox_stays_up(media_db, tmp_path: Path,
                                                                                    no_processes: list):
    db, media = media_db
    downloads = tmp_path / "Downloads"
    app = WaboxApp(db, agent=AGENT, clock=lambda: NOW, media_dir=media, downloads_dir=downloads)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select_media(pilot, 2, 0)
        assert app.screen.query_one(ThreadPane).current.file_name == HOSTILE
        await pilot.press("S")
        await settle(pilot)
        saved = list(downloads.iterdir())
        assert len(saved) == 1 and saved[0].parent == downloads and len(saved[0].name.encode()) <= MAX_NAME_BYTES
        assert saved[0].read_bytes() == (MEDIA / "broken.jpg").read_bytes()
        await pilot.press("O")  # a document: described, with the save key, never opened by a program
        await pilot.pause(0.2)
        text = screen_text(pilot)
        assert "document · application/pdf · 2.0 KB" in text and "S save file" in text
        assert app.is_running
    assert no_processes == []
