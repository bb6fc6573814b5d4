"""make bench: every benchmark of the course, one after the other, figures and ratios printed.

Each bench/bench_*.py module has a main(); they run in one process, in name order."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    sys.path.insert(0, str(HERE))
    import matplotlib
    matplotlib.use("Agg")
    for path in sorted(HERE.glob("bench_*.py")):
        print(f"== {path.stem}")
        started = time.perf_counter()
        importlib.import_module(path.stem).main()
        print(f"   ({time.perf_counter() - started:.1f} s)\n", flush=True)


if __name__ == "__main__":
    main()
