"""The trace of a run, stored compactly: every event a few numbers in typed arrays (about 40 bytes an
event, no Python object per event, nothing for the garbage collector to walk), read back as ``Event``
objects made when they are read; and the labels of crash points ("after apply(...) in on_message(...)"),
stored the same way and written out in words only when shown.

Values a protocol passes (message ids, timer keys, handler arguments) are stored as small codes when
they are the application's own (the id "m7", the body of message 7) and by reference otherwise. A
value that could change after it was recorded (a list, a dict, an object) has its text taken when it
is recorded, so that what a trace or a label says is what was true then.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from .checker import Event, canonical_index, default_content, message_id
from .nodes import Payload

KINDS = ("submit", "send", "receive", "down", "effect", "timer", "crash", "restart", "rollback", "note", "error")
MESSAGES = (None, "data", "ack")
FATES = (None, "delivered", "lost", "partitioned")
LITERALS = ("", "network duplicate", "delayed", "outage", "network duplicate, delivered late")
KIND = {name: i for i, name in enumerate(KINDS)}
MESSAGE = {name: i for i, name in enumerate(MESSAGES)}
FATE = {name: i for i, name in enumerate(FATES)}
LITERAL = {text: i for i, text in enumerate(LITERALS)}

# How an event's text is written out (4 bits of its code).
T_NONE, T_LITERAL, T_CONTENT, T_TEXT, T_REPR, T_CRASH_POINT, T_SCHEDULED, T_INCARNATION = range(8)

NO_VALUE = -1
NAN = math.nan
MAX_NODES = 254
BYTES_PER_EVENT = 5 * 4 + 2 * 8  # the columns of an event (see Trace)

_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes)


def _is_immutable(value: Any) -> bool:
    kind = type(value)
    if kind in _IMMUTABLE:
        return True
    if kind is tuple or kind is frozenset:
        return all(_is_immutable(v) for v in value)
    if kind is Payload:
        return _is_immutable(value.content)
    return False


class _Shown:
    """A value recorded by its text (it could have changed since): its repr is that text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __reduce__(self) -> tuple:
        return _Shown, (self.text,)


def _text_of(value: Any) -> _Shown:
    try:
        return _Shown(repr(value))
    except Exception:  # a protocol's object with a broken repr: shown by its type, as _show does
        return _Shown(f"<{type(value).__name__}>")


class Values:
    """Codes for the values events and labels mention: -1 for None, the application's id of message
    ``l`` (-2 - 2l), its body (-3 - 2l), and any other value by its index in ``objects``."""

    __slots__ = ("objects", "contents")

    def __init__(self, contents: Sequence[Any] | None) -> None:
        self.objects: list[Any] = []
        self.contents = contents  # the bodies' contents (None: the default "op 1", "op 2"...)

    def content(self, logical: int) -> Any:
        return default_content(logical) if self.contents is None else self.contents[logical]

    def _is_body(self, value: Payload) -> bool:
        logical = value.logical
        if type(logical) is not int or logical < 0:
            return False
        if self.contents is None:
            return type(value.content) is str and value.content == default_content(logical)
        return logical < len(self.contents) and value.content is self.contents[logical] and \
            _is_immutable(value.content)

    def code(self, value: Any, *, as_text: bool = False) -> int:
        """The code of ``value``; ``as_text``: only its text will be needed, so a value that could
        change is recorded by its text now."""
        if value is None:
            return NO_VALUE
        kind = type(value)
        if kind is str:
            logical = canonical_index(value)
            if logical is not None:
                return -2 - 2 * logical
        elif kind is Payload and self._is_body(value):
            return -3 - 2 * value.logical
        if as_text and not _is_immutable(value):
            value = _text_of(value)
        self.objects.append(value)
        return len(self.objects) - 1

    def value(self, code: int) -> Any:
        if code >= 0:
            return self.objects[code]
        if code == NO_VALUE:
            return None
        index = -2 - code
        logical = index >> 1
        if index & 1:
            return Payload(self.content(logical), logical)
        return message_id(logical)

    def text(self, value: Any) -> int:
        """An index into ``objects`` for a text (a note, an error)."""
        self.objects.append(value)
        return len(self.objects) - 1


class Trace(Sequence[Event]):
    """The events of a run, in order: ``trace[i]`` is an ``Event``, made when read.

    Columns: time and until (8-byte floats; NaN for no value), a 4-byte code (node, kind, peer,
    message, fate and how the text is written), the logical message, the wire number (an effect's
    receipt), the message id's value code and an argument of the text (4-byte integers each).
    """

    __slots__ = ("nodes", "values", "labels", "time", "until", "code", "logical", "wire", "ref", "aux")

    def __init__(self, nodes: Sequence[str], values: Values) -> None:
        if len(nodes) > MAX_NODES:
            raise ValueError(f"a traced run can have at most {MAX_NODES} nodes, got {len(nodes)}")
        self.nodes = tuple(nodes)
        self.values = values
        self.labels: dict[str, "LabelLog"] = {}
        self.time, self.until = array("d"), array("d")
        self.code, self.logical, self.wire, self.ref, self.aux = (array("i") for _ in range(5))

    # -- recording ------------------------------------------------------------------------------
    def add(self, time: float, node: int, kind: int, ref: int = NO_VALUE, logical: int | None = None,
            peer: int = 0, wire: int = -1, message: int = 0, fate: int = 0, until: float = NAN,
            text: int = T_NONE, aux: int = -1) -> None:
        """One event: ``node`` and ``peer`` are node indices (``peer`` plus one, 0 for none)."""
        self.time.append(time)
        self.until.append(until)
        self.code.append(node | kind << 8 | peer << 12 | message << 20 | fate << 22 | text << 24)
        self.logical.append(-1 if logical is None else logical)
        self.wire.append(wire)
        self.ref.append(ref)
        self.aux.append(aux)

    def set_until(self, index: int, until: float) -> None:
        self.until[index] = until

    def truncate(self, length: int) -> None:
        """Forget the events from ``length`` on."""
        for column in (self.time, self.until, self.code, self.logical, self.wire, self.ref, self.aux):
            del column[length:]

    def nbytes(self) -> int:
        columns = (self.time, self.until, self.code, self.logical, self.wire, self.ref, self.aux)
        return sum(c.itemsize * len(c) for c in columns) + 8 * len(self.values.objects)

    # -- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.time)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._event(i) for i in range(*index.indices(len(self)))]
        n = len(self.time)
        if not -n <= index < n:
            raise IndexError(f"trace index {index} out of range for {n} events")
        return self._event(index + n if index < 0 else index)

    def __iter__(self) -> Iterator[Event]:
        return map(self._event, range(len(self.time)))

    def _event(self, i: int) -> Event:
        c = self.code[i]
        kind = KINDS[(c >> 8) & 15]
        peer = (c >> 12) & 255
        logical = self.logical[i]
        logical = None if logical < 0 else logical
        until = self.until[i]
        wire = self.wire[i]
        receipt = None
        if kind == "effect":
            receipt, wire = wire, None
        elif wire < 0:
            wire = None
        how = (c >> 24) & 15
        aux = self.aux[i]
        if how == T_NONE:
            text = ""
        elif how == T_LITERAL:
            text = LITERALS[aux]
        elif how == T_CONTENT:
            text = repr(self.values.content(logical))
        elif how == T_TEXT:
            text = self.values.objects[aux]
        elif how == T_REPR:
            text = repr(self.values.value(aux))
        elif how == T_CRASH_POINT:
            text = f"crash point {aux}: {self.labels[self.nodes[c & 255]][aux]}"
        elif how == T_SCHEDULED:
            text, until = f"scheduled crash at t={until:g}", NAN
        else:
            text = f"incarnation {aux}"
        return Event(self.time[i], self.nodes[c & 255], kind, self.values.value(self.ref[i]), logical,
                     self.nodes[peer - 1] if peer else None, wire, MESSAGES[(c >> 20) & 3], FATES[(c >> 22) & 3],
                     None if until != until else until, text, receipt)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (str, bytes)) or not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple:  # sent elsewhere (a grader's child process) as plain events
        return tuple, (tuple(self),)


# -- crash point labels ------------------------------------------------------------------------------

WHATS = ("enter", "send", "ack", "set_timer", "cancel_timer", "apply", "write", "delete", "begin", "commit")
WHAT = {name: i for i, name in enumerate(WHATS)}
METHODS = ("on_start", "on_send", "on_message", "on_ack", "on_timer")
METHOD = {name: i for i, name in enumerate(METHODS)}
ARITY = {"on_start": 0, "on_send": 2, "on_message": 2, "on_ack": 1, "on_timer": 1}


def show(value: Any) -> str:
    """repr() for a trace or a problem: a protocol's object may have a broken or endless repr."""
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."


def label(handler: str, what: str, key: Any) -> str:
    """The words for a crash point: where in which handler call."""
    if what == "enter":
        return f"on entering {handler}"
    if key is None:
        return f"after {what} in {handler}"
    try:
        return f"after {what}({key!r}) in {handler}"
    except Exception:  # a protocol's key with a broken repr
        return f"after {what}({show(key)}) in {handler}"


class LabelLog(Sequence[str]):
    """The crash points of one node in a traced run: ``log[k]`` says where point ``k`` was, in words
    (written out when read). Per point: what (a byte), its key and the handler call (4-byte integers);
    per handler call: the method and up to two arguments."""

    __slots__ = ("values", "what", "key", "call", "method", "first", "second", "current")

    def __init__(self, values: Values) -> None:
        self.values = values
        self.what = bytearray()
        self.key, self.call = array("i"), array("i")
        self.method, self.first, self.second = bytearray(), array("i"), array("i")
        self.current = -1

    def begin(self, method: str, args: tuple) -> None:
        """A handler call starts (its arguments' text is what they are now)."""
        code = self.values.code
        self.method.append(METHOD[method])
        self.first.append(code(args[0], as_text=True) if args else -1)
        self.second.append(code(args[1], as_text=True) if len(args) > 1 else -1)
        self.current = len(self.method) - 1

    def point(self, what: str, key: Any) -> None:
        self.what.append(WHAT[what])
        self.key.append(self.values.code(key, as_text=True))
        self.call.append(self.current)

    def handler(self, call: int) -> str:
        method = METHODS[self.method[call]]
        codes = (self.first[call], self.second[call])[:ARITY[method]]  # (an argument may be None)
        return f"{method}({', '.join(show(self.values.value(c)) for c in codes)})"

    def __len__(self) -> int:
        return len(self.what)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self.what)
        if not -n <= index < n:
            raise IndexError(f"crash point {index} out of range for {n} points")
        k = index + n if index < 0 else index
        return label(self.handler(self.call[k]), WHATS[self.what[k]], self.values.value(self.key[k]))

    def __iter__(self) -> Iterator[str]:
        return map(self.__getitem__, range(len(self.what)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (str, bytes)) or not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))

    def __reduce__(self) -> tuple:
        return tuple, (tuple(self),)
