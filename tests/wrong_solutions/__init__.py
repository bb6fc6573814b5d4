"""The grader's catalog: plausible wrong solutions, each with the invariant that must reject it, and
genuinely different correct solutions that must pass.

One module per exercise (``ex1`` ... ``ex10``) holds ``CASES``: ``Case`` entries naming the exercise,
the classes and what the grader must answer. The code a learner starts from (the given sender or
receiver of each exercise) is taken from the solution notebook itself (``notebook``), so that the
catalog can never drift from what learners see.

``systematic``: the systematic search alone must reject it (False only for the few mistakes that
need a run longer than its scope: a window one short of exercise 5's horizon). ``covers``: the
classes of mistakes of issue 11 the case stands for (``CLASSES``), so that a test can check that
every class has its cases.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import nbformat

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"
NOTEBOOKS = {1: "01-retries.ipynb", 2: "02-deduplication.ipynb", 3: "03-durable-number.ipynb", 4: "04-in-flight.ipynb",
             5: "05-consumer-commits.ipynb", 6: "06-dedup-window.ipynb", 7: "07-reply-cache.ipynb",
             8: "08-fencing.ipynb", 9: "09-idempotency-keys.ipynb", 10: "10-outbox-inbox.ipynb"}


#: The classes of wrong answers issue 11 found the old grader accepting (or judging for the wrong reason), and
#: those the rungs of issue 13 add.
CLASSES = {
    "equal bodies": "code keyed by the body, in exercises 1 and 10 (and 2, 3, 4)",
    "in place": "a durable value changed in place (nested too) instead of written back",
    "state size": "state that grows although it has few top-level entries (nested set, deque, bitmap, string)",
    "acks": "exercises 3, 4, 6: a receiver that does not acknowledge (every copy)",
    "every effect": "exercise 6: a message handled but never applied",
    "pinned sender": "exercise 6: a receiver that only works with a sender other than the one given",
    "outage": "retrying with an end: a relay or sender that gives up",
    "window": "a deduplication record that forgets (after a time or a count) where the guarantee needs it forever",
    "luck": "exercise 10 mistakes once caught by one seeded random scenario only",
    "swallowed crash": "code that catches the crash (bare except) inside or around an atomic block",
    "shared state": "state kept in a class attribute or a global variable",
    "order": "deduplication that assumes order: a high-water mark, or refusing what arrives early (exercises 4, 10)",
    "in flight": "a sender that keeps more than its window in flight, or never sends what waits (exercises 4, 10)",
    "library class": "lesson 05's working mechanisms passed as answers to rungs they do not solve (exercises 7-9)",
    "expiry": "exercise 9: retries that outlive the idempotency key, or give up without a report",
    "stale writer": "exercise 8: a store that lets a superseded lease holder write, or deduplicates without fencing",
    "substring ids": "ids remembered in one string and tested with `in`: 'm1' is part of 'm12'",
    "false positives": "a filter that answers 'probably seen' (a Bloom filter): a new message taken for a duplicate",
    "hidden state": "state the node keeps where its text does not show: an lru_cache on a method, a mutable default "
                    "argument, a closure's variables, a generator's frame",
    "wall clock": "the machine's clock (time.time, datetime.now) read in a handler: a verdict that depends on speed",
}


@dataclass(frozen=True)
class Case:
    """One catalog entry: ``expect`` is "passed" or the name of the invariant the grader must report."""

    name: str
    exercise: int
    sender: Any
    receiver: Any
    expect: str
    why: str
    covers: tuple[str, ...] = ()
    systematic: bool = True

    @property
    def id(self) -> str:
        return f"ex{self.exercise}-{self.name}"


@cache
def notebook(number: int) -> dict[str, Any]:
    """The namespace left by running a solution notebook's code cells (all but its check cells)."""
    nb = nbformat.read(SOLUTIONS / NOTEBOOKS[number], as_version=4)
    namespace: dict[str, Any] = {"__name__": f"solution_{number}"}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in nb.cells:
            if cell.cell_type == "code" and "check" not in cell.metadata.get("tags", []):
                exec(compile(cell.source, f"{NOTEBOOKS[number]}", "exec"), namespace)
    return namespace


def all_cases() -> list[Case]:
    from . import ex1, ex2, ex3, ex4, ex5, ex6, ex7, ex8, ex9, ex10
    return [case for module in (ex1, ex2, ex3, ex4, ex5, ex6, ex7, ex8, ex9, ex10) for case in module.CASES]
