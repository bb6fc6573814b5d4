"""Generate the learner notebooks in exercises/ and the nbgrader course in nbgrader/ from the single
source in solutions/.

exercises/ (self-paced learners, Binder, the learner copy): each region between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` in a code cell becomes ``# YOUR CODE HERE`` and
``raise NotImplementedError()`` at the marker's indentation (nbgrader's convention); in a markdown
cell it becomes ``YOUR ANSWER HERE``. Outputs, execution counts and widget state are dropped.
Everything else is copied as it is, so an exercise never drifts from its solution.

nbgrader/source/<exercise>/<exercise>.ipynb (instructors with nbgrader): the solution notebook
itself, regions kept (nbgrader's generate_assignment cuts them), with nbgrader's cell metadata.

Both get their metadata from the cells' tags and the course's conventions, never from metadata
placed by hand in solutions/:

- the cell tagged ``solution`` (the one holding the regions) is nbgrader's *solution* cell: the
  learner writes there;
- the cell tagged ``check`` (``check(n, Sender, Receiver)``) is the verdict. In exercises/ it stays
  as it is, a read-only cell that shows the verdict (and never raises, so that Run All ends with the
  counterexample, not a traceback). In the nbgrader source it becomes the *autograded* cell, worth
  POINTS: ``verdict = check(n, ...)``, the verdict shown, then ``assert verdict.passed, str(verdict)``,
  so that an untouched stub (a verdict of "not implemented") scores 0 and a passing answer full marks;
- every other cell (the statement, the imports, the given code) is *read-only*: nbgrader metadata
  ``locked``, and Jupyter's own ``editable: false`` / ``deletable: false``, which JupyterLab and
  Notebook 7 honour.

Usage:
    python scripts/make_exercises.py            write exercises/ and nbgrader/source/ (and delete stale
                                                notebooks there)
    python scripts/make_exercises.py --check    exit 1, listing the differences, if either is not
                                                exactly what this script would write
"""

from __future__ import annotations

import argparse
import copy
import difflib
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"
SOLUTION_TAG, CHECK_TAG = "solution", "check"
POINTS = 1              # the autograded cell's points: the verdict passes or it does not
NBGRADER_SCHEMA = 3     # nbgrader's cell metadata schema (nbgrader 0.9)
CHECK_CALL = re.compile(r"check\((\d+), (\w+), (\w+)\)")


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


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.metadata.get("tags", [])


def _nbgrader(grade_id: str, *, solution: bool = False, grade: bool = False, points: int = 0) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": NBGRADER_SCHEMA,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def _classify(nb: nbformat.NotebookNode, name: str) -> None:
    """Check the conventions the metadata rests on: regions only in the one cell tagged
    `solution`, exactly one code cell tagged `check` holding check(n, A, B)."""
    solutions = [i for i, c in enumerate(nb.cells) if SOLUTION_TAG in _tags(c)]
    regions = [i for i, c in enumerate(nb.cells) if has_solution(c.source)]
    if not regions:
        raise MarkerError(f"{name}: no {BEGIN} region: nothing for the learner to write")
    stray = [i for i in regions if i not in solutions]
    if stray:
        raise MarkerError(f"{name}: cell {stray[0]} has a {BEGIN} region but no {SOLUTION_TAG!r} tag "
                          f"(nbgrader refuses solution regions outside solution cells)")
    checks = [c for c in nb.cells if CHECK_TAG in _tags(c)]
    if len(checks) != 1 or checks[0].cell_type != "code" or not CHECK_CALL.fullmatch(checks[0].source.strip()):
        raise MarkerError(f"{name}: needs exactly one code cell tagged {CHECK_TAG!r} holding "
                          f"check(n, Sender, Receiver), found {[c.source for c in checks]}")


def _add_metadata(nb: nbformat.NotebookNode, stem: str) -> None:
    """nbgrader's metadata and Jupyter's read-only flags, from the tags (see the module docstring)."""
    for index, cell in enumerate(nb.cells):
        tags = _tags(cell)
        if SOLUTION_TAG in tags:
            cell.metadata["nbgrader"] = _nbgrader(f"{stem}-solution", solution=True)
            cell.metadata["deletable"] = False
        elif CHECK_TAG in tags:
            cell.metadata["nbgrader"] = _nbgrader(f"{stem}-check")
            cell.metadata["deletable"] = False
            cell.metadata["editable"] = False
        else:
            cell.metadata["nbgrader"] = _nbgrader(f"{stem}-cell-{index:02d}")
            cell.metadata["deletable"] = False
            cell.metadata["editable"] = False


def _clean(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)


def make_exercise(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The learner version of one solution notebook (a new notebook; the input is not changed)."""
    nb = copy.deepcopy(solution)
    _classify(nb, name)
    for index, cell in enumerate(nb.cells):
        cell.source = strip_solutions(cell.source, code=cell.cell_type == "code", where=f"{name}, cell {index}")
    _add_metadata(nb, Path(name).stem)
    _clean(nb)
    return nb


def graded_check(source: str) -> str:
    """The autograded form of the check cell ``check(n, A, B)``: shows the verdict as exercises/ does,
    then raises when it did not pass, so that nbgrader gives the points only to a passing answer."""
    match = CHECK_CALL.fullmatch(source.strip())
    if match is None:
        raise MarkerError(f"a check cell must hold check(n, Sender, Receiver), got {source!r}")
    return (f"verdict = {match.group(0)}\n"
            f"display(verdict)  # the verdict, its counterexample and diagram, as the learner saw it\n"
            f"assert verdict.passed, str(verdict)  # nbgrader: the points only for a passing verdict")


def make_source(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The nbgrader source (instructor) version of one solution notebook: regions kept, the check
    cell autograded (a new notebook; the input is not changed)."""
    nb = copy.deepcopy(solution)
    _classify(nb, name)
    for index, cell in enumerate(nb.cells):
        strip_solutions(cell.source, code=cell.cell_type == "code", where=f"{name}, cell {index}")  # well formed
        if CHECK_TAG in _tags(cell):
            cell.source = graded_check(cell.source)
    _add_metadata(nb, Path(name).stem)
    for cell in nb.cells:
        if CHECK_TAG in _tags(cell):
            cell.metadata["nbgrader"] = _nbgrader(f"{Path(name).stem}-check", grade=True, points=POINTS)
    _clean(nb)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def expected_exercises(solutions: Path) -> dict[str, str]:
    """File name -> the text this script writes for it in exercises/."""
    out = {}
    for path in sorted(solutions.glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        out[path.name] = render(make_exercise(solution, path.name))
    return out


def expected_sources(solutions: Path) -> dict[str, str]:
    """Path inside nbgrader/source/ (one assignment per exercise) -> the text written for it."""
    out = {}
    for path in sorted(solutions.glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        out[f"{path.stem}/{path.name}"] = render(make_source(solution, path.name))
    return out


def _differences(folder: Path, expected: dict[str, str], present: set[str], label: str) -> list[str]:
    problems = []
    for name in sorted(present - set(expected)):
        problems.append(f"{label}/{name}: no solutions/{Path(name).name} generates it (stale; delete it)")
    for name, text in expected.items():
        path = folder / name
        if name not in present:
            problems.append(f"{label}/{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            diff = difflib.unified_diff(path.read_text(encoding="utf-8").splitlines(), text.splitlines(),
                                        f"{label}/{name}", "generated", lineterm="", n=1)
            problems.append("\n".join(list(diff)[:40]))
    return problems


def _write(folder: Path, expected: dict[str, str], present: set[str], label: str) -> None:
    for name in sorted(present - set(expected)):
        (folder / name).unlink()
        if folder != (folder / name).parent and not any((folder / name).parent.iterdir()):
            (folder / name).parent.rmdir()
        print(f"deleted stale {label}/{name}")
    for name, text in expected.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
        print(f"wrote {label}/{name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report differences instead of writing")
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions")
    parser.add_argument("--exercises", type=Path, default=ROOT / "exercises")
    parser.add_argument("--nbgrader", type=Path, default=None,
                        help="the nbgrader course folder (default: nbgrader/ beside --exercises)")
    args = parser.parse_args(argv)
    if not args.solutions.is_dir():
        parser.error(f"--solutions: no directory {args.solutions}")
    source = (args.nbgrader or args.exercises.parent / "nbgrader") / "source"
    outputs = [
        (args.exercises, expected_exercises(args.solutions), "*.ipynb", "exercises"),
        (source, expected_sources(args.solutions), "*/*.ipynb", "nbgrader/source"),
    ]
    problems = []
    for folder, expected, pattern, label in outputs:
        present = {p.relative_to(folder).as_posix() for p in folder.glob(pattern)} if folder.is_dir() else set()
        if args.check:
            problems += _differences(folder, expected, present, label)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            _write(folder, expected, present, label)
    if not args.check:
        return 0
    if problems:
        print("exercises/ or nbgrader/source/ differs from what scripts/make_exercises.py generates from "
              "solutions/ (run `make exercises`):", file=sys.stderr)
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(f"exercises/ and nbgrader/source/ are up to date ({len(outputs[0][1])} notebooks each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
