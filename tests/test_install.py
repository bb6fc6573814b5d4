"""A hub-safe install, as a JupyterHub image has it: a fresh virtual environment gets the learners'
lock (requirements/learner.txt) and the course installed NOT editable; the notebooks are copied into
another folder, as nbgitpuller clones them into a learner's home; a lesson and an exercise run there
on that environment's kernel, with `semantics` imported from site-packages (never from this
repository), and the lesson's checked outputs are the stored ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "00-introduction.ipynb"
EXERCISE = ROOT / "exercises" / "01-retries.ipynb"
SOLUTION = ROOT / "solutions" / "01-retries.ipynb"
MARK = "NBVAL_CHECK_OUTPUT"

pytestmark = pytest.mark.slow

# Run by the fresh environment's Python, in the learner's folder: executes each notebook on the
# "python3" kernel (the fresh environment's own ipykernel) and writes it back with its outputs.
RUNNER = textwrap.dedent("""
    import sys
    import nbformat
    from nbclient import NotebookClient

    for path in sys.argv[1:]:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
        nbformat.write(nb, path)
""")
WHERE = "import sys, semantics; print(sys.executable); print(semantics.__file__)"


def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append("".join(out["text"]))
        elif out["output_type"] in ("execute_result", "display_data"):
            parts.append("".join(out["data"].get("text/plain", "")))
    return "".join(parts)


def _checked(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return [_text({"outputs": [o for o in c["outputs"] if o["output_type"] != "display_data"]})
            for c in cells if c["cell_type"] == "code" and MARK in "".join(c["source"])]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A new virtual environment with the learners' lock and the course (pip install ., not -e)."""
    venv = tmp_path_factory.mktemp("hub-image") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    for args in (["-r", str(ROOT / "requirements" / "learner.txt")], [str(ROOT)]):
        done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"pip install {args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    home = tmp_path_factory.mktemp("home")
    # the kernel is the environment's own: its bin/ first on PATH, no user-level kernelspecs or config
    env = {"PATH": os.pathsep.join([str(venv / "bin"), os.environ.get("PATH", "")]), "HOME": str(home),
           "JUPYTER_DATA_DIR": str(home / ".local/share/jupyter"), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "MPLBACKEND": "agg", "LANG": "C.UTF-8"}
    return venv, env


def test_the_course_is_installed_outside_the_repository_with_its_settings_and_no_test_tools(fresh):
    venv, env = fresh
    python = str(venv / "bin" / "python")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_install.py"), "--python", python],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (venv / "etc/jupyter/jupyter_lab_config.json").is_file()
    assert (venv / "share/jupyter/lab/settings/overrides.d/delivery-semantics-course.json").is_file()
    assert (venv / "share/jupyter/labextensions/delivery-semantics-slider-names/package.json").is_file()
    for tool in ("pytest", "nbval", "playwright", "nbgrader"):
        assert subprocess.run([python, "-I", "-c", f"import {tool}"], capture_output=True).returncode != 0, tool


def test_a_lesson_and_an_exercise_run_from_a_copy_in_the_home_folder(fresh):
    venv, env = fresh
    course = Path(env["HOME"]) / "delivery-semantics-learners"  # where nbgitpuller clones the course
    for source in (LESSON, EXERCISE, SOLUTION):
        target = course / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    probe = course / "notebooks" / "where.ipynb"
    probe.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                                            "outputs": [], "source": WHERE}],
                                 "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                                 "nbformat": 4, "nbformat_minor": 5}))
    copies = [course / "notebooks" / LESSON.name, course / "exercises" / EXERCISE.name,
              course / "solutions" / SOLUTION.name, probe]
    for notebook in copies:
        done = subprocess.run([str(venv / "bin" / "python"), "-c", RUNNER, notebook.name], cwd=notebook.parent,
                              env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{notebook.name} failed in the fresh environment:\n{done.stderr[-4000:]}"
    executable, module = _text(json.loads(probe.read_text())["cells"][0]).split()
    assert Path(executable).parent == venv / "bin", executable
    assert Path(module).is_relative_to(venv) and not Path(module).is_relative_to(ROOT), module
    # the lesson computes, on the installed package, the very numbers nbval checks
    assert _checked(copies[0]) == _checked(LESSON)
    exercise = json.loads(copies[1].read_text())["cells"]
    solved = json.loads(copies[2].read_text())["cells"]
    verdicts = [_text(c) for c in exercise if "check" in c["metadata"].get("tags", [])]
    assert verdicts and "NOT IMPLEMENTED YET" in verdicts[0], verdicts
    verdicts = [_text(c) for c in solved if "check" in c["metadata"].get("tags", [])]
    assert verdicts and ": PASSED" in verdicts[0], verdicts
