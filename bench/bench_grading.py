"""The grader, per exercise: how fast the systematic search explores schedules, how long a verdict
takes (check, in a child process, with every schedule and random scenario for a correct answer; to
the smallest counterexample for the wrong ones), and how long showing it takes (text, HTML and the
sequence diagram as a PNG, the work of ``Verdict._ipython_display_``), against a 150 ms target."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

DISPLAY_TARGET = 0.150  # seconds to show a verdict with its diagram
REPEAT = 3


def _median(fn, repeat: int = REPEAT) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _display(verdict) -> float:
    """CPU seconds to produce what a notebook shows: text, HTML and the diagram's PNG (drawn afresh).
    CPU time, so that other work on a shared machine does not count (the wall time a learner sees
    on an idle machine is the same)."""
    started = time.process_time()
    str(verdict)
    verdict._repr_html_()
    verdict._png.clear()
    verdict.png()
    return time.process_time() - started


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from semantics.grading import EXERCISES, check
    from semantics.grading.grade import grade
    from semantics.grading.session import classes_for
    from wrong_solutions import all_cases

    cases = all_cases()
    print(f"load average when started: {os.getloadavg()[0]:.1f} (verdict times are wall clock; display, CPU)")
    # the first diagram pays for importing matplotlib (a notebook pays it once per kernel)
    first = next(c for c in cases if c.expect != "passed")
    verdict = check(first.exercise, first.sender, first.receiver, progress=False)
    cold = _display(verdict)
    print(f"first display (matplotlib was imported while the child graded): {cold * 1000:.0f} ms CPU")
    print(f"{'exercise':<36} {'schedules':>9} {'sched/s':>8} {'pass s':>7} {'fail s':>7} {'fail max':>8} "
          f"{'display ms':>10} {'/target':>8}")
    worst_display = 0.0
    for number, exercise in EXERCISES.items():
        right = next(c for c in cases if c.exercise == number and c.expect == "passed")
        wrong = [c for c in cases if c.exercise == number and c.expect != "passed"]
        classes, _ = classes_for(exercise, right.sender, right.receiver)
        search, outcome = _median(lambda: grade(exercise, classes, random=False))
        schedules = outcome.coverage.schedules
        passing, verdict = _median(lambda: check(number, right.sender, right.receiver, progress=False))
        failing, displays = [], []
        for case in wrong:
            seconds, verdict = _median(lambda: check(number, case.sender, case.receiver, progress=False), 1)
            failing.append(seconds)
            displays.append(_median(lambda: _display(verdict))[0])
        display = max(displays)
        worst_display = max(worst_display, display)
        label = f"{number} {exercise.title}"
        print(f"{label[:36]:<36} {schedules:>9,} {schedules / search:>8,.0f} {passing:>7.2f} "
              f"{statistics.median(failing):>7.2f} {max(failing):>8.2f} {display * 1000:>10.0f} "
              f"{display / DISPLAY_TARGET:>8.2f}")
    print(f"slowest display of a verdict with its diagram {worst_display * 1000:.0f} ms = "
          f"{worst_display / DISPLAY_TARGET:.2f} x the {DISPLAY_TARGET * 1000:.0f} ms target")

    # Untrusted code: a handler that sleeps in a bare except is stopped by the real-time guard.
    from semantics import Node

    class SleepsForever(Node):
        def on_message(self, msg_id, body):
            while True:
                try:
                    time.sleep(0.2)
                except:  # noqa: E722
                    pass

    sender = next(c for c in cases if c.exercise == 3 and c.expect == "passed").sender
    seconds, verdict = _median(lambda: check(3, sender, SleepsForever, progress=False), 1)
    print(f"a handler that never returns (exercise 3): {verdict.invariant}, {seconds:.1f} s (real-time guard "
          f"3 s per handler call, then a traced replay up to that call)")


if __name__ == "__main__":
    main()
