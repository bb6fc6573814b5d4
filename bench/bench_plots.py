"""Time from a slider change to a drawn figure for each widget panel at its default sizes (compute,
Agg draw and PNG encoding included), the sweep's compute time, and the vectorised path's
throughput, each with its ratio to the targets of issue 3.

Times are medians of many; wall-clock is what a learner waits, CPU time is what this process
spent (the two differ when other work shares the machine: the load average is printed too)."""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

PANEL_TARGET_MS, PANEL_AIM_MS = 100.0, 60.0
SWEEP_TARGET_MS = 50.0
THROUGHPUT_TARGET = 10e6  # messages per second
CHANGES = 30


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def panel_latency(panel, control: str, values: list) -> tuple[float, float]:
    """Median (wall, CPU) ms of ``panel.controls[control].value = v`` for each v (the observer recomputes,
    draws and encodes synchronously, as it does in a kernel)."""
    samples = []
    for v in values:
        samples.append(_timed(lambda: setattr(panel.controls[control], "value", v)))
    return _median(samples)


def main() -> None:
    from semantics.views import widgets
    from semantics.sim.sweeps import simulate_fast, sweep

    print(f"   load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    cases = [
        ("outcome panel  (3 x 1,000 messages, event-driven; loss slider)", widgets.OutcomePanel(), "loss",
         [round(0.05 + 0.01 * (i % 20), 2) for i in range(CHANGES)]),
        ("sweep panel    (3 x 20 x 10,000 messages, vectorised; ack-loss slider)", widgets.SweepPanel(),
         "ack_loss", [round(0.05 + 0.01 * (i % 20), 2) for i in range(CHANGES)]),
        ("diagram panel  (4 messages, traced; seed)", widgets.DiagramPanel(), "seed", list(range(1, CHANGES + 1))),
    ]
    print("   ratios are target / measured: 1 or more meets the target")
    print(f"   slider change -> drawn figure, median of {CHANGES} (target {PANEL_TARGET_MS:g} ms, "
          f"aim {PANEL_AIM_MS:g})")
    for name, panel, control, values in cases:
        wall, cpu = panel_latency(panel, control, values)
        print(f"   {name}: {wall:6.1f} ms wall ({PANEL_TARGET_MS / wall:4.2f}x target), {cpu:6.1f} ms CPU "
              f"({PANEL_TARGET_MS / cpu:4.2f}x)")
    sweeper = widgets.SweepPanel()
    toggles = ["ack_loss", "max_retries", "loss"] * 4
    wall, cpu = panel_latency(sweeper, "parameter", toggles)
    print(f"   sweep panel, swept parameter changed (full redraw): {wall:6.1f} ms wall, {cpu:6.1f} ms CPU")

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
    main()
