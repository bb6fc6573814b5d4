"""The checker: what happened to every logical message, and whether a guarantee held.

For each logical message the application asked to send, a run counts its *attempts* (data
transmissions by the sender), *deliveries* (copies handed to a live node), *effects* (calls of
``apply`` that committed) and whether the sender got an *ack*. From those: lost (0 effects),
once (1) or duplicated (2+), and the *indefinite* outcomes: messages the sender never saw
acknowledged, which may or may not have taken effect.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Hashable

from ..validation import check_choice, check_int

SEMANTICS = ("at-most-once", "at-least-once", "exactly-once")


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a run's trace.

    kind is one of: submit, send, receive, down (arrived at a crashed node), effect, timer,
    crash, restart, rollback, note, error. For send/receive/down, ``message`` is "data" or "ack",
    ``wire`` numbers the transmission (a network duplicate gets its own number), ``peer`` is the
    other end; for send, ``fate`` is delivered / lost / partitioned and ``until`` the time it
    arrives (or would have).
    """

    time: float
    node: str
    kind: str
    msg_id: Hashable = None
    logical: int | None = None
    peer: str | None = None
    wire: int | None = None
    message: str | None = None
    fate: str | None = None
    until: float | None = None
    text: str = ""
    receipt: int | None = None  # effect: its position in the node's ledger (what ``apply`` returned)


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    """What happened to one logical message."""

    logical: int
    msg_id: Hashable
    content: Any
    attempts: int
    deliveries: int
    handled: int
    effects: int
    acked: bool

    @property
    def outcome(self) -> str:
        return "lost" if self.effects == 0 else "once" if self.effects == 1 else "duplicated"


# -- per-message counts, a byte each -------------------------------------------------------------------


class _Column(Sequence):
    """A read-only column of per-message values; equal to any sequence with the same values."""

    __slots__ = ()

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self)))]
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"message index {index} out of range for {n} messages")
        return self._at(index + n if index < 0 else index)

    def _at(self, i: int) -> Any:
        raise NotImplementedError

    def __iter__(self) -> Iterator:
        return map(self._at, range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (str, bytes)) or not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


class Tally(_Column):
    """One count per logical message in a byte (a ``bytearray``: what a run of millions of messages can
    afford), exact beyond 255: the few larger counts are kept in a dict. The simulator increments
    ``small[i]`` itself and calls ``more(i)`` when the byte is full (``ValueError``)."""

    __slots__ = ("small", "big")

    def __init__(self, n: int = 0) -> None:
        self.small = bytearray(n)
        self.big: dict[int, int] = {}

    def more(self, i: int) -> None:
        """One more for message ``i`` whose byte holds 255."""
        self.big[i] = self.big.get(i, 255) + 1

    def less(self, i: int) -> None:
        """One fewer for message ``i`` (an effect rolled back)."""
        big = self.big.get(i)
        if big is None:
            self.small[i] -= 1
        elif big == 256:
            del self.big[i]
        else:
            self.big[i] = big - 1

    def set(self, i: int, value: int) -> None:
        if value < 255:
            self.small[i] = value
            self.big.pop(i, None)
        else:
            self.small[i] = 255
            if value > 255:
                self.big[i] = value
            else:
                self.big.pop(i, None)

    def __len__(self) -> int:
        return len(self.small)

    def _at(self, i: int) -> int:
        value = self.small[i]
        return self.big.get(i, 255) if value == 255 else value

    def __iter__(self) -> Iterator[int]:
        return iter(self.small) if not self.big else map(self._at, range(len(self.small)))

    def count(self, value: Any) -> int:
        if type(value) is int and 0 <= value < 255:
            return self.small.count(value)
        return sum(1 for v in self if v == value)

    def total(self) -> int:
        return sum(self.small) + sum(v - 255 for v in self.big.values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Tally):
            return self.small == other.small and self.big == other.big
        return super().__eq__(other)

    __hash__ = _Column.__hash__


class Flags(_Column):
    """One yes/no per logical message, a byte each (0 or 1)."""

    __slots__ = ("small",)

    def __init__(self, n: int = 0) -> None:
        self.small = bytearray(n)

    def __len__(self) -> int:
        return len(self.small)

    def _at(self, i: int) -> bool:
        return self.small[i] != 0

    def count(self, value: Any) -> int:
        ones = len(self.small) - self.small.count(0)
        return ones if value else len(self.small) - ones

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Flags):
            return self.small == other.small
        return super().__eq__(other)

    __hash__ = _Column.__hash__


class Numbered(_Column):
    """The application's message ids ("m1", "m2"...) or default contents ("op 1"...), made when read."""

    __slots__ = ("form", "n")

    def __init__(self, form: str, n: int) -> None:
        self.form, self.n = form, n

    def __len__(self) -> int:
        return self.n

    def _at(self, i: int) -> str:
        return self.form % (i + 1)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Numbered):
            return self.form == other.form and self.n == other.n
        return super().__eq__(other)

    __hash__ = _Column.__hash__


def message_id(logical: int) -> str:
    """The id the application gives logical message ``logical`` (0-based): "m1", "m2"..."""
    return "m%d" % (logical + 1)


def default_content(logical: int) -> str:
    return "op %d" % (logical + 1)


def canonical_index(msg_id: str) -> int | None:
    """The logical message whose application id is ``msg_id`` ("m7" -> 6), or None for any other text."""
    digits = msg_id[1:]
    if msg_id[:1] == "m" and digits.isascii() and digits.isdigit() and digits[0] != "0":
        return int(digits) - 1
    return None


class Outcomes(_Column):
    """``Report.messages()``: one ``MessageOutcome`` per logical message, made when read (a run of a
    million messages keeps a few bytes per message, not a million objects)."""

    __slots__ = ("columns",)

    def __init__(self, columns: tuple) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns[0])

    def _at(self, i: int) -> "MessageOutcome":
        ids, contents, attempts, deliveries, handled, effects, acked = self.columns
        return MessageOutcome(i, ids[i], contents[i], attempts[i], deliveries[i], handled[i], effects[i],
                              bool(acked[i]))


OUTCOMES_KEPT = 100_000  # simulate() keeps per-message outcomes up to this many messages unless asked


class OutcomesNotKept(ValueError):
    """Raised by ``Report.messages()`` (and what needs it) when the run kept only counts."""


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken invariant, the first logical message that broke it, and why."""

    invariant: str
    logical: int
    msg_id: Hashable
    explanation: str

    def __str__(self) -> str:
        return f"{self.invariant}: message {self.msg_id!r}: {self.explanation}"


INVARIANTS = {
    "no duplicate effects": "no message takes effect more than once",
    "no silent loss": "a message the receiver handled to the end (no crash) took effect",
    "ack means effect": "a message the sender saw acknowledged took effect",
}

REQUIRED = {
    "at-most-once": ("no duplicate effects",),
    "at-least-once": ("no silent loss", "ack means effect"),
    "exactly-once": ("no duplicate effects", "no silent loss", "ack means effect"),
}


@dataclass(frozen=True)
class RunDetails:
    """What a guarded run (``run(budgets=...)`` or ``run(choices=...)``) also counts, for graders:
    per logical message, the acks other nodes sent for it and whether ``on_send`` returned without a
    crash (the application was told "accepted"); the decision points of the run; the lines of
    protocol code executed; the handler calls; choices of a schedule that did not fit their point."""

    acks_sent: tuple[int, ...]
    accepted: tuple[bool, ...]
    decisions: int
    lines: int
    calls: int
    ignored: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Report:
    """The result of one run. The six facade counts are plain integers."""

    n_messages: int
    lost: int
    once: int
    duplicated: int
    effects: int
    attempts: int
    acked: int
    indefinite: int            # never acknowledged to the sender
    indefinite_applied: int    # ... yet took effect ("gave up although delivered")
    status: str                # "ok", "error", "event budget", "time limit", or a budget of
                               # semantics.sim.budgets: "step budget", "line budget", "run line budget"
    problem: str | None
    seed: int
    events: int
    crashes: int
    end_time: float
    points: dict[str, int]
    trace: Sequence[Event] | None = field(repr=False, default=None)  # a tuple, or a compact ``trace.Trace``
    # per message (ids, contents, attempts, deliveries, handled, effects, acked): sequences, or None when
    # the run kept only counts (see ``messages()``)
    _per_message: tuple | None = field(repr=False, default=())
    labels: dict[str, tuple[str, ...]] = field(repr=False, default_factory=dict)  # crash point -> label (traced runs)
    error_trace: str | None = field(repr=False, default=None)
    # values read from self.durable, changed in place and never written back (the change was lost)
    warnings: tuple[str, ...] = field(repr=False, default=())
    details: RunDetails | None = field(repr=False, default=None, compare=False)
    # without per-message outcomes: the first message (by index) that broke each invariant, found as the
    # run went (what ``violations`` reports)
    _first_broken: dict[str, "MessageOutcome"] | None = field(repr=False, default=None, compare=False)

    @property
    def ok(self) -> bool:
        """True when the run finished normally (protocol code neither raised nor ran away)."""
        return self.status == "ok"

    @property
    def has_outcomes(self) -> bool:
        """Whether this report kept what happened to each message (``messages()``), not only the counts."""
        return bool(self._per_message) or self.n_messages == 0

    def messages(self) -> Sequence[MessageOutcome]:
        """What happened to each logical message, in order (a sequence made as it is read)."""
        if not self._per_message:
            if self.n_messages == 0:
                return ()
            raise OutcomesNotKept(
                f"this report of {self.n_messages:,} messages kept only the counts, not what happened to each "
                f"message: simulate() keeps them for runs of up to {OUTCOMES_KEPT:,} messages (they cost about "
                "5 bytes a message); run it again with outcomes=True to keep them")
        return Outcomes(self._per_message)

    def message(self, logical: int) -> MessageOutcome:
        """What happened to logical message ``logical`` (0-based: message "m1" is 0)."""
        if self.n_messages == 0:
            raise ValueError("logical: this run has no messages")
        check_int("logical", logical, low=0, high=self.n_messages - 1)
        return self.messages()[logical]

    def violations(self, semantic: str) -> list[Violation]:
        """Every invariant that ``semantic`` requires and this run broke (first message each)."""
        check_choice("semantic", semantic, SEMANTICS)
        found = []
        if not self._per_message and self._first_broken is not None:
            for name in REQUIRED[semantic]:
                m = self._first_broken.get(name)
                if m is not None:
                    found.append(Violation(name, m.logical, m.msg_id, _breaks(name, m)))
            return found
        for name in REQUIRED[semantic]:
            for m in self.messages():
                why = _breaks(name, m)
                if why:
                    found.append(Violation(name, m.logical, m.msg_id, why))
                    break
        return found

    def verdicts(self, semantic: str) -> dict[str, bool]:
        """Invariant name -> held, for the invariants ``semantic`` requires."""
        broken = {v.invariant for v in self.violations(semantic)}
        return {name: name not in broken for name in REQUIRED[semantic]}

    def summary(self) -> str:
        """A short, deterministic text summary (what notebooks print and nbval compares)."""
        n = self.n_messages or 1
        lines = [f"messages {self.n_messages}: lost {self.lost} ({self.lost / n:.1%}), "
                 f"once {self.once} ({self.once / n:.1%}), duplicated {self.duplicated} ({self.duplicated / n:.1%})",
                 f"effects {self.effects}, attempts {self.attempts} ({self.attempts / n:.2f} per message), "
                 f"acked {self.acked}, indefinite {self.indefinite} (of which took effect {self.indefinite_applied})"]
        if self.crashes:
            lines.append(f"crashes {self.crashes}")
        if not self.ok:
            lines.append(f"run stopped ({self.status}): {self.problem}")
        return "\n".join(lines)


def _breaks(invariant: str, m: MessageOutcome) -> str:
    if invariant == "no duplicate effects" and m.effects > 1:
        return f"took effect {m.effects} times ({m.deliveries} deliveries, {m.attempts} attempts)"
    if invariant == "no silent loss" and m.handled and not m.effects:
        return f"handled {m.handled} time(s) by a live receiver, yet never took effect"
    if invariant == "ack means effect" and m.acked and not m.effects:
        return "the sender got an ack, yet the message never took effect"
    return ""
