"""`wabox db copy`: an SQLite install moved into PostgreSQL keeps every row, and the inbox reads the same there."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from core.demo_seed import seed_demo
from core.records.service import Records
from core.store import Store
from core.store.reads import list_threads, thread_messages
from core.views import BUILTIN_BY_KEY
from tests.core.records_helpers import import_csv


def wabox(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WABOX_")}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


async def seeded(tmp_path):
    store = await Store.open(tmp_path / "wabox.db")
    await seed_demo(store, now=int(time.time()), agent="kasia", media_dir=tmp_path / "media")
    await import_csv(store, "contacts", "name,phone,email\nJan Żółw,+48 601 222 333,jan@example.com\n")
    await import_csv(store, "companies", "name,city\nBursztyn Rejsy,Gdańsk\n")
    return store


async def test_copy_moves_every_row_and_the_inbox_reads_the_same(tmp_path, pg_server):
    source = await seeded(tmp_path)
    url = pg_server.fresh_database()
    done = wabox("db", "copy", "--from", str(tmp_path / "wabox.db"), "--to", url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["TABLE", "ROWS", "COPIED"]
    by_table = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert by_table["message"][1] == by_table["message"][2] == str(await source.scalar("SELECT count(*) FROM message"))
    assert all(row[-1] == "ok" and row[3] == row[4] for row in by_table.values())
    assert "every table matches" in lines[-1]

    target = await Store.open(url)
    try:
        view = BUILTIN_BY_KEY["open"]
        assert ([t.id for t in await list_threads(target, view, agent="kasia")]
                == [t.id for t in await list_threads(source, view, agent="kasia")])
        for term in ("dzien dob", "lodz", "zamow"):  # typed without marks, the last word a prefix
            found = [t.id for t in await list_threads(source, view, agent="kasia", search=term)]
            assert found and [t.id for t in await list_threads(target, view, agent="kasia", search=term)] == found
        # Records search there finds what it found here (the side tables' text went across with its ids).
        for kind, term in (("contact", "zolw"), ("contact", "601222"), ("company", "gdan")):
            found = [r.title for r in await Records(source).rows(kind, term, 0, 10)]
            assert found and [r.title for r in await Records(target).rows(kind, term, 0, 10)] == found, term
        # What the triggers keep went across as kept: the sidebar's counts are the same.
        for table in ("assignment_queue", "thread_tally", "thread_digits"):
            assert (await target.scalar(f"SELECT count(*) FROM {table}")
                    == await source.scalar(f"SELECT count(*) FROM {table}")), table
        first = (await list_threads(source, view, agent="kasia"))[0].id
        assert ([m.text for m in await thread_messages(target, first)]
                == [m.text for m in await thread_messages(source, first)])
        # New rows continue after the copied ids instead of colliding with them.
        newest = await source.scalar("SELECT max(id) FROM contact")
        added = await target.write(lambda db: db.execute(
            "INSERT INTO contact(name, created_at) VALUES ('Nowy', 0)").lastrowid)
        assert added == newest + 1
    finally:
        await target.close()
        await source.close()


async def test_copy_refuses_a_target_that_holds_data(tmp_path, pg_server):
    await (await seeded(tmp_path)).close()
    url = pg_server.fresh_database()
    assert wabox("db", "copy", "--from", str(tmp_path / "wabox.db"), "--to", url).returncode == 0
    again = wabox("db", "copy", "--from", str(tmp_path / "wabox.db"), "--to", url)
    assert again.returncode == 1
    assert again.stderr.startswith("wabox: the target is not empty: table ")


def test_a_url_with_a_password_is_refused_without_echoing_it(tmp_path):
    done = wabox("db", "copy", "--from", str(tmp_path), "--to", "postgresql://wabox:hunter2@127.0.0.1/x")
    assert done.returncode == 2
    done = wabox("--db", "postgresql://wabox:hunter2@127.0.0.1/x", "threads")
    assert done.returncode == 2 and "holds a password" in done.stderr and "hunter2" not in done.stderr


def test_a_postgresql_server_that_is_not_there_is_one_line_at_once():
    from tests.core.receiver_process import free_port

    done = wabox("--db", f"postgresql://wabox@127.0.0.1:{free_port()}/wabox", "threads")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("wabox: postgresql://wabox@127.0.0.1:")
    assert "Connection refused" in done.stderr
