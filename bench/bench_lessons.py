"""How long the whole course takes to execute headless, notebook by notebook (every lesson and lab in
notebooks/, in a fresh kernel each, top to bottom, as CI and a learner's "Run All" do): wall time
(what one waits, kernel start included) and CPU time, the kernel's own and that of the processes it
started and waited for (the labs' consumers, launchers and servers). Targets: the whole course in
under 60 s of wall time on the 2-core machine; a lesson in under 10 s of kernel CPU."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
TARGET_TOTAL = 60.0        # s of wall time, every notebook of the course
TARGET_LESSON_CPU = 10.0   # s of kernel CPU, one lesson
PROBE = ("import resource as _r, time as _t; _c = _r.getrusage(_r.RUSAGE_CHILDREN); "
         "print('CPU', round(_t.process_time(), 2), round(_c.ru_utime + _c.ru_stime, 2))")
SERVERS = {"redis": "redis-server", "nats": "nats-server"}


def run(path: Path) -> tuple[float, float, float]:
    """(wall s, kernel CPU s, children's CPU s) of one notebook, executed in a fresh kernel."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    started = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    wall = time.perf_counter() - started
    cpu, children = map(float, re.search(r"CPU ([\d.]+) ([\d.]+)", nb.cells[-1].outputs[0]["text"]).groups())
    return wall, cpu, children


def main() -> dict[str, str]:
    missing = [binary for binary in SERVERS.values() if shutil.which(binary) is None]
    print(f"the whole course, every notebook headless in a fresh kernel (target: under {TARGET_TOTAL:g} s of wall "
          f"time in total; a lesson under {TARGET_LESSON_CPU:g} s of kernel CPU); load average "
          f"{os.getloadavg()[0]:.1f} at the start" + (f"; NO {', '.join(missing)}: those labs skip their cells"
                                                      if missing else ""))
    total = 0.0
    for path in NOTEBOOKS:
        wall, cpu, children = run(path)
        total += wall
        lab = "-lab-" in path.stem
        target = "" if lab else f" ({TARGET_LESSON_CPU / max(cpu, 0.01):4.1f}x target)"
        print(f"  {path.stem:<26} {wall:5.1f} s wall  {cpu:5.1f} s kernel CPU{target:<16}"
              f"{children:5.1f} s CPU of its processes", flush=True)
    print(f"  {'total':<26} {total:5.1f} s wall ({TARGET_TOTAL / total:.2f}x the {TARGET_TOTAL:g} s target); "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    return {"course run time, every notebook headless": f"{total:.1f} s wall (target {TARGET_TOTAL:g} s)"}


if __name__ == "__main__":
    main()
