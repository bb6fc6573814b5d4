"""Lock the course's environments for a class date: the exact versions `make test` tests are the
versions learners install.

    requirements/dev.txt       everything `make` installs (the course's dependencies, the hub, test,
                               site and lock extras): CI tests exactly these
    requirements/learner.txt   what learners need (the dependencies and the hub extra, no test
                               tools), resolved under the constraint of dev.txt, so that every
                               version a learner gets is the version CI tested

One cross-platform lock each (uv's universal resolution: Linux, macOS and Windows, every Python the
package supports; environment markers keep platform-only packages such as pywinpty or appnope), with
the fewest versions per package across Python versions (numpy is the same on 3.11 and 3.13), and
only releases published up to the class date (--date, default today), so that re-running the
command for the same date gives the same lock.

Usage: python scripts/lock.py [--date YYYY-MM-DD] [--check]   (make lock DATE=2026-09-01)
    --check   resolve again into a temporary folder and fail if requirements/ differs (a lock that
              no longer matches pyproject.toml's bounds)
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "requirements"
PYTHON = "3.11"   # the lowest Python the course supports (requires-python): resolution covers it and up
LOCKS = {          # file -> (extra, what it is for)
    "dev.txt": ("dev", "the development environment `make` installs; CI tests exactly these versions"),
    "learner.txt": ("hub", "the learners' environment (laptops, Binder, hub images): no test tools"),
}


def _uv() -> str:
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if not found:
        sys.exit("uv is not installed: pip install -e '.[lock]' (make installs it)")
    return found


def compile_lock(extra: str, output: Path, date: dt.date, constraint: Path | None = None) -> None:
    """Resolve pyproject.toml with ``extra`` into ``output`` (a pip requirements file)."""
    cmd = [_uv(), "pip", "compile", str(ROOT / "pyproject.toml"), "--extra", extra, "--universal",
           "--fork-strategy", "fewest", "--python-version", PYTHON, "--no-header", "--quiet",
           "--exclude-newer", f"{date + dt.timedelta(days=1):%Y-%m-%d}", "-o", str(output)]
    if constraint is not None:
        cmd += ["--constraint", str(constraint)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    purpose = dict(LOCKS)[output.name][1]
    body = output.read_text(encoding="utf-8")
    if constraint is not None:  # uv notes the constraint file by the path it was given: name it as committed
        body = body.replace(f"-c {constraint}", "-c requirements/dev.txt")
    output.write_text(f"# {purpose}.\n# Locked for the class of {date:%Y-%m-%d} (releases up to that day) by "
                      f"`make lock DATE={date:%Y-%m-%d}` (scripts/lock.py): do not edit.\n"
                      f"# Install: python -m pip install -r requirements/{output.name}, then the course "
                      f"(pip install . ; make uses -e .)\n" + body, encoding="utf-8")


def lock(folder: Path, date: dt.date) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    compile_lock("dev", folder / "dev.txt", date)
    compile_lock("hub", folder / "learner.txt", date, constraint=folder / "dev.txt")


def locked_date(folder: Path = OUT) -> dt.date:
    """The class date the lock in ``folder`` was made for (from its header)."""
    for line in (folder / "dev.txt").read_text(encoding="utf-8").splitlines():
        if "Locked for the class of " in line:
            return dt.date.fromisoformat(line.split("Locked for the class of ")[1][:10])
    raise ValueError(f"{folder / 'dev.txt'} has no 'Locked for the class of' line")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--date", type=dt.date.fromisoformat, default=None,
                        help="the class date: only releases published up to it (default: today, or with "
                             "--check the date of the current lock)")
    parser.add_argument("--check", action="store_true", help="fail if requirements/ is not what a new lock gives")
    args = parser.parse_args(argv)
    if not args.check:
        date = args.date or dt.date.today()
        lock(OUT, date)
        print(f"locked requirements/dev.txt and requirements/learner.txt for {date}")
        return 0
    date = args.date or locked_date()
    with tempfile.TemporaryDirectory() as tmp:
        lock(Path(tmp), date)
        differ = [name for name in LOCKS if not filecmp.cmp(Path(tmp) / name, OUT / name, shallow=False)]
    if differ:
        print(f"requirements/{', '.join(differ)} differ from a new lock for {date}: run `make lock DATE={date}`",
              file=sys.stderr)
        return 1
    print(f"requirements/ is the lock for {date}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
