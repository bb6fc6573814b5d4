"""Nodes: the protocol API that lessons and learners write against.

A protocol is two small classes, a sender and a receiver, that react to four events::

    on_start()                   the node (re)starts: set up volatile state here
    on_send(msg_id, body)        the application asks the sender to send one message
    on_message(msg_id, body)     a message arrived (``self.peer`` says from whom)
    on_ack(msg_id)               an acknowledgement arrived
    on_timer(key)                a timer set with ``set_timer(key, after)`` expired

and act through a handful of calls, each of which is one *step*::

    send(to, msg_id, body)       put a message on the network (it may be lost, delayed, doubled)
    ack(msg_id)                  acknowledge the message being handled (to ``self.peer``)
    set_timer(key, after)        call ``on_timer(key)`` after ``after`` time units
    cancel_timer(key)
    apply(body)                  apply the message's *effect*: what the checker counts (returns its receipt)
    durable[key] = value         write durable state (``del durable[key]`` too): plain data, copied
    with atomic(): ...           durable writes and effects inside commit together, or not at all

Attributes you set on ``self`` are *volatile*: a crash loses them, and the node restarts as a
fresh object whose ``on_start`` runs again. ``self.durable`` survives crashes, and behaves like a
real store: what you write is copied, what you read is a copy (change it, and write it back). The
fault injector may crash a node at any *crash point*: when a handler starts, and right after any
step. A crash cannot be caught: once it strikes, every later step of that incarnation raises again,
and an atomic block it interrupted never commits, whatever the protocol's code catches.
"""

from __future__ import annotations

import dataclasses

from collections.abc import Hashable, Iterator, MutableMapping
from operator import attrgetter
from types import MappingProxyType
from typing import Any

# The runtime that executes a node (``sim.harness.Host``). Nodes only call its methods; they never
# import the harness, so that the protocol API sits below the run that executes it.
Host = Any


class Crashed(BaseException):
    """Unwinds a handler when the node crashes. A BaseException, so that a learner's
    ``except Exception`` cannot swallow a crash (nothing survives a real crash either)."""


class Payload:
    """The body of one logical message, as the application handed it to the sender.

    Two payloads are equal when their ``content`` is equal, as two byte strings on a wire would
    be; the simulator also remembers which logical message each one is (``logical``, hidden from
    equality), so that the checker can count effects per logical message whatever ids a
    protocol invents.
    """

    __slots__ = ("content", "logical", "_id")

    def __init__(self, content: Any, logical: int, _id: str | None = None) -> None:
        self.content = content
        self.logical = logical
        self._id = _id  # the id the application gave this message ("m7"), for the body it handed over

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Payload) and other.content == self.content

    def __hash__(self) -> int:
        return hash(("Payload", self.content))

    def __repr__(self) -> str:
        return f"Payload({self.content!r})"


_DELETED = object()


def freeze(value: Any) -> Any:
    """A message body as the application hands it over: set -> frozenset, list -> tuple, dict ->
    read-only mapping (``run(contents=...)``), so that no node can change what another one sent."""
    if isinstance(value, (set, frozenset)):
        return frozenset(value)
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return MappingProxyType(dict(value))
    if isinstance(value, bytearray):
        return bytes(value)
    return value


# -- durable values: plain data, copied on the way in and on the way out ---------------------------

_ATOMS = frozenset({type(None), bool, int, float, complex, str, bytes, Payload})
STORABLE = ("None, bool, int, float, str, bytes, tuple, list, dict, set, frozenset, a message body (Payload), "
            "or a record of them (a NamedTuple, a frozen dataclass)")


class _Box:
    """A stored value that contains a mutable container (list, dict, set, bytearray): the store's
    private copy. Reads hand out a fresh copy of it, never the box's own."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _NotPlain(Exception):
    """Raised inside _store_copy; ``path`` says where the offending value sits."""

    def __init__(self, value: Any, path: str = "", key: bool = False, record: bool = False) -> None:
        self.value, self.path, self.key, self.record = value, path, key, record


def _copy_in(value: Any) -> tuple[Any, bool]:
    """(a private copy of ``value``, whether it contains a mutable container), or _NotPlain."""
    kind = type(value)
    if kind in _ATOMS:
        return value, False
    if kind is tuple or kind is frozenset:
        items = []
        mutable = False
        for i, item in enumerate(value):
            try:
                copy, inner = _copy_in(item)
            except _NotPlain as e:
                e.path = (f"[{i}]" if kind is tuple else " (an element)") + e.path
                raise
            items.append(copy)
            mutable = mutable or inner
        if not mutable and all(a is b for a, b in zip(items, value)):
            return value, False
        return kind(items), mutable
    if kind is list:
        out = []
        for i, item in enumerate(value):
            try:
                out.append(_copy_in(item)[0])
            except _NotPlain as e:
                e.path = f"[{i}]" + e.path
                raise
        return out, True
    if kind is dict:
        out_dict = {}
        for k, v in value.items():
            try:
                k = _frozen(k)
            except _NotPlain as e:
                e.path = " (a key)" + e.path
                raise
            try:
                out_dict[k] = _copy_in(v)[0]
            except _NotPlain as e:
                e.path = f"[{_short(k)}]" + e.path
                raise
        return out_dict, True
    if kind is set:
        try:
            return {_frozen(item) for item in value}, True
        except _NotPlain as e:
            e.path = " (an element)" + e.path
            raise
    if kind is bytearray:
        return bytearray(value), True
    if isinstance(value, MappingProxyType):  # a message body's dict content
        return _copy_in(dict(value))
    if isinstance(value, tuple) and hasattr(kind, "_fields"):  # a NamedTuple: a tuple whose items have names
        items = []
        mutable = False
        for name, item in zip(kind._fields, value):
            try:
                copy, inner = _copy_in(item)
            except _NotPlain as e:
                e.path = f".{name}" + e.path
                raise
            items.append(copy)
            mutable = mutable or inner
        if not mutable and all(a is b for a, b in zip(items, value)):
            return value, False
        return kind(*items), mutable
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and kind.__dataclass_params__.frozen:
        for f in dataclasses.fields(value):  # a frozen record: kept as it is if its fields are immutable data
            try:
                if _copy_in(getattr(value, f.name))[1]:
                    raise _NotPlain(getattr(value, f.name), record=True)
            except _NotPlain as e:
                e.path = f".{f.name}" + e.path
                raise
        return value, False
    raise _NotPlain(value)


def _frozen(value: Any) -> Any:
    copy, mutable = _copy_in(value)
    if mutable:
        raise _NotPlain(value, key=True)
    return copy


def _store_copy(value: Any, where: str) -> tuple[Any, bool]:
    """``_copy_in`` with a TypeError that names where the value that cannot be stored sits."""
    try:
        return _copy_in(value)
    except _NotPlain as e:
        if e.key or e.record:
            what = "a frozen dataclass's field" if e.record else "a key (or a set element)"
            raise TypeError(f"{where}{e.path}: {what} must be immutable plain data (str, int, "
                            f"tuple, frozenset...), got {type(e.value).__name__} {_short(e.value)}") from None
        raise TypeError(f"{where}{e.path}: only plain data can be stored in self.durable ({STORABLE}, nested), "
                        f"got {type(e.value).__name__} {_short(e.value)}. A durable store keeps data, not "
                        "objects: store the fields you need (a real store would have to serialise them too)") from None


def _key_copy(key: Any, where: str) -> Any:
    kind = type(key)
    if kind in _ATOMS or (kind is tuple and all(type(k) in _ATOMS for k in key)):  # ("done", msg_id)
        return key
    value, mutable = _store_copy(key, where)
    if mutable:
        raise TypeError(f"{where}: a key must be immutable plain data (str, int, tuple, frozenset...), got "
                        f"{type(key).__name__} {_short(key)}")
    return value


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # learner objects may have a broken repr
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _copy(value: Any) -> Any:
    """A fresh copy of a stored (already checked) value."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is list:
        return [_copy(v) for v in value]
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is set:
        return set(value)
    if kind is tuple:
        return tuple(_copy(v) for v in value)
    if kind is frozenset:
        return value
    if kind is bytearray:
        return bytearray(value)
    if isinstance(value, tuple) and hasattr(kind, "_fields"):  # a NamedTuple holding a list, a dict...
        return kind(*(_copy(v) for v in value))
    return value


class Durable(MutableMapping):
    """A node's durable state: a key/value store that survives crashes.

    It behaves like a real store (a database row, a shelve, a JSON column): a value is copied when
    it is written and copied again when it is read, so changing a value you read changes nothing
    until you write it back (``self.durable[key] = value``), and only plain data can be stored.
    A value read, changed in place and never written back is reported (``Report.warnings``).
    Inside ``atomic()`` writes go to a pending transaction that becomes durable at commit (reads
    see them at once); a crash or an exception discards them.
    """

    __slots__ = ("_data", "_pending", "_host", "_reads", "_lost", "_txn", "_reordered", "_order", "_moved")

    def __init__(self, host: "Host") -> None:
        self._data: dict = {}
        self._pending: dict | None = None
        self._host = host
        self._reads: list = []     # (key, box, the copy handed out, time, where): to catch lost changes
        self._lost: dict = {}      # key -> warning, for changes made in place and never written back
        # A node that cannot crash (QuickDurable) writes through inside atomic(): its QuickAtomic (None for
        # every other store) keeps the block's undo log, key -> the value it had before the block
        # (_DELETED: none), in the order the block first touched the keys.
        self._txn: QuickAtomic | None = None
        self._reordered = False    # the block deleted a key: its commit must restore the store's order
        self._order: list = []     # ... the store's keys, in order, when it first deleted one
        self._moved = False        # ... and wrote a key it had deleted: the key went to the end of the store

    def _value(self, key: Hashable) -> Any:
        if not self._host.up:
            raise Crashed()
        pending = self._pending
        if pending is not None and key in pending:
            value = pending[key]
            if value is _DELETED:
                raise KeyError(key)
        else:
            value = self._data[key]
        if type(value) is _Box:
            copy = _copy(value.value)
            self._remember(key, value, copy)
            return copy
        return value

    def __getitem__(self, key: Hashable) -> Any:
        return self._value(key)

    def _remember(self, key: Hashable, box: _Box, copy: Any) -> None:
        reads = self._reads
        if len(reads) >= 2000:  # long runs: settle the oldest reads now
            self._settle(reads[:1000])
            del reads[:1000]
        host = self._host
        reads.append((key, box, copy, host.engine.now, host.name, getattr(host, "current", None)))

    def _settle(self, reads: list) -> None:
        for key, box, copy, now, name, current in reads:
            if key not in self._lost and copy != box.value:
                about = f" (handling {current!r})" if current is not None else ""
                self._lost[key] = (f"you changed the value of durable key {key!r} in place (read by the {name} at "
                                   f"t={now:g}{about}) and never wrote it back: self.durable keeps a copy, so the "
                                   f"change was lost. Write it back with self.durable[{key!r}] = ...")

    def lost_changes(self) -> tuple[str, ...]:
        """Warnings about values read from this store, changed in place and never written back."""
        self._settle(self._reads)
        self._reads = []
        return tuple(self._lost.values())

    def __contains__(self, key: object) -> bool:
        if not self._host.up:
            raise Crashed()
        pending = self._pending
        if pending is not None and key in pending:
            return pending[key] is not _DELETED
        return key in self._data

    def __setitem__(self, key: Hashable, value: Any) -> None:
        host = self._host
        if not host.up:
            raise Crashed()
        kind = type(key)
        if kind is not str and not (kind is tuple and len(key) == 2 and type(key[0]) in _ATOMS
                                    and type(key[1]) in _ATOMS):  # ("done", msg_id): the common key
            key = _key_copy(key, "self.durable key")
        stored = value
        if type(value) not in _ATOMS:
            stored, mutable = _store_copy(value, f"self.durable[{_short(key)}]")
            if mutable:
                stored = _Box(stored)
        if self._reads:
            self._reads = [r for r in self._reads if r[0] != key]  # written back (or replaced): nothing lost
        if self._pending is None:
            txn = self._txn
            if txn is not None and txn.depth:  # a QuickAtomic block is open: log what it overwrites
                undo = txn.undo
                if key not in undo:
                    undo[key] = self._data.get(key, _DELETED)
                elif self._reordered and key not in self._data:  # deleted earlier in the block
                    self._moved = True
            self._data[key] = stored
        else:
            self._pending[key] = stored
        host.points += 1
        if host.watch:
            if host.dice:
                if host.run.random() < host.crash_p:
                    host.strike()
            else:
                host.at_point("write", key)

    def setdefault(self, key: Hashable, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __delitem__(self, key: Hashable) -> None:
        host = self._host
        if not host.up:
            raise Crashed()
        if key not in self:
            raise KeyError(key)
        if self._reads:
            self._reads = [r for r in self._reads if r[0] != key]
        if self._pending is not None:
            self._pending[key] = _DELETED
        else:
            txn = self._txn
            if txn is not None and txn.depth:  # a QuickAtomic block is open
                undo = txn.undo
                if not self._reordered:
                    self._order, self._reordered = list(self._data), True
                if key not in undo:
                    undo[key] = self._data[key]
            del self._data[key]
        host.points += 1
        if host.watch:
            if host.dice:
                if host.run.random() < host.crash_p:
                    host.strike()
            else:
                host.at_point("delete", key)

    def _merged(self) -> dict:
        if self._pending is None:
            return self._data
        merged = dict(self._data)
        for key, value in self._pending.items():
            if value is _DELETED:
                merged.pop(key, None)
            else:
                merged[key] = value
        return merged

    def committed(self) -> dict:
        """A copy of what is durable now, as a crash would leave it (pending writes excluded)."""
        return {k: _copy(v.value) if type(v) is _Box else v for k, v in self._data.items()}

    def __iter__(self) -> Iterator:
        if not self._host.up:
            raise Crashed()
        return iter(list(self._merged()))

    def __len__(self) -> int:
        return len(self._merged())

    def __repr__(self) -> str:
        return f"Durable({ {k: v.value if type(v) is _Box else v for k, v in self._merged().items()}!r})"


class _Dead:
    """What a crashed incarnation's node talks to: every use of it raises ``Crashed`` again, so that
    code that caught the crash can do nothing more (a real crashed process runs no code at all)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        raise Crashed()


DEAD = _Dead()


def _crashed_step(*args: Any, **kwargs: Any) -> None:
    raise Crashed()


class Node:
    """Base class of every protocol node. Override the ``on_*`` hooks you need."""

    _host: "Host"

    # -- hooks ---------------------------------------------------------------------------
    def on_start(self) -> None:
        """Called when the node starts and after every restart: set volatile state here."""

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement on_send(msg_id, body)")

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        """A message arrived from ``self.peer``. The default ignores it."""

    def on_ack(self, msg_id: Hashable) -> None:
        """An acknowledgement arrived. The default ignores it."""

    def on_timer(self, key: Hashable) -> None:
        """A timer expired. The default ignores it."""

    # -- what a node knows (read through C-level getters: protocols read these often) ----------
    name = property(attrgetter("_host.name"), doc="This node's name.")
    now = property(attrgetter("_host.engine.now"), doc="Simulated time.")
    durable = property(attrgetter("_host.durable"), doc="Durable state: survives crashes (see ``atomic()``).")
    peer = property(attrgetter("_host.peer"),
                    doc="The node that sent the message or ack being handled (None elsewhere).")

    # -- steps ---------------------------------------------------------------------------
    def send(self, to: str, msg_id: Hashable, body: Any) -> None:
        """Put one message on the network to node ``to``."""
        self._host.send(to, msg_id, body)

    def ack(self, msg_id: Hashable, to: str | None = None) -> None:
        """Acknowledge ``msg_id`` to ``to`` (by default the sender of the message being handled)."""
        self._host.ack(msg_id, to)

    def set_timer(self, key: Hashable, after: float) -> None:
        """Call ``on_timer(key)`` after ``after`` time units; replaces a timer with the same key."""
        self._host.set_timer(key, after)

    def cancel_timer(self, key: Hashable) -> None:
        """Cancel the timer ``key`` (no error if there is none)."""
        self._host.cancel_timer(key)

    def apply(self, body: Payload) -> int:
        """Apply the effect of the message whose body is ``body``: the thing that must happen once.

        Returns the effect's *receipt*: its position in this node's ledger (1 for the node's first
        committed effect, 2 for the next...), what a real operation would answer (a new balance, an
        order number). Executing a message again gives a new receipt: a reply cache must keep the
        first one. Inside ``atomic()`` the receipt is the one the effect gets if the block commits."""
        return self._host.apply(body)

    def atomic(self) -> "Atomic":
        """``with self.atomic():`` durable writes and effects inside commit together or not at all."""
        return Atomic(self._host)

    def note(self, text: str) -> None:
        """Write a note in the trace (shown on sequence diagrams); not a step."""
        self._host.note(text)


class QuickDurable(Durable):
    """``Durable`` of a node that cannot crash (the node of ``QuickAtomic``): it is always up, and its
    ``atomic()`` writes through (no pending transaction: the block keeps an undo log here instead, see
    ``QuickAtomic.undo``), so membership is a dict lookup, the check a deduplicating receiver makes on every message
    (unless the class's own ``atomic()`` opened a pending transaction). The same store otherwise
    (QuickAtomic switches its host's store to this class; tests/test_fast_path.py compares whole reports
    and random scripts of reads and writes with the general path's)."""

    __slots__ = ()

    def __contains__(self, key: object) -> bool:
        if self._pending is None:
            return key in self._data
        return Durable.__contains__(self, key)  # a class's own atomic() opened a pending transaction

    # -- a write-through transaction (QuickAtomic) --------------------------------------------
    def _before_block(self) -> dict:
        """What the store held when the write-through block began, in its order (the keys in order as
        they were before the block's first delete: no key had left the store yet)."""
        data, undo = self._data, self._txn.undo
        before = {}
        for key in (self._order if self._reordered else data):
            old = undo[key] if key in undo else data[key]
            if old is not _DELETED:
                before[key] = old
        return before

    def _commit_through(self) -> None:
        # As a pending transaction commits: the store's keys in their order, then the new ones in the
        # order the block first wrote them. Deleting keys and adding new ones at the end leaves the
        # store in that order already; only a key written again after its delete (now at the end)
        # needs the store rebuilt, which costs a pass over every key: a broker that deletes one key
        # per ack must not pay it at every ack.
        if self._moved:
            after, data = self._before_block(), self._data
            for key in self._txn.undo:
                value = data.get(key, _DELETED)
                if value is _DELETED:
                    after.pop(key, None)
                else:
                    after[key] = value
            data.clear()
            data.update(after)
        self._reordered, self._moved, self._order = False, False, []

    def _roll_back_through(self) -> None:
        data, undo = self._data, self._txn.undo
        if self._reordered:
            before = self._before_block()
            data.clear()
            data.update(before)
        else:
            for key, old in undo.items():
                if old is _DELETED:
                    data.pop(key, None)
                else:
                    data[key] = old
        undo.clear()
        self._reordered, self._moved, self._order = False, False, []

    def _committed(self) -> None:
        """The QuickAtomic block committed: its writes are in place; forget their undo log."""
        if self._reordered:
            self._commit_through()
        self._txn.undo.clear()


class QuickAtomic:
    """``atomic()`` for a node that cannot crash (no fault can strike it, nothing is traced, watched or
    budgeted): writes and effects go straight to the store and the count, with an undo log that an
    exception rolls back. What the node and the report see is what ``Atomic`` gives
    (tests/test_fast_path.py compares whole reports); only a crash could tell the two apart, and none
    can strike. One per host, reused (the simulator's hottest block: no allocation per use); nested
    blocks join the outer one."""

    __slots__ = ("_host", "depth", "applied", "undo", "durable")

    def __init__(self, host: "Host") -> None:
        self._host = host
        self.depth = 0
        self.applied: list = []   # the effects of the block (logical messages), for a rollback
        self.undo: dict = {}      # the undo log of the open block: what it overwrote in the store
        self.durable = durable = host.durable
        durable.__class__ = QuickDurable
        durable._txn = self

    def __enter__(self) -> "QuickAtomic":
        self.depth += 1  # the store logs undo while depth > 0; begin's crash point is counted at the end
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None and self.depth == 1:  # commit: the writes are in place already
            self.depth = 0
            self._host.points += 2  # begin, commit
            if self.undo:
                self.durable._committed()
            if self.applied:
                self.applied.clear()
            return False
        return self._leave(exc_type)

    def _leave(self, exc_type: type | None) -> bool:
        """The end of a nested block, or of a block an exception (or a stop) cut short: roll back."""
        depth = self.depth = self.depth - 1
        host = self._host
        if depth:
            if exc_type is None and not host.up:
                raise Crashed()
            return False
        host.points += 1  # begin
        applied = list(self.applied)
        self.applied.clear()
        self.durable._roll_back_through()
        host.undo_effects(applied)
        host.rolled_back(len(applied), exc_type if exc_type is not None else Crashed)
        if exc_type is None:
            raise Crashed()
        return False


class Atomic:
    """The context manager behind ``Node.atomic()``: one transaction over durable state and effects."""

    __slots__ = ("_host", "_outer")

    def __init__(self, host: "Host") -> None:
        self._host = host
        self._outer = False

    def __enter__(self) -> "Atomic":
        host = self._host
        if not host.up:
            raise Crashed()
        durable = host.durable
        if durable._pending is None:  # nested blocks join the outer transaction
            self._outer = True
            durable._pending = {}
            host.pending_effects = []
            host.points += 1  # begin
            if host.watch:
                try:
                    if host.dice:
                        if host.run.random() < host.crash_p:
                            host.strike()
                    else:
                        host.at_point("begin", None)
                except BaseException as exc:  # a crash right after begin: __exit__ will not run
                    durable._pending, host.pending_effects = None, None
                    host.rolled_back(0, type(exc))
                    raise
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        host = self._host
        if not self._outer:
            if exc_type is None and not host.up:
                raise Crashed()  # a crash inside was caught by the protocol's code: keep unwinding
            return False
        durable = host.durable
        pending, effects = durable._pending, host.pending_effects
        durable._pending, host.pending_effects = None, None
        if exc_type is not None or not host.up:
            # An exception, or a crash (even one the protocol's code caught and swallowed inside the
            # block): nothing commits.
            host.rolled_back(len(effects), exc_type if exc_type is not None else Crashed)
            if exc_type is None:
                raise Crashed()
            return False
        for key, value in pending.items():
            if value is _DELETED:
                durable._data.pop(key, None)
            else:
                durable._data[key] = value
        for body in effects:
            host.record_effect(body)
        host.point("commit", None)
        return False
