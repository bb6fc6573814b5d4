"""A verdict is a pure function of the protocol's code and the exercise: the same with the CPUs
saturated by other work as on an idle machine, and the same in another process with another hash
seed, text included (runs are bounded by counted budgets, never by the wall clock)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from semantics.grading import check
from wrong_solutions import all_cases

# Wrong answers stopped by every kind of limit (an event budget, an exception, invariants found with
# one fault and with two), and correct answers, which run every schedule and every random scenario.
CHOSEN = ["ex1-retries-forever", "ex2-duplicates-not-acked", "ex2-dict-keyerror", "ex3-mark-then-process",
          "ex5-commits-whatever-arrives", "ex6-window-shorter-than-horizon", "ex10-volatile-sender",
          "ex10-relay-gives-up", "ex8-dedup-only", "ex9-no-cutoff", "ex3-solution", "ex5-solution", "ex10-solution",
          # an outage paused a billion time units, a late copy after 2,000 messages, state in a generator's frame,
          # random draws in a handler
          "ex1-deadline-1500", "ex2-deque-of-256", "ex6-generator-cache", "ex1-coin-flip-give-up"]
CASES = [c for c in all_cases() if c.id in CHOSEN]
TESTS = Path(__file__).resolve().parent


def verdicts() -> list[tuple]:
    out = []
    for case in CASES:
        v = check(case.exercise, case.sender, case.receiver, progress=False)
        cx = v.counterexample
        out.append((case.id, str(v), v.passed, v.status, v.invariant, v.scenarios, v.covered,
                    cx.scenario if cx else None, cx.report.trace if cx and cx.report else None))
    return out


@pytest.mark.slow
def test_verdicts_are_identical_on_an_idle_and_on_a_saturated_machine():
    assert len(CASES) == len(CHOSEN)
    idle = verdicts()
    busy_processes = []
    try:
        for _ in range(2):  # two CPUs' worth of other work
            busy_processes.append(subprocess.Popen(["yes"], stdout=subprocess.DEVNULL))
        busy = verdicts()
    finally:
        for p in busy_processes:
            p.kill()
            p.wait()
    for before, after in zip(idle, busy):
        assert before == after, before[0]


@pytest.mark.slow
def test_guarded_verdicts_are_identical_on_an_idle_and_on_a_saturated_machine():
    """The verdicts a guard gives (a call that waits, one that computes in one endless line, a bare
    ``except:`` that swallows a budget's stop, a recursion) are decided by the child's CPU time and
    its counted budgets, not by the clock: the same verdict when other work saturates the CPUs."""
    from test_grading_isolation import ComputesInOneLine, RecursesDeeply, SleepsInABareExcept, SpinsInABareExcept
    from wrong_solutions import ex3

    receivers = (SleepsInABareExcept, ComputesInOneLine, SpinsInABareExcept, RecursesDeeply)

    def guarded() -> list[str]:
        return [str(check(3, ex3.Sender, receiver, progress=False)) for receiver in receivers]

    idle = guarded()
    busy_processes = []
    try:
        for _ in range(2):
            busy_processes.append(subprocess.Popen(["yes"], stdout=subprocess.DEVNULL))
        busy = guarded()
    finally:
        for p in busy_processes:
            p.kill()
            p.wait()
    for receiver, before, after in zip(receivers, idle, busy):
        assert before == after, receiver.__name__


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from semantics.grading import check
from wrong_solutions import all_cases
for case in all_cases():
    if case.id in {ids!r}:
        print(str(check(case.exercise, case.sender, case.receiver, progress=False)))
        print("=" * 20)
"""


def test_verdicts_are_identical_in_another_process_with_another_hash_seed():
    # (ex1-full-jitter-backoff draws random numbers in its handlers: the same draws in every process)
    ids = ["ex1-body-keyed-sender", "ex3-setdefault-in-place", "ex8-volatile-tokens", "ex7-solution",
           "ex1-full-jitter-backoff", "ex1-coin-flip-give-up"]
    here = "".join(str(check(c.exercise, c.sender, c.receiver, progress=False)) + "\n" + "=" * 20 + "\n"
                   for c in all_cases() if c.id in ids)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run([sys.executable, "-c", SCRIPT.format(tests=str(TESTS), ids=ids)], env=env,
                           capture_output=True, text=True, check=True).stdout
    assert there == here
