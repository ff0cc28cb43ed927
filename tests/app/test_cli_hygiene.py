"""`wabox` as a person types it: shared options before or after the command, one-line errors with documented exit
codes, nothing created that was not asked for, a closed pipe, a --wait that says what it waits for and gives up."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import build_parser, parse
from app.commands.send import NOBODY_SENDING_AFTER, wait_for_outcome
from core.store import Store
from tests.core.ingest_helpers import apply, load

NUMBER = "209837465112233"


def wabox(*args: str, config: Path | None = None, stdout=subprocess.PIPE, timeout: float = 60,
          extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WABOX_CONFIG": str(config) if config else "", "WABOX_DB": "", "USER": "kasia",
           **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, env=env, timeout=timeout)


@pytest.fixture
def db(db_target, fixtures_dir) -> Path | str:
    """Anna's thread (owned by ola) and Tomasz's, on a connected number."""
    path = db_target

    async def seed() -> None:
        store = await Store.open(path)
        await apply(store, load(fixtures_dir, "text.json"), load(fixtures_dir, "batch_multiple_messages.json"))
        await store.write(lambda conn: (
            conn.execute("UPDATE thread SET owner = 'ola' WHERE wa_id = '48601234567'"),
            conn.execute("INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number) VALUES"
                         " (?, 'w', 'Sklep', '+48 22 123 45 67')", (NUMBER,))))
        await store.close()

    asyncio.run(seed())
    return path


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wabox: ") and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_the_shared_options_count_before_and_after_the_command(db, tmp_path):
    before = wabox("--db", str(db), "--agent", "ola", "threads", "--view", "mine", "--json")
    after = wabox("threads", "--view", "mine", "--json", "--db", str(db), "--agent", "ola")
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert [t["contact"]["wa_id"] for t in json.loads(before.stdout)] == ["48601234567"]
    assert json.loads(before.stdout) == json.loads(after.stdout)
    # the command's own value wins over the root's
    missing = tmp_path / "elsewhere.db"
    assert wabox("--db", str(missing), "threads", "--db", str(db)).returncode == 0
    assert "no database at" in one_error_line(wabox("--db", str(db), "threads", "--db", str(missing)))
    config = tmp_path / "config.toml"
    config.write_text(f'db = "{db}"\n')
    assert wabox("--config", str(config), "thread", "1", "--json").returncode == 0


@pytest.mark.parametrize("command", [["threads"], ["thread", "1"], ["channels"], ["templates"], ["inbox"], [],
                                     ["send", "--from", NUMBER, "--to", "+48601234567", "--text", "Hej"]])
def test_a_mistyped_db_is_refused_and_nothing_is_created(tmp_path, command):
    typo = tmp_path / "no-such-dir" / "wabox.dbb"
    result = wabox("--db", str(typo), *command)
    assert result.returncode == 2
    assert one_error_line(result) == (f"wabox: no database at {typo}: check --db, $WABOX_DB or the config's db "
                                      "(`wabox serve` and `wabox connect` create it)")
    assert not typo.parent.exists()


def test_a_file_that_is_not_a_database_is_a_one_line_error(tmp_path):
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("shopping list\n" * 100)
    result = wabox("threads", "--db", str(not_a_db))
    assert result.returncode == 2 and "file is not a database" in one_error_line(result)
    assert not_a_db.read_text() == "shopping list\n" * 100


def test_a_closed_output_pipe_ends_quietly(db):
    reader, writer = os.pipe()
    os.close(reader)  # like `| head` that has already read what it wanted
    try:
        result = wabox("threads", "--db", str(db), stdout=writer)
    finally:
        os.close(writer)
    assert result.stderr == "" and result.returncode == 141


@pytest.mark.parametrize("toml, key", [
    ('[limits]\nmonthly_quota = "many"\n', "limits.monthly_quota must be an integer, not 'many'"),
    ("[limits]\nrate_per_second = true\n", "limits.rate_per_second must be a number, not True"),
    ("db = 42\n", "db must be a string, not 42"),
    ("meta = 1\n", "meta must be a table ([meta])"),
    ('[[channels]]\nname = "A"\nwaba_id = "W-1"\nphone_number_id = "1"\n',
     "channels[1].waba_id must be a string of digits, not 'W-1'"),
    ("[limits]\nmonthy_quota = 5\n", "unknown key 'limits.monthy_quota'"),
    ('dbpath = "/tmp/x.db"\n', "unknown key 'dbpath'"),
])
def test_a_config_value_of_the_wrong_type_or_an_unknown_key_is_a_one_line_error_naming_it(tmp_path, toml, key):
    config = tmp_path / "config.toml"
    config.write_text(toml)
    result = wabox("threads", config=config)
    assert result.returncode == 2
    assert one_error_line(result).startswith(f"wabox: {config}: {key}")


def test_send_wait_without_a_sender_says_so_and_gives_up(db):
    async def anna_writes() -> None:  # an open session, so the text is queued
        store = await Store.open(db)
        await store.write(lambda conn: conn.execute("UPDATE thread SET last_inbound_at = ?", (int(time.time()),)))
        await store.close()

    asyncio.run(anna_writes())
    result = wabox("send", "--db", str(db), "--from", NUMBER, "--to", "+48601234567", "--text", "Hej",
                   "--wait", "--timeout", "0.3")
    assert result.returncode == 3
    outbox_id = result.stdout.strip()
    assert outbox_id.isdigit()
    assert result.stderr.splitlines() == [
        "waiting up to 0.3 s for `wabox serve` to send it …",
        "wabox: not sent after 0.3 s (outbox state: queued); it stays queued and `wabox serve` sends it when it runs"]


async def test_wait_for_outcome_hints_once_that_no_sender_is_running_then_times_out(store, fixtures_dir, capsys):
    await apply(store, load(fixtures_dir, "text.json"))
    message_id = await store.write(lambda conn: conn.execute(
        "INSERT INTO message(thread_id, channel, direction, type, text, timestamp, status)"
        " VALUES (1, ?, 'out', 'text', 'x', 0, 'queued')", (NUMBER,)).lastrowid)
    await store.write(lambda conn: conn.execute(
        "INSERT INTO outbox(message_id, thread_id, channel, recipient, kind, request, created_at)"
        " VALUES (?, 1, ?, '+48601234567', 'text', '{}', 0)", (message_id, NUMBER)))
    now = [0.0]

    async def sleep(seconds: float) -> None:  # a fake clock: the test takes no time
        now[0] += seconds

    from app.commands._common import CommandError
    with pytest.raises(CommandError) as caught:
        await wait_for_outcome(store, message_id, timeout=30, poll=1, clock=lambda: now[0], sleep=sleep)
    assert caught.value.code == 3 and now[0] == 30
    assert capsys.readouterr().err.splitlines() == ["waiting up to 30 s for `wabox serve` to send it …",
                                                    "still queued: is `wabox serve` running on this database?"]
    assert NOBODY_SENDING_AFTER < 30
    await store.write(lambda conn: conn.execute("UPDATE outbox SET state = 'sent', wamid = 'wamid.S'"))
    assert await wait_for_outcome(store, message_id, timeout=30, clock=lambda: now[0], sleep=sleep) == 0
    assert capsys.readouterr().out == "sent wamid.S\n"


def test_every_option_of_every_command_has_help():
    parser = build_parser()
    commands = {"": parser, **next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices}
    missing = [f"{name} {'/'.join(action.option_strings) or action.dest}" for name, p in commands.items()
               for action in p._actions if not action.help and not isinstance(action, argparse._SubParsersAction)]
    assert missing == []
    for option in ("--config", "--db", "--agent"):  # defined once, offered everywhere
        assert all(option in p.format_help() for p in commands.values())


def test_the_readme_documents_every_exit_code():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in ("0", "1", "2", "3", "130", "141"):
        assert f"| {code} |" in section


def test_sim_help_names_the_ids_it_hosts():
    result = wabox("sim", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "WABA 310492887654321 phone number 209837465112233" in text
    assert "WABA 310492887654321 phone number 209837465998877" in text


async def test_wabox_connect_can_be_tried_against_wabox_sim_with_what_it_prints(tmp_path):
    secrets = {"WABOX_APP_SECRET": "s", "WABOX_ACCESS_TOKEN": "sim-token", "WABOX_VERIFY_TOKEN": "v"}
    (tmp_path / "sim.toml").write_text("")
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "sim", "--port", "0", "--webhook-url", "http://127.0.0.1:9/webhook",
        env={**os.environ, **secrets, "WABOX_CONFIG": str(tmp_path / "sim.toml")},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        printed = []
        while not printed or not printed[-1].startswith("Graph API on"):
            line = await asyncio.wait_for(sim.stdout.readline(), timeout=30)
            assert line, f"wabox sim ended early: {printed}"
            printed.append(line.decode().strip())
        hosted = [line.split() for line in printed if line.startswith("hosting WABA")]
        assert [(h[2], h[5]) for h in hosted] == [("310492887654321", "209837465112233"),
                                                  ("310492887654321", "209837465998877")]
        graph_url = printed[-1].split()[3]
        config = tmp_path / "wabox" / "config.toml"
        env = {**secrets, "WABOX_GRAPH_URL": graph_url}

        def connect(*args: str) -> subprocess.CompletedProcess:
            return wabox("connect", "--db", str(tmp_path / "wabox.db"), "--config", str(config), *args,
                         config=None, extra_env=env)

        config.parent.mkdir()
        config.write_text("")
        result = await asyncio.to_thread(connect, "--waba-id", "310492887654321",
                                         "--phone-number-id", "209837465112233")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("connected 209837465112233 +48 22 123 4567 (Ogrody Kowalski) of WABA")
        result = await asyncio.to_thread(connect, "--waba-id", "999", "--phone-number-id", "209837465998877")
        assert result.returncode == 1
        assert one_error_line(result).startswith("wabox: WABA 999: the Graph API refused to list its numbers: (100) "
                                                 "(#100) Invalid parameter — Unsupported get request. Object with ID "
                                                 "'999' does not exist")
    finally:
        sim.terminate()
        await sim.wait()



def _outcome(read, argv: list[str]):
    try:
        args = vars(read(argv))
    except SystemExit as leaving:
        return f"exit {leaving.code}"
    return {"command": args["command"] or "inbox", **{name: args.get(name) for name in ("config", "db", "agent")}}


@pytest.mark.parametrize("argv", [[], ["--db", "x.db"], ["inbox", "--db", "x.db", "--agent", "ola"],
                                  ["--db=x.db", "inbox", "--config", "c.toml"], ["--agent", "a", "--agent", "b"],
                                  ["--help"], ["--ag", "ola"], ["--db"], ["--db", "-x"], ["inbox", "inbox"],
                                  ["threads", "--db", "x.db"]])
def test_the_inbox_command_line_means_what_the_full_parser_reads(argv: list[str], capsys: pytest.CaptureFixture):
    """`wabox [inbox] [--db/--config/--agent]` is read without building every command's parser; it must mean the
    same, and anything else (help, an abbreviation, a mistake, another command) goes to the full parser."""
    assert _outcome(parse, argv) == _outcome(build_parser().parse_args, argv)
