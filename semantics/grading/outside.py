"""What a node must not touch: state outside itself, threads, and the simulator.

A node's state lives on ``self`` (volatile: a crash loses it) or in ``self.durable``. State kept
anywhere else survives crashes without being durable, is shared by every node and every run, and
makes a run depend on the runs before it: a class attribute (``seen = set()`` in the class body,
mutated by handlers), a global variable of the notebook, a thread that keeps running. And a
protocol that changes the simulator or the grader (a monkeypatch) changes the rules it is graded
by. ``Watch`` takes a fingerprint of all of these before a run and says what changed after it.
"""

from __future__ import annotations

import builtins
import datetime
import dis
import sys
import threading
import time
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


def _calls_builtin(function: types.FunctionType, name: str, seen: set | None = None) -> bool:
    """Whether ``function`` names the built-in ``name`` as a global (``hash(x)``, not ``self.hash`` nor a
    ``hash`` the module defines): in its own code, in a function, lambda or comprehension inside it, or in
    a function of the same module (a notebook's helper) that it names."""
    seen = set() if seen is None else seen
    if function in seen or function.__globals__.get(name, getattr(builtins, name)) is not getattr(builtins, name):
        return False
    seen.add(function)
    codes = [function.__code__]
    while codes:
        code = codes.pop()
        for instruction in dis.get_instructions(code):
            if instruction.opname not in ("LOAD_GLOBAL", "LOAD_NAME"):
                continue
            if instruction.argval == name:
                return True
            helper = function.__globals__.get(instruction.argval)
            if (isinstance(helper, types.FunctionType) and helper.__globals__ is function.__globals__
                    and _calls_builtin(helper, name, seen)):
                return True
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return False


def salted_hash_notes(classes: Iterable[type]) -> tuple[str, ...]:
    """A note for a protocol whose methods call the built-in ``hash()``: what no simulated restart can show."""
    found = [f"{klass.__name__}.{function.__name__}" for klass in _protocol_classes(classes)
             for function in _functions(klass) if _calls_builtin(function, "hash")]
    if not found:
        return ()
    return (f"{', '.join(found)} call{'s' if len(found) == 1 else ''} hash(). Python salts the hash of a str or "
            "bytes with a random value chosen when the process starts (unless PYTHONHASHSEED fixes it): "
            "hash(msg_id) stays the same within one process but differs after a real restart, so a durable "
            "record keyed by it would not be recognised by the restarted node. The simulator restarts a node "
            "inside this kernel, where the salt never changes, so no run here can show that (and a verdict "
            "that depends on hash values may differ in another kernel). Key durable state by the id itself, or "
            "by a digest from hashlib, the same in every process.",)


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
        self.clock = self._clock()
        self.threads = threading.active_count()
        self.before = self._state()
        self.modules = self._modules()
        self.runs = 0
        # What a handler could change, looked at after every handler call: (namespace, name, label).
        self.watched = [(vars(k), n, f"{k.__qualname__}.{n} (a class attribute)") for k in self.classes
                        for n, v in vars(k).items() if not n.startswith("__") and _plain(v)]
        self.watched += self.globals
        self.watched += self._hidden()
        self.marks = [(id(ns.get(n)), _fingerprint(ns.get(n)) if _mutable(ns.get(n)) else None)
                      for ns, n, _ in self.watched]
        self.seen: str | None = None   # the first change a handler made in the current run

    def _clock(self) -> str | None:
        """The first place where the protocol's code reads the machine's clock (``time.time()``,
        ``time.monotonic()``, ``datetime.now()``...), which makes a run, and its verdict, depend on how
        fast the machine is: simulated time is ``self.now``."""
        for klass in self.classes:
            for function in _functions(klass):
                cells = dict(zip(function.__code__.co_freevars, function.__closure__ or ()))
                found = _reads_clock(function.__code__, function.__globals__, cells)
                if found is not None:
                    return f"{klass.__qualname__}.{function.__name__} reads the machine's clock ({found})"
        return None

    def _hidden(self) -> list[tuple[Any, str, str]]:
        """State that lives on the classes' functions rather than in a class attribute: a memo cache
        (``functools.lru_cache``/``cache`` on a method: it keeps every argument, ``self`` included, for
        every node and every run) and a mutable default argument (``def on_message(self, m, b, seen=set())``:
        one set for every call of every node). Each as (a namespace with ``get``, its name, a label)."""
        out: list[tuple[Any, str, str]] = []
        for klass in self.classes:
            for name, value in vars(klass).items():
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                if callable(getattr(value, "cache_info", None)):
                    out.append((_Probe(lambda f=value: f.cache_info().currsize, boxed=True), "size",
                                f"the cache of {klass.__qualname__}.{name} (functools.lru_cache or cache: it lives on "
                                "the class's function, not on the node)"))
                function = getattr(value, "__wrapped__", value)
                if isinstance(function, types.FunctionType):
                    defaults = list(function.__defaults__ or ()) + list((function.__kwdefaults__ or {}).values())
                    for k, default in enumerate(defaults):
                        if _mutable(default) and not callable(default):
                            out.append((_Probe(lambda d=default: d), "value",
                                        f"a mutable default argument of {klass.__qualname__}.{name} (one object for "
                                        "every call of every node)"))
        return out

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
        for namespace, name, label in self.globals + self._hidden():
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
        if self.clock is not None:
            found.append(f"{self.clock}: a run must depend only on simulated time (self.now), never on how fast "
                         "the machine is, or its verdict changes from one machine to the next")
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


#: The functions of the time module that read the machine's clock.
_CLOCKS = {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "process_time",
           "process_time_ns", "thread_time", "thread_time_ns", "localtime", "gmtime", "ctime", "asctime"}


def _reads_clock(code: types.CodeType, namespace: dict, cells: dict | None = None) -> str | None:
    """``time.time``, ``datetime.now``... where ``code`` (or a function inside it) reads the machine's
    clock: a global (or a variable of an enclosing function, ``cells``) bound to the time module or the
    datetime classes followed by a clock attribute, or bound to one of the time module's clock functions
    (``from time import monotonic``)."""
    previous = None
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_DEREF"):
            if ins.opname == "LOAD_GLOBAL":
                value = namespace.get(ins.argval)
            else:  # a variable of an enclosing function (``import time`` inside a function)
                try:
                    value = (cells or {})[ins.argval].cell_contents
                except (KeyError, ValueError):
                    value = None
            if callable(value) and getattr(value, "__module__", None) == "time" and \
                    getattr(value, "__name__", "") in _CLOCKS:
                return ins.argval
            previous = value
            continue
        if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and previous is not None:
            if previous is time and ins.argval in _CLOCKS:
                return f"time.{ins.argval}"
            if previous is datetime and ins.argval in ("datetime", "date"):  # import datetime; datetime.datetime.now()
                previous = getattr(datetime, ins.argval)
                continue
            if (previous is datetime.datetime or previous is datetime.date) and ins.argval in ("now", "utcnow", "today"):
                return f"datetime.{ins.argval}"
        previous = None
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found = _reads_clock(const, namespace)
            if found is not None:
                return found
    return None


class _Probe:
    """A namespace of one name whose value is computed when read (a cache's size, a default's value)."""

    def __init__(self, read: Any, boxed: bool = False) -> None:
        self.read = read
        self.box: list | None = [] if boxed else None  # a value read anew each time, in one list: its identity stays

    def get(self, name: str, default: Any = None) -> Any:
        try:
            value = self.read()
        except Exception:  # a protocol's object may refuse even to be looked at
            return default
        if self.box is None:
            return value
        self.box[:] = [value]
        return self.box


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
