"""nbgrader on the shipped course (nbgrader/): the documented commands, run as an instructor runs
them, on a copy of the folder. For every exercise, `nbgrader generate_assignment` cuts the solutions,
two learners submit (one hands in the release untouched, one types the answer from solutions/ into
the solution cell), `nbgrader autograde` runs both and `nbgrader export` writes the grades: the
untouched stub scores 0 because the verdict's assertion fails ("not implemented yet"), the answer
gets full marks. Also: nbgrader/source is what solutions/ generates, with the metadata nbgrader
validates."""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "nbgrader"
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
ASSIGNMENTS = [p.stem for p in SOLUTIONS]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None,
                                 reason="nbgrader is not installed (pip install -e '.[test]')")]


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    # nbgrader runs `alembic` (its database migrations) as a program: the environment's bin/ on PATH
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _answer(solution: Path) -> str:
    """What a learner who solved the exercise has in the solution cell: the answer, no markers."""
    cell = next(c for c in nbformat.read(solution, as_version=4).cells if "solution" in c.metadata.get("tags", []))
    return "\n".join(line for line in cell.source.split("\n") if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, dict[tuple[str, str], float], dict[str, float]]:
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(COURSE, course, dirs_exist_ok=True)
    for name in ASSIGNMENTS:
        _nbgrader(course, "generate_assignment", name)
    for name, solution in zip(ASSIGNMENTS, SOLUTIONS):
        release = course / "release" / name / f"{name}.ipynb"
        untouched = course / "submitted" / "untouched" / name
        untouched.mkdir(parents=True)
        shutil.copyfile(release, untouched / release.name)
        nb = nbformat.read(release, as_version=4)
        _cell(nb, f"{name}-solution").source = _answer(solution)
        solved = course / "submitted" / "solved" / name
        solved.mkdir(parents=True)
        nbformat.write(nb, solved / release.name)
    for name in ASSIGNMENTS:
        _nbgrader(course, "autograde", name, "--create")
    _nbgrader(course, "export")
    scores, maximum = {}, {}
    with open(course / "grades.csv", newline="") as f:
        for row in csv.DictReader(f):
            scores[row["assignment"], row["student_id"]] = float(row["score"])
            maximum[row["assignment"]] = float(row["max_score"])
    return course, scores, maximum


def test_release_has_the_stub_and_no_solution(graded):
    course, _, _ = graded
    for name, solution in zip(ASSIGNMENTS, SOLUTIONS):
        text = (course / "release" / name / f"{name}.ipynb").read_text()
        assert "### BEGIN SOLUTION" not in text and "YOUR CODE HERE" in text, name
        answer = [line.strip() for line in _answer(solution).split("\n") if len(line.strip()) > 30]
        given = (ROOT / "exercises" / solution.name).read_text()
        leaked = [line for line in answer if line in text and line not in given]
        assert not leaked, f"{name}: solution lines in the release: {leaked[:3]}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_untouched_stub_scores_zero_and_the_answer_full_marks(graded, name):
    course, scores, maximum = graded
    assert maximum[name] > 0
    assert scores[name, "untouched"] == 0, scores
    assert scores[name, "solved"] == maximum[name], scores
    # the stub's 0 comes from the verdict's assertion, not from a cell that broke on its own
    stub = nbformat.read(course / "autograded" / "untouched" / name / f"{name}.ipynb", as_version=4)
    errors = [o for o in _cell(stub, f"{name}-check").outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "AssertionError" and "NOT IMPLEMENTED YET" in errors[0].evalue, errors


def test_source_is_generated_from_solutions_with_valid_metadata():
    from nbgrader.nbgraderformat import ValidationError, read as nbgrader_read  # noqa: F401

    spec = importlib.util.spec_from_file_location("make_exercises", ROOT / "scripts" / "make_exercises.py")
    make_exercises = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_exercises)
    expected = make_exercises.expected_sources(ROOT / "solutions")
    on_disk = {p.relative_to(COURSE / "source").as_posix(): p for p in (COURSE / "source").glob("*/*.ipynb")}
    assert sorted(on_disk) == sorted(expected)
    for name, path in on_disk.items():
        assert path.read_text() == expected[name], f"nbgrader/source/{name} is stale: run `make exercises`"
        with open(path) as f:
            nb = nbgrader_read(f, as_version=4)  # validates nbgrader's metadata (schema 3), raises if wrong
        kinds = [("solution" if c.metadata.nbgrader.solution else "graded" if c.metadata.nbgrader.grade
                  else "read-only") for c in nb.cells]
        assert kinds.count("solution") == 1 and kinds.count("graded") == 1, (name, kinds)
        graded_cell = next(c for c in nb.cells if c.metadata.nbgrader.grade)
        assert graded_cell.metadata.nbgrader.points > 0 and "assert verdict.passed" in graded_cell.source


def test_a_region_outside_the_solution_cell_is_refused():
    spec = importlib.util.spec_from_file_location("make_exercises", ROOT / "scripts" / "make_exercises.py")
    make_exercises = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_exercises)
    nb = nbformat.read(SOLUTIONS[0], as_version=4)
    for cell in nb.cells:
        cell.metadata.get("tags", []).remove("solution") if "solution" in cell.metadata.get("tags", []) else None
    with pytest.raises(make_exercises.MarkerError, match="no 'solution' tag"):
        make_exercises.make_source(nb, SOLUTIONS[0].name)
