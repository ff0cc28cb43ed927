"""What the agent sees: the real `wabox` in tmux (160x48) on 100,000 threads / 1,000,000 messages, a key sent with
`tmux send-keys`, the pane read with `capture-pane` until it shows the result. Beside each figure, the same action in
a minimal stock-Textual app over the same database (tests/bench/anchor_app.py), run alternately in the same pass:
the machine is shared and noisy, so the ratio is the figure to read.

Run: `python -m tests.bench screen` (or `make bench`). `WABOX_BENCH_THREADS=300000` runs it on 300k threads / 3M
messages (built and cached the first time). `WABOX_BENCH_STEPS=cold,switch,search` runs only those measurements
(of cold, moves, switch, search, open, rss, webhook); `WABOX_BENCH_PINGS=60` sends that many webhooks to each program
(15 by default: too few to read a p95). Figures are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.bench import bench_tui
from tests.bench.anchor_app import VIEWS

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 160, 48
AGENT = "bench"
_ESCAPES = re.compile(r"\x1b\[[0-9;:?]*[a-zA-Z]")
_NAME = re.compile(r"Customer \d+\b")


class Pane:
    """One program in its own tmux session, read as the agent reads it."""

    def __init__(self, label: str, command: list[str]) -> None:
        self.label, self.command = label, command
        self.name = f"wabox-bench-{uuid.uuid4().hex[:8]}"
        shell = f"COLUMNS={WIDTH} LINES={HEIGHT} exec " + " ".join(_quote(p) for p in command)
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(WIDTH), "-y", str(HEIGHT),
                        "-c", str(ROOT), shell], check=True)

    def raw(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-e", "-t", self.name], capture_output=True,
                              text=True).stdout

    def text(self) -> str:
        return _ESCAPES.sub("", self.raw())

    def send(self, *keys: str, literal: bool = False) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *(["-l"] if literal else []), *keys], check=True)

    def pid(self) -> int:
        return int(subprocess.run(["tmux", "display-message", "-p", "-t", self.name, "#{pane_pid}"],
                                  capture_output=True, text=True, check=True).stdout)

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.pid()}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024

    def wait(self, until: Callable[[str], bool], timeout: float = 30.0) -> str:
        deadline = time.perf_counter() + timeout
        while True:
            screen = self.text()
            if until(screen):
                return screen
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.label}: timed out; the screen was:\n{screen}")
            time.sleep(0.001)

    def settle(self, quiet: float = 0.3, timeout: float = 30.0) -> None:
        """Until the screen has not changed for `quiet` seconds."""
        deadline = time.perf_counter() + timeout
        last, since = self.raw(), time.perf_counter()
        while time.perf_counter() - since < quiet and time.perf_counter() < deadline:
            time.sleep(0.03)
            now = self.raw()
            if now != last:
                last, since = now, time.perf_counter()

    def timed(self, keys: list[str], until: Callable[[str], bool] | None = None, *, literal: bool = False) -> float:
        """Seconds from sending `keys` to a screen that differs from before (and satisfies `until`)."""
        before = self.raw()
        start = time.perf_counter()
        self.send(*keys, literal=literal)
        deadline = start + 30
        while True:
            raw = self.raw()
            if raw != before and (until is None or until(_ESCAPES.sub("", raw))):
                return time.perf_counter() - start
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.label}: {keys} never showed; the screen was:\n{_ESCAPES.sub('', raw)}")
            time.sleep(0.0005)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


LIST_COLUMNS = slice(20, 70)  # the thread list in both programs (views 22 wide, list 46)


def first_names(screen: str, n: int = 3) -> list[str]:
    """The first customers the thread list shows, top down."""
    return _NAME.findall("\n".join(line[LIST_COLUMNS] for line in screen.splitlines()))[:n]


def shows(names: list[str]) -> Callable[[str], bool]:
    return lambda screen: first_names(screen, len(names)) == names


class Products:
    """The inbox and its anchor, launched the same way on the same database."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.commands = {"wabox": [sys.executable, "-m", "app.cli", "--db", str(db), "--agent", AGENT],
                         "anchor": [sys.executable, "-m", "tests.bench.anchor_app", str(db), AGENT]}

    def launch(self, which: str) -> Pane:
        return Pane(which, self.commands[which])


def view_heads(db: Path) -> list[list[str]]:
    """The first three customers of each view, as both programs list them (newest activity first)."""
    conn = sqlite3.connect(db)
    heads = []
    for _key, _name, clause in VIEWS:
        found = conn.execute(f"SELECT c.name FROM thread t JOIN contact c ON c.id = t.contact_id WHERE {clause}"
                             " ORDER BY t.last_message_at DESC, t.id DESC LIMIT 3", {"agent": AGENT}).fetchall()
        heads.append([name for (name,) in found])
    conn.close()
    return heads


# ---- the measurements: each returns {"wabox": [seconds...], "anchor": [...]}, samples taken alternately ---------
def cold_start(products: Products, heads: list[list[str]], runs: int = 3) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"wabox": [], "anchor": []}
    for _ in range(runs):
        for which in samples:
            start = time.perf_counter()
            pane = products.launch(which)
            try:
                pane.wait(shows(heads[0]))
                samples[which].append(time.perf_counter() - start)
            finally:
                pane.close()
            time.sleep(0.5)
    return samples


def cursor_moves(panes: dict[str, Pane], moves: int = 40) -> dict[str, dict[str, list[float]]]:
    out = {which: {"j": [], "k": []} for which in panes}
    for pane in panes.values():
        pane.send("g")
        pane.send(*["j"] * 5)  # mid-screen, so that j and k both move the cursor without scrolling
        pane.settle()
    for n in range(moves):
        key = "j" if n % 2 == 0 else "k"
        for which, pane in panes.items():
            out[which][key].append(pane.timed([key]))
            pane.settle(0.15)
    return out


def switch_views(panes: dict[str, Pane], heads: list[list[str]], rounds: int = 2) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {which: [] for which in panes}
    at = {which: 0 for which in panes}
    for _ in range(rounds):
        for target in (1, 2, 3, 4, 0):
            for which, pane in panes.items():
                pane.send("BTab")  # from the list to the views
                step = "j" if target > at[which] else "k"
                pane.send(*[step] * abs(target - at[which]))
                pane.settle()
                samples[which].append(pane.timed(["Enter"], shows(heads[target])))
                at[which] = target
                pane.settle()
    return samples


SEARCHES = ("order 4711", "word17", "Customer 99999", "48510000777")


def searches(panes: dict[str, Pane], rounds: int = 2) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {which: [] for which in panes}
    for _ in range(rounds):
        for term in SEARCHES:
            for which, pane in panes.items():
                pane.send("/")
                pane.settle(0.2)
                pane.send(term, literal=True)
                pane.settle(0.2)
                samples[which].append(pane.timed(["Enter"], lambda s, t=term: f"/ {t}" in s))
                pane.settle()
                pane.send("Escape")
                pane.settle()
    return samples


BIG = "Message 1999 in the long thread"


def open_big_thread(panes: dict[str, Pane], runs: int = 5) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {which: [] for which in panes}
    for pane in panes.values():
        pane.send("g")
        pane.settle()
    for _ in range(runs):
        for which, pane in panes.items():
            samples[which].append(pane.timed(["Enter"], lambda s: BIG in s))
            pane.settle()
            pane.send("j", "Enter")  # another thread, so that the next Enter opens the big one again
            pane.wait(lambda s: BIG not in s)
            pane.send("k")
            pane.settle()
    return samples


def rss_after_scrolling(panes: dict[str, Pane], rows: int = 1000) -> dict[str, float]:
    out = {}
    for which, pane in panes.items():
        pane.send("g")
        pane.settle()
        for _ in range(rows // 100):
            pane.send("-N", "100", "j")
            pane.settle(0.2)
        pane.settle(0.5)
        out[which] = pane.rss_mb()
    return out


def webhook_to_screen(panes: dict[str, Pane], db: Path, work: Path, pings: int = 15) -> dict[str, list[float]]:
    """A webhook POSTed to `wabox serve`, timed from its 200 until another program's list shows its customer on
    top (each ping from a customer further down the list)."""
    import httpx

    from core.webhooks import sign
    from tests.core.receiver_process import APP_SECRET, ReceiverProcess, free_port, write_config

    channels = bench_tui.CHANNELS
    config = write_config(work, channels)
    config.write_text(config.read_text().replace(str(work / "wabox.db"), str(db)))
    for pane in panes.values():
        pane.send("g")  # the top of the list, where a new message's thread goes
        pane.settle()
    receiver = ReceiverProcess(config, free_port(), work / "serve.log")
    receiver.start()
    samples: dict[str, list[float]] = {which: [] for which in panes}
    try:
        with httpx.Client(base_url=receiver.url) as http:
            customer = 1000
            for n in range(pings):
                for which, pane in panes.items():
                    customer += 2  # an even one: its thread is on the first channel
                    name, wa_id = f"Customer {customer}", f"485{10_000_000 + customer}"
                    text = f"bench ping {n} " + "abcdefghij"[n % 10] * 3
                    body = {"object": "whatsapp_business_account", "entry": [{"id": bench_tui.WABA, "changes": [{
                        "field": "messages", "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "48583201744",
                                         "phone_number_id": list(channels)[0]},
                            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                            "messages": [{"from": wa_id, "id": f"wamid.bench{time.time_ns()}",
                                          "timestamp": str(int(time.time())), "type": "text",
                                          "text": {"body": text}}]}}]}]}
                    raw = json.dumps(body).encode()
                    http.post("/webhook", content=raw, headers={
                        "Content-Type": "application/json",
                        "X-Hub-Signature-256": sign(raw, APP_SECRET)}).raise_for_status()
                    start = time.perf_counter()  # from the 200: the message is committed
                    pane.wait(shows([name]), timeout=10)
                    samples[which].append(time.perf_counter() - start)
                    pane.send("g")  # the cursor stays on its thread as new ones come in above: back to the top
                    pane.settle(0.2)
    finally:
        receiver.stop()
    return samples


# ---- the table ------------------------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))]


def row(name: str, wabox: list[float], anchor: list[float], target: str, *, unit: str = "ms",
        p95: bool = True) -> str:
    scale = 1000 if unit == "ms" else 1
    w50, a50 = statistics.median(wabox) * scale, statistics.median(anchor) * scale
    fmt = "{:.0f}" if unit == "ms" else "{:.2f}"
    w = f"{fmt.format(w50)} {unit}" + (f" (p95 {fmt.format(pct(wabox, .95) * scale)})" if p95 else "")
    a = f"{fmt.format(a50)} {unit}" + (f" (p95 {fmt.format(pct(anchor, .95) * scale)})" if p95 else "")
    return f"| {name} | {w} | {a} | {w50 / a50:.2f} | {target} |"


def compiled() -> None:
    """Both programs' modules as an installed package has them: compiled to bytecode (pip compiles on install). A
    checkout run with PYTHONDONTWRITEBYTECODE=1 (as on the development machine) would otherwise compile every module
    of its own again at each launch: ~0.1 s of the inbox's cold start, ~5 ms of the anchor's."""
    import compileall

    for folder in ("app", "core", "widgets", "tests"):
        compileall.compile_dir(ROOT / folder, quiet=1)


def prepared_db(threads: int, messages: int, work: Path) -> Path:
    """The cached database at this schema (migrated once: a new index is built here, not in a timed start)."""
    from core.store import Store
    from core.store.schema import MIGRATIONS

    base = bench_tui.database(threads, messages)
    migrated = bench_tui.CACHE / f"{base.stem}-schema{len(MIGRATIONS)}.db"
    if not migrated.exists():
        # From the latest cached schema below this one (migrations are only appended): a few new steps, not all.
        # (The 300k base was built at an older numbering of the migrations and no longer migrates on its own.)
        cached = [bench_tui.CACHE / f"{base.stem}-schema{n}.db" for n in range(len(MIGRATIONS) - 1, 0, -1)]
        partial = migrated.with_suffix(".partial")
        shutil.copyfile(next((c for c in cached if c.exists()), base), partial)

        async def migrate() -> None:
            store = await Store.open(partial)
            await store.db.execute("ANALYZE")
            await store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await store.close()

        asyncio.run(migrate())
        partial.rename(migrated)
    db = work / "screen.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copyfile(migrated, db)
    os.chmod(db, 0o600)
    asyncio.run(_sign_up(db))
    return db


async def _sign_up(db: Path) -> None:
    """Only a known agent opens the inbox (issue 10): the bench's agent is added to each copy."""
    from core.agents import add_agent
    from core.store import Store

    store = await Store.open(db)
    try:
        await add_agent(store, AGENT, now=int(time.time()))
    finally:
        await store.close()


STEPS = ("cold", "moves", "switch", "search", "open", "rss", "webhook")


def main() -> None:
    os.chdir(ROOT)
    threads = int(os.environ.get("WABOX_BENCH_THREADS", bench_tui.THREADS))
    messages = threads * 10
    work = bench_tui.CACHE / f"screen-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        db = prepared_db(threads, messages, work)
        compiled()
        heads = view_heads(db)
        products = Products(db)
        print(f"On screen: `wabox` in tmux {WIDTH}x{HEIGHT}, {threads:,} threads / {messages:,} messages, beside a"
              " stock-Textual anchor (tests/bench/anchor_app.py) run alternately in the same pass\n", flush=True)
        print("| On screen | wabox | anchor (same run) | ratio | target |\n|---|---|---|---|---|", flush=True)
        steps = set(os.environ.get("WABOX_BENCH_STEPS", ",".join(STEPS)).split(","))
        if "cold" in steps:
            cold = cold_start(products, heads)
            print(row("cold start → first row", cold["wabox"], cold["anchor"], "≤ 1.5×", unit="s", p95=False),
                  flush=True)
        if not steps - {"cold"}:
            return
        panes = {which: products.launch(which) for which in ("wabox", "anchor")}
        try:
            for pane in panes.values():
                pane.wait(shows(heads[0]))
                pane.settle(1.0)
            if "moves" in steps:
                moves = cursor_moves(panes)
                for key in ("j", "k"):
                    print(row(f"`{key}` → screen changed", moves["wabox"][key], moves["anchor"][key],
                              "≤ 1.2×, p95 ≤ 40 ms"), flush=True)
            for step, name, measure, target in (
                    ("switch", "switch view (sidebar enter → new list)", lambda: switch_views(panes, heads),
                     "≤ 100 ms"),
                    ("search", "search, first page visible", lambda: searches(panes), "≤ 100 ms"),
                    ("open", "open a 2,000-message thread", lambda: open_big_thread(panes), "≤ 60 ms")):
                if step in steps:
                    samples = measure()
                    print(row(name, samples["wabox"], samples["anchor"], target), flush=True)
            if "rss" in steps:
                rss = rss_after_scrolling(panes)
                print(f"| RSS after 1,000 rows scrolled | {rss['wabox']:.0f} MB | {rss['anchor']:.0f} MB |"
                      f" {rss['wabox'] / rss['anchor']:.2f} | ≤ 80 MB |", flush=True)
            if "webhook" in steps:
                pings = webhook_to_screen(panes, db, work, int(os.environ.get("WABOX_BENCH_PINGS", 15)))
                print(row("webhook 200 → text on another inbox's screen", pings["wabox"], pings["anchor"],
                          "p95 ≤ 60 ms"), flush=True)
        finally:
            for pane in panes.values():
                pane.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

if __name__ == "__main__":
    main()
