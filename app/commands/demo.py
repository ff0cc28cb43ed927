"""`wabox demo`: everything on this machine (F25). Seeds a demo database, starts the simulator + receiver + sender in
a child process (app/demo_backend.py) on loopback, opens the inbox, and stops the child when the inbox quits."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.commands._common import REFUSED, CommandError, agent_name

READY_TIMEOUT = 30.0


async def _seed(db: Path, agent: str) -> None:
    from core.demo_seed import seed_demo
    from core.store import Store

    store = await Store.open(db)
    try:
        await seed_demo(store, now=int(time.time()), agent=agent, media_dir=db.parent / "media")
    finally:
        await store.close()


def _start_backend(db: Path, args: argparse.Namespace, log_path: Path) -> tuple[subprocess.Popen, dict]:
    command = [sys.executable, "-m", "app.demo_backend", "--db", str(db),
               "--port", str(args.port), "--sim-port", str(args.sim_port)]
    if not args.quiet_customers:
        command.append("--customers")
    log = log_path.open("ab")
    # stdin is a pipe only this process writes to: when it ends, however it ends, the child reads end of file and
    # stops (app/demo_backend.py). Its own session: ctrl+c in the inbox is not for the child.
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.PIPE,
                             start_new_session=True)
    deadline = time.monotonic() + READY_TIMEOUT
    assert child.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([child.stdout], [], [], 0.2)
        if ready:
            line = child.stdout.readline().decode(errors="replace").strip()
            if line.startswith("ready "):
                urls = dict(part.split("=", 1) for part in line.split()[1:])
                return child, urls
            if not line and child.poll() is not None:
                break
        elif child.poll() is not None:
            break
    _stop(child)
    raise RuntimeError(f"the demo back end did not start; its log is {log_path}:\n"
                       + log_path.read_text(errors="replace")[-2000:])


def _stop(child: subprocess.Popen) -> None:
    if child.stdin is not None:
        child.stdin.close()  # the child's signal to stop; SIGTERM too, for one that does not read it yet
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def run(args: argparse.Namespace) -> int:
    agent = agent_name(args)
    if args.db:
        db = Path(args.db).expanduser().resolve()
        db.parent.mkdir(parents=True, exist_ok=True)
    else:
        db = Path(tempfile.mkdtemp(prefix="wabox-demo-")) / "demo.db"
    if not db.exists():
        print(f"Seeding the demo database {db} …", flush=True)
        asyncio.run(_seed(db, agent))
    try:
        child, urls = _start_backend(db, args, db.parent / "demo-backend.log")
    except RuntimeError as error:
        raise CommandError(str(error), REFUSED) from None
    (db.parent / "demo.json").write_text(json.dumps({"db": str(db), **urls}, indent=2))
    try:
        from app.terminal_images import ask_terminal, terminal_asked

        asking = ask_terminal()
        try:
            from app.wabox_app import WaboxApp
        finally:
            asking.join()
        terminal_asked(asking)
        WaboxApp(db, agent=agent, title_note=f"demo · simulator {urls.get('sim')}",
                 freeze_startup=True).run()
    finally:
        _stop(child)
    print(f"The demo database stays at {db} (simulator was {urls.get('sim')}).")
    return 0
