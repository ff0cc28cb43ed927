"""`make bench`: run every tests/bench/bench_*.py's main() in turn; each prints its own figures.

`python -m tests.bench receiver tui` runs only the named ones.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))
    chosen = [n for n in names if not argv or n in argv]
    failed = []
    for name in chosen:
        print(f"\n== bench {name} ==", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"tests.bench.bench_{name}").main()
        except Exception as error:  # one broken bench must not hide the others' figures
            failed.append(name)
            print(f"bench {name} failed: {error!r}", flush=True)
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
