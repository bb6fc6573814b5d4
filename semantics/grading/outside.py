"""What a node must not touch: state outside itself, threads, and the simulator.

A node's state lives on ``self`` (volatile: a crash loses it) or in ``self.durable``. State kept
anywhere else survives crashes without being durable, is shared by every node and every run, and
makes a run depend on the runs before it: a class attribute (``seen = set()`` in the class body,
mutated by handlers), a global variable of the notebook, a thread that keeps running. And a
protocol that changes the simulator or the grader (a monkeypatch) changes the rules it is graded
by. ``Watch`` takes a fingerprint of all of these before a run and says what changed after it.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterable
from typing import Any

from ..sim.budgets import is_protocol_file
from ..sim.nodes import Node
from ..sim.state import encode


def _protocol_classes(classes: Iterable[type]) -> list[type]:
    """The classes of a protocol written outside this package, with their bases (not ``Node``)."""
    out: list[type] = []
    for cls in classes:
        for klass in cls.__mro__:
            if klass in (Node, object) or klass in out:
                continue
            module = sys.modules.get(klass.__module__)
            filename = getattr(module, "__file__", None) if module is not None else None
            if klass.__module__.split(".")[0] == "semantics" and filename and not is_protocol_file(filename):
                continue
            out.append(klass)
    return out


def _functions(klass: type) -> list[types.FunctionType]:
    found = []
    for value in vars(klass).values():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            found.extend(f for f in (value.fget, value.fset, value.fdel) if f is not None)
        elif isinstance(value, types.FunctionType):
            found.append(value)
    return found


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _plain(value: Any) -> bool:
    """True for what holds data (not a function, class, module or descriptor)."""
    return not isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
                                  types.ModuleType, staticmethod, classmethod, property))


class Watch:
    """Fingerprints of the state outside the nodes that a protocol's code can reach: its classes'
    attributes, the global variables its functions name, the threads running, and every module of
    this package."""

    def __init__(self, classes: Iterable[type]) -> None:
        self.classes = _protocol_classes(classes)
        self.globals: list[tuple[dict, str, str]] = []   # (globals dict, name, label)
        seen: set[tuple[int, str]] = set()
        for klass in self.classes:  # (grows: a helper class the protocol's code names is watched too)
            for function in _functions(klass):
                namespace = function.__globals__
                for name in sorted(_names(function.__code__)):
                    if name not in namespace or (id(namespace), name) in seen:
                        continue
                    seen.add((id(namespace), name))
                    value = namespace[name]
                    if _plain(value):
                        self.globals.append((namespace, name, f"the global variable {name}"))
                    elif isinstance(value, type) and value not in self.classes:
                        self.classes.extend(k for k in _protocol_classes([value]) if k not in self.classes)
        self.threads = threading.active_count()
        self.before = self._state()
        self.modules = self._modules()
        self.runs = 0
        # What a handler could change, looked at after every handler call: (namespace, name, label).
        self.watched = [(vars(k), n, f"{k.__qualname__}.{n} (a class attribute)") for k in self.classes
                        for n, v in vars(k).items() if not n.startswith("__") and _plain(v)]
        self.watched += self.globals
        self.marks = [(id(ns.get(n)), _fingerprint(ns.get(n)) if _mutable(ns.get(n)) else None)
                      for ns, n, _ in self.watched]
        self.seen: str | None = None   # the first change a handler made in the current run

    @property
    def needed(self) -> bool:
        """True when the protocol's code can reach anything to watch after each handler call."""
        return bool(self.watched)

    def after_handler(self, where: str) -> None:
        """Compare what a handler could change with its marks; remember the first change."""
        if self.seen is not None:
            return
        for (ns, name, label), (ident, print_) in zip(self.watched, self.marks):
            value = ns.get(name)
            if id(value) != ident or (print_ is not None and _fingerprint(value) != print_):
                self.seen = (f"{label} changed in {where}: it is shared by every node, every incarnation and every "
                             "run, so it survives crashes without being durable. Keep state on self (volatile) or "
                             "in self.durable")
                return

    def _state(self) -> dict[str, str]:
        state = {}
        for klass in self.classes:
            for name, value in vars(klass).items():
                if not name.startswith("__") and _plain(value):
                    state[f"{klass.__qualname__}.{name} (a class attribute)"] = _fingerprint(value)
        for namespace, name, label in self.globals:
            state[label] = _fingerprint(namespace.get(name, "<deleted>"))
        return state

    @staticmethod
    def _modules() -> dict[str, dict[str, int]]:
        """Which object every name of every module of this package (and its classes) is bound to."""
        out = {}
        for name, module in list(sys.modules.items()):
            if module is None or not (name == "semantics" or name.startswith("semantics.")):
                continue
            names = {}
            for attr, value in list(vars(module).items()):
                names[attr] = id(value)
                if isinstance(value, type) and value.__module__ == name:
                    for member, item in list(vars(value).items()):
                        names[f"{attr}.{member}"] = id(item)
            out[name] = names
        return out

    def changes(self, *, simulator: bool | None = None) -> tuple[str, ...]:
        """What changed since the fingerprints were taken (empty when nothing did). The simulator's
        modules are compared after the first run, every 64th and when ``simulator`` is True (they are
        many: comparing them after every run would cost more than the run)."""
        self.runs += 1
        if simulator is None:
            simulator = self.runs == 1 or self.runs % 64 == 0
        found = []
        if self.seen is not None:
            found.append(self.seen)
            self.seen = None
        after = self._state()
        for label, before in self.before.items():
            now = after.get(label)
            if now != before and not found:
                found.append(f"{label} changed during the run, from {_short(before)} to {_short(now)}: it is "
                             "shared by every node, every incarnation and every run, so it survives crashes "
                             "without being durable. Keep state on self (volatile) or in self.durable")
        running = threading.active_count()
        if running > self.threads:
            found.append(f"your code started {'a thread' if running - self.threads == 1 else 'threads'} during "
                         "the run: a node acts only in its handlers (use set_timer for work to do later)")
        self.threads = running  # a thread that keeps running is counted once
        modules = self._modules() if simulator else {}
        for name, names in self.modules.items() if simulator else ():
            now = modules.get(name, {})
            for attr, ident in names.items():
                if now.get(attr) != ident:
                    found.append(f"your code changed {name}.{attr} (a monkeypatch of the simulator): a "
                                 "protocol cannot be graded by rules it rewrites")
                    break
            else:
                continue
            break
        return tuple(found)


def _mutable(value: Any) -> bool:
    return not isinstance(value, (type(None), bool, int, float, complex, str, bytes, frozenset, tuple))


def _fingerprint(value: Any) -> str:
    try:
        return encode(value)
    except Exception:  # a protocol's object may refuse even to be looked at
        return f"<{type(value).__name__} {id(value):#x}>"


def _short(text: str | None) -> str:
    text = "nothing" if text is None else text
    return text if len(text) <= 60 else text[:57] + "..."
