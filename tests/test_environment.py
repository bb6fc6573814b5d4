"""The environment files agree with pyproject.toml: the learners' environment (environment.yml, the
lock requirements/learner.txt) holds no test tools and exactly the versions CI tests
(requirements/dev.txt); the conda development environment (environment-dev.yml) names every
dependency by its conda-forge name with the same bounds; every package the code imports is declared;
postBuild's guard really detects a missing or editable install."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# PyPI name -> conda-forge name, where they differ (conda-forge's `playwright` is the Node.js tool)
CONDA_NAME = {"redis": "redis-py", "playwright": "playwright-python", "jupyter-core": "jupyter_core",
              "jupyter-client": "jupyter_client"}
# conda-only entries: the interpreter, pip itself, and programs pip cannot install
CONDA_ONLY = {"python", "pip", "redis-server", "nats-server"}
# import name -> distribution, where they differ
DISTRIBUTION = {"PIL": "pillow", "IPython": "ipython", "nats": "nats-py", "yaml": "pyyaml"}
LEARNER_EXTRAS = ("hub",)


def requirements(*groups: str) -> dict[str, Requirement]:
    reqs = []
    for group in groups:
        reqs += PROJECT["dependencies"] if group == "base" else PROJECT["optional-dependencies"][group]
    parsed = [Requirement(r) for r in reqs]
    return {canonicalize_name(r.name): r for r in parsed if canonicalize_name(r.name) != PROJECT["name"]}


def lock(name: str) -> dict[str, dict[str, str]]:
    """package -> {marker: version} of requirements/NAME (a package may be pinned per platform)."""
    pins: dict[str, dict[str, str]] = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(?:;\s*(.*))?", line.strip())
            assert m, f"requirements/{name}: not an exact pin: {line!r}"
            pins.setdefault(canonicalize_name(m.group(1)), {})[m.group(3) or ""] = m.group(2)
    return pins


def conda_dependencies(path: Path) -> tuple[dict[str, str], list[str]]:
    """(conda name -> version spec, pip lines) of an environment file."""
    names, pip, in_pip = {}, [], False
    text = path.read_text()
    for line in text[text.index("dependencies:"):].splitlines()[1:]:
        if re.match(r"^  - pip:\s*$", line):
            in_pip = True
            continue
        if in_pip and (m := re.match(r"^      - (.+?)\s*(#.*)?$", line)):
            pip.append(m.group(1))
            continue
        m = re.match(r"^  - ([A-Za-z0-9_.\-]+)\s*([<>=!~][^#\s]*)?", line)
        if m:
            in_pip = False
            names[m.group(1)] = m.group(2) or ""
    return names, pip


# -- pyproject.toml ----------------------------------------------------------------------------------


def test_every_dependency_has_an_upper_bound_on_its_major_version():
    for name, req in requirements("base", *PROJECT["optional-dependencies"]).items():
        uppers = [s for s in req.specifier if s.operator == "<"]
        assert uppers and any(s.operator == ">=" for s in req.specifier), f"{req}: needs >=low,<next-major"


def test_every_pyproject_dependency_is_explained():
    """Each dependency carries a one-line comment saying why the course needs it."""
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if re.match(r'^\s+"[A-Za-z0-9_.\-\[\],]+[<>=\[]', line):
            assert "#" in line, f"dependency without a reason: {line.strip()}"


def _imports(paths: list[Path]) -> set[str]:
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def _third_party(names: set[str]) -> set[str]:
    # the repository's own modules (scripts import each other; a lab's consumer process imports its
    # sibling modules by file name)
    local = {p.stem for p in ROOT.rglob("*.py") if ".venv" not in p.parts} | {"semantics", "wrong_solutions"}
    return {n for n in names - local - set(sys.stdlib_module_names)}


@pytest.mark.parametrize("where, groups", [
    ("semantics", ("base",)),
    ("scripts tests bench conftest.py", ("base", "test", "site", "lock")),
])
def test_every_imported_package_is_declared(where, groups):
    """A package imported only because another one happens to pull it in breaks on the next release
    of that other one: every import resolves to a declared distribution."""
    paths = []
    for part in where.split():
        p = ROOT / part
        paths += [p] if p.is_file() else sorted(p.rglob("*.py"))
    declared = set(requirements(*groups))
    missing = {name for name in _third_party(_imports(paths))
               if canonicalize_name(DISTRIBUTION.get(name, name)) not in declared}
    assert not missing, f"imported in {where} but not declared in pyproject.toml ({groups}): {sorted(missing)}"


# -- the lock ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, groups", [("learner.txt", ("base", *LEARNER_EXTRAS)),
                                          ("dev.txt", ("base", "hub", "test", "site", "lock"))])
def test_lock_pins_every_dependency_within_its_bounds(name, groups):
    pins = lock(name)
    for package, req in requirements(*groups).items():
        assert package in pins, f"requirements/{name} does not pin {package}: run `make lock`"
        for version in pins[package].values():
            assert req.specifier.contains(version, prereleases=True), \
                f"requirements/{name}: {package}=={version} is outside pyproject.toml's {req}: run `make lock`"


def test_learners_get_exactly_the_versions_ci_tests_and_no_test_tools():
    learner, dev = lock("learner.txt"), lock("dev.txt")
    for package, versions in learner.items():
        assert package in dev and set(versions.values()) <= set(dev[package].values()), \
            f"{package} {versions} in the learners' lock, {dev.get(package)} in the tested one"
    # the tools only the tests, the site and the lock use (nbformat, nbclient, jupyter_core and psutil
    # are also JupyterLab's own dependencies: they are in any Jupyter environment)
    tools = {"pytest", "hypothesis", "nbval", "papermill", "simpy", "playwright", "pytest-timeout", "nbgrader",
             "jupyter-book", "uv"}
    assert tools <= set(requirements("test", "site", "lock"))
    assert not tools & set(learner), f"test tools in the learners' lock: {sorted(tools & set(learner))}"
    assert {"nbgitpuller", "notebook"} <= set(learner)


# -- environment files -----------------------------------------------------------------------------------


def test_learner_environment_installs_the_lock_and_the_course_not_editable():
    names, pip = conda_dependencies(ROOT / "environment.yml")
    assert set(names) == CONDA_ONLY, f"environment.yml: Python packages belong in the lock, found {set(names) - CONDA_ONLY}"
    assert pip == ["-r requirements/learner.txt", "."], pip
    minimum = tuple(int(x) for x in re.fullmatch(r">=(\d+)\.(\d+)", PROJECT["requires-python"]).groups())
    pinned = re.search(r"^  - python=(\d+)\.(\d+)\s", (ROOT / "environment.yml").read_text(), re.M)
    assert pinned, "environment.yml must pin python=X.Y (the form repo2docker reads)"
    assert tuple(int(x) for x in pinned.groups()) >= minimum


def test_development_environment_names_every_dependency_as_conda_forge_does():
    names, pip = conda_dependencies(ROOT / "environment-dev.yml")
    expected = {CONDA_NAME.get(name, name): str(req.specifier) for name, req
                in requirements("base", "hub", "test", "site", "lock").items()}
    conda = {name: spec for name, spec in names.items() if name not in CONDA_ONLY}

    def normal(spec: str) -> set[str]:
        return set(spec.replace(" ", "").split(","))

    assert set(conda) == set(expected), (sorted(set(conda) - set(expected)), sorted(set(expected) - set(conda)))
    for name, spec in expected.items():
        assert normal(conda[name]) == normal(spec), f"environment-dev.yml {name}{conda[name]} vs pyproject {spec}"
    assert "playwright" not in names, "conda-forge's playwright is the Node.js tool: use playwright-python"
    assert pip == ["-e ."]


# -- postBuild's guard -----------------------------------------------------------------------------------


def _check(python: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "check_install.py"), "--python", python],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_guard_detects_a_missing_install_that_a_plain_import_misses(tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    bare = str(tmp_path / "bare" / "bin" / "python")
    # the old guard, `python -c "import semantics"` in the repository, is fooled by the semantics/ folder
    assert subprocess.run([bare, "-c", "import semantics"], cwd=ROOT).returncode == 0
    done = _check(bare)
    assert done.returncode == 1 and "not installed" in done.stderr, done.stderr


def test_guard_refuses_an_editable_install():
    import semantics

    if not Path(semantics.__file__).resolve().is_relative_to(ROOT):
        pytest.skip("this environment has the course installed non-editable (tests/test_install.py covers that)")
    done = _check(sys.executable)
    assert done.returncode == 1 and "editable" in done.stderr, done.stderr


def test_postbuild_runs_the_guard_and_installs_non_editable():
    text = (ROOT / "postBuild").read_text()
    assert "scripts/check_install.py" in text and "pip install --no-deps ." in text
    assert "-e ." not in text.replace("# ", "")
