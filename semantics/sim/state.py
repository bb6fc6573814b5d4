"""The state of a run at one moment: each node's volatile and durable state and timers, and the
messages in flight. ``run(..., observe=fn)`` calls ``fn(snapshot)`` after every event, which is
what a trace stepper shows and what a state-space explorer hashes.

Values are copies taken at that moment: later events never change a snapshot. A value that cannot
be copied (a lock, a socket someone kept on a node) is shown by its ``repr``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Hashable

from .nodes import Payload, _Box


@dataclass(frozen=True, slots=True)
class NodeState:
    """One node: up or crashed, which incarnation, its state and its pending timers."""

    name: str
    up: bool
    incarnation: int
    volatile: dict[str, Any]        # attributes set on the node object (gone after a crash)
    durable: dict[Hashable, Any]    # self.durable, as committed (what a crash would leave)
    timers: dict[Hashable, float]   # timer key -> the time it fires
    ledger: int                     # effects this node has committed so far


@dataclass(frozen=True, slots=True)
class InFlight:
    """A copy on the wire that will arrive (a lost copy is not in flight)."""

    src: str
    dst: str
    message: str                    # "data" or "ack"
    msg_id: Hashable
    logical: int | None
    arrives: float
    wire: int                       # the transmission's number in the trace (0 when untraced)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The run after ``events`` events, at simulated time ``time``; ``trace_length`` is how many
    trace events had been written (traced runs), so a snapshot can be matched to its event."""

    time: float
    events: int
    trace_length: int
    nodes: dict[str, NodeState]
    in_flight: tuple[InFlight, ...]


def copied(value: Any) -> Any:
    """A deep copy of ``value``, or its repr when it cannot be copied."""
    try:
        return copy.deepcopy(value)
    except Exception:  # learner objects may refuse to be copied
        return repr(value)


# -- the state as text: its size, and a key that says when two states are the same -------------------


def encode(value: Any, *, exact: bool = False) -> str:
    """A canonical text form of a node's state (or any value), the same in every process.

    Python-literal-like and compact: ``{'seen':{1:2.0,2:4.0}}``; integers beyond 64 bits in
    hexadecimal (``0x1f...``: a bitmap takes a byte per 8 bits... twice over). Dicts keep their order (a
    protocol may iterate them), sets are sorted (their order is the hash's, not the protocol's),
    objects are written as ``Name(attribute=value, ...)``, a deque as ``deque([...])``.

    ``exact=False`` is what bounded-state checks measure (``size``): what the state holds.
    ``exact=True`` is what a state-space explorer compares: a Payload also names its logical
    message, and a value that cannot be written out (a lock, a generator) is named by its identity,
    so that two states get the same key only if their futures are the same.
    """
    out: list[str] = []
    _encode(value, out, exact, set())
    return "".join(out)


def size(value: Any) -> int:
    """The size of ``value`` in bytes: the length of its canonical text (``encode``) in UTF-8."""
    return len(encode(value).encode("utf-8"))


_SCALARS = (type(None), bool, int, float, str, bytes, complex)


def _encode(value: Any, out: list[str], exact: bool, active: set[int]) -> None:
    kind = type(value)
    if kind in _SCALARS:
        if kind is int and not -2**63 <= value < 2**63:  # a big number: hexadecimal (linear time)
            out.append(hex(value))
        else:
            out.append(repr(value))
        return
    if kind is Payload:
        out.append(f"Payload({value.content!r})#{value.logical}" if exact else f"Payload({value.content!r})")
        return
    if kind is _Box:  # a durable value as the store keeps it
        _encode(value.value, out, exact, active)
        return
    marker = id(value)
    if marker in active:  # a cycle: the object contains itself
        out.append("...")
        return
    active.add(marker)
    try:
        if isinstance(value, dict):
            out.append("{" if kind is dict else f"{kind.__name__}({{")
            first = True
            for k, v in value.items():
                if not first:
                    out.append(",")
                first = False
                _encode(k, out, exact, active)
                out.append(":")
                _encode(v, out, exact, active)
            out.append("}" if kind is dict else "})")
        elif isinstance(value, (list, tuple)):
            opening, closing = ("[", "]") if isinstance(value, list) else ("(", ",)" if len(value) == 1 else ")")
            if kind not in (list, tuple):
                opening, closing = f"{kind.__name__}({opening}", closing + ")"
            out.append(opening)
            for i, item in enumerate(value):
                if i:
                    out.append(",")
                _encode(item, out, exact, active)
            out.append(closing)
        elif isinstance(value, (set, frozenset)):
            items = sorted(encode(item, exact=exact) for item in value)
            if not items:
                out.append("set()" if kind is set else f"{kind.__name__}()")
            else:
                out.append(("{" if kind is set else f"{kind.__name__}({{") + ",".join(items)
                           + ("}" if kind is set else "})"))
        elif isinstance(value, bytearray):
            out.append(repr(value))
        elif kind.__name__ == "deque" and hasattr(value, "maxlen"):
            out.append("deque([")
            for i, item in enumerate(value):
                if i:
                    out.append(",")
                _encode(item, out, exact, active)
            out.append("])" if value.maxlen is None else f"],{value.maxlen})")
        elif isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
            out.append(f"<{getattr(value, '__qualname__', kind.__name__)}>")
        else:
            fields = _fields(value)
            if fields is None:  # nothing to write out: only its identity says which one it is
                out.append(f"<{kind.__qualname__} {id(value):#x}>" if exact else f"<{kind.__qualname__}>")
            else:
                out.append(f"{kind.__qualname__}(")
                for i, (name, item) in enumerate(fields):
                    if i:
                        out.append(",")
                    out.append(f"{name}=")
                    _encode(item, out, exact, active)
                out.append(")")
    except RecursionError:
        out.append(f"<too deep {id(value):#x}>" if exact else "<too deep>")
    finally:
        active.discard(marker)


def _fields(value: Any) -> list[tuple[str, Any]] | None:
    """The attributes of an object (``__dict__`` and ``__slots__``), sorted by name; None if it has none."""
    found: dict[str, Any] = {}
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        found.update(attributes)
    for klass in type(value).__mro__:
        for name in getattr(klass, "__slots__", ()) if isinstance(getattr(klass, "__slots__", ()), (tuple, list)) else ():
            if name not in found and name not in ("__dict__", "__weakref__") and hasattr(value, name):
                found[name] = getattr(value, name)
    if not found and attributes is None:
        return None
    return sorted(found.items())
