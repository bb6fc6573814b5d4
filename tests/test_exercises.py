"""The exercise notebooks: generated from solutions/ (no drift), every solution passes its check,
every unsolved exercise runs to the end and fails its check with a helpful message."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))

_spec = importlib.util.spec_from_file_location("make_exercises", ROOT / "scripts" / "make_exercises.py")
make_exercises = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_exercises)


def test_there_is_a_ladder_of_five_exercises_and_a_capstone():
    assert [p.name[:2] for p in SOLUTIONS] == ["01", "02", "03", "04", "05", "06"]
    assert [p.name for p in EXERCISES] == [p.name for p in SOLUTIONS]


def test_exercises_are_exactly_what_the_generator_writes(capsys):
    assert make_exercises.main(["--check"]) == 0, capsys.readouterr().err


def test_check_mode_catches_drift_and_stale_files(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(ROOT / "solutions", solutions)
    assert make_exercises.main(["--solutions", str(solutions), "--exercises", str(exercises)]) == 0
    args = ["--check", "--solutions", str(solutions), "--exercises", str(exercises)]
    assert make_exercises.main(args) == 0
    edited = exercises / SOLUTIONS[0].name
    edited.write_text(edited.read_text().replace("YOUR CODE HERE", "my answer", 1))
    assert make_exercises.main(args) == 1
    assert "my answer" in capsys.readouterr().err
    make_exercises.main(["--solutions", str(solutions), "--exercises", str(exercises)])
    (exercises / "99-hand-made.ipynb").write_text("{}")
    assert make_exercises.main(args) == 1
    assert "99-hand-made.ipynb: no solutions/99-hand-made.ipynb generates it" in capsys.readouterr().err
    (solutions / SOLUTIONS[1].name).unlink()
    make_exercises.main(["--solutions", str(solutions), "--exercises", str(exercises)])
    assert sorted(p.name for p in exercises.iterdir()) == sorted(p.name for p in solutions.iterdir())


def test_solution_regions_become_nbgrader_stubs_at_their_indentation():
    source = ("class A:\n    def f(self):\n        ### BEGIN SOLUTION\n        return 1\n        ### END SOLUTION\n"
              "\n    def g(self):\n        return 2")
    assert make_exercises.strip_solutions(source) == (
        "class A:\n    def f(self):\n        # YOUR CODE HERE\n        raise NotImplementedError()\n"
        "\n    def g(self):\n        return 2")
    assert make_exercises.strip_solutions("a\n### BEGIN SOLUTION\nb\n### END SOLUTION", code=False) == \
        "a\nYOUR ANSWER HERE"
    assert make_exercises.strip_solutions("no regions") == "no regions"


@pytest.mark.parametrize("source, words", [
    ("### BEGIN SOLUTION\nx", "without ### END SOLUTION"),
    ("x\n### END SOLUTION", "line 2: ### END SOLUTION without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_malformed_regions_are_refused(source, words):
    with pytest.raises(make_exercises.MarkerError, match=words):
        make_exercises.strip_solutions(source)


def test_a_solution_without_regions_is_refused():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    with pytest.raises(make_exercises.MarkerError, match="nothing for the learner to write"):
        make_exercises.make_exercise(nb, "empty.ipynb")


@pytest.mark.parametrize("path", SOLUTIONS + EXERCISES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name
    checks = [c for c in nb.cells if "check" in c.metadata.get("tags", [])]
    assert len(checks) == 1 and re.fullmatch(r"check\(\d, \w+, \w+\)", checks[0].source)
    assert nb.cells[0].source.startswith(f"# Exercise {int(path.name[:2])}:")


def test_solution_regions_are_method_bodies_so_unsolved_cells_still_run():
    # A stub at class level would raise while the class is defined and stop the notebook.
    for path in SOLUTIONS:
        for cell in nbformat.read(path, as_version=4).cells:
            lines = cell.source.split("\n")
            for i, line in enumerate(lines):
                if "### BEGIN SOLUTION" in line:
                    assert line.startswith(" " * 8), f"{path.name}: a region outside a method body"


def _answer(path: Path) -> str:
    cell = next(c for c in nbformat.read(path, as_version=4).cells if "solution" in c.metadata.get("tags", []))
    return "\n".join(line for line in cell.source.split("\n") if "### " not in line)


def test_each_exercise_starts_from_the_previous_answer():
    # exercise 1's answer (the retrying sender) is the given starting code of exercises 2 and 3
    sender = _answer(SOLUTIONS[0])
    for later in SOLUTIONS[1:3]:
        given = [c.source for c in nbformat.read(later, as_version=4).cells
                 if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])]
        assert any(sender in source for source in given), later.name


def _execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


def _check_output(nb: nbformat.NotebookNode) -> str:
    cell = next(c for c in nb.cells if "check" in c.metadata.get("tags", []))
    texts = [o.data["text/plain"] for o in cell.outputs if "data" in o and "text/plain" in o.data]
    assert texts, f"the check cell displayed nothing: {cell.outputs}"
    return texts[0]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_passes_its_check(path):
    text = _check_output(_execute(path))
    assert re.match(rf"Exercise {int(path.name[:2])} \(.+\): PASSED\n", text), text


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_every_unsolved_exercise_runs_to_the_end_and_fails_its_check(path):
    nb = _execute(path)  # raises CellExecutionError if any cell fails
    text = _check_output(nb)
    assert re.match(rf"Exercise {int(path.name[:2])} \(.+\): NOT IMPLEMENTED YET\n", text), text
    assert "raise NotImplementedError()" in text and "YOUR CODE HERE" in text
