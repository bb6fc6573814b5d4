"""Time from a control change to the new image, for every control of every widget panel at its
default sizes, and of every panel and trace stepper the lessons show, built as the lessons build
them (recompute, draw and PNG encoding included: what the kernel does before the image leaves),
against the target of issue 15 (median at most 30 ms); the browser's key press to changed figure,
per control, as the browser test measured it (its report file); and the sweep's compute time and
the vectorised path's throughput.

Each control moves as a learner moves it: one step at a time, up and back down (a toggle goes round
its options, a seed counts up). Times are medians; wall-clock is what a learner waits, CPU time
what this process spent (the two differ when other work shares the machine: the load average is
printed too).

``python bench/bench_plots.py --panel diagram`` (repeatable) measures only the panels of those kinds (a key
of ``semantics.views.widgets.PANELS``, or ``stepper``), in the server and lesson sections, and skips the
rest: the quick loop while working on one panel."""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

PANEL_TARGET_MS = 30.0
BROWSER_TARGET_MS = 80.0
SWEEP_TARGET_MS = 50.0
THROUGHPUT_TARGET = 10e6  # messages per second
MOVES = 12
ROOT = Path(__file__).resolve().parents[1]
BROWSER_REPORT = ROOT / "test-artifacts" / "browser-latency.json"
LESSONS = sorted(p for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb") if "-lab-" not in p.name)


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def moves(control: Any, n: int = MOVES) -> list[Any]:
    """The values a learner's key presses give ``control``: steps up then back down (down then up
    at the top of the range), a toggle's options in turn, a seed counting up."""
    import ipywidgets as w

    value = control.value
    if isinstance(control, (w.ToggleButtons, w.Dropdown, w.RadioButtons)):
        options = [o[1] if isinstance(o, tuple) else o for o in control.options]
        start = options.index(value)
        return [options[(start + k) % len(options)] for k in range(1, n + 1)]
    if isinstance(control, (w.BoundedIntText, w.IntText)):
        return [value + k for k in range(1, n + 1)]
    step, low, high = control.step, control.min, control.max
    direction = 1 if value + step * n / 2 <= high else -1
    path = [value + direction * step * k for k in range(1, n // 2 + 1)]
    path += [value + direction * step * k for k in range(n // 2 - 1, -1, -1)]
    rounded = [min(max(round(v, 6), low), high) for v in path]
    return [int(v) for v in rounded] if isinstance(control, w.IntSlider) else rounded


def control_latency(panel, name: str) -> tuple[float, float] | None:
    """Median (wall, CPU) ms of setting ``panel.controls[name]`` to each of ``moves``: the observer
    recomputes, draws and encodes synchronously, as in a kernel. None for a disabled control."""
    control = panel.controls[name]
    if control.disabled:
        return None
    start = control.value
    samples = [_timed(lambda v=v: setattr(control, "value", v)) for v in moves(control)]
    control.value = start
    return _median(samples)


def server_latencies(kinds: set[str] | None = None) -> dict[str, dict[str, tuple[float, float] | None]]:
    from semantics.views import widgets

    found: dict[str, dict[str, tuple[float, float] | None]] = {}
    for kind, cls in widgets.PANELS.items():
        if kinds is not None and kind not in kinds:
            continue
        panel = cls()
        found[kind] = {name: control_latency(panel, name) for name in panel.controls}
    return found


def stepper_latency() -> tuple[float, float, int]:
    from semantics.sim.protocols import DeduplicatingReceiver, RetryingSender
    from semantics.sim.network import Link
    from semantics.sim.faults import Faults
    from semantics.views.stepper import StepperView, record

    recording = record(RetryingSender, DeduplicatingReceiver, n_messages=4, link=Link(loss=0.3, ack_loss=0.3),
                       faults=Faults(crash_prob=0.05), seed=3)
    view = StepperView(recording)
    samples = [_timed(view.next) for _ in range(min(30, len(recording.steps) - 1))]
    samples += [_timed(view.previous) for _ in range(min(15, len(recording.steps) - 1))]
    wall, cpu = _median(samples)
    return wall, cpu, len(recording.steps)


def lesson_views() -> list[tuple[str, Any]]:
    """(lesson, panel or stepper) for every panel and stepper the lessons show, built by running each
    lesson's code cells in this process (as the tests do: tests/figure_checks.run_lesson)."""
    import sys
    from semantics.views import stepper, widgets

    sys.path.insert(0, str(ROOT / "tests"))
    from figure_checks import run_lesson

    found = []
    for path in LESSONS:
        for where, obj in run_lesson(path):
            if isinstance(obj, (widgets._Panel, stepper.StepperView)):
                found.append((where.split(" (")[0].replace(path.stem, path.stem[:2]), obj))
    return found


def lesson_latencies(kinds: set[str] | None = None) -> list[tuple[str, str, str, tuple[float, float] | None]]:
    """(where, view kind, control, median (wall, CPU) ms or None when disabled) for every control of
    every panel and stepper of every lesson (of ``kinds`` only, when given), each moved from the state
    the lesson left it in."""
    from semantics.views import stepper, widgets

    classes = None if kinds is None else tuple(stepper.StepperView if k == "stepper" else widgets.PANELS[k]
                                               for k in kinds)
    rows = []
    for where, view in lesson_views():
        if classes is not None and not isinstance(view, classes):
            continue
        kind = type(view).__name__
        if isinstance(view, stepper.StepperView):
            start = view.slider.value  # six steps on from the lesson's step, and six back
            for name, move in (("next", view.next), ("previous", view.previous)):
                rows.append((where, kind, name, _median([_timed(move) for _ in range(6)])))
            view.slider.value = start
            rows.append((where, kind, "step", control_latency(view, "step")))
            continue
        for name in view.controls:
            rows.append((where, kind, name, control_latency(view, name)))
    return rows


def browser_latencies() -> dict | None:
    if not BROWSER_REPORT.exists():
        return None
    return json.loads(BROWSER_REPORT.read_text(encoding="utf-8"))


def panel_kinds(argv: list[str]) -> set[str] | None:
    """The kinds named by ``--panel KIND`` options (None: all), checked against the panels there are."""
    import argparse

    from semantics.views import widgets

    allowed = [*widgets.PANELS, "stepper"]
    parser = argparse.ArgumentParser(prog="bench_plots.py", description="Panel and plot latencies.")
    parser.add_argument("--panel", action="append", choices=allowed, metavar="KIND",
                        help=f"measure only this kind of panel (repeatable): {', '.join(map(repr, allowed))}")
    chosen = parser.parse_args(argv).panel
    return None if chosen is None else set(chosen)


def main(kinds: set[str] | None = None) -> None:
    from semantics.sim.sweeps import simulate_fast, sweep

    print(f"   load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; ratios are target / measured "
          f"(1 or more meets the target)")
    print(f"   server: control change -> new PNG, median of {MOVES} moves per control "
          f"(target {PANEL_TARGET_MS:g} ms), wall / CPU")
    worst = 0.0
    for kind, controls in server_latencies(kinds).items():
        for name, measured in controls.items():
            if measured is None:
                print(f"     {kind:<8} {name:<12}     disabled at the panel's defaults")
                continue
            wall, cpu = measured
            worst = max(worst, wall)
            print(f"     {kind:<8} {name:<12} {wall:6.1f} ms wall ({PANEL_TARGET_MS / wall:4.2f}x)  {cpu:6.1f} ms CPU")
    if worst:
        print(f"     slowest control median: {worst:.1f} ms ({PANEL_TARGET_MS / worst:.2f}x the target)")
    if kinds is None or "stepper" in kinds:
        wall, cpu, steps = stepper_latency()
        print(f"   stepper: next / previous step ({steps} steps), median {wall:.1f} ms wall "
              f"({PANEL_TARGET_MS / wall:.2f}x), {cpu:.1f} ms CPU")

    print(f"   server: every panel and stepper of the lessons, as the lessons build them, median of {MOVES} moves")
    slowest = 0.0
    for where, kind, name, measured in lesson_latencies(kinds):
        if measured is None:
            print(f"     {where:<12} {kind:<16} {name:<12}     disabled in the lesson's state")
            continue
        wall, cpu = measured
        slowest = max(slowest, wall)
        print(f"     {where:<12} {kind:<16} {name:<12} {wall:6.1f} ms wall ({PANEL_TARGET_MS / wall:4.2f}x)  "
              f"{cpu:6.1f} ms CPU")
    if slowest:
        print(f"     slowest control median: {slowest:.1f} ms ({PANEL_TARGET_MS / slowest:.2f}x the target)")
    if kinds is not None:
        return  # one kind of panel: no browser report, sweep or vectorised path

    report = browser_latencies()
    if report is None:
        print(f"   browser: no report ({BROWSER_REPORT.relative_to(BROWSER_REPORT.parents[1])} is written by "
              f"`pytest tests/test_browser_panels.py`)")
    else:
        print(f"   browser: key press -> changed figure, median per control (target {BROWSER_TARGET_MS:g} ms), "
              f"measured {report.get('measured', '?')} by tests/test_browser_panels.py")
        slowest = 0.0
        for row in report["controls"]:
            median = row["median_ms"]
            slowest = max(slowest, median)
            print(f"     {row['lesson']:<18} {row['panel']:<16} {row['control']:<14} {median:6.1f} ms "
                  f"({BROWSER_TARGET_MS / median:4.2f}x)  max {row['max_ms']:.0f} ms, {row['samples']} presses")
        if report["controls"]:
            print(f"     slowest control median: {slowest:.1f} ms ({BROWSER_TARGET_MS / slowest:.2f}x the target)")

    values = np.linspace(0.0, 0.95, 20)
    sweep("loss", values)  # warm up
    samples = [_timed(lambda i=i: sweep("loss", values, n_messages=10_000, seed=i)) for i in range(30)]
    wall, cpu = _median(samples)
    print(f"   sweep 3 semantics x 20 loss values x 10,000 messages: {wall:.1f} ms wall "
          f"({SWEEP_TARGET_MS / wall:.2f}x the {SWEEP_TARGET_MS:g} ms target), {cpu:.1f} ms CPU")
    n = 1_000_000
    samples = [_timed(lambda i=i: simulate_fast(n_messages=n, loss=0.2, ack_loss=0.1, max_retries=3, seed=i))
               for i in range(7)]
    wall, cpu = _median(samples)
    histories = n / (wall / 1e3)
    print(f"   vectorised path (loss 0.2, ack loss 0.1, 3 retries): {histories / 1e6:.1f} M messages/s wall "
          f"({histories / THROUGHPUT_TARGET:.2f}x the 10 M/s target), {n / (cpu / 1e3) / 1e6:.1f} M/s CPU; "
          f"each message's history serves all three guarantees ({3 * histories / 1e6:.1f} M guarantee-messages/s)")


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    main(panel_kinds(sys.argv[1:]))
