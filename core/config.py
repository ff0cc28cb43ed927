"""Configuration: a TOML file for everything that is not secret, the environment (or secrets.toml) for secrets.

Where the config file is: `--config PATH`, else `$WABOX_CONFIG`, else the platform config dir's `wabox/config.toml`.
Secrets (`$WABOX_APP_SECRET`, `$WABOX_VERIFY_TOKEN`, `$WABOX_ACCESS_TOKEN`, or `secrets.toml` beside the config,
mode 0600) are loaded only by `load_secrets()`, which only `wabox serve`, `wabox sim` and `wabox connect` call:
the TUI never holds them, so Textual's crash dump cannot print them.
"""

from __future__ import annotations

import os
import stat
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
import tomli_w

DEFAULT_GRAPH_URL = "https://graph.facebook.com/v23.0"
DEFAULT_DOWNLOADS = Path("~/Downloads")  # where the inbox saves media (S); made 0700 when missing


class ConfigError(Exception):
    """The configuration cannot be used; the message says why and where."""


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    name: str
    waba_id: str
    phone_number_id: str
    display_phone_number: str


@dataclass(frozen=True, slots=True)
class AssignmentRule:
    """`[[assignment]]`: new and reopened threads of a channel (or of a custom view) go to a team."""

    team: str
    channel: str | None = None
    view: str | None = None


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    db: Path | str  # a SQLite file, or a `postgresql://` URL (never with its password: see database_target)
    graph_url: str = DEFAULT_GRAPH_URL
    channels: tuple[ChannelConfig, ...] = ()
    media_dir: Path | None = None
    monthly_quota: int = 1000
    numbers_per_waba: int = 25
    rate_per_second: float = 80.0
    webhook_url: str | None = None  # where a simulator sends webhooks (demo / tests)
    downloads_dir: Path = DEFAULT_DOWNLOADS
    assignment: tuple[AssignmentRule, ...] = ()
    notify_command: str | None = None  # run by the inbox for each notification, the event as JSON on stdin

    @property
    def media_path(self) -> Path:
        if isinstance(self.db, str):  # PostgreSQL: media stays on this host, in its data directory
            return self.media_dir or Path(platformdirs.user_data_dir("wabox")) / "media"
        return self.media_dir or self.db.parent / "media"


class Secret(str):
    """A string that never shows itself in repr, str() of containers, f-string debugging or tracebacks."""

    def __repr__(self) -> str:
        return "Secret('***')"

    def reveal(self) -> str:
        return str.__str__(self)


@dataclass(frozen=True, slots=True)
class Secrets:
    app_secret: Secret | None = field(default=None, repr=False)
    verify_token: Secret | None = field(default=None, repr=False)
    access_token: Secret | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        present = [name for name in ("app_secret", "verify_token", "access_token") if getattr(self, name)]
        return f"Secrets(present={present})"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("wabox")) / "config.toml"


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("wabox")) / "wabox.db"


def config_path(explicit: str | Path | None = None, env: Mapping[str, str] = os.environ) -> Path:
    if explicit:
        return Path(explicit)
    if env.get("WABOX_CONFIG"):
        return Path(env["WABOX_CONFIG"])
    return default_config_path()


# Every key the config file may hold, and what its value must be: anything else is refused, naming the key, so
# a typo (`monthy_quota`) or a quoted number cannot silently fall back to a default.
_TEXT, _INTEGER, _NUMBER, _ID = "a string", "an integer", "a number", "a string of digits"
SCHEMA: dict[str, object] = {
    "db": _TEXT,
    "media_dir": _TEXT,
    "downloads_dir": _TEXT,
    "meta": {"graph_url": _TEXT, "webhook_url": _TEXT},
    "limits": {"monthly_quota": _INTEGER, "numbers_per_waba": _INTEGER, "rate_per_second": _NUMBER},
    "channels": [{"name": _TEXT, "waba_id": _ID, "phone_number_id": _ID, "display_phone_number": _TEXT}],
    "assignment": [{"channel": _ID, "view": _TEXT, "team": _TEXT}],
    "notify_command": _TEXT,
}
_SECRET_KEYS = ("app_secret", "verify_token", "access_token")


def _fits(value: object, kind: str) -> bool:
    if kind == _TEXT:
        return isinstance(value, str)
    if kind == _ID:  # ids may be written as TOML integers; they are kept as text
        return (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
            isinstance(value, str) and value.isascii() and value.isdigit())
    if kind == _INTEGER:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check(path: Path, data: dict, schema: dict, where: str = "") -> None:
    for key, value in data.items():
        name = f"{where}{key}"
        if key in _SECRET_KEYS:
            raise ConfigError(f"{path}: secrets do not belong in the config file ({name}); use the environment or "
                              "secrets.toml")
        if key not in schema:
            raise ConfigError(f"{path}: unknown key {name!r} (known here: {', '.join(schema)})")
        kind = schema[key]
        if isinstance(kind, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: {name} must be a table ([{name}])")
            _check(path, value, kind, f"{name}.")
        elif isinstance(kind, list):
            if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
                raise ConfigError(f"{path}: {name} must be an array of tables ([[{name}]])")
            for number, entry in enumerate(value, start=1):
                _check(path, entry, kind[0], f"{name}[{number}].")
        elif not _fits(value, kind):
            raise ConfigError(f"{path}: {name} must be {kind}, not {_shown(value)}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def database_target(value: str | Path) -> Path | str:
    """A path (SQLite) or a PostgreSQL URL. The URL may not carry the password: it is shown in logs, `ps` and
    config files. The password comes from $PGPASSWORD or libpq's password file (~/.pgpass or $PGPASSFILE, 0600)."""
    text = str(value)
    if not text.startswith(("postgresql://", "postgres://")):
        return Path(value).expanduser()
    try:
        parts = urllib.parse.urlsplit(text)
        has_password = parts.password is not None or "password=" in parts.query
    except ValueError:
        raise ConfigError("db: not a valid postgresql:// URL") from None
    if has_password:
        raise ConfigError("db: the PostgreSQL URL holds a password; take it out and set $PGPASSWORD or put it in "
                          "~/.pgpass ($PGPASSFILE), mode 0600")
    return text


def load_config(explicit: str | Path | None = None, *, db: str | Path | None = None,
                env: Mapping[str, str] = os.environ) -> Config:
    """Read the TOML file (missing is fine unless named explicitly) and apply env and flag overrides."""
    path = config_path(explicit, env)
    data: dict = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot be read: {error.strerror}") from None
    elif explicit or env.get("WABOX_CONFIG"):
        raise ConfigError(f"{path}: no such config file")
    _check(path, data, SCHEMA)
    meta = data.get("meta", {})
    channels = []
    for number, entry in enumerate(data.get("channels", []), start=1):
        try:
            channels.append(ChannelConfig(name=entry["name"], waba_id=str(entry["waba_id"]),
                                          phone_number_id=str(entry["phone_number_id"]),
                                          display_phone_number=entry.get("display_phone_number", "")))
        except KeyError as missing:
            raise ConfigError(f"{path}: [[channels]] entry {number} lacks {missing.args[0]}") from None
    rules = []
    for number, entry in enumerate(data.get("assignment", []), start=1):
        if "team" not in entry or ("channel" in entry) == ("view" in entry):
            raise ConfigError(f"{path}: [[assignment]] entry {number} needs team and one of channel or view")
        rules.append(AssignmentRule(team=entry["team"], channel=str(entry["channel"]) if "channel" in entry else None,
                                    view=entry.get("view")))
    db_path = db or env.get("WABOX_DB") or data.get("db") or default_db_path()
    media_dir = data.get("media_dir")
    limits = data.get("limits", {})
    return Config(
        path=path if path.exists() else None,
        db=database_target(db_path),
        graph_url=(env.get("WABOX_GRAPH_URL") or meta.get("graph_url") or DEFAULT_GRAPH_URL).rstrip("/"),
        channels=tuple(channels),
        media_dir=Path(media_dir).expanduser() if media_dir else None,
        monthly_quota=limits.get("monthly_quota", 1000),
        numbers_per_waba=limits.get("numbers_per_waba", 25),
        rate_per_second=float(limits.get("rate_per_second", 80.0)),
        webhook_url=meta.get("webhook_url"),
        downloads_dir=Path(data.get("downloads_dir") or DEFAULT_DOWNLOADS),
        assignment=tuple(rules),
        notify_command=data.get("notify_command"),
    )


def load_secrets(config: Config | None = None, env: Mapping[str, str] = os.environ) -> Secrets:
    """Secrets from the environment, else from secrets.toml beside the config file, which must be 0600."""
    values: dict[str, str] = {}
    if config is not None and config.path is not None:
        secrets_file = config.path.parent / "secrets.toml"
        if secrets_file.exists():
            mode = stat.S_IMODE(secrets_file.stat().st_mode)
            if mode & 0o077:
                raise ConfigError(f"{secrets_file} is readable by others (mode {mode:o}); run: chmod 600 {secrets_file}")
            try:
                values.update({k: str(v) for k, v in tomllib.loads(secrets_file.read_text("utf-8")).items()})
            except tomllib.TOMLDecodeError:
                raise ConfigError(f"{secrets_file}: not valid TOML") from None  # no detail: it may quote a secret
    for key in ("app_secret", "verify_token", "access_token"):
        if env.get(f"WABOX_{key.upper()}"):
            values[key] = env[f"WABOX_{key.upper()}"]
    return Secrets(**{key: Secret(values[key]) if values.get(key) else None
                      for key in ("app_secret", "verify_token", "access_token")})


def channels_toml(channels: list[ChannelConfig]) -> str:
    """`[[channels]]` entries as TOML text (used by `wabox connect` to append to the config)."""
    return tomli_w.dumps({"channels": [{"name": c.name, "waba_id": c.waba_id, "phone_number_id": c.phone_number_id,
                                        "display_phone_number": c.display_phone_number} for c in channels]})
