"""No answer in sight: no exercise's reference solution appears in what a learner reads before it (the
README, every notebook in notebooks/, and the library code the lessons show with inspect.getsource).

The comparison is on normalised source: each class of a solution cell and each of its methods that
does something (four statements or more) is parsed, its docstrings dropped and its local names
(arguments, variables) renamed in order of appearance, and its abstract syntax tree compared with
every class and function of every code block the learner can read (code cells, fenced and indented
code in markdown). Reformatting, comments, renamed variables or another class name do not hide a
copy; a different design does not match.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
SIGNIFICANT = 4  # statements (nested ones counted): a method this size is an answer, not an idiom


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


class _Canonical(ast.NodeTransformer):
    """Drops docstrings, renames the class, and renames a function's arguments and local variables
    v0, v1, ... in order of first appearance (attributes, calls of other names and constants stay)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def local(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    @staticmethod
    def _body(body: list) -> list:
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        return body or [ast.Pass()]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        node.name = "C"
        node.body = self._body(node.body)
        node.decorator_list = []
        return self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        outer, self.names = self.names, {}
        node.body = self._body(node.body)
        node.returns = None
        for arg in node.args.args + node.args.kwonlyargs:
            arg.arg = self.local(arg.arg)
            arg.annotation = None
        node = self.generic_visit(node)
        self.names = outer
        return node

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.names or isinstance(node.ctx, ast.Store):
            node.id = self.local(node.id)
        return node


def canonical(node: ast.AST) -> str:
    """The normalised form of a class or a function (see the module docstring)."""
    copy = ast.parse(ast.unparse(node)).body[0]
    return ast.dump(_Canonical().visit(copy), annotate_fields=False)


def _statements(node: ast.AST) -> int:
    return sum(isinstance(n, ast.stmt) for n in ast.walk(node)) - 1


def answers() -> dict[str, tuple[str, str]]:
    """Normalised form -> (solution notebook, what it is) for every class of every solution cell, and for
    every method of it big enough to be an answer on its own."""
    out = {}
    for path in SOLUTIONS:
        for cell in _cells(path):
            if "solution" not in cell.get("metadata", {}).get("tags", []):
                continue
            code = "\n".join(line for line in _source(cell).split("\n") if line.strip() not in MARKERS)
            for node in ast.parse(code).body:
                if not isinstance(node, ast.ClassDef):
                    continue
                out[canonical(node)] = (path.name, f"class {node.name}")
                for method in node.body:
                    if isinstance(method, ast.FunctionDef) and _statements(method) >= SIGNIFICANT:
                        out[canonical(method)] = (path.name, f"{node.name}.{method.name}")
    return out


FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)


def code_blocks(markdown: str) -> list[str]:
    """The code a reader sees in markdown: fenced blocks, and blocks indented by four spaces."""
    blocks = FENCE.findall(markdown)
    rest = FENCE.sub("", markdown)
    chunk: list[str] = []
    for line in rest.split("\n") + [""]:
        if line.startswith("    ") or (chunk and not line.strip()):
            chunk.append(line)
        else:
            if chunk:
                blocks.append(textwrap.dedent("\n".join(chunk)))
            chunk = []
    return blocks


def readable() -> dict[str, list[str]]:
    """Where a learner can read code -> its code blocks: the README, every notebook in notebooks/ (code
    cells and the code in markdown cells), and the library modules the lessons show (protocols, patterns)."""
    out = {"README.md": code_blocks((ROOT / "README.md").read_text(encoding="utf-8"))}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        blocks = []
        for cell in _cells(path):
            source = _source(cell)
            if cell["cell_type"] == "code":
                blocks.append("\n".join(line for line in source.split("\n") if not line.lstrip().startswith(("%", "!"))))
            else:
                blocks += code_blocks(source)
        out[f"notebooks/{path.name}"] = blocks
    for path in [ROOT / "semantics" / "sim" / "protocols.py", *sorted((ROOT / "semantics" / "sim" / "patterns").glob("*.py"))]:
        out[path.relative_to(ROOT).as_posix()] = [path.read_text(encoding="utf-8")]
    return out


def found(blocks: dict[str, list[str]]) -> list[str]:
    """Each place where a solution's class or method appears, normalised: 'where: what (notebook)'."""
    wanted = answers()
    hits = []
    for where, sources in blocks.items():
        for source in sources:
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                    hit = wanted.get(canonical(node))
                    if hit is not None:
                        hits.append(f"{where}: {hit[1]} (the answer of {hit[0]})")
    return hits


def test_the_detector_knows_every_answer():
    kinds = answers().values()
    assert {notebook for notebook, _ in kinds} == {p.name for p in SOLUTIONS}
    assert sum(what.startswith("class ") for _, what in kinds) >= len(SOLUTIONS)


def test_no_solution_is_in_the_readme_a_lesson_or_the_code_lessons_show():
    hits = found(readable())
    assert not hits, "\n".join(hits)


def _disguised(path: Path) -> str:
    """A solution class as someone might paste it: another class name, no comments or docstrings,
    renamed variables, other line breaks."""
    cell = next(c for c in _cells(path) if "solution" in c.get("metadata", {}).get("tags", []))
    code = "\n".join(line for line in _source(cell).split("\n") if line.strip() not in MARKERS)
    node = next(n for n in ast.parse(code).body if isinstance(n, ast.ClassDef))
    node.name = "MyOwnIdea"
    text = ast.unparse(node)  # no comments, other layout
    for name in ("seq", "msg_id", "request", "offset", "key"):
        text = re.sub(rf"(?<![.\w]){name}\b", f"{name}_x", text)  # a variable, not an attribute
    return text


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_a_planted_copy_in_the_readme_or_a_notebook_is_found(path, tmp_path):
    planted = _disguised(path)
    readme = (ROOT / "README.md").read_text(encoding="utf-8") + f"\n```python\n{planted}\n```\n"
    assert any("class" in hit and path.name in hit for hit in found({"README.md": code_blocks(readme)}))
    indented = textwrap.indent(planted, "    ")
    assert found({"README.md": code_blocks(f"Some prose.\n\n{indented}\n\nMore prose.\n")})
    lesson = json.loads((ROOT / "notebooks" / "03-exactly-once.ipynb").read_text(encoding="utf-8"))
    lesson["cells"].append({"cell_type": "code", "metadata": {}, "source": planted, "outputs": [],
                            "execution_count": None})
    copy = tmp_path / "03-exactly-once.ipynb"
    copy.write_text(json.dumps(lesson), encoding="utf-8")
    blocks = [_source(c) for c in lesson["cells"] if c["cell_type"] == "code"]
    assert any(path.name in hit for hit in found({copy.name: blocks}))


def test_a_method_alone_is_found_and_a_different_design_is_not():
    # exercise 6's answer, one method pasted into a lesson's helper class: found
    cell = next(c for c in _cells(SOLUTIONS[5]) if "solution" in c.get("metadata", {}).get("tags", []))
    code = "\n".join(line for line in _source(cell).split("\n") if line.strip() not in MARKERS)
    method = next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.FunctionDef))
    helper = f"class Helper:\n    x = 1\n\n{textwrap.indent(ast.unparse(method), '    ')}\n"
    assert found({"lesson": [helper]})
    # the same idea with a different structure (a sequence window instead of a time window): not a copy
    other = '''
class Other(Node):
    def on_message(self, seq, body):
        with self.atomic():
            seen = self.durable.get("seen", frozenset())
            if seq not in seen:
                self.apply(body)
                self.durable["seen"] = frozenset(s for s in seen | {seq} if s > seq - 12)
        self.ack(seq)
'''
    assert not found({"lesson": [other]})
