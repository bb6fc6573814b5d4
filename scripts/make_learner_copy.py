"""Build the course as learners get it: the lessons, the labs, the exercises and the `semantics`
package, without solutions/ and without anything else that holds their answers (the nbgrader
source, the tests' catalog of wrong solutions and the tests that read solutions/), nor the
instructor guide and the developers' tools. The result is a git repository with one commit, ready to
push as a repository or branch of its own; the README's Binder badge and the nbgitpuller link in
docs/instructor.md point to where it is published.

    python scripts/make_learner_copy.py OUT [--force]     (make learner-copy OUT=...)

OUT must not exist (or --force replaces it). Then, for example:

    git -C OUT remote add origin git@github.com:ORG/delivery-semantics-learners.git
    git -C OUT push --force origin main

What is left out, and why, is EXCLUDED below. The copy's README is this README without its
instructor and developer sections (between <!-- instructors --> and <!-- /instructors -->), and its
Makefile keeps `make lab` (installing requirements/learner.txt, no test tools) and `make clean`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: path prefix -> why it stays out of the learner copy
EXCLUDED = {
    "solutions/": "the answers",
    "nbgrader/": "the nbgrader source: the answers inside solution regions",
    "tests/": "the tests read solutions/ and hold a catalog of wrong solutions (tests/wrong_solutions)",
    "bench/": "developers' benchmarks (they grade the solutions)",
    "conftest.py": "pytest's hooks for the tests",
    ".ci/": "CI",
    "docs/instructor.md": "the instructor guide (quiz answers, the class plan)",
    "requirements/dev.txt": "the development lock (test tools)",
    "environment-dev.yml": "the development environment (test tools)",
    "scripts/make_exercises.py": "generates exercises from solutions/",
    "scripts/ladder.py": "the instructor guide's difficulty table, measured from solutions/",
    "scripts/make_learner_copy.py": "this script",
    "scripts/make_variants.py": "instructors' per-group variants",
    "scripts/make_figures.py": "developers' README figures",
    "scripts/store_outputs.py": "developers' output policy",
    "scripts/build_site.py": "the site build",
    "scripts/lock.py": "the lock for a class date",
    "site/": "the site's configuration",
}
LEARNER_TARGETS = {"$(STAMP)", "lab", "clean"}
CUT = re.compile(r"\n?<!-- instructors -->.*?<!-- /instructors -->\n?", re.S)
NOTE = ("> This is the **learner copy** of the course: the lessons, the labs and the exercises, without the\n"
        "> solutions and the instructors' material. Start with `make lab` (or the commands under\n"
        "> \"Without make\").\n\n")


def tracked_files(root: Path = ROOT) -> list[str]:
    """The repository's files (git's view: tracked and new, not ignored), as relative paths."""
    done = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root,
                          capture_output=True, check=True)
    return sorted(p for p in done.stdout.decode().split("\0") if p and (root / p).is_file())


def excluded(path: str) -> str | None:
    """Why ``path`` stays out of the learner copy, or None when learners get it."""
    for prefix, why in EXCLUDED.items():
        if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
            return why
    return None


def learner_readme(text: str) -> str:
    """The README without its instructor and developer sections, with a note on what this copy is."""
    body = CUT.sub("\n", text)
    title, _, rest = body.partition("\n")
    return f"{title}\n\n{NOTE}{rest.lstrip()}"


def learner_makefile(text: str) -> str:
    """The Makefile with `make lab` and `make clean` only, installing the learners' lock."""
    blocks = text.split("\n\n")
    kept = []
    for block in blocks:
        target = next((m.group(1) for line in block.splitlines()
                       if (m := re.match(r"^([^\s#=:]+):(?!=)", line))), None)
        if target == ".PHONY":
            block = re.sub(r"^\.PHONY:.*$", ".PHONY: " + " ".join(sorted(LEARNER_TARGETS - {"$(STAMP)"})),
                           block, flags=re.M)
        elif target is not None and target not in LEARNER_TARGETS:
            continue
        kept.append(block)
    return "\n\n".join(kept).replace("requirements/dev.txt", "requirements/learner.txt")


def build(out: Path, root: Path = ROOT, force: bool = False) -> list[str]:
    """Write the learner copy into ``out`` (a new git repository); return the files copied."""
    out = out.resolve()
    if out == root.resolve() or out.is_relative_to(root.resolve()):
        raise ValueError(f"out must be outside the repository, got {out}")
    if out.exists():
        if not force:
            raise FileExistsError(f"{out} exists: choose another folder or pass --force to replace it")
        shutil.rmtree(out)
    copied = []
    for path in tracked_files(root):
        if excluded(path):
            continue
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if path == "README.md":
            target.write_text(learner_readme((root / path).read_text(encoding="utf-8")), encoding="utf-8")
        elif path == "Makefile":
            target.write_text(learner_makefile((root / path).read_text(encoding="utf-8")), encoding="utf-8")
        else:
            shutil.copy2(root / path, target)
        copied.append(path)
    source = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    commit = source.stdout.strip() or "unknown"
    git = ["git", "-c", "user.name=Course", "-c", "user.email=course@localhost", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=out, check=True)
    subprocess.run([*git, "add", "-A"], cwd=out, check=True)
    subprocess.run([*git, "commit", "-q", "-m", f"Learner copy of the course (from {commit})"], cwd=out, check=True)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to create (outside this repository)")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    args = parser.parse_args(argv)
    try:
        copied = build(args.out, force=args.force)
    except (ValueError, FileExistsError) as exc:
        parser.error(str(exc))
    print(f"learner copy: {len(copied)} files in {args.out.resolve()} (a git repository on branch main); "
          f"push it with: git -C {args.out} push <learner repository> main")
    return 0


if __name__ == "__main__":
    sys.exit(main())
