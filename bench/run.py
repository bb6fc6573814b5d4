"""make bench: every benchmark of the course, one after the other, figures and ratios printed.

Each bench/bench_*.py module has a main(); they run in one process, in name order. A main() may
return its headline figures (a dict name -> text); they are printed side by side at the end.
bench_plots also prints the browser's key-press-to-figure latencies per control, from the report
file (test-artifacts/browser-latency.json) that tests/test_browser_panels.py writes: run that test
first (it needs chromium) to refresh them."""

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
    headlines: dict[str, object] = {}
    for path in sorted(HERE.glob("bench_*.py")):
        print(f"== {path.stem}")
        started = time.perf_counter()
        figures = importlib.import_module(path.stem).main()
        if isinstance(figures, dict):
            headlines.update(figures)
        print(f"   ({time.perf_counter() - started:.1f} s)\n", flush=True)
    if headlines:
        print("== side by side")
        width = max(map(len, headlines))
        for name, value in headlines.items():
            print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
