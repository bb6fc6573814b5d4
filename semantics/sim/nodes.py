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
    durable[key] = value         write durable state (``del durable[key]`` too)
    with atomic(): ...           durable writes and effects inside commit together, or not at all

Attributes you set on ``self`` are *volatile*: a crash loses them, and the node restarts as a
fresh object whose ``on_start`` runs again. ``self.durable`` survives crashes. The fault injector
may crash a node at any *crash point*: when a handler starts, and right after any step.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, MutableMapping
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

    __slots__ = ("content", "logical")

    def __init__(self, content: Any, logical: int) -> None:
        self.content = content
        self.logical = logical

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Payload) and other.content == self.content

    def __hash__(self) -> int:
        return hash(("Payload", self.content))

    def __repr__(self) -> str:
        return f"Payload({self.content!r})"


_DELETED = object()


def freeze(value: Any) -> Any:
    """Durable values are stored frozen (set -> frozenset, list -> tuple, dict -> read-only
    mapping), so that every change to durable state goes through ``durable[key] = ...``, a
    step the fault injector and ``atomic()`` can see."""
    if isinstance(value, (set, frozenset)):
        return frozenset(value)
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return MappingProxyType(dict(value))
    if isinstance(value, bytearray):
        return bytes(value)
    return value


class Durable(MutableMapping):
    """A node's durable state: a key/value store that survives crashes.

    Inside ``atomic()`` writes go to a pending transaction that becomes durable at commit
    (reads see them at once); a crash or an exception discards them.
    """

    __slots__ = ("_data", "_pending", "_host")

    def __init__(self, host: "Host") -> None:
        self._data: dict = {}
        self._pending: dict | None = None
        self._host = host

    def __getitem__(self, key: Hashable) -> Any:
        pending = self._pending
        if pending is not None and key in pending:
            value = pending[key]
            if value is _DELETED:
                raise KeyError(key)
            return value
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        pending = self._pending
        if pending is not None and key in pending:
            return pending[key] is not _DELETED
        return key in self._data

    def __setitem__(self, key: Hashable, value: Any) -> None:
        self._host.check_awake()
        if self._pending is not None:
            self._pending[key] = freeze(value)
        else:
            self._data[key] = freeze(value)
        self._host.point("write", key)

    def __delitem__(self, key: Hashable) -> None:
        self._host.check_awake()
        if key not in self:
            raise KeyError(key)
        if self._pending is not None:
            self._pending[key] = _DELETED
        else:
            del self._data[key]
        self._host.point("delete", key)

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

    def __iter__(self) -> Iterator:
        return iter(list(self._merged()))

    def __len__(self) -> int:
        return len(self._merged())

    def __repr__(self) -> str:
        return f"Durable({self._merged()!r})"


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

    # -- what a node knows ---------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._host.name

    @property
    def now(self) -> float:
        """Simulated time."""
        return self._host.engine.now

    @property
    def durable(self) -> Durable:
        """Durable state: survives crashes (see ``atomic()``)."""
        return self._host.durable

    @property
    def peer(self) -> str | None:
        """The node that sent the message or ack being handled (None elsewhere)."""
        return self._host.peer

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


class Atomic:
    """The context manager behind ``Node.atomic()``: one transaction over durable state and effects."""

    __slots__ = ("_host", "_outer")

    def __init__(self, host: "Host") -> None:
        self._host = host
        self._outer = False

    def __enter__(self) -> "Atomic":
        host = self._host
        host.check_awake()
        if host.durable._pending is None:  # nested blocks join the outer transaction
            self._outer = True
            host.durable._pending = {}
            host.pending_effects = []
            try:
                host.point("begin", None)
            except BaseException as exc:  # a crash right after begin: __exit__ will not run
                host.durable._pending, host.pending_effects = None, None
                host.rolled_back(0, type(exc))
                raise
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if not self._outer:
            return False
        host = self._host
        durable = host.durable
        pending, effects = durable._pending, host.pending_effects
        durable._pending, host.pending_effects = None, None
        if exc_type is not None:
            host.rolled_back(len(effects), exc_type)
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
