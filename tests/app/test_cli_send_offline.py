"""`wabox send` refusals and `wabox channels` plain output, without any network: nothing queued when refused."""

from __future__ import annotations

import asyncio

import pytest

from app.cli import main
from core.store import Store

NUMBER = "209837465112233"


@pytest.fixture
def env(db_target, tmp_path, monkeypatch):
    db = db_target

    async def setup() -> None:
        store = await Store.open(db)
        await store.write(lambda conn: conn.execute(
            "INSERT INTO channel(phone_number_id, waba_id, name, display_phone_number, quality_rating,"
            " messaging_limit_tier, health) VALUES (?, 'w', 'Sklep\x1b[31m', '+48 22 123 45 67', 'GREEN', 'TIER_250',"
            " 'token_invalid')", (NUMBER,)))
        await store.close()

    asyncio.run(setup())
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.setenv("WABOX_CONFIG", str(config))
    monkeypatch.setenv("WABOX_DB", str(db))
    return db


def outbox_count(db) -> int:
    async def count() -> int:
        store = await Store.open(db)
        try:
            return await store.scalar("SELECT count(*) FROM outbox")
        finally:
            await store.close()
    return asyncio.run(count())


def test_a_file_of_a_type_whatsapp_cannot_send_is_refused_before_queueing(env, tmp_path, capsys):
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ" + bytes(100))
    assert main(["send", "--from", NUMBER, "--to", "+48601234567", "--file", str(program)]) == 1
    err = capsys.readouterr().err
    assert "refused: setup.exe:" in err and "is not a type WhatsApp can send" in err
    assert outbox_count(env) == 0


def test_an_unconnected_number_and_a_bad_recipient_are_refused(env, capsys):
    assert main(["send", "--from", "123", "--to", "+48601234567", "--text", "Hej"]) == 1
    assert "123 is not a connected number" in capsys.readouterr().err
    assert main(["send", "--from", NUMBER, "--to", "12", "--text", "Hej"]) == 1
    assert "is not a valid phone number" in capsys.readouterr().err
    assert main(["send", "--from", NUMBER, "--to", "+48601234567", "--template", "x"]) == 2
    assert "--template needs --lang" in capsys.readouterr().err
    assert outbox_count(env) == 0


def test_channels_plain_output_shows_health_with_names_neutralised(env, capsys):
    assert main(["channels"]) == 0
    out = capsys.readouterr().out
    header, line = out.splitlines()
    assert header.split()[:4] == ["PHONE", "NUMBER", "ID", "NAME"]
    assert NUMBER in line and "GREEN" in line and "TIER_250" in line and "invalid" in line
    assert "\x1b" not in out and "Sklep␛[31m" in line
