"""How long each lesson takes to run top to bottom, as a learner's "Run All" does: kernel CPU time
(what the notebook costs) and wall time (what the learner waits, kernel start included), against the
README's promise that a lesson runs in a few seconds (target: under 10 s of kernel CPU)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0[0-4]-*.ipynb"))
TARGET_CPU = 10.0
PROBE = "import time as _t; print('kernel CPU seconds', round(_t.process_time(), 2))"


def main() -> None:
    print(f"lesson run time, Run All in a fresh kernel (target {TARGET_CPU:g} s of kernel CPU)")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(PROBE))
        started = time.perf_counter()
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        wall = time.perf_counter() - started
        cpu = float(re.search(r"kernel CPU seconds ([\d.]+)", nb.cells[-1].outputs[0]["text"]).group(1))
        print(f"  {path.stem:<22} {cpu:5.1f} s CPU ({TARGET_CPU / cpu:4.1f}x target)  {wall:5.1f} s wall")


if __name__ == "__main__":
    main()
