"""environment.yml (conda-forge, Binder) and pyproject.toml name the same dependencies."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# PyPI name -> conda-forge name, where they differ
CONDA_NAME = {"redis": "redis-py"}
# conda-only entries: the interpreter, pip itself, and programs pip cannot install
CONDA_ONLY = {"python", "pip", "redis-server", "nats-server"}


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return {_split(r)[0]: _split(r)[1] for r in reqs}


def environment_requirements():
    names = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        m = re.match(r"^  - ([A-Za-z0-9_.\-]+)\s*([<>=!~][^#\s]*)?", line)
        if m:
            names[m.group(1).lower()] = m.group(2) or ""
    return names


def _split(req):
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", req.strip())
    return m.group(1).lower(), m.group(2).replace(" ", "")


def test_same_dependencies_and_bounds():
    pip = {CONDA_NAME.get(name, name): bound for name, bound in pyproject_requirements().items()}
    conda = {name: bound for name, bound in environment_requirements().items() if name not in CONDA_ONLY}
    assert pip == conda


def test_environment_installs_the_course_and_python_version_matches():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s+- -e \.\s", text, re.M), "environment.yml must install the course package"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimum = tuple(int(x) for x in re.fullmatch(r">=(\d+)\.(\d+)", project["requires-python"]).groups())
    pinned = re.search(r"^  - python=(\d+)\.(\d+)\s", text, re.M)
    assert pinned, "environment.yml must pin python=X.Y (the form repo2docker reads)"
    assert tuple(int(x) for x in pinned.groups()) >= minimum


def test_every_pyproject_dependency_is_explained():
    """Each dependency carries a one-line comment saying why the course needs it."""
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if re.match(r'^\s+"[A-Za-z0-9_.\-]+[<>=]', line):
            assert "#" in line, f"dependency without a reason: {line.strip()}"
