"""Time to a verdict, per exercise: the median of several gradings of the reference solution (the
slowest case: every scenario runs) and of a wrong solution (stops at the first broken invariant,
then shrinks), with the ratio to the 2-second target of issue 5."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

TARGET = 2.0  # seconds to a verdict, per exercise
REPEAT = 5


def _median_time(fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEAT):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from semantics.grading import EXERCISES, check
    from wrong_solutions import all_cases

    cases = all_cases()
    print(f"time to a verdict, median of {REPEAT} (target {TARGET:g} s per exercise)")
    print(f"{'exercise':<42} {'verdict':<44} {'median':>8} {'/target':>8}")
    worst = 0.0
    for number, exercise in EXERCISES.items():
        right = next(c for c in cases if c.exercise == number and c.expect == "passed")
        wrong = [c for c in cases if c.exercise == number and c.expect != "passed"]
        for case in [right, *wrong]:
            seconds, verdict = _median_time(lambda: check(number, case.sender, case.receiver, progress=False))
            outcome = "passed" if verdict.passed else f"rejected: {verdict.invariant}"
            worst = max(worst, seconds)
            label = f"{number} {exercise.title[:22]}: {case.name}"
            print(f"{label[:42]:<42} {outcome[:44]:<44} {seconds:8.3f} {seconds / TARGET:8.3f}")
    print(f"slowest verdict {worst:.3f} s = {worst / TARGET:.2f} x the {TARGET:g} s target")

    # Untrusted code: an endless loop costs one wall-clock limit to detect plus a short traced replay.
    from semantics import Node
    from semantics.grading import WALL_CLOCK

    class EndlessLoop(Node):
        def on_message(self, msg_id, body):
            while True:
                pass

    sender = next(c for c in cases if c.exercise == 3 and c.expect == "passed").sender
    started = time.perf_counter()
    verdict = check(3, sender, EndlessLoop, progress=False)
    seconds = time.perf_counter() - started
    print(f"endless loop in a handler (exercise 3, once): {verdict.invariant}, {seconds:.2f} s = "
          f"{seconds / TARGET:.2f} x target (wall-clock limit per run {WALL_CLOCK:g} s)")


if __name__ == "__main__":
    main()
