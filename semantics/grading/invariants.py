"""Invariants: what must hold in every run of an exercise, each with the words that say it.

An ``Invariant`` has a name, a statement of what must hold (the verdict's "Broken invariant" line)
and a check that reads one graded run (a ``Trial``: the report, the trace when the exercise asks
for it, the nodes' final state, what the grader measured) and returns a ``Finding`` (what happened
instead) or None. The standard ones are here; an exercise may define its own from the same parts
(exercise 4's "every record is committed" reads the broker's state).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from ..sim.checker import INVARIANTS as CHECKER_INVARIANTS
from ..sim.checker import Report
from .scenarios import Scenario


@dataclass(frozen=True)
class Finding:
    """One broken invariant in one run: which, for which message, and what happened instead."""

    invariant: str
    logical: int | None
    msg_id: Hashable
    explanation: str


@dataclass
class Trial:
    """One graded run, as the invariants see it."""

    scenario: Scenario
    report: Report | None                  # None: a node could not even be built
    problem: str | None = None             # what went wrong outside a handler (building a node)
    nodes: dict[str, Any] = field(default_factory=dict)   # each node's last incarnation, by name
    state: int = 0                         # largest state measured (bytes; bounded-state exercises)
    state_at: float = 0.0
    state_detail: str = ""
    outside: tuple[str, ...] = ()          # changes outside the nodes (class attributes, globals, threads...)
    halted: str | None = None              # the invariant whose check ended the run early (bounded state)
    snapshots: list = field(default_factory=list)  # the state after every event (Exercise.needs_snapshots)

    @property
    def not_implemented(self) -> bool:
        text = self.problem if self.report is None else (self.report.problem or "")
        return "NotImplementedError" in (text or "") and (self.report is None or self.report.status == "error")


@dataclass(frozen=True)
class Invariant:
    """What must hold (``statement``) and how to see that it did not (``check``)."""

    name: str
    statement: str
    check: Callable[[Trial], Finding | None] = field(repr=False, compare=False)


def _ok(trial: Trial) -> bool:
    return trial.report is not None and trial.report.status == "ok" and not trial.outside


# -- the rules of the game -------------------------------------------------------------------------

NODE_ISOLATION = "nodes keep to themselves"
RUN_COMPLETES = "run completes"


def _isolation(trial: Trial) -> Finding | None:
    if trial.outside:
        return Finding(NODE_ISOLATION, None, None, "; ".join(trial.outside))
    return None


def _completes(trial: Trial) -> Finding | None:
    report = trial.report
    if report is None:
        return Finding(RUN_COMPLETES, None, None, f"building a node raised {trial.problem}")
    if report.status != "ok":
        return Finding(RUN_COMPLETES, None, None, report.problem or f"the run stopped ({report.status})")
    return None


ISOLATION = Invariant(NODE_ISOLATION, "a node's state lives on self (volatile) or in self.durable, and its code runs "
                      "only in its handlers: no class attribute or global variable changed, no thread started, "
                      "nothing of the simulator changed", _isolation)
COMPLETES = Invariant(RUN_COMPLETES, "the protocol's code neither raises nor runs away (an endless loop, timers "
                      "re-armed forever, a handler that never returns)", _completes)


# -- the effects of messages -----------------------------------------------------------------------

NO_DUPLICATES = "no duplicate effects"
IN_FLIGHT = "a window of messages in flight"
ACK_MEANS_EFFECT = "ack means effect"
NO_SILENT_LOSS = "no silent loss"
EVERY_EFFECT = "every message takes effect"
EVERY_COPY_ACKED = "every copy is acknowledged"
BOUNDED_STATE = "bounded state"


def times(n: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(n, f"{n} times")


def _counts(m: Any) -> str:
    return (f"sent {times(m.attempts)}, delivered {times(m.deliveries)}, handled to the end {times(m.handled)}, "
            f"{'acknowledged' if m.acked else 'never acknowledged'}")


def _from_checker(name: str) -> Callable[[Trial], Finding | None]:
    """The checker's invariant (semantics.sim.checker), with what happened said in the grader's words."""
    def check(trial: Trial) -> Finding | None:
        for m in trial.report.messages():
            if name == NO_DUPLICATES and m.effects > 1:
                return Finding(name, m.logical, m.msg_id, f"took effect {times(m.effects)} ({_counts(m)})")
            if name == ACK_MEANS_EFFECT and m.acked and not m.effects:
                return Finding(name, m.logical, m.msg_id, f"was acknowledged to the sender, yet never took effect "
                                                          f"({_counts(m)})")
            if name == NO_SILENT_LOSS and m.handled and not m.effects:
                return Finding(name, m.logical, m.msg_id, f"was handled to the end by a live receiver, yet never "
                                                          f"took effect ({_counts(m)})")
        return None
    return check


NO_DUPLICATE = Invariant(NO_DUPLICATES, CHECKER_INVARIANTS[NO_DUPLICATES], _from_checker(NO_DUPLICATES))
ACKED_TOOK_EFFECT = Invariant(ACK_MEANS_EFFECT, CHECKER_INVARIANTS[ACK_MEANS_EFFECT], _from_checker(ACK_MEANS_EFFECT))
NO_LOSS = Invariant(NO_SILENT_LOSS, CHECKER_INVARIANTS[NO_SILENT_LOSS], _from_checker(NO_SILENT_LOSS))


def every_effect(*, accepted_only: bool = False, handled_only: bool = False) -> Invariant:
    """Every message takes effect. ``accepted_only``: only the messages whose ``on_send`` returned
    (the application was told "accepted"; a crash inside ``on_send`` cancels the promise).
    ``handled_only``: only the messages of which the receiver handled a copy to the end (a sender
    that gives up, as exercise 5's does, may lose a message whose every copy was lost)."""
    if accepted_only:
        statement = ("every message the sender accepted (on_send returned) takes effect: the sender keeps "
                     "sending it, across its own crashes, until it is acknowledged")
    elif handled_only:
        statement = "every message of which the receiver handled a copy to the end takes effect"
    else:
        statement = "every message takes effect: the sender keeps sending it until it is acknowledged"

    def check(trial: Trial) -> Finding | None:
        details = trial.report.details
        for m in trial.report.messages():
            if m.effects:
                continue
            if accepted_only and details is not None and not details.accepted[m.logical]:
                continue
            if handled_only and not m.handled:
                continue
            accepted = "was accepted by the sender (on_send returned), yet " if accepted_only else ""
            return Finding(EVERY_EFFECT, m.logical, m.msg_id, f"{accepted}never took effect ({_counts(m)})")
        return None

    return Invariant(EVERY_EFFECT, statement, check)


def _every_copy_acked(trial: Trial) -> Finding | None:
    details = trial.report.details
    if details is None:
        return None
    for m in trial.report.messages():
        sent = details.acks_sent[m.logical]
        if sent < m.handled:
            return Finding(EVERY_COPY_ACKED, m.logical, m.msg_id,
                           f"was handled to the end {times(m.handled)} by the receiver, which sent {sent} "
                           f"ack{'s' if sent != 1 else ''} for it: a copy handled without its ack leaves the sender "
                           "retrying "
                           + ("a message that took effect (the ack of an earlier copy may have been lost)"
                              if m.effects else "a message the receiver set aside without applying it"))
    return None


EVERY_ACKED = Invariant(EVERY_COPY_ACKED, "the receiver acknowledges every copy it handles (after the effect "
                        "commits): a duplicate too, since the ack of the first copy may have been lost",
                        _every_copy_acked)


def bounded_state(bound: int, node: str = "receiver", what: str | None = None) -> Invariant:
    """The state of ``node`` (durable and volatile, as ``state_size`` measures it after every
    handler) never exceeds ``bound`` bytes."""

    def check(trial: Trial) -> Finding | None:
        if trial.state > bound:
            return Finding(BOUNDED_STATE, None, None,
                           f"the {what or node}'s state grew past the bound at t={trial.state_at:g}: {trial.state:,} bytes "
                           f"(at most {bound:,} allowed; {trial.report.n_messages:,} messages in the run); its "
                           f"largest parts then: {trial.state_detail}")
        return None

    return Invariant(BOUNDED_STATE, f"the {what or node}'s state (durable and volatile) never takes more than "
                     f"{bound:,} bytes, however long the run", check)


def in_flight_window(size: int, *, accepted_only: bool = False) -> Invariant:
    """The sender transmits a message (its first copy or a retry) only while every message ``size``
    or more places before it, in the order the application submitted them, has been acknowledged to
    it: a sliding window of at most ``size`` consecutive messages in flight. Read from the trace (the
    network's own duplicates are not the sender's transmissions). ``accepted_only``: a message the
    sender never accepted (a crash cut its ``on_send``) is owed nothing and holds no place."""

    def check(trial: Trial) -> Finding | None:
        messages = trial.report.messages()
        details = trial.report.details
        counted = [i for i in range(len(messages))
                   if not (accepted_only and details is not None and not details.accepted[i])]
        place = {logical: k for k, logical in enumerate(counted)}  # a message's place among those counted
        acked: set[int] = set()
        oldest = 0  # the place of the oldest counted message not yet acknowledged to the sender
        for e in trial.report.trace or ():
            if e.node != "sender" or e.logical not in place:
                continue
            if e.kind == "receive" and e.message == "ack":
                acked.add(place[e.logical])
                while oldest in acked:
                    oldest += 1
            elif e.kind == "send" and e.message == "data" and "network duplicate" not in e.text \
                    and place[e.logical] >= oldest + size:
                waiting = messages[counted[oldest]].msg_id
                return Finding(IN_FLIGHT, e.logical, messages[e.logical].msg_id,
                               f"was sent at t={e.time:g} while {waiting!r}, {place[e.logical] - oldest} places before "
                               f"it, was still unacknowledged: more than {size} consecutive messages in flight")
        return None

    return Invariant(IN_FLIGHT, f"the sender sends a message only while every message {size} or more places "
                     f"before it (in the order the application submitted them) has been acknowledged: at most "
                     f"{size} consecutive messages in flight", check)


def first_broken(invariants: tuple[Invariant, ...], trial: Trial) -> Finding | None:
    """The first invariant, in the exercise's order, that ``trial`` broke. The rules of the game come
    first, so that a run that raised or ran away is never blamed on a count."""
    if trial.halted is not None:  # the run was ended early because this invariant broke
        invariants = tuple(i for i in invariants if i.name in (NODE_ISOLATION, trial.halted))
        trial = Trial(trial.scenario, trial.report, trial.problem, trial.nodes, trial.state, trial.state_at,
                      trial.state_detail, trial.outside, None, trial.snapshots)
        for invariant in invariants:
            finding = invariant.check(trial)
            if finding is not None:
                return finding
        return None
    if trial.report is not None and trial.report.status == "event budget" and not trial.outside:
        # A run that never ends because the receiver did not acknowledge a copy: the sender was right to
        # keep retrying, and the missing ack, not the runaway, is what to fix.
        for invariant in invariants:
            if invariant.name == EVERY_COPY_ACKED:
                finding = invariant.check(trial)
                if finding is not None:
                    return finding
    for invariant in invariants:
        if invariant.name not in (NODE_ISOLATION, RUN_COMPLETES) and not _ok(trial):
            continue
        finding = invariant.check(trial)
        if finding is not None:
            return finding
    return None
