"""A real PostgreSQL server of the tests' own: initdb + pg_ctl in a temporary directory, on a free loopback port,
its socket in that directory, run as an unprivileged user when the suite runs as root (PostgreSQL refuses root).

Each test gets a fresh database made from a migrated template (CREATE DATABASE ... TEMPLATE: a file copy, ~50 ms).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

def _bin() -> Path:
    """$WABOX_PG_BIN, else the newest of Debian's /usr/lib/postgresql/N/bin."""
    if os.environ.get("WABOX_PG_BIN"):
        return Path(os.environ["WABOX_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return found[-1] if found else Path("/usr/lib/postgresql/15/bin")


BIN = _bin()
TEMPLATE = "wabox_template"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    assert found, f"PostgreSQL's {name} not found (install Debian's `postgresql`, or set WABOX_PG_BIN)"
    return str(found)


class PgServer:
    def __init__(self, *, durable: bool = False) -> None:
        """`durable`: fsync on, for benchmarks; the tests run without it (a crash of the machine loses the
        test server, never a test's meaning: commits and visibility are the same)."""
        self.durable = durable
        self.dir = Path(tempfile.mkdtemp(prefix="wabox-pg-"))
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL will not run as root: the server and its files belong to `nobody`
            user = pwd.getpwnam("nobody")
            os.chmod(self.dir, 0o700)
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]
        self._numbers = itertools.count(1)

    def _run(self, *argv: str) -> None:
        subprocess.run([*self._as, *argv], check=True, cwd=self.dir, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env={**os.environ, "LC_ALL": "C.UTF-8"})

    def start(self) -> "PgServer":
        data = self.dir / "data"
        self._run(_tool("initdb"), "-D", str(data), "-U", "wabox", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir}"
                   + ("" if self.durable else " -c fsync=off -c full_page_writes=off")
                   + " -c synchronous_commit=on -c max_connections=300"
                   " -c shared_buffers=64MB")
        self._run(_tool("pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")
        self.admin("CREATE DATABASE wabox_template")
        return self

    def url(self, database: str) -> str:
        return f"postgresql://wabox@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def fresh_database(self) -> str:
        """A new database, already migrated (copied from the template), as a URL."""
        name = f"t{next(self._numbers)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    def drop(self, url: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def stop(self) -> None:
        subprocess.run([*self._as, _tool("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"],
                       cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)
