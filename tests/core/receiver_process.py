"""Run `wabox serve` as a real process on loopback, the way production does, for chaos tests and benchmarks."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

APP_SECRET = "wabox-test-app-secret"
VERIFY_TOKEN = "wabox-verify-7Qe2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(directory: Path, channels: dict[str, str], *, db: Path | str | None = None) -> Path:
    """A config.toml naming `channels` (phone_number_id -> display number); `db` (default: beside it)."""
    lines = [f'db = "{db or directory / "wabox.db"}"', ""]
    for number_id, display in channels.items():
        lines += ["[[channels]]", f'name = "Test {display}"', 'waba_id = "310492887654321"',
                  f'phone_number_id = "{number_id}"', f'display_phone_number = "{display}"', ""]
    path = directory / "config.toml"
    path.write_text("\n".join(lines))
    return path


class ReceiverProcess:
    """`args`: more `wabox serve` options; `limits`: {resource.RLIMIT_*: value} set in the child before it starts
    (with SIGXFSZ ignored, so a file-size limit makes writes fail with EFBIG, as a full disk fails them)."""

    def __init__(self, config: Path, port: int, log: Path, *, args: Sequence[str] = (),
                 limits: dict[int, int] | None = None) -> None:
        self.config, self.port, self.log = config, port, log
        self.args, self.limits = list(args), dict(limits or {})
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        env = {**os.environ, "WABOX_APP_SECRET": APP_SECRET, "WABOX_VERIFY_TOKEN": VERIFY_TOKEN}
        env.pop("WABOX_ACCESS_TOKEN", None)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--config", str(self.config), "--port", str(self.port),
                 "--no-sender", *self.args], env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                preexec_fn=self._limit if self.limits else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("wabox serve exited:\n" + self.log.read_text(errors="replace")[-3000:])
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("wabox serve did not come up:\n" + self.log.read_text(errors="replace")[-3000:])

    def _limit(self) -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        for which, value in self.limits.items():
            resource.setrlimit(which, (value, value))

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
