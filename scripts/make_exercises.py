"""Generate the learner notebooks in exercises/ from the single source in solutions/.

Each region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in a code cell becomes
``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the marker's indentation (nbgrader's
convention); in a markdown cell it becomes ``YOUR ANSWER HERE``. Outputs, execution counts and
widget state are dropped. Everything else is copied as it is, so an exercise never drifts from
its solution.

Usage:
    python scripts/make_exercises.py            write exercises/ (and delete stale notebooks there)
    python scripts/make_exercises.py --check    exit 1, listing the differences, if exercises/ is not
                                                exactly what this script would write
"""

from __future__ import annotations

import argparse
import copy
import difflib
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"


class MarkerError(ValueError):
    """A solution region is not well formed (an END without BEGIN, a BEGIN without END, nesting)."""


def strip_solutions(source: str, *, code: bool = True, where: str = "cell") -> str:
    """Replace every solution region of one cell's source by the stub (see the module docstring)."""
    if not isinstance(source, str):
        raise TypeError(f"source must be a string, got {type(source).__name__}")
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.split("\n"), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution region")
            inside = True
            indent = line[:len(line) - len(line.lstrip())]
            if code:
                out.extend(indent + stub for stub in CODE_STUB)
            else:
                out.append(MARKDOWN_STUB)
        elif stripped.startswith(END):
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def has_solution(source: str) -> bool:
    return BEGIN in source


def make_exercise(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The learner version of one solution notebook (a new notebook; the input is not changed)."""
    nb = copy.deepcopy(solution)
    regions = 0
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        if has_solution(cell.source):
            regions += 1
        cell.source = strip_solutions(cell.source, code=cell.cell_type == "code", where=where)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    if not regions:
        raise MarkerError(f"{name}: no {BEGIN} region: nothing for the learner to write")
    nb.metadata.pop("widgets", None)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def expected_exercises(solutions: Path) -> dict[str, str]:
    """File name -> the text this script writes for it."""
    out = {}
    for path in sorted(solutions.glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        out[path.name] = render(make_exercise(solution, path.name))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report differences instead of writing")
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions")
    parser.add_argument("--exercises", type=Path, default=ROOT / "exercises")
    args = parser.parse_args(argv)
    if not args.solutions.is_dir():
        parser.error(f"--solutions: no directory {args.solutions}")
    expected = expected_exercises(args.solutions)
    present = {p.name for p in args.exercises.glob("*.ipynb")} if args.exercises.is_dir() else set()
    if args.check:
        problems = []
        for name in sorted(present - set(expected)):
            problems.append(f"exercises/{name}: no solutions/{name} generates it (stale; delete it)")
        for name, text in expected.items():
            path = args.exercises / name
            if name not in present:
                problems.append(f"exercises/{name}: missing")
            elif path.read_text(encoding="utf-8") != text:
                diff = difflib.unified_diff(path.read_text(encoding="utf-8").splitlines(), text.splitlines(),
                                            f"exercises/{name}", "generated", lineterm="", n=1)
                problems.append("\n".join(list(diff)[:40]))
        if problems:
            print("exercises/ differs from what scripts/make_exercises.py generates from solutions/ "
                  "(run `make exercises`):", file=sys.stderr)
            print("\n".join(problems), file=sys.stderr)
            return 1
        print(f"exercises/ is up to date ({len(expected)} notebooks)")
        return 0
    args.exercises.mkdir(parents=True, exist_ok=True)
    for name in sorted(present - set(expected)):
        (args.exercises / name).unlink()
        print(f"deleted stale exercises/{name}")
    for name, text in expected.items():
        (args.exercises / name).write_text(text, encoding="utf-8")
        print(f"wrote exercises/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
