"""The package's layout draws its architecture: imports flow one way, and no module imports
another that imports it back.

    semantics (facade, validation)
        sim/      the simulator            imports: validation
        views/    the teaching views       imports: sim, facade, validation
        grading/  the autograder           imports: sim, views (diagrams of counterexamples), validation
        labs/     the real-world labs      imports: validation, views (the labs' outcome plot)

Read from the source (``ast``), so that a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "semantics"

#: part -> the parts it may import (besides itself)
ALLOWED = {
    "sim": {"validation"},
    "views": {"sim", "facade", "validation"},
    "grading": {"sim", "views", "facade", "validation"},
    "labs": {"validation", "views"},
    "facade": {"sim", "validation"},
    "validation": set(),
}


def _part(module: str) -> str:
    """semantics.sim.nodes -> sim; semantics.facade -> facade; semantics -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every semantics module that ``path`` imports (absolute names)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "semantics":
                continue
            found.add(target)
            for alias in node.names:  # from . import servers: a module, not a name
                candidate = f"{target}.{alias.name}"
                if (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists():
                    found.add(candidate)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "semantics")
    return found


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_imports_flow_one_way():
    wrong = []
    for module, targets in _graph().items():
        part = _part(module)
        if part == "":  # the package's own __init__: the facade re-exports
            continue
        for target in targets:
            other = _part(target)
            if other and other != part and other not in ALLOWED[part]:
                wrong.append(f"{module} imports {target} ({part} may import {sorted(ALLOWED[part])})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    graph = _graph()
    modules = set(graph)

    def resolve(target: str) -> str | None:
        while target and target not in modules:
            target = target.rsplit(".", 1)[0] if "." in target else ""
        return target or None

    edges = {m: {t for t in map(resolve, graph[m]) if t and t != m and t != "semantics"} for m in graph}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                cycle = path[path.index(t):] + [t]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)


def test_every_part_is_a_package_with_a_docstring():
    for part in ("sim", "views", "grading", "labs"):
        init = PACKAGE / part / "__init__.py"
        assert init.exists(), f"semantics/{part}/ is not a package"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"semantics/{part} has no docstring"
