"""scripts/make_variants.py: per-group variants get their own parameters (papermill, prepare-only),
stale outputs are cleared, a manifest records who got what, and bad arguments fail before anything
is written, with a message that names the parameter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import make_variants as mv  # noqa: E402

LESSONS = [p for p in sorted(ROOT.glob("notebooks/0*.ipynb"))
           if any("parameters" in c.get("metadata", {}).get("tags", [])
                  for c in json.loads(p.read_text(encoding="utf-8"))["cells"])]


@pytest.fixture
def lesson(tmp_path) -> Path:
    """A small notebook shaped like a lesson: a parameters cell, a stored output."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('SEED = 7          # the seed\nN_MESSAGES = 1000\nLOSS = 0.1\n'
                                       'MAX_RETRIES = 3\nTIMEOUT = 3.0\nCRASH_MESSAGE = "m2"\nVERBOSE = False')
    params.metadata["tags"] = ["parameters"]
    work = nbformat.v4.new_code_cell("print(SEED, LOSS, MAX_RETRIES, CRASH_MESSAGE)")
    work.outputs = [nbformat.v4.new_output("stream", text="7 0.1 3 m2\n")]
    work.execution_count = 1
    nb.cells = [nbformat.v4.new_markdown_cell("# A lesson"), params, work]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "src" / "07-lesson.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


def injected(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "papermill injects exactly one cell"
    return cells[0].source


def test_prepare_only_gives_each_group_its_parameters(lesson, tmp_path):
    out = tmp_path / "variants"
    written = mv.make([lesson], out, 3, seed_from=100, fixed={"MAX_RETRIES": 5}, varied={"LOSS": [0.2, 0.3]})
    assert [p.relative_to(out).as_posix() for p in written] == [
        "group-01/07-lesson.ipynb", "group-02/07-lesson.ipynb", "group-03/07-lesson.ipynb"]
    sources = [injected(p) for p in written]
    for source, seed, loss in zip(sources, (100, 101, 102), (0.2, 0.3, 0.2)):
        assert f"SEED = {seed}" in source and f"LOSS = {loss}" in source and "MAX_RETRIES = 5" in source
    nb = nbformat.read(written[1], as_version=4)
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    assert nb.metadata["course_variant"]["parameters"] == {"SEED": 101, "LOSS": 0.3, "MAX_RETRIES": 5}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["prepared_only"] is True
    assert manifest["groups"]["group-03"]["07-lesson.ipynb"] == {"SEED": 102, "MAX_RETRIES": 5, "LOSS": 0.2}


def test_cli_prepare_only_and_string_values(lesson, tmp_path, capsys):
    out = tmp_path / "v"
    assert mv.main([str(lesson), "--groups", "2", "--vary", "CRASH_MESSAGE=m1,m3", "--out", str(out),
                    "--prepare-only"]) == 0
    assert 'CRASH_MESSAGE = "m3"' in injected(out / "group-02" / "07-lesson.ipynb")
    assert "prepared, not run" in capsys.readouterr().out


@pytest.mark.slow
def test_without_prepare_only_the_variant_runs_with_its_parameters(lesson, tmp_path):
    out = tmp_path / "keys"
    [path] = mv.make([lesson], out, 1, seed_from=42, fixed={"LOSS": 0.25}, prepare_only=False)
    nb = nbformat.read(path, as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "42 0.25 3 m2" in printed


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.stem)
def test_every_lesson_with_parameters_can_be_varied(notebook, tmp_path):
    defaults = mv.parameters_of(notebook)
    assert "SEED" in defaults, f"{notebook.name}: the parameters cell should set SEED"
    [path] = mv.make([notebook], tmp_path / "v", 1, seed_from=12345)
    assert "SEED = 12345" in injected(path)


@pytest.mark.parametrize("kwargs, message", [
    ({"groups": 0}, r"groups must be in \[1, 500\], got 0"),
    ({"groups": 501}, r"groups must be in \[1, 500\]"),
    ({"groups": 2.0}, "groups must be an int"),
    ({"seed_from": -1}, "seed_from must be an int"),
    ({"fixed": {"LOSS": 1.5}}, r"LOSS in 07-lesson.ipynb is a probability: it must be in \[0, 1\], got 1.5"),
    ({"varied": {"LOSS": [0.1, -0.2]}}, "LOSS .* probability"),
    ({"fixed": {"MAX_RETRIES": 2.5}}, "MAX_RETRIES in 07-lesson.ipynb must be an int like its default 3, got 2.5"),
    ({"fixed": {"MAX_RETRIES": -1}}, "MAX_RETRIES .* must not be negative"),
    ({"fixed": {"TIMEOUT": "long"}}, "TIMEOUT .* must be a number"),
    ({"fixed": {"VERBOSE": 1}}, "VERBOSE .* must be bool"),
    ({"fixed": {"NOPE": 1}}, "NOPE is not a parameter of 07-lesson.ipynb; its parameters cell sets: SEED, "),
    ({"fixed": {"SEED": 3}}, "every group the same seed"),
    ({"fixed": {"LOSS": 0.1}, "varied": {"LOSS": [0.2]}}, "both to --set and --vary"),
    ({"varied": {"LOSS": []}}, "at least one value"),
])
def test_bad_arguments_fail_before_writing(lesson, tmp_path, kwargs, message):
    out = tmp_path / "v"
    args = {"groups": 2, **kwargs}
    with pytest.raises(mv.VariantError, match=message):
        mv.make([lesson], out, args.pop("groups"), **args)
    assert not out.exists()


def test_refuses_a_notebook_without_parameters_cell(tmp_path):
    path = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), path)
    with pytest.raises(mv.VariantError, match="no code cell tagged 'parameters'"):
        mv.make([path], tmp_path / "v", 2)


def test_refuses_missing_notebook(tmp_path):
    with pytest.raises(mv.VariantError, match="does not exist"):
        mv.make([tmp_path / "missing.ipynb"], tmp_path / "v", 2)


@pytest.mark.parametrize("folder", ["notebooks", "notebooks/variants", "solutions", "exercises"])
def test_refuses_to_write_where_tests_collect_notebooks(lesson, folder):
    with pytest.raises(mv.VariantError, match="inside"):
        mv.make([lesson], ROOT / folder, 1)


def test_refuses_a_non_empty_output_without_force(lesson, tmp_path):
    out = tmp_path / "v"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(mv.VariantError, match="not empty"):
        mv.make([lesson], out, 1)
    assert mv.make([lesson], out, 1, force=True)


@pytest.mark.parametrize("argv, message", [
    (["--groups", "2", "--set", "LOSS"], "expects NAME=VALUE"),
    (["--groups", "2", "--set", "LOSS=0.1,0.2"], "use --vary"),
    (["--groups", "2", "--vary", "LOSS=0.1,,0.2"], "empty value"),
    (["--groups", "x"], "invalid int value"),
])
def test_cli_rejects_bad_arguments(lesson, tmp_path, argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        mv.main([str(lesson), "--out", str(tmp_path / "v"), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
