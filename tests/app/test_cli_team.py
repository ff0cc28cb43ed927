"""`wabox agents|teams|assign|saved-replies`: what scripts and operators rely on (issue 10's interface)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from tests.app.helpers import seed


@pytest.fixture
def run(db_target, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    db = seed(db_target)  # agents tester, marek, ola; team Support (tester, ola)
    monkeypatch.setenv("WABOX_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")

    def wabox(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--db", str(db)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return wabox


def test_agents_and_teams_from_the_command_line(run):
    assert run("agents", "add", "kasia", "--capacity", "3")[0] == 0
    code, _, err = run("agents", "add", "kasia")
    assert code == 1 and err == "wabox: agent 'kasia' already exists\n"
    assert run("agents", "set", "kasia", "--status", "away")[0] == 0
    assert run("teams", "add", "Sprzedaż")[0] == 0
    assert run("teams", "members", "Sprzedaż", "--add", "kasia", "marek")[0] == 0
    assert run("teams", "members", "Support", "--remove", "ola")[0] == 0
    code, _, err = run("teams", "members", "Support", "--add", "mrek")
    assert code == 1 and err.startswith("wabox: no agent named 'mrek' (known: kasia, marek, ola, tester)")
    listed = json.loads(run("agents", "list", "--json")[1])
    assert {a["name"]: (a["status"], a["capacity"], a["teams"]) for a in listed} == {
        "kasia": ("away", 3, ["Sprzedaż"]), "marek": ("available", 20, ["Sprzedaż"]),
        "ola": ("available", 20, []), "tester": ("available", 20, ["Support"])}
    assert json.loads(run("teams", "list", "--json")[1]) == [{"name": "Sprzedaż", "members": ["kasia", "marek"]},
                                                             {"name": "Support", "members": ["tester"]}]


def test_assign_checks_names_and_threads_json_keeps_owner_and_team(run):
    assert run("assign", "1", "ola", "--agent", "tester")[0] == 0
    code, _, err = run("assign", "1", "mrek")
    assert code == 1 and "no agent named 'mrek'" in err
    code, _, err = run("assign", "1", "team:Sales")
    assert code == 1 and "no team named 'Sales' (known: Support)" in err
    code, _, err = run("assign", "999", "ola")
    assert code == 1 and err == "wabox: no thread 999\n"
    code, _, err = run("assign", "1")
    assert code == 2 and "give an agent, team:NAME, or --none" in err
    thread = next(t for t in json.loads(run("threads", "--json")[1]) if t["id"] == 1)
    assert (thread["owner"], thread["team"]) == ("ola", None)
    assert run("assign", "1", "team:Support")[0] == 0  # the team's least loaded available member takes it
    thread = next(t for t in json.loads(run("threads", "--json")[1]) if t["id"] == 1)
    assert thread["team"] == "Support" and thread["owner"] in ("tester", "ola")
    assert run("assign", "1", "--none")[0] == 0
    assert next(t for t in json.loads(run("threads", "--json")[1]) if t["id"] == 1)["owner"] is None


def test_disabling_an_agent_returns_their_threads(run):
    assert run("assign", "3", "ola")[0] == 0
    assert run("agents", "disable", "ola")[1] == "disabled ola; 1 open thread(s) back to their team's queue\n"
    assert next(t for t in json.loads(run("threads", "--json")[1]) if t["id"] == 3)["owner"] == "tester"


def test_saved_replies_import_and_export(run, tmp_path):
    replies = [{"name": "Powitanie", "body": "Dzień dobry {{contact.first_name}}"},
               {"name": "Moja", "body": "Pozdrawiam", "owner": "ola"}]
    (tmp_path / "replies.json").write_text(json.dumps(replies, ensure_ascii=False))
    assert run("saved-replies", "import", str(tmp_path / "replies.json"))[1] == "imported 2 saved replies\n"
    assert json.loads(run("saved-replies", "export")[1]) == sorted(replies, key=lambda r: (r.get("owner", ""),
                                                                                           r["name"]))
    assert [r["name"] for r in json.loads(run("saved-replies", "list", "--json", "--agent", "marek")[1])] == [
        "Powitanie"]
    (tmp_path / "bad.json").write_text('{"name": "x"}')
    code, _, err = run("saved-replies", "import", str(tmp_path / "bad.json"))
    assert code == 1 and "expected a JSON list" in err
