"""Configuration: the TOML shape acceptance checks rely on, env overrides, and secrets kept out of sight."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback

import pytest

from core.config import ConfigError, Secret, load_config, load_secrets

CONFIG = """
db = "/var/lib/wabox/wabox.db"
[meta]
graph_url = "https://graph.facebook.com/v23.0"
[[channels]]
name = "Bursztyn Rejsy"
waba_id = "402118765430099"
phone_number_id = "583920174655001"
display_phone_number = "48583201744"
"""


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_the_documented_shape(config_file):
    config = load_config(config_file, env={})
    assert str(config.db) == "/var/lib/wabox/wabox.db"
    assert config.graph_url == "https://graph.facebook.com/v23.0"
    [channel] = config.channels
    assert (channel.name, channel.waba_id, channel.phone_number_id, channel.display_phone_number) == (
        "Bursztyn Rejsy", "402118765430099", "583920174655001", "48583201744")
    assert config.monthly_quota == 1000


def test_where_the_file_and_the_database_come_from(config_file, tmp_path):
    assert load_config(None, env={"WABOX_CONFIG": str(config_file)}).channels  # $WABOX_CONFIG
    env = {"WABOX_DB": str(tmp_path / "env.db"), "WABOX_GRAPH_URL": "http://127.0.0.1:9/v23.0/"}
    config = load_config(config_file, env=env)
    assert config.db == tmp_path / "env.db" and config.graph_url == "http://127.0.0.1:9/v23.0"
    assert load_config(config_file, db=tmp_path / "flag.db", env=env).db == tmp_path / "flag.db"  # --db wins


def test_a_named_file_that_is_missing_or_broken_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("db = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, env={})


def test_secrets_in_the_config_file_are_refused(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[meta]\naccess_token = "EAAG..."\n')
    with pytest.raises(ConfigError, match="secrets do not belong in the config file"):
        load_config(path, env={})


def test_secrets_toml_must_be_0600(config_file):
    secrets_file = config_file.parent / "secrets.toml"
    secrets_file.write_text('app_secret = "s3cret"\nverify_token = "v"\naccess_token = "EAAGtoken"\n')
    config = load_config(config_file, env={})
    secrets_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_secrets(config, env={})
    secrets_file.chmod(0o600)
    secrets = load_secrets(config, env={})
    assert secrets.app_secret.reveal() == "s3cret" and secrets.access_token.reveal() == "EAAGtoken"
    assert load_secrets(config, env={"WABOX_ACCESS_TOKEN": "from-env"}).access_token.reveal() == "from-env"


def test_secrets_never_show_in_reprs_or_tracebacks():
    secret = Secret("EAAG-very-secret")
    assert "EAAG" not in repr(secret) and "EAAG" not in repr([secret]) and "EAAG" not in repr({"t": secret})
    from core.config import Secrets
    assert "EAAG" not in repr(Secrets(access_token=secret))
    try:
        token = secret  # noqa: F841 - a local, as a crash dump would print it
        raise RuntimeError("boom")
    except RuntimeError:
        dump = "".join(traceback.TracebackException(*sys.exc_info(), capture_locals=True).format())
    assert "EAAG" not in dump


def test_help_names_no_secret():
    env = {**os.environ, "WABOX_ACCESS_TOKEN": "EAAG-in-env", "WABOX_APP_SECRET": "app-secret-in-env"}
    for args in ([], ["serve"], ["send"], ["connect"], ["sim"]):
        out = subprocess.run([sys.executable, "-m", "app.cli", *args, "--help"], capture_output=True, text=True,
                             env=env).stdout
        assert "EAAG" not in out and "app-secret-in-env" not in out and "usage: wabox" in out


def test_ids_written_as_toml_integers_are_kept_as_text_and_every_other_type_is_named(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[[channels]]\nname = "A"\nwaba_id = 402118765430099\nphone_number_id = 583920174655001\n'
                    "[limits]\nrate_per_second = 12.5\n")
    config = load_config(path, env={})
    assert (config.channels[0].waba_id, config.channels[0].phone_number_id) == ("402118765430099", "583920174655001")
    assert config.rate_per_second == 12.5
    path.write_text('[[channels]]\nname = 7\nwaba_id = "1"\nphone_number_id = "2"\n')
    with pytest.raises(ConfigError, match=r"channels\[1\]\.name must be a string, not 7$"):
        load_config(path, env={})
    path.write_text("[[channels]]\nname = \"A\"\nwaba_id = \"1\"\nphone_number_id = \"2\"\nphone = \"x\"\n")
    with pytest.raises(ConfigError, match=r"unknown key 'channels\[1\]\.phone'"):
        load_config(path, env={})


def test_assignment_rules_and_the_notify_command(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('notify_command = "notify-hook --quiet"\n[[assignment]]\nchannel = 583920174655001\n'
                    'team = "Wsparcie"\n[[assignment]]\nview = "VIP"\nteam = "Sprzedaż"\n')
    config = load_config(path, env={})
    assert [(r.channel, r.view, r.team) for r in config.assignment] == [
        ("583920174655001", None, "Wsparcie"), (None, "VIP", "Sprzedaż")]
    assert config.notify_command == "notify-hook --quiet"
    for bad, said in (('[[assignment]]\nchannel = "1"\n', "entry 1 needs team and one of channel or view"),
                      ('[[assignment]]\nchannel = "1"\nview = "x"\nteam = "t"\n', "entry 1 needs team and one of"),
                      ('[[assignment]]\nteam = "t"\nagent = "ola"\n', "unknown key 'assignment[1].agent'")):
        path.write_text(bad)
        with pytest.raises(ConfigError, match=said.replace("[", "\\[").replace("]", "\\]")):
            load_config(path, env={})
