"""`wabox inbox`: loads the config (never the secrets) and opens the app on its database as the agent."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.cli import main


def test_inbox_command_opens_the_app_on_the_configured_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "config.toml"
    config.write_text(f'db = "{tmp_path / "inbox.db"}"\n[limits]\nmonthly_quota = 250\n')
    sqlite3.connect(tmp_path / "inbox.db").close()  # the inbox opens a database; it never creates one
    opened = {}

    def fake_run(self) -> None:
        opened.update(db=self.db_path, agent=self.agent, quota=self.quota)

    monkeypatch.setattr("app.wabox_app.WaboxApp.run", fake_run)
    monkeypatch.setenv("WABOX_ACCESS_TOKEN", "must-not-be-read")
    loaded = []
    monkeypatch.setattr("core.config.load_secrets", lambda *a, **k: loaded.append(1))
    assert main(["inbox", "--config", str(config), "--agent", "ola"]) == 0
    assert opened == {"db": tmp_path / "inbox.db", "agent": "ola", "quota": 250}
    assert loaded == []
