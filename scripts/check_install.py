"""Is the course installed where a learner's kernel finds it, whatever folder it starts in?

Imports `semantics` in a fresh interpreter started outside the repository, in isolated mode (no
current directory on sys.path, no PYTHONPATH), exactly as a kernel on a hub finds it. Exit 0 when
the package comes from the environment's site-packages; exit 1, saying why, when it is missing, or
when it resolves into this repository (an editable install: on a JupyterHub the repository sits in
the home directory that each learner's persistent volume hides, and `import semantics` breaks).

postBuild (repo2docker) runs it and installs the course non-editable when it fails. Usage:
    python scripts/check_install.py [--python PYTHON]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import semantics, sys; sys.stdout.write(semantics.__file__)"


def problem(python: str = sys.executable, root: Path = ROOT) -> str | None:
    """None when ``python`` imports an installed (non-editable) course; else what is wrong."""
    with tempfile.TemporaryDirectory() as elsewhere:
        done = subprocess.run([python, "-I", "-c", PROBE], cwd=elsewhere, capture_output=True, text=True,
                              timeout=120)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"{python} cannot import semantics outside the repository ({last}): the course is not installed"
    location = Path(done.stdout.strip()).resolve()
    if location.is_relative_to(root.resolve()):
        return (f"{python} imports semantics from the repository ({location}): an editable install, which a hub's "
                f"home volume hides; install it with `python -m pip install --no-deps .`")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter to check (default: this one)")
    args = parser.parse_args(argv)
    found = problem(args.python)
    if found:
        print(found, file=sys.stderr)
        return 1
    print(f"semantics is installed for {args.python} (not editable)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
