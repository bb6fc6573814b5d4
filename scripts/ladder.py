"""The exercise ladder's difficulty curve, measured: for each rung, the size of its reference answer
and of the change from the previous rung's answer, the concepts and the API elements it adds, the
invariants that can break, and an estimated time, as a markdown table with the rungs that fit a 2-hour
and a 3-hour lab.

Measured from the sources, never typed by hand: the answers are the solution regions of solutions/
(parsed, so that comments, docstrings and layout do not count), the invariants and concepts are the
grader's specifications (``semantics.grading.exercises``). The estimate is a stated formula of those
measures (``minutes``), so that an instructor can see what it rests on.

Usage:
    python scripts/ladder.py            print the table
    python scripts/ladder.py --write    write it into docs/instructor.md (between the LADDER markers)
    python scripts/ladder.py --check    exit 1 if docs/instructor.md does not hold the table this prints
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "instructor.md"
BEGIN, END = "<!-- LADDER -->", "<!-- /LADDER -->"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
#: The Node API a protocol uses: each, the first time a rung's answer uses it, is one of its new elements.
API = ("send", "ack", "set_timer", "cancel_timer", "apply", "durable", "atomic", "now", "peer", "note", "on_start",
       "on_send", "on_message", "on_ack", "on_timer")
#: The estimate: a fixed part (read the rung, answer its question, run the starting point, run the check),
#: then per line of the change and per new concept. Calibrated on the ladder's first rungs, which the
#: two-session plan gives 20 minutes for two.
BASE_MINUTES, PER_LINE, PER_CONCEPT = 4.0, 0.35, 2.5
LABS = (("a 2-hour lab", 120), ("a 3-hour lab", 180))


@dataclass(frozen=True)
class Rung:
    number: int
    title: str
    notebook: str
    lines: int                   # statement lines of the reference answer
    changed: int                 # of which not in the previous rung's answer
    concepts: tuple[str, ...]
    api: tuple[str, ...]         # Node API elements used for the first time on the ladder
    invariants: tuple[str, ...]  # every invariant that can break here
    new_invariants: tuple[str, ...]

    @property
    def minutes(self) -> int:
        """The estimate, rounded to 5 minutes."""
        raw = BASE_MINUTES + PER_LINE * self.changed + PER_CONCEPT * len(self.concepts)
        return max(5, int(5 * round(raw / 5)))


def _solution(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    cell = next(c for c in cells if "solution" in c.get("metadata", {}).get("tags", []))
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    return "\n".join(line for line in source.split("\n") if line.strip() not in MARKERS)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return tree


def answer_lines(path: Path) -> list[str]:
    """The reference answer's lines, normalised (no comments, docstrings or blank lines; one layout)."""
    tree = _strip_docstrings(ast.parse(_solution(path)))
    return [line.strip() for line in ast.unparse(tree).split("\n") if line.strip()]


def api_used(path: Path) -> set[str]:
    used = set()
    for node in ast.walk(ast.parse(_solution(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self" \
                and node.attr in API:
            used.add(node.attr)
        elif isinstance(node, ast.FunctionDef) and node.name in API:
            used.add(node.name)
    return used


def measure() -> list[Rung]:
    sys.path.insert(0, str(ROOT))
    from semantics.grading import EXERCISES

    rungs = []
    previous: list[str] = []
    seen_api: set[str] = set()
    seen_invariants: set[str] = set()
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        ex = EXERCISES[int(path.name[:2])]
        lines = answer_lines(path)
        kept = sum(b.size for b in difflib.SequenceMatcher(None, previous, lines, autojunk=False).get_matching_blocks())
        api = api_used(path)
        names = ex.names
        rungs.append(Rung(ex.number, ex.title, path.name, len(lines), len(lines) - kept, ex.concepts,
                          tuple(a for a in API if a in api - seen_api), names,
                          tuple(n for n in names if n not in seen_invariants)))
        previous = lines
        seen_api |= api
        seen_invariants |= set(names)
    return rungs


def table(rungs: list[Rung]) -> str:
    out = ["| rung | answer lines | changed from the previous answer | concepts added | API first used | "
           "invariants that can break (new in **bold**) | estimate | total |",
           "|---|---|---|---|---|---|---|---|"]
    total = 0
    for r in rungs:
        total += r.minutes
        invariants = ", ".join(f"**{n}**" if n in r.new_invariants else n for n in r.invariants
                               if n not in ("nodes keep to themselves", "run completes"))
        api = ", ".join(f"`{a}`" for a in r.api) or "none"
        out.append(f"| {r.number} {r.title} (`{r.notebook}`) | {r.lines} | {r.changed} | "
                   f"{len(r.concepts)}: {'; '.join(r.concepts)} | {api} | {invariants} | {r.minutes} min | "
                   f"{total} min |")
    out.append("")
    out.append(f"Estimate = {BASE_MINUTES:g} min + {PER_LINE:g} min per changed line + {PER_CONCEPT:g} min per "
               "concept, rounded to 5 (lines: the reference answer's statements, comments and docstrings left "
               "out; changed: those not in the previous rung's answer, by a line diff). Every rung also checks "
               "**nodes keep to themselves** and **run completes**.")
    out.append("")
    for label, budget in LABS:
        out.append(f"- {label} of exercises only: " + _fits(rungs, budget))
    return "\n".join(out)


def _fits(rungs: list[Rung], budget: int) -> str:
    """The longest run of consecutive rungs from 1 that fits ``budget``, and what else could fill it."""
    total, upto = 0, 0
    for r in rungs:
        if total + r.minutes > budget:
            break
        total, upto = total + r.minutes, r.number
    text = f"rungs 1 to {upto} ({total} min)"
    rest = [r for r in rungs if r.number > upto]
    if rest:
        text += (f"; or rungs 1 to 3 and then {', '.join(str(r.number) for r in rest[:3] if r.number > 3)} as a "
                 "second session's start" if upto < 3 else f"; the rest ({', '.join(str(r.number) for r in rest)}) "
                 f"take {sum(r.minutes for r in rest)} min more")
    return text


def _shown(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _section(text: str) -> str:
    return f"{BEGIN}\n{text}\n{END}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write the table into docs/instructor.md")
    group.add_argument("--check", action="store_true", help="fail if docs/instructor.md does not hold it")
    args = parser.parse_args(argv)
    text = table(measure())
    if not (args.write or args.check):
        print(text)
        return 0
    guide = GUIDE.read_text(encoding="utf-8")
    if BEGIN not in guide or END not in guide:
        print(f"{_shown(GUIDE)} has no {BEGIN} ... {END} section", file=sys.stderr)
        return 1
    start, end = guide.index(BEGIN), guide.index(END) + len(END)
    current = guide[start:end]
    if args.check:
        if current != _section(text):
            diff = difflib.unified_diff(current.split("\n"), _section(text).split("\n"), "docs/instructor.md",
                                        "scripts/ladder.py", lineterm="", n=0)
            print("the difficulty table in docs/instructor.md is stale (run python scripts/ladder.py --write):\n"
                  + "\n".join(list(diff)[:30]), file=sys.stderr)
            return 1
        print("docs/instructor.md holds the current difficulty table")
        return 0
    GUIDE.write_text(guide[:start] + _section(text) + guide[end:], encoding="utf-8")
    print(f"wrote the difficulty table into {_shown(GUIDE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
