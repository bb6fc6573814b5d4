"""Per-group variants of a lesson or lab: the same notebook with another seed and other parameters,
so that neighbouring groups in a classroom see different numbers (and cannot copy answers) while
every group runs the same teaching.

Parameters are injected with papermill into the notebook's cell tagged `parameters` (papermill adds
a cell tagged `injected-parameters` after it). With --prepare-only, the notebooks are only
parameterised, not run: their stored outputs (which belong to the original parameters) are cleared,
and the learners run them. Without it, papermill executes each variant (an answer key with outputs).

Recipes (see docs/instructor.md):

    # 8 groups, seeds 101..108, everything else as in the lesson
    python scripts/make_variants.py notebooks/02-at-least-once.ipynb --groups 8 --seed-from 101 --prepare-only

    # a harsher network for everyone, and a different loss per group (cycled)
    python scripts/make_variants.py notebooks/02-at-least-once.ipynb notebooks/03-exactly-once.ipynb \\
        --groups 6 --set ACK_LOSS=0.3 --vary LOSS=0.1,0.2,0.3 --prepare-only

    # answer keys: the same variants, executed
    python scripts/make_variants.py notebooks/06-lab-sqlite.ipynb --groups 4 --out variants/keys

Output: OUT/group-01/<notebook>.ipynb, ... and OUT/manifest.json (group -> parameters), which is
also the instructor's key to which numbers each group should see. Every value is checked against
the parameters cell before anything is written: the name must exist there, the type must match its
default (an int where an int is expected; an int is accepted for a float), probabilities
(names ending in LOSS, PROB or DUPLICATE) lie in [0, 1], counts and durations are not negative.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
MAX_GROUPS = 500
MAX_SEED = 2**32 - 1
# Folders whose notebooks are collected by the tests or generated: variants must not land there.
PROTECTED = ("notebooks", "exercises", "solutions", "tests", "semantics")


class VariantError(ValueError):
    """A bad argument: the message names the parameter, the value given and what is allowed."""


def parameters_of(notebook: Path) -> dict[str, Any]:
    """The names and default values assigned in ``notebook``'s cell tagged `parameters`."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise VariantError(f"{notebook}: no code cell tagged 'parameters'; papermill cannot inject values")
    defaults: dict[str, Any] = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                defaults[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue  # not a plain value: cannot be overridden safely
    return defaults


def parse_assignment(text: str, option: str) -> tuple[str, list[Any]]:
    """'NAME=v' or 'NAME=v1,v2' -> (NAME, [values]). Values are Python literals (0.2, 3, True, "m2");
    anything else is taken as a string (CRASH_MESSAGE=m3)."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier() or not raw.strip():
        raise VariantError(f"{option} expects NAME=VALUE (or NAME=V1,V2,... for --vary), got {text!r}")
    pieces = [piece.strip() for piece in raw.split(",")]
    if any(not piece for piece in pieces):
        raise VariantError(f"{option} {text!r} has an empty value")
    return name, [_literal(piece) for piece in pieces]


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def check_value(name: str, value: Any, default: Any, notebook: Path) -> Any:
    """``value`` for parameter ``name`` (whose default is ``default``), checked; returns it."""
    where = f"{name} in {notebook.name}"
    if isinstance(default, bool) or isinstance(value, bool):
        if not (isinstance(default, bool) and isinstance(value, bool)):
            raise VariantError(f"{where} must be {type(default).__name__} like its default {default!r}, "
                               f"got {value!r}")
    elif isinstance(default, int):
        if not isinstance(value, int):
            raise VariantError(f"{where} must be an int like its default {default!r}, got {value!r} "
                               f"of type {type(value).__name__}")
    elif isinstance(default, float):
        if not isinstance(value, (int, float)):
            raise VariantError(f"{where} must be a number like its default {default!r}, got {value!r} "
                               f"of type {type(value).__name__}")
        value = float(value)
    elif not isinstance(value, type(default)):
        raise VariantError(f"{where} must be a {type(default).__name__} like its default {default!r}, "
                           f"got {value!r} of type {type(value).__name__}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        upper = name.upper()
        if upper.endswith(("LOSS", "PROB", "DUPLICATE")) and not 0.0 <= value <= 1.0:
            raise VariantError(f"{where} is a probability: it must be in [0, 1], got {value!r}")
        if upper == "SEED" and not 0 <= value <= MAX_SEED:
            raise VariantError(f"{where} must be in [0, {MAX_SEED}], got {value!r}")
        if value < 0:
            raise VariantError(f"{where} must not be negative, got {value!r}")
    return value


def plan(notebooks: Sequence[Path], groups: int, *, seed_from: int | None = None,
         fixed: Mapping[str, Any] | None = None,
         varied: Mapping[str, Sequence[Any]] | None = None) -> list[dict[str, dict[str, Any]]]:
    """The parameters of every (group, notebook): a list (one entry per group) of
    {notebook name: {parameter: value}}. Raises VariantError before anything is written."""
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise VariantError(f"groups must be an int, got {groups!r}")
    if not 1 <= groups <= MAX_GROUPS:
        raise VariantError(f"groups must be in [1, {MAX_GROUPS}], got {groups}")
    if seed_from is not None and (isinstance(seed_from, bool) or not isinstance(seed_from, int)
                                  or not 0 <= seed_from <= MAX_SEED - groups):
        raise VariantError(f"seed_from must be an int in [0, {MAX_SEED - groups}], got {seed_from!r}")
    fixed, varied = dict(fixed or {}), {k: list(v) for k, v in (varied or {}).items()}
    if not notebooks:
        raise VariantError("give at least one notebook")
    both = set(fixed) & set(varied)
    if both:
        raise VariantError(f"{', '.join(sorted(both))}: given both to --set and --vary; choose one")
    for name, values in varied.items():
        if not values:
            raise VariantError(f"--vary {name} needs at least one value")
    if "SEED" in fixed and groups > 1 and seed_from is None:
        raise VariantError("--set SEED=... gives every group the same seed; use --seed-from or --vary SEED=...")
    result: list[dict[str, dict[str, Any]]] = [{} for _ in range(groups)]
    for notebook in notebooks:
        if not notebook.is_file():
            raise VariantError(f"notebook {notebook} does not exist")
        defaults = parameters_of(notebook)
        for name in [*fixed, *varied]:
            if name not in defaults:
                raise VariantError(f"{name} is not a parameter of {notebook.name}; its parameters cell "
                                   f"sets: {', '.join(defaults) or 'nothing'}")
        if seed_from is not None and "SEED" not in defaults:
            raise VariantError(f"{notebook.name} has no SEED parameter; drop --seed-from")
        for group in range(groups):
            params: dict[str, Any] = {}
            if seed_from is not None:
                params["SEED"] = check_value("SEED", seed_from + group, defaults["SEED"], notebook)
            for name, value in fixed.items():
                params[name] = check_value(name, value, defaults[name], notebook)
            for name, values in varied.items():
                params[name] = check_value(name, values[group % len(values)], defaults[name], notebook)
            result[group][notebook.name] = params
    return result


def check_output_dir(out: Path, force: bool) -> Path:
    out = out.resolve()
    for name in PROTECTED:
        protected = (ROOT / name).resolve()
        if out == protected or out.is_relative_to(protected):
            raise VariantError(f"--out {out} is inside {name}/, whose notebooks the tests collect or "
                               f"the generator owns; choose another folder (default: variants/)")
    if out.exists() and not out.is_dir():
        raise VariantError(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise VariantError(f"--out {out} is not empty; pass --force to write over it")
    return out


def make(notebooks: Sequence[Path], out: Path, groups: int, *, seed_from: int | None = None,
         fixed: Mapping[str, Any] | None = None, varied: Mapping[str, Sequence[Any]] | None = None,
         prepare_only: bool = True, force: bool = False, kernel_name: str = "python3") -> list[Path]:
    """Write the variants; return the notebooks written. See the module docstring."""
    import logging

    import papermill

    # papermill's parameter-cell parser warns about comments that contain "=": harmless here
    logging.getLogger("papermill.translators").setLevel(logging.ERROR)
    notebooks = [Path(n).resolve() for n in notebooks]
    names = [n.name for n in notebooks]
    if len(set(names)) != len(names):
        raise VariantError(f"two notebooks share a file name: {names}")
    groups_params = plan(notebooks, groups, seed_from=seed_from, fixed=fixed, varied=varied)
    out = check_output_dir(Path(out), force)
    written: list[Path] = []
    manifest: dict[str, Any] = {"prepared_only": prepare_only, "groups": {}}
    for group, per_notebook in enumerate(groups_params, start=1):
        folder = out / f"group-{group:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        manifest["groups"][folder.name] = {}
        for notebook in notebooks:
            params = per_notebook[notebook.name]
            target = folder / notebook.name
            papermill.execute_notebook(str(notebook), str(target), parameters=params, prepare_only=prepare_only,
                                       kernel_name=kernel_name, cwd=str(notebook.parent), progress_bar=False)
            nb = nbformat.read(target, as_version=4)
            if prepare_only:  # stored outputs belong to the original parameters: the learners run it
                for cell in nb.cells:
                    if cell.cell_type == "code":
                        cell.outputs, cell.execution_count = [], None
            nb.metadata["course_variant"] = {"group": group, "source": _display(notebook), "parameters": params}
            nbformat.write(nb, target)
            manifest["groups"][folder.name][notebook.name] = params
            written.append(target)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return written


def _display(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path, help="lesson or lab notebooks with a parameters cell")
    parser.add_argument("--groups", type=int, required=True, help=f"number of groups, 1..{MAX_GROUPS}")
    parser.add_argument("--out", type=Path, default=ROOT / "variants", help="output folder (default: variants/)")
    parser.add_argument("--seed-from", type=int, default=None,
                        help="group g gets SEED = SEED_FROM + g - 1 (default: the notebook's own SEED)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="the same value for every group (repeatable)")
    parser.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2,...",
                        help="group g gets the g-th value, cycling (repeatable)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="only inject the parameters (papermill prepare_only), clear outputs; do not run")
    parser.add_argument("--force", action="store_true", help="write into a non-empty --out")
    args = parser.parse_args(argv)
    try:
        fixed: dict[str, Any] = {}
        for text in args.set:
            name, values = parse_assignment(text, "--set")
            if len(values) != 1:
                raise VariantError(f"--set {text!r} gives {len(values)} values; use --vary for one per group")
            fixed[name] = values[0]
        varied = dict(parse_assignment(text, "--vary") for text in args.vary)
        written = make(args.notebooks, args.out, args.groups, seed_from=args.seed_from, fixed=fixed,
                       varied=varied, prepare_only=args.prepare_only, force=args.force)
    except VariantError as exc:
        parser.error(str(exc))
    print(f"{len(written)} notebook(s) in {args.out} ({'prepared, not run' if args.prepare_only else 'executed'});"
          f" parameters per group in {args.out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
