"""The checker: what happened to every logical message, and whether a guarantee held.

For each logical message the application asked to send, a run counts its *attempts* (data
transmissions by the sender), *deliveries* (copies handed to a live node), *effects* (calls of
``apply`` that committed) and whether the sender got an *ack*. From those: lost (0 effects),
once (1) or duplicated (2+), and the *indefinite* outcomes: messages the sender never saw
acknowledged, which may or may not have taken effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable

from ..validation import check_choice

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
    trace: tuple[Event, ...] | None = field(repr=False, default=None)
    _per_message: tuple = field(repr=False, default=())
    labels: dict[str, tuple[str, ...]] = field(repr=False, default_factory=dict)  # crash point -> label (traced runs)
    error_trace: str | None = field(repr=False, default=None)
    # values read from self.durable, changed in place and never written back (the change was lost)
    warnings: tuple[str, ...] = field(repr=False, default=())
    details: RunDetails | None = field(repr=False, default=None, compare=False)

    @property
    def ok(self) -> bool:
        """True when the run finished normally (protocol code neither raised nor ran away)."""
        return self.status == "ok"

    def messages(self) -> list[MessageOutcome]:
        ids, contents, attempts, deliveries, handled, effects, acked = self._per_message
        return [MessageOutcome(i, ids[i], contents[i], attempts[i], deliveries[i], handled[i],
                               effects[i], acked[i]) for i in range(self.n_messages)]

    def message(self, logical: int) -> MessageOutcome:
        return self.messages()[logical]

    def violations(self, semantic: str) -> list[Violation]:
        """Every invariant that ``semantic`` requires and this run broke (first message each)."""
        check_choice("semantic", semantic, SEMANTICS)
        found = []
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
