"""`wabox inbox`: loads the config (never the secrets) and opens the app on its database as the agent."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

import pytest

from app.cli import main


def test_inbox_command_opens_the_app_on_the_configured_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "config.toml"
    config.write_text(f'db = "{tmp_path / "inbox.db"}"\n[limits]\nmonthly_quota = 250\n')
    sqlite3.connect(tmp_path / "inbox.db").close()  # the inbox opens a database; it never creates one
    assert main(["agents", "add", "ola", "--config", str(config)]) == 0  # only a known agent signs in
    opened = {}

    def fake_run(self) -> None:
        opened.update(db=self.db_path, agent=self.agent, quota=self.quota, collecting=gc.isenabled())

    monkeypatch.setattr("app.wabox_app.WaboxApp.run", fake_run)
    monkeypatch.setenv("WABOX_ACCESS_TOKEN", "must-not-be-read")
    loaded = []
    monkeypatch.setattr("core.config.load_secrets", lambda *a, **k: loaded.append(1))
    assert main(["inbox", "--config", str(config), "--agent", "ola"]) == 0
    # The inbox starts with the garbage collector held (its first screen turns it back on: app/gc_pauses.py); once
    # main returns, it is on whatever happened.
    assert opened == {"db": tmp_path / "inbox.db", "agent": "ola", "quota": 250, "collecting": False}
    assert loaded == []
    assert gc.isenabled()


def test_a_command_that_opens_no_inbox_runs_with_the_collector_on(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch):
    seen = []
    monkeypatch.setattr("app.commands.agents.run", lambda args: seen.append(gc.isenabled()) or 0)
    assert main(["agents", "list", "--db", str(tmp_path / "x.db")]) == 0
    assert seen == [True] and gc.isenabled()


def test_the_inbox_refuses_an_unknown_or_disabled_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture):
    config = tmp_path / "config.toml"
    config.write_text(f'db = "{tmp_path / "inbox.db"}"\n')
    sqlite3.connect(tmp_path / "inbox.db").close()
    monkeypatch.setattr("app.wabox_app.WaboxApp.run", lambda self: pytest.fail("the inbox must not open"))
    assert main(["agents", "add", "ola", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["inbox", "--config", str(config), "--agent", "mrek"]) == 2
    assert "cannot sign in as 'mrek': no agent named 'mrek' (known: ola)" in capsys.readouterr().err
    monkeypatch.setenv("USER", "nobody-here")
    assert main(["inbox", "--config", str(config)]) == 2  # $USER is the default, checked the same way
    assert main(["agents", "disable", "ola", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["inbox", "--config", str(config), "--agent", "ola"]) == 2
    assert "agent 'ola' is disabled" in capsys.readouterr().err
