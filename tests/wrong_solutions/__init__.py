"""The grader's catalog: plausible wrong solutions, each with the invariant that must reject it, and
genuinely different correct solutions that must pass.

One module per exercise (``ex1`` ... ``ex6``) holds ``CASES``: ``Case`` entries naming the exercise,
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
NOTEBOOKS = {1: "01-retries.ipynb", 2: "02-deduplication.ipynb", 3: "03-durable-atomic.ipynb",
             4: "04-consumer-commits.ipynb", 5: "05-bounded-state.ipynb", 6: "06-outbox-inbox.ipynb"}


#: The classes of wrong answers issue 11 found the old grader accepting (or judging for the wrong reason).
CLASSES = {
    "equal bodies": "code keyed by the body, in exercises 1 and 6 (and 2)",
    "in place": "a durable value changed in place (nested too) instead of written back",
    "state size": "state that grows although it has few top-level entries (nested set, deque, bitmap, string)",
    "acks": "exercise 5: a receiver that does not acknowledge (every copy)",
    "every effect": "exercise 5: a message handled but never applied",
    "pinned sender": "exercise 5: a receiver that only works with a sender other than the one given",
    "outage": "retrying with an end: a relay or sender that gives up",
    "window": "a deduplication record that forgets (after a time or a count) where the guarantee needs it forever",
    "luck": "exercise 6 mistakes once caught by one seeded random scenario only",
    "swallowed crash": "code that catches the crash (bare except) inside or around an atomic block",
    "shared state": "state kept in a class attribute or a global variable",
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
    from . import ex1, ex2, ex3, ex4, ex5, ex6
    return [case for module in (ex1, ex2, ex3, ex4, ex5, ex6) for case in module.CASES]
