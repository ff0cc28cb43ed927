"""Records figures (issue 9): `wabox import contacts` of 100,000 rows, and the records screen's first page and
searches over those 100,000 contacts (target ≤ 100 ms on the 2-core machine).

Run: `python -m tests.bench records` (or `make bench`). Figures are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONTACTS = 100_000
COMPANIES = 2_000
WABOX = str(Path(sys.executable).with_name("wabox"))


def write_csv(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("name,phone,mobile,email,company,owner\n")
        for i in range(CONTACTS):
            mobile = f"+48 51{i % 10} {i:06d}" if i % 3 == 0 else ""
            out.write(f"Person {i} Nowak,+48 60{i % 10} {i:06d},{mobile},p{i}@example.com,"
                      f"Company {i % COMPANIES},agent{i % 7}\n")


def timed_import(db: Path, csv: Path, *extra: str) -> tuple[float, str]:
    config = db.parent / "empty.toml"
    config.write_text("")
    started = time.perf_counter()
    done = subprocess.run([WABOX, "--db", str(db), "import", "contacts", str(csv), *extra], capture_output=True,
                          text=True, env={**os.environ, "WABOX_CONFIG": str(config)})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return elapsed, done.stdout.strip()


async def screen_reads(db: Path) -> None:
    from core.records.service import Records
    from core.store import Store
    from widgets.record_list import PAGE

    store = await Store.open(db)
    records = Records(store)
    try:
        for label, query in [("first page (no search)", None), ("search by name", "Person 54321"),
                             ("search by number", "601054321"), ("search by email", "p77777@example"),
                             ("search by owner (14,286 matches)", "agent3"), ("search, one letter prefix", "p")]:
            pages, counts = [], []
            for _ in range(5):
                started = time.perf_counter()
                await records.rows("contact", query, 0, PAGE)  # what the screen draws first
                pages.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                total = await records.count("contact", query)  # the title's count, read after the page shows
                counts.append((time.perf_counter() - started) * 1000)
            print(f"records screen, {label:<34} {total:>7,} contacts: first page worst of 5 {max(pages):6.1f} ms,"
                  f" best {min(pages):5.1f} ms; the count after it worst {max(counts):6.1f} ms")
        started = time.perf_counter()
        await records.rows("contact", None, CONTACTS - PAGE, PAGE)
        print(f"records screen, last page (scrolled to the end):          {(time.perf_counter() - started) * 1000:6.1f} ms")
    finally:
        await store.close()


async def pilot_first_screen(db: Path) -> None:
    """The real app: C from the inbox until the records screen shows its first page."""
    from app.screens.records import RecordsScreen
    from app.wabox_app import WaboxApp
    from widgets.record_list import RecordList

    app = WaboxApp(db, agent="bench")
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.5)
        started = time.perf_counter()
        pressed = asyncio.create_task(pilot.press("C"))
        while not (isinstance(app.screen, RecordsScreen) and app.screen.query_one(RecordList).total):
            await asyncio.sleep(0.001)
        filled = (time.perf_counter() - started) * 1000
        await pressed  # Pilot waits until the app is idle: the new screen styled, laid out and painted
        shown = (time.perf_counter() - started) * 1000
        await pilot.press("slash", *"Person 54321")
        while app.screen.query_one(RecordList).total != 1:
            await asyncio.sleep(0.001)
        print(f"records screen in the app: C to the first page in the list {filled:.0f} ms, to the screen idle"
              f" {shown:.0f} ms; last keystroke's search read"
              f" {app.screen.last_load_ms:.0f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wabox-bench-records-") as tmp:
        folder = Path(tmp)
        csv, db = folder / "contacts.csv", folder / "wabox.db"
        write_csv(csv)

        async def create() -> None:
            from core.store import Store
            await (await Store.open(db)).close()

        asyncio.run(create())
        elapsed, said = timed_import(db, csv, "--dry-run")
        print(f"wabox import contacts --dry-run, {CONTACTS:,} rows: {elapsed:.1f} s ({said})")
        elapsed, said = timed_import(db, csv)
        print(f"wabox import contacts, {CONTACTS:,} rows ({COMPANIES:,} companies linked): {elapsed:.1f} s"
              f" = {CONTACTS / elapsed:,.0f} rows/s ({said})")
        elapsed, said = timed_import(db, csv)
        print(f"the same file again (every row an update found by its number): {elapsed:.1f} s ({said})")
        asyncio.run(screen_reads(db))
        asyncio.run(pilot_first_screen(db))


if __name__ == "__main__":
    main()
