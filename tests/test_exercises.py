"""The exercise notebooks: generated from solutions/ (no drift), every solution passes its check,
every unsolved exercise runs to the end and fails its check with a helpful message; a ladder of ten
rungs, each opening with a question to answer before running its starting point, a task that states
the goal, the faults and the invariants, hints in levels, and a "What's next" naming the next rung."""

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


def test_there_is_a_ladder_of_nine_rungs_and_a_capstone():
    from semantics.grading import EXERCISES as GRADED
    assert [int(p.name[:2]) for p in SOLUTIONS] == list(range(1, 11)) == sorted(GRADED)
    assert [p.name for p in EXERCISES] == [p.name for p in SOLUTIONS]
    assert SOLUTIONS[-1].name == "10-outbox-inbox.ipynb" and "capstone" in _cells(SOLUTIONS[-1])[0].source
    for path in SOLUTIONS:  # each notebook's check grades its own rung
        check = next(c for c in _cells(path) if "check" in c.metadata.get("tags", []))
        assert check.source.startswith(f"check({int(path.name[:2])}, ")


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
    assert len(checks) == 1 and re.fullmatch(r"check\(\d+, \w+, \w+\)", checks[0].source)
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


#: rung -> the answers of earlier rungs it gives as its starting code, (rung, class); nothing else is given away
#: (later starting points show an earlier rung's idea in a form that is not its answer: kept in memory)
STARTS_FROM = {2: [(1, "Sender")], 10: [(1, "Sender")]}


def _cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def _given(path: Path) -> str:
    return "\n".join(c.source for c in _cells(path) if c.cell_type == "code" and "solution" not in c.metadata.get("tags", []))


def _answer_class(path: Path, name: str) -> str:
    import ast
    answer = _answer(path)
    node = next(n for n in ast.parse(answer).body if isinstance(n, ast.ClassDef) and n.name == name)
    return ast.get_source_segment(answer, node)


def test_each_exercise_starts_from_the_previous_answer():
    for later, given_answers in STARTS_FROM.items():
        for number, name in given_answers:
            answer = _answer_class(SOLUTIONS[number - 1], name)
            body = [line.strip() for line in answer.split("\n")[1:] if line.strip() and not line.strip().startswith('"""')]
            given = _given(SOLUTIONS[later - 1])
            missing = [line for line in body if line not in given]
            assert not missing, (later, number, missing[:3])


def test_each_exercise_opens_with_a_question_the_starting_point_answers():
    for path in SOLUTIONS:
        cells = _cells(path)
        predict, start = cells[2], cells[3]
        assert predict.cell_type == "markdown" and predict.source.startswith("## Predict, then run"), path.name
        assert "**Before you run it" in predict.source and "?" in predict.source, path.name
        assert start.cell_type == "code" and not start.metadata.get("tags") and "print(" in start.source, path.name
        assert all("solution" not in c.metadata.get("tags", []) for c in cells[:4])  # asked before the task


def test_each_task_states_goal_faults_and_invariants_not_a_recipe():
    from semantics.grading import EXERCISES as GRADED
    for path in SOLUTIONS:
        number = int(path.name[:2])
        task = next(c.source for c in _cells(path) if c.source.startswith("## Your task"))
        assert "**Faults:**" in task and "**Invariants:**" in task, path.name
        for invariant in GRADED[number].names:  # every invariant the grader checks, in its own words
            assert f"**{invariant}**" in task, (path.name, invariant)
        assert f"hint({number})" in task and f"hint({number}, level=2)" in task, path.name
        # no step-by-step recipe: the task holds no bulleted instructions to write particular lines
        assert not re.search(r"^- `on_\w+\(", task, re.M), path.name


def test_each_exercise_names_the_next_rung():
    for path, following in zip(SOLUTIONS, SOLUTIONS[1:]):
        last = _cells(path)[-1].source
        assert "## What's next" in last and f"(`{following.name}`)" in last, path.name
        assert f"Exercise {int(following.name[:2])} " in last, path.name
    assert "## Summary" in _cells(SOLUTIONS[-1])[-1].source and "labs" in _cells(SOLUTIONS[-1])[-1].source


def _execute(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


def _check_output(nb: nbformat.NotebookNode) -> str:
    cell = next(c for c in nb.cells if "check" in c.metadata.get("tags", []))
    texts = [o.data["text/plain"] for o in cell.outputs if "data" in o and "text/plain" in o.data]
    assert texts, f"the check cell displayed nothing: {cell.outputs}"
    return texts[0]


def _start_output(nb: nbformat.NotebookNode) -> str:
    cell = nb.cells[3]
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_solution_passes_its_check(path):
    nb = _execute(path)
    text = _check_output(nb)
    assert re.match(rf"Exercise {int(path.name[:2])} \(.+\): PASSED\n", text), text
    assert _start_output(nb).strip(), "the starting point printed nothing: the question goes unanswered"


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_every_unsolved_exercise_runs_to_the_end_and_fails_its_check(path):
    nb = _execute(path)  # raises CellExecutionError if any cell fails
    text = _check_output(nb)
    assert re.match(rf"Exercise {int(path.name[:2])} \(.+\): NOT IMPLEMENTED YET\n", text), text
    assert "raise NotImplementedError()" in text and "YOUR CODE HERE" in text


def test_no_other_answer_is_given_away():
    # every solution class of a rung that STARTS_FROM does not name is absent from every other notebook
    import ast
    given = {(number, name) for answers in STARTS_FROM.values() for number, name in answers}
    for path in SOLUTIONS:
        number = int(path.name[:2])
        for node in ast.parse(_answer(path)).body:
            if not isinstance(node, ast.ClassDef) or (number, node.name) in given:
                continue
            lines = [line.strip() for line in _answer_class(path, node.name).split("\n")[1:]
                     if len(line.strip()) > 25 and not line.strip().startswith('"""')]
            for other in SOLUTIONS:
                if other != path:
                    shown = [line for line in lines if line in _given(other)]
                    assert len(shown) < len(lines) / 2, (path.name, node.name, other.name, shown[:3])
