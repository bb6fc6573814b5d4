"""The learner copy (`make learner-copy`): built from this repository, it holds what a learner needs
to take the course and no solution code: no line of a solution region of solutions/ (beyond what the
exercise ladder gives as the next exercise's starting code), no solution markers, no nbgrader source,
no tests (their catalog of wrong solutions, their reads of solutions/), no instructor guide."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MIN_LINE = 20   # shorter lines (`return`, `self.ack(msg_id)`) are common to any protocol code

_spec = importlib.util.spec_from_file_location("make_learner_copy", ROOT / "scripts" / "make_learner_copy.py")
make_learner_copy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_learner_copy)


def _sources(path: Path) -> list[str]:
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def solution_lines() -> dict[str, str]:
    """Every line of a solution region (stripped, at least MIN_LINE long) -> the solution it comes
    from, less the lines the exercises themselves give (each exercise starts from the previous answer)."""
    given = "\n".join(source for path in (ROOT / "exercises").glob("*.ipynb") for source in _sources(path))
    lines = {}
    for path in SOLUTIONS:
        for source in _sources(path):
            inside = False
            for line in source.split("\n"):
                if BEGIN in line or END in line:
                    inside = BEGIN in line
                elif inside and len(line.strip()) >= MIN_LINE and line.strip() not in given:  # a substring
                    lines[line.strip()] = path.name
    return lines


def leaks(folder: Path) -> list[str]:
    """Where ``folder`` holds solution code: 'file: line (from solution)'."""
    forbidden = solution_lines()
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.relative_to(folder).parts):
        raw = path.read_bytes()
        if b"\0" in raw[:4096]:
            continue  # a picture
        text = raw.decode("utf-8", errors="replace")
        if path.suffix == ".ipynb":
            text = "\n".join(_sources(path))
        if BEGIN in text or END in text:
            found.append(f"{path.relative_to(folder)}: a solution marker")
        found += [f"{path.relative_to(folder)}: {line} (from {origin})" for line, origin in forbidden.items()
                  if line in text]
    return found


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("learner") / "delivery-semantics-learners"
    make_learner_copy.build(out)
    return out


def test_the_detector_knows_the_solutions_and_finds_them():
    assert len(solution_lines()) >= 2 * len(SOLUTIONS)
    # every answer is looked for; exercise 1's may not be: the ladder gives it as exercise 2's starting code
    assert len(set(solution_lines().values())) >= len(SOLUTIONS) - 1
    assert leaks(ROOT / "solutions") and leaks(ROOT / "nbgrader" / "source")


def test_no_solution_code_in_the_learner_copy(copy):
    assert not leaks(copy), "\n".join(leaks(copy)[:20])


def test_a_solution_slipped_into_the_copy_is_found(copy, tmp_path):
    shutil = __import__("shutil")
    probe = tmp_path / "probe"
    shutil.copytree(copy, probe, ignore=shutil.ignore_patterns(".git"))
    answer = next(s for s in _sources(SOLUTIONS[2]) if BEGIN in s)
    (probe / "semantics" / "helpers.py").write_text(answer.replace(BEGIN, "").replace(END, ""))
    assert any("semantics/helpers.py" in leak for leak in leaks(probe))


def test_answers_and_instructor_material_stay_out(copy):
    for path in ("solutions", "nbgrader", "tests", "tests/wrong_solutions", "bench", "docs/instructor.md",
                 "requirements/dev.txt", "environment-dev.yml", "scripts/make_exercises.py", ".ci"):
        assert not (copy / path).exists(), f"{path} is in the learner copy"


def test_learners_get_the_course_and_a_way_to_start_it(copy):
    for folder in ("notebooks", "exercises"):
        assert sorted(p.name for p in (copy / folder).glob("*.ipynb")) == \
            sorted(p.name for p in (ROOT / folder).glob("*.ipynb"))
    for path in ("semantics/__init__.py", "semantics/grading/__init__.py", "pyproject.toml", "environment.yml",
                 "postBuild", "requirements/learner.txt", "scripts/launch_lab.py", "scripts/check_install.py",
                 "scripts/jupyter_settings.py", "jupyter-config/jupyter_lab_config.json", "LICENSE"):
        assert (copy / path).is_file(), f"{path} is missing from the learner copy"
    makefile = (copy / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and "requirements/learner.txt" in makefile
    assert "dev.txt" not in makefile and not re.search(r"^test:", makefile, re.M)
    dry = subprocess.run(["make", "-n", "lab"], cwd=copy, capture_output=True, text=True)
    assert dry.returncode == 0 and "launch_lab.py" in dry.stdout, dry.stderr
    readme = (copy / "README.md").read_text()
    assert "learner copy" in readme and "<!-- instructors -->" not in readme and "make test" not in readme
    assert "solutions/" not in readme


def test_the_copy_is_a_repository_ready_to_push(copy):
    status = subprocess.run(["git", "status", "--porcelain"], cwd=copy, capture_output=True, text=True, check=True)
    assert status.stdout == ""
    log = subprocess.run(["git", "log", "--format=%s", "main"], cwd=copy, capture_output=True, text=True, check=True)
    assert log.stdout.startswith("Learner copy of the course")


def test_out_must_be_new_and_outside_the_repository(tmp_path):
    with pytest.raises(ValueError, match="outside the repository"):
        make_learner_copy.build(ROOT / "learners")
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="--force"):
        make_learner_copy.build(tmp_path / "taken")
