"""The grader's catalog: plausible wrong solutions, each with the invariant that must reject it, and
genuinely different correct solutions that must pass.

One module per exercise (``ex1`` ... ``ex6``) holds ``CASES``: ``Case`` entries naming the exercise,
the classes and what the grader must answer. The code a learner starts from (the given sender or
receiver of each exercise) is taken from the solution notebook itself (``notebook``), so that the
catalog can never drift from what learners see.
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


@dataclass(frozen=True)
class Case:
    """One catalog entry: ``expect`` is "passed" or the name of the invariant the grader must report."""

    name: str
    exercise: int
    sender: Any
    receiver: Any
    expect: str
    why: str

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
