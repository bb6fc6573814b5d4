"""The README stays true: its code runs, its commands exist, the files it names exist."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["report"].violations("exactly-once") == []


def test_make_targets_exist():
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
    for target in set(re.findall(r"\bmake ([a-z-]+)", README)):
        assert target in targets, f"README mentions `make {target}`, the Makefile has no such target"


def test_named_files_exist():
    for path in set(re.findall(r"\b((?:notebooks|docs|scripts|tests|solutions|exercises)/[\w./-]+\.(?:ipynb|md|py|png))", README)):
        assert (ROOT / path).exists(), f"README names {path}, which does not exist"


def test_make_test_dry_run_calls_pytest():
    out = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "-m pytest" in out
