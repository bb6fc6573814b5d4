"""The autograder of the exercise ladder: runs a learner's protocol under many seeded scenarios,
random and adversarial, and explains the first broken invariant with a minimal counterexample.

``check(exercise, Sender, Receiver)`` returns a ``Verdict``. A verdict that failed carries a
``Counterexample``: which invariant broke, for which message, the shrunk scenario (fewest messages,
then the simplest faults) with its traced replay, the seed and the exact call that replays it, and
a hint written for that exercise and that invariant. Learner code is untrusted: an exception
(``NotImplementedError`` of an unsolved exercise included), a handler that never returns or timers
that re-arm forever end one run with a report, never the grading or the kernel.

The ladder (each exercise starts from the previous answer)::

    1  retry until acknowledged          request loss, partitions        -> at-least-once
    2  stable ids and deduplication      ack loss, network duplicates, a delayed original
    3  durable, atomic deduplication     the receiver crashes at every crash point
    4  commit discipline of a consumer   a crash between processing and commit; redelivery
    5  bounded deduplication state       retries up to a stated horizon; state must stay small
    6  capstone: outbox and inbox        the sender crashes too, at every crash point
"""

from __future__ import annotations

import html
import io
import re
import sys
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..sim.checker import INVARIANTS as CHECKER_INVARIANTS
from ..sim.checker import Event, Report
from ..sim.faults import NO_FAULTS, Faults
from ..sim.harness import run
from ..sim.network import Link
from ..sim.nodes import Node, Payload
from ..validation import check_int, check_number

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

# -- invariants ----------------------------------------------------------------------------------

RUN_COMPLETES = "run completes"
NO_DUPLICATES = "no duplicate effects"
ACK_MEANS_EFFECT = "ack means effect"
NO_SILENT_LOSS = "no silent loss"
EVERY_EFFECT = "every message takes effect"
ALL_COMMITTED = "every message is committed"
BOUNDED_STATE = "bounded deduplication state"

#: Invariant name -> what it demands. Checked in this order: the first one broken is reported, so
#: that a run that raised is never blamed on a count, and a duplicate is named before what follows.
INVARIANTS: dict[str, str] = {
    RUN_COMPLETES: "the protocol code neither raises nor runs away (endless loop, timers re-armed forever)",
    NO_DUPLICATES: CHECKER_INVARIANTS[NO_DUPLICATES],
    ACK_MEANS_EFFECT: CHECKER_INVARIANTS[ACK_MEANS_EFFECT],
    NO_SILENT_LOSS: CHECKER_INVARIANTS[NO_SILENT_LOSS],
    EVERY_EFFECT: "every message the sender accepted takes effect (it keeps sending it until it is acknowledged)",
    ALL_COMMITTED: "the consumer commits every record it has processed, so the broker stops redelivering it",
    BOUNDED_STATE: "the receiver's durable state never holds more than a fixed number of entries",
}

WALL_CLOCK = 1.0        # seconds of real time one run may take before it is stopped (an endless loop);
                        # a correct run takes milliseconds, and the verdict stays under 2 s
TIME_BUDGET = 60.0      # seconds for a whole verdict (a correct solution needs about one)
SHRINK_BUDGET = 1.5     # seconds spent looking for a smaller counterexample
MAX_CRASH_POINTS = 400  # crash points tried per base scenario (a runaway protocol has thousands)
MAX_DIAGRAM_EVENTS = 600  # a counterexample with more events gets its text trace only


# -- the broker of exercise 4 --------------------------------------------------------------------


class Broker(Node):
    """A log broker (the ``sender`` node of exercise 4), in the manner of a Kafka partition.

    Every message the application sends is appended to the log at the next *offset* and pushed to
    the consumer as ``on_message(offset, body)``. The consumer *commits* with ``ack(offset)``, which
    means "every record up to and including ``offset`` is done" (a commit is cumulative, as a
    Kafka offset commit is). Every ``redeliver_after`` time units the broker pushes every record
    from the committed offset on again, in order, until they are committed; after ``max_rounds``
    rounds without progress it stops redelivering for good (new records are still pushed once), so
    that a consumer that never commits cannot keep a run alive.
    """

    redeliver_after = 4.0
    max_rounds = 60  # long enough that bad luck (loss, crashes) never looks like a consumer that never commits

    def on_start(self) -> None:
        self.log: list[Payload] = []
        self.committed = 0        # the next offset the consumer has not committed
        self.rounds = 0           # redelivery rounds since the committed offset last moved
        self.armed = False

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        self.log.append(body)
        self.send("receiver", len(self.log) - 1, body)
        self.arm()

    def arm(self) -> None:
        if not self.armed:
            self.armed = True
            self.set_timer("redeliver", self.redeliver_after)

    def on_ack(self, offset: Hashable) -> None:
        # Ignore what is not an offset of this log: a consumer's bug must not crash the broker.
        if type(offset) is int and self.committed <= offset < len(self.log):
            self.committed = offset + 1
            self.rounds = 0

    def on_timer(self, key: Hashable) -> None:
        self.armed = False
        if self.committed >= len(self.log):
            return
        self.rounds += 1
        if self.rounds > self.max_rounds:
            self.note(f"broker gave up: offset {self.committed} never committed")
            return
        for offset in range(self.committed, len(self.log)):
            self.send("receiver", offset, self.log[offset])
        self.arm()


# -- scenarios -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One seeded run: how many messages, the link, the faults, the pace and the bodies."""

    label: str
    n_messages: int
    seed: int = 0
    link: Link = field(default_factory=Link)
    faults: Faults = NO_FAULTS
    interval: float | None = None
    contents: tuple | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.label, str):
            raise TypeError(f"label must be a string, got {self.label!r}")
        check_int("n_messages", self.n_messages, low=1, high=100_000)
        check_int("seed", self.seed)
        if not isinstance(self.link, Link):
            raise TypeError(f"link must be a semantics.Link, got {self.link!r}")
        if not isinstance(self.faults, Faults):
            raise TypeError(f"faults must be a semantics.Faults, got {self.faults!r}")
        if self.interval is not None:
            check_number("interval", self.interval, low=0.0, low_open=True)
        if self.contents is not None and len(self.contents) < self.n_messages:
            raise ValueError(f"contents must hold at least n_messages={self.n_messages} bodies, "
                             f"got {len(self.contents)}")

    def kwargs(self) -> dict[str, Any]:
        contents = None if self.contents is None else list(self.contents[:self.n_messages])
        return dict(n_messages=self.n_messages, link=self.link, faults=self.faults, seed=self.seed,
                    interval=self.interval, contents=contents)

    def call(self, sender: str = "Sender", receiver: str = "Receiver") -> str:
        """The ``semantics.run(...)`` call that replays this scenario (with its trace)."""
        parts = [sender, receiver, f"n_messages={self.n_messages}"]
        link = _fields(self.link, Link())
        if link:
            parts.append(f"link=semantics.Link({link})")
        faults = _fields(self.faults, NO_FAULTS)
        if faults:
            parts.append(f"faults=semantics.Faults({faults})")
        parts.append(f"seed={self.seed}")
        if self.interval is not None:
            parts.append(f"interval={self.interval:g}")
        if self.contents is not None:
            parts.append(f"contents={list(self.contents[:self.n_messages])!r}")
        parts.append("trace=True")
        return f"semantics.run({', '.join(parts)})"

    def describe(self) -> str:
        """The faults in words, simplest first (what the counterexample's reader needs)."""
        words = []
        link = self.link
        for name, text in (("loss", "request loss"), ("ack_loss", "ack loss"), ("duplicate", "network duplicates")):
            value = getattr(link, name)
            if value:
                words.append(f"{text} {value:.0%}")
        if link.jitter:
            words.append(f"delay {link.delay:g} + jitter (mean {link.jitter:g}): copies can overtake each other")
        for start, end in link.partitions:
            words.append(f"partition from t={start:g} to t={end:g}")
        faults = self.faults
        for node, points in faults.crash_at.items():
            if points:
                words.append(f"{node} crashes at crash point{'s' if len(points) > 1 else ''} "
                             f"{', '.join(map(str, sorted(points)))}")
        if faults.crash_prob:
            words.append(f"random crashes of {', '.join(faults.nodes)} ({faults.crash_prob:.0%} per crash point)")
        pace = "stop-and-wait" if self.interval is None else f"a new message every {self.interval:g}"
        count = f"{self.n_messages} message{'s' if self.n_messages != 1 else ''}"
        return f"{count}, {pace}" + (f"; {'; '.join(words)}" if words else "; a perfect network, no crash")


def _fields(obj: Any, default: Any) -> str:
    """``name=value`` for the fields of a Link or Faults that differ from the default."""
    out = []
    for name in obj.__dataclass_fields__:
        value, base = getattr(obj, name), getattr(default, name)
        if value == base:
            continue
        if name == "crash_at":
            value = {node: set(sorted(points)) for node, points in value.items()}
        out.append(f"{name}={value!r}")
    return ", ".join(out)


# -- exercises -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exercise:
    """One rung of the ladder: what it checks, under which scenarios, with which hints."""

    number: int
    title: str
    goal: str
    invariants: tuple[str, ...]
    scenarios: Callable[[], list[Scenario]]
    crash_bases: Callable[[], list[Scenario]] = lambda: []
    hints: Mapping[str, str] = field(default_factory=dict)
    fixed_sender: type[Node] | None = None
    state_bound: int | None = None
    horizon: float | None = None   # copies must arrive within this time of their message's submission
    crash_nodes: tuple[str, ...] = ("receiver",)  # whose every crash point the adversary tries
    accepted_only: bool = False    # EVERY_EFFECT only for messages whose on_send returned (sender crashes)

    @property
    def key(self) -> str:
        return f"ex{self.number}"


REPEATED = ("deposit 10", "deposit 10", "withdraw 5", "deposit 10", "withdraw 5", "deposit 10",
            "withdraw 5", "deposit 10") * 40  # equal bodies: different messages may look alike


def _ex1_scenarios() -> list[Scenario]:
    out = [
        Scenario("a perfect network", 3),
        Scenario("the network is partitioned at first: every first attempt is lost", 3,
                 link=Link(partitions=((0.0, 7.5),))),
        Scenario("a long partition: many retries in a row are lost", 2, link=Link(partitions=((0.0, 40.0),))),
        Scenario("several messages in flight, the first ones lost in a partition", 6, interval=0.5,
                 link=Link(partitions=((0.0, 2.2),))),
    ]
    for seed in range(3):
        out.append(Scenario("request loss 30%", 20, seed, Link(loss=0.3)))
        out.append(Scenario("request loss 70%", 10, seed, Link(loss=0.7)))
        out.append(Scenario("request loss 40%, ack loss 20%, several in flight", 20, seed,
                            Link(loss=0.4, ack_loss=0.2), interval=0.7))
    return out


def _ex2_scenarios() -> list[Scenario]:
    out = [
        Scenario("the first ack is lost (partitioned): the retry is a duplicate", 2,
                 link=Link(partitions=((0.5, 1.5),)), contents=REPEATED),
        Scenario("two different messages with equal bodies", 3, contents=REPEATED),
        Scenario("the network delivers every message twice", 3, link=Link(duplicate=0.99)),
    ]
    for seed in range(3):
        out.append(Scenario("ack loss 40%", 20, seed, Link(ack_loss=0.4), contents=REPEATED))
        out.append(Scenario("long delays: an original arrives after its retry", 15, seed,
                            Link(delay=1.0, jitter=4.0), contents=REPEATED))
        out.append(Scenario("loss, ack loss, duplicates and reordering, several in flight", 25, seed,
                            Link(loss=0.3, ack_loss=0.3, duplicate=0.2, jitter=1.5), interval=0.8,
                            contents=REPEATED))
    return out


def _crash_faults(p: float, nodes: tuple[str, ...] = ("receiver",)) -> Faults:
    return Faults(crash_prob=p, nodes=nodes, restart_after=1.0)


def _ex3_bases() -> list[Scenario]:
    return [
        Scenario("a perfect network", 2, contents=REPEATED),
        Scenario("ack loss 50%", 3, 1, Link(ack_loss=0.5), contents=REPEATED),
        Scenario("several messages in flight", 3, interval=0.5, contents=REPEATED),
    ]


def _ex3_scenarios() -> list[Scenario]:
    out = _ex2_scenarios()[:3]
    for seed in range(3):
        out.append(Scenario("random receiver crashes, ack loss, delays", 20, seed,
                            Link(loss=0.2, ack_loss=0.3, jitter=1.0), _crash_faults(0.05), contents=REPEATED))
        out.append(Scenario("frequent receiver crashes, several in flight", 15, seed,
                            Link(loss=0.2, ack_loss=0.2, jitter=0.5), _crash_faults(0.12), interval=1.0,
                            contents=REPEATED))
    return out


def _ex4_bases() -> list[Scenario]:
    return [
        Scenario("a perfect network", 2),
        Scenario("several records in flight", 3, interval=0.5),
        Scenario("a record lost on the wire", 3, interval=0.5, link=Link(partitions=((0.4, 0.6),))),
    ]


def _ex4_scenarios() -> list[Scenario]:
    out = [Scenario("the first push of a record is lost, the next one arrives", 3, interval=0.5,
                    link=Link(partitions=((0.4, 0.6),)))]
    for seed in range(3):
        out.append(Scenario("lost and reordered pushes", 20, seed, Link(loss=0.3, jitter=1.0), interval=0.7))
        out.append(Scenario("random consumer crashes and redelivery", 20, seed,
                            Link(loss=0.2, ack_loss=0.2, jitter=0.5), _crash_faults(0.06), interval=0.7))
        out.append(Scenario("frequent consumer crashes, stop-and-wait", 10, seed, Link(ack_loss=0.3),
                            _crash_faults(0.15)))
    return out


EX5_INTERVAL = 2.0
EX5_HORIZON = 24.0
EX5_STATE_BOUND = 64


def _ex5_bases() -> list[Scenario]:
    return [
        Scenario("a perfect network", 2, interval=EX5_INTERVAL),
        Scenario("every ack lost", 2, interval=EX5_INTERVAL, link=Link(ack_loss=1.0)),
    ]


def _ex5_scenarios() -> list[Scenario]:
    out = [
        Scenario("every ack lost: each message arrives 5 times, the last one 16 after the first", 20,
                 interval=EX5_INTERVAL, link=Link(ack_loss=1.0)),
        Scenario("the first message is lost once: it arrives after the second", 3, interval=EX5_INTERVAL,
                 link=Link(partitions=((0.0, 0.5),))),
    ]
    for seed in range(4):
        # Many copies near the bound: the first copy fast, a retry slow (copies beyond the bound
        # are not held against the learner, see _Runner.in_contract).
        out.append(Scenario("long delays: retries arriving close to the horizon", 60, seed,
                            Link(ack_loss=0.7, jitter=2.5), interval=EX5_INTERVAL))
    for seed in range(4):
        # No ack ever arrives, so every message arrives 5 times; a fast first copy and a slow last one
        # put two copies of a message up to 23 apart inside the bound: time windows short of 23 fail.
        out.append(Scenario("every ack lost, long delays: two copies of a message up to 23 apart", 150, seed,
                            Link(ack_loss=1.0, jitter=2.5), interval=EX5_INTERVAL))
    for seed in (27, 0, 1, 2):
        # A message whose early copies are lost and whose last copy is slow arrives for the first time
        # after newer messages: sequence windows short of 12 numbers take it for a duplicate. (In seed
        # 27, message 191 first arrives 23.9 after its submission, after message 202.)
        out.append(Scenario("early copies lost, the last one slow: a message arrives after newer ones", 300,
                            seed, Link(loss=0.75, ack_loss=1.0, jitter=2.5), interval=EX5_INTERVAL))
    for seed in range(3):
        out.append(Scenario("a long run: loss, ack loss, reordering", 150, seed,
                            Link(loss=0.3, ack_loss=0.3, jitter=0.5), interval=EX5_INTERVAL))
        out.append(Scenario("a long run with receiver crashes", 150, seed,
                            Link(loss=0.2, ack_loss=0.4, jitter=0.5), _crash_faults(0.02), interval=EX5_INTERVAL))
    return out


def _ex6_bases() -> list[Scenario]:
    return [
        Scenario("the first attempt of the first message is lost", 2, link=Link(partitions=((0.0, 0.5),))),
        Scenario("several messages in flight, their first attempts lost", 3, interval=0.5,
                 link=Link(partitions=((0.0, 1.2),))),
    ]


def _ex6_scenarios() -> list[Scenario]:
    both = ("sender", "receiver")
    out = []
    for seed in range(3):
        out.append(Scenario("random crashes of both nodes, loss, ack loss, delays", 20, seed,
                            Link(loss=0.3, ack_loss=0.3, jitter=0.5), _crash_faults(0.05, both), interval=1.0))
        out.append(Scenario("frequent crashes of both nodes, stop-and-wait", 10, seed,
                            Link(loss=0.3, ack_loss=0.2), _crash_faults(0.1, both)))
    return out


_RUN_HINT = ("Read the problem above: an exception names the handler, the line and the time; an endless "
             "loop is in the handler that the last event of the trace called. A run that stops on an event "
             "budget keeps scheduling work: a timer re-armed after its message was acknowledged, or a sender "
             "that never hears an ack for a duplicate.")

EXERCISES: dict[int, Exercise] = {
    1: Exercise(
        1, "Retry until acknowledged", "at-least-once: every message takes effect despite request loss",
        (RUN_COMPLETES, EVERY_EFFECT), _ex1_scenarios,
        hints={
            EVERY_EFFECT: ("A message that is lost on the wire is gone: only the sender can fix it. "
                           "Remember every message that is not acknowledged yet (in on_send), set a "
                           "timer for it, and when the timer fires send it again and set the timer again; "
                           "on_ack forgets the message and cancels its timer."),
            RUN_COMPLETES: ("A timer that is re-armed even after its message was acknowledged keeps the "
                            "run going forever: in on_timer, retry only messages still waiting for an "
                            "ack, and cancel the timer in on_ack. " + _RUN_HINT),
        }),
    2: Exercise(
        2, "Stable ids and deduplication", "no duplicate effects despite ack loss, duplicates and reordering",
        (RUN_COMPLETES, NO_DUPLICATES, ACK_MEANS_EFFECT, NO_SILENT_LOSS, EVERY_EFFECT), _ex2_scenarios,
        hints={
            NO_DUPLICATES: ("A second copy of a message (a retry after a lost ack, a network duplicate, a "
                            "late original) took effect again. The receiver must remember the ids it has "
                            "applied and only acknowledge a copy it has seen. That works only if every "
                            "retry carries the same id as the original: an id made per attempt makes "
                            "each retry look new."),
            ACK_MEANS_EFFECT: ("The sender got an ack for a message that never took effect: the receiver "
                               "took it for a duplicate. Two different messages can have equal bodies "
                               "(two deposits of 10): deduplicate by the message id, never by the content."),
            NO_SILENT_LOSS: ("The receiver handled a message without applying it and it never took effect: "
                             "only a copy whose id was already applied may be skipped."),
            EVERY_EFFECT: ("A message never took effect: does the receiver acknowledge a copy it did not "
                           "apply? Keep the sender retrying until the ack of that very message arrives."),
            RUN_COMPLETES: ("Acknowledge duplicates too: the first ack may have been lost, and a sender "
                            "that never hears one retries forever. " + _RUN_HINT),
        }),
    3: Exercise(
        3, "Durable, atomic deduplication", "exactly-once effects when the receiver crashes at any point",
        (RUN_COMPLETES, NO_DUPLICATES, ACK_MEANS_EFFECT, NO_SILENT_LOSS, EVERY_EFFECT), _ex3_scenarios,
        _ex3_bases,
        hints={
            NO_DUPLICATES: ("After a crash the receiver applied a message again. Attributes on self are "
                            "volatile: a crash forgets them, so the record of applied ids must live in "
                            "self.durable. And the effect and that record must commit together: inside one "
                            "`with self.atomic():` block, or a crash between them leaves the effect "
                            "without the record."),
            ACK_MEANS_EFFECT: ("The sender got an ack, yet the message never took effect: a crash struck "
                               "between the ack (or the durable 'done' mark) and the effect. Mark the id and "
                               "apply the effect in the same atomic block, and acknowledge only after the "
                               "block has committed (an ack is a message on the wire: no transaction can "
                               "take it back)."),
            NO_SILENT_LOSS: ("A copy was skipped as a duplicate although the message never took effect: the "
                             "'done' mark was written without the effect. Write both in one atomic block."),
            EVERY_EFFECT: ("A message never took effect: look at the crash point in the trace. Acknowledge "
                           "only after the effect and its record are durable."),
            RUN_COMPLETES: _RUN_HINT,
        }),
    4: Exercise(
        4, "Commit discipline of a log consumer",
        "each record takes effect once when the consumer crashes between processing and commit",
        (RUN_COMPLETES, NO_DUPLICATES, ACK_MEANS_EFFECT, NO_SILENT_LOSS, EVERY_EFFECT, ALL_COMMITTED),
        _ex4_scenarios, _ex4_bases, fixed_sender=Broker,
        hints={
            NO_DUPLICATES: ("The consumer crashed after processing a record but before the broker heard the "
                            "commit, and the redelivered record took effect again. The broker's committed "
                            "offset can never be atomic with your effect: keep your own position (or the "
                            "offsets you have processed) in self.durable, written in the same atomic block "
                            "as the effect, and skip what it says is done."),
            ACK_MEANS_EFFECT: ("The broker was told a record was done before its effect committed: commit "
                               "after processing, never before (commit-then-process is at-most-once)."),
            NO_SILENT_LOSS: ("A record was skipped although it never took effect: the consumer's position "
                             "moved without the effect. Move it in the same atomic block as the effect."),
            EVERY_EFFECT: ("A record never took effect, and the broker will never send it again: a commit is "
                           "cumulative, so committing offset k also commits every record before k. When a "
                           "record arrives after a gap (an earlier one was lost or is late), commit only "
                           "up to the last record you have processed without a gap."),
            ALL_COMMITTED: ("Records were processed but never committed: the broker keeps redelivering them "
                            "(and a new consumer would process them again). Commit with self.ack(offset) "
                            "after processing, and commit again when a redelivered record is already done."),
            RUN_COMPLETES: _RUN_HINT,
        }),
    5: Exercise(
        5, "Bounded deduplication state",
        f"exactly-once with at most {EX5_STATE_BOUND} durable entries, for copies arriving within "
        f"{EX5_HORIZON:g} time units of their message's submission",
        (RUN_COMPLETES, NO_DUPLICATES, ACK_MEANS_EFFECT, NO_SILENT_LOSS, BOUNDED_STATE), _ex5_scenarios,
        _ex5_bases, state_bound=EX5_STATE_BOUND, horizon=EX5_HORIZON,
        hints={
            BOUNDED_STATE: ("The deduplication record grows with every message: nothing is ever forgotten. "
                            f"Every copy of a message arrives within {EX5_HORIZON:g} time units of its "
                            "submission, so an entry older than that (in time, or in sequence numbers: "
                            f"a message is submitted every {EX5_INTERVAL:g}) can never be needed again: drop it."),
            NO_DUPLICATES: ("A late copy took effect again: the deduplication window forgot the message "
                            "too early. The window must cover the whole retry horizon "
                            f"({EX5_HORIZON:g} time units, or {EX5_HORIZON / EX5_INTERVAL:g} sequence numbers), "
                            "and it must be durable and updated atomically with the effect."),
            ACK_MEANS_EFFECT: ("A message was acknowledged but never took effect: it arrived after a later "
                               "one (retries reorder messages) and was taken for a duplicate. 'Higher than "
                               "anything seen' is not the same as 'new': remember which sequence numbers "
                               "within the window you have applied, not only the highest."),
            NO_SILENT_LOSS: ("A message was dropped although it never took effect: it arrived after a later "
                             "one and was taken for a duplicate. Keep the set of applied sequence numbers "
                             "within the window, not only the highest."),
            RUN_COMPLETES: _RUN_HINT,
        }),
    6: Exercise(
        6, "Capstone: outbox and inbox", "exactly-once effects when the sender and the receiver both crash",
        (RUN_COMPLETES, NO_DUPLICATES, ACK_MEANS_EFFECT, NO_SILENT_LOSS, EVERY_EFFECT), _ex6_scenarios,
        _ex6_bases, crash_nodes=("sender", "receiver"), accepted_only=True,
        hints={
            EVERY_EFFECT: ("The sender accepted a message (on_send returned), and it was not sent again until "
                           "acknowledged: an entry left the outbox before its ack arrived, or a crash took the "
                           "volatile list of unacknowledged messages and the timers with it. Write each message "
                           "to a durable outbox before on_send returns; in on_start, which "
                           "runs again after every restart, send again whatever the outbox still holds and set "
                           "its timers again (timers do not survive a crash); remove an entry only when its ack "
                           "arrives."),
            NO_DUPLICATES: ("A message took effect twice. An outbox resends what it is not sure about, by "
                            "design: the receiver's inbox must absorb that. Keep it durable and committed in "
                            "the same atomic block as the effect (exercise 3)."),
            ACK_MEANS_EFFECT: ("The sender got an ack for a message that never took effect: the receiver "
                               "acknowledged (or marked the id done) before the effect committed. Mark and apply "
                               "in one atomic block, ack after it."),
            NO_SILENT_LOSS: ("A copy was skipped as a duplicate although the message never took effect: the "
                             "inbox mark was written without the effect. Write both in one atomic block."),
            RUN_COMPLETES: _RUN_HINT,
        }),
}


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One broken invariant in one run."""

    invariant: str
    logical: int | None
    msg_id: Hashable
    explanation: str


@dataclass(frozen=True)
class Counterexample:
    """A minimal run that breaks an invariant, replayable from its scenario and seed."""

    invariant: str
    msg_id: Hashable
    explanation: str
    scenario: Scenario          # the shrunk scenario
    original: Scenario          # the scenario that failed first
    report: Report | None       # the traced replay of ``scenario`` (None: a node could not be built)
    crashes: tuple[str, ...]    # where each crash struck, in words
    replay_call: str
    reproduced: bool = True     # the traced replay broke the invariant again (learner code is deterministic)
    sender: Any = field(repr=False, default=None)
    receiver: Any = field(repr=False, default=None)

    @property
    def seed(self) -> int:
        return self.scenario.seed

    def replay(self) -> Report:
        """Run the shrunk scenario again, traced: the same run, event for event."""
        return run(self.sender, self.receiver, trace=True, max_events=_max_events(self.scenario),
                   wall_clock=WALL_CLOCK, **self.scenario.kwargs())

    def trace_text(self, limit: int = 60) -> str:
        """The replay's trace in words ("" when there is none)."""
        if self.report is None or self.report.trace is None:
            return ""
        return format_trace(self.report, limit=limit)

    def diagram(self) -> Figure | None:
        """The sequence diagram of the counterexample (None when semantics.views.plots is unavailable)."""
        try:
            from ..views.plots import sequence_diagram
        except ImportError:  # the pictures module is optional for grading
            return None
        report = self.report
        if report is None or report.trace is None or len(report.trace) > MAX_DIAGRAM_EVENTS:
            return None  # a runaway run: thousands of events make no readable picture
        focus = None
        if report.n_messages > 6 and self.msg_id is not None:
            focus = [self.msg_id]
        which = f" ({self.msg_id})" if self.msg_id is not None else ""
        return sequence_diagram(report, title=f"counterexample: {self.invariant}{which}", messages=focus)


@dataclass(frozen=True)
class Verdict:
    """The grader's answer: passed or not, and why, with the counterexample when there is one."""

    exercise: int
    title: str
    passed: bool
    status: str                 # "passed", "failed", "not implemented", "incomplete"
    explanation: str
    hint: str = ""
    counterexample: Counterexample | None = None
    scenarios: int = 0          # scenarios run
    elapsed: float = 0.0        # seconds

    @property
    def invariant(self) -> str | None:
        return self.counterexample.invariant if self.counterexample else None

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = {"passed": "PASSED", "failed": "NOT PASSED", "not implemented": "NOT IMPLEMENTED YET",
                "incomplete": "NOT PASSED (grading incomplete)"}[self.status]
        lines = [f"Exercise {self.exercise} ({self.title}): {head}", self.explanation]
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        cx = self.counterexample
        trace = cx.trace_text() if cx is not None else ""
        if trace:
            lines.append("Trace of the counterexample:")
            lines.append(trace)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#b42318"
        text = str(self).split("\n")
        body = html.escape("\n".join(text[1:]))
        return (f'<div style="border-left:4px solid {color};padding:4px 10px">'
                f'<b style="color:{color}">{html.escape(text[0])}</b>'
                f'<pre style="white-space:pre-wrap">{body}</pre></div>')

    def diagram(self) -> Figure | None:
        """The counterexample's sequence diagram (None when the verdict has none)."""
        return self.counterexample.diagram() if self.counterexample else None

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display({"text/plain": str(self), "text/html": self._repr_html_()}, raw=True)
        figure = self.diagram()
        if figure is not None:
            # Render the PNG here: a Figure built without pyplot has no inline formatter of its own.
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=90)
            display({"image/png": buffer.getvalue(), "text/plain": f"<sequence diagram: {self.invariant}>"},
                    raw=True)


# -- running one scenario ------------------------------------------------------------------------


class _Meter:
    """Largest size of a node's durable state seen after any handler (for the bounded-state check)."""

    def __init__(self) -> None:
        self.largest = 0
        self.at = 0.0

    def see(self, node: Node) -> None:
        size = 0
        for value in node._host.durable._data.values():  # committed state only, as a crash would leave it
            size += 1
            if isinstance(value, (frozenset, tuple, Mapping)):
                size += len(value)
        if size > self.largest:
            self.largest, self.at = size, node.now


def _measured(cls: type[Node], holder: list) -> type[Node]:
    """A subclass of the learner's receiver that measures its durable state after each handler."""

    def wrap(name: str) -> Callable:
        def handler(self, *args):
            try:
                return getattr(super(measured, self), name)(*args)
            finally:
                holder[0].see(self)
        handler.__name__ = name
        return handler

    measured = type(cls.__name__, (cls,), {n: wrap(n) for n in ("on_start", "on_message", "on_ack", "on_timer")})
    measured.__qualname__ = cls.__qualname__
    measured.__module__ = cls.__module__
    return measured


def _accepting(cls: type[Node], accepted: set[int]) -> type[Node]:
    """A subclass of the learner's sender that records the messages whose ``on_send`` returned:
    the application was told "accepted" (a business transaction committed). A message whose
    ``on_send`` was cut by a crash was never accepted, and need not take effect."""

    def on_send(self, msg_id, body):
        super(accepting, self).on_send(msg_id, body)
        if isinstance(body, Payload):
            accepted.add(body.logical)

    accepting = type(cls.__name__, (cls,), {"on_send": on_send})
    accepting.__qualname__ = cls.__qualname__
    accepting.__module__ = cls.__module__
    return accepting


@dataclass
class _Outcome:
    report: Report | None
    problem: str | None = None          # an exception raised outside a handler (e.g. in __init__)
    not_implemented: bool = False
    committed: int | None = None        # exercise 4: the broker's committed offset at the end
    state: int = 0                      # exercise 5: largest durable state seen
    state_at: float = 0.0
    accepted: set[int] | None = None    # capstone: messages whose on_send returned (None: all count)


def _max_events(scenario: Scenario) -> int:
    return 20_000 + 600 * scenario.n_messages


class _Runner:
    """Runs scenarios for one exercise and one pair of classes, observing what the checks need."""

    def __init__(self, exercise: Exercise, sender: Any, receiver: Any) -> None:
        self.exercise = exercise
        self.sender, self.receiver = sender, receiver
        self.brokers: list[Node] = []
        self.meter = [_Meter()]
        if exercise.fixed_sender is not None:
            def sender_factory() -> Node:
                node = sender()
                self.brokers.append(node)
                return node
            self.sender_factory = sender_factory
        else:
            self.sender_factory = sender
        self.receiver_factory = (_measured(receiver, self.meter) if exercise.state_bound is not None
                                 else receiver)
        self.accepted: set[int] = set()
        if exercise.accepted_only:
            self.sender_factory = _accepting(sender, self.accepted)

    def __call__(self, scenario: Scenario, trace: bool = False, wall_clock: float = WALL_CLOCK) -> _Outcome:
        self.brokers.clear()
        self.accepted.clear()
        self.meter[0] = _Meter()
        try:
            report = run(self.sender_factory, self.receiver_factory, trace=trace,
                         max_events=_max_events(scenario), wall_clock=wall_clock, **scenario.kwargs())
        except Exception as exc:  # raised outside a handler: a constructor, or a factory
            return _Outcome(None, f"{type(exc).__name__}: {exc}", isinstance(exc, NotImplementedError))
        outcome = _Outcome(report, not_implemented=report.status == "error"
                           and "raised NotImplementedError" in (report.problem or ""))
        if self.brokers:
            outcome.committed = getattr(self.brokers[-1], "committed", 0)
        outcome.state, outcome.state_at = self.meter[0].largest, self.meter[0].at
        outcome.accepted = set(self.accepted) if self.exercise.accepted_only else None
        return outcome

    def violation(self, outcome: _Outcome) -> Finding | None:
        """The first invariant of the exercise that this run broke, in INVARIANTS order."""
        report = outcome.report
        if report is None:
            return Finding(RUN_COMPLETES, None, None, f"building a node raised {outcome.problem}")
        wanted = set(self.exercise.invariants)
        if report.status != "ok":
            return Finding(RUN_COMPLETES, None, None, f"the run stopped ({report.status}): {report.problem}")
        messages = report.messages()
        checker = {v.invariant: v for v in report.violations("exactly-once")}
        for name in INVARIANTS:
            if name not in wanted or name == RUN_COMPLETES:
                continue
            if name in checker:
                v = checker[name]
                return Finding(name, v.logical, v.msg_id, v.explanation)
            if name == EVERY_EFFECT:
                for m in messages:
                    if m.effects == 0 and (outcome.accepted is None or m.logical in outcome.accepted):
                        accepted = "the sender accepted it (on_send returned), yet it " \
                            if outcome.accepted is not None else ""
                        return Finding(name, m.logical, m.msg_id,
                                       f"{accepted}never took effect ({m.attempts} attempt(s), {m.deliveries} "
                                       f"delivered to a live receiver)")
            if name == ALL_COMMITTED and outcome.committed is not None and outcome.committed < report.n_messages:
                m = messages[outcome.committed]
                return Finding(name, m.logical, m.msg_id,
                               f"the consumer never committed offset {outcome.committed} (message {m.msg_id!r}, "
                               f"{m.effects} effect(s)): the broker gave up redelivering it")
            if name == BOUNDED_STATE and outcome.state > self.exercise.state_bound:
                return Finding(name, None, None,
                               f"the receiver's durable state held {outcome.state} entries at "
                               f"t={outcome.state_at:g} (at most {self.exercise.state_bound} allowed; "
                               f"{report.n_messages} messages in the run)")
        return None

    def in_contract(self, scenario: Scenario, finding: Finding) -> bool:
        """Exercise 5 promises a horizon: a broken invariant is held against the learner only if
        every copy of the message that broke it arrived within the horizon of its submission (the
        exponential jitter can exceed it). Only that message's copies matter: with a window, a late
        copy can only fool the receiver about its own message."""
        horizon = self.exercise.horizon
        if horizon is None or finding.logical is None:
            return True
        report = self(scenario, trace=True).report
        if report is None or report.trace is None:
            return True
        submitted = None
        for e in report.trace:
            if e.logical != finding.logical:
                continue
            if e.kind == "submit":
                submitted = e.time
            elif (e.kind in ("receive", "down") and e.message == "data" and submitted is not None
                  and e.time - submitted > horizon):
                return False
        return True


# -- the grading loop ----------------------------------------------------------------------------


def _scenarios(exercise: Exercise, runner: _Runner, known: dict[int, _Outcome]) -> list[Scenario]:
    """Adversarial scenarios first (small, cheap, most telling), then the random ones. A base run
    without faults counts the crash points of each node; then every one of them is tried in turn."""
    out = []
    for base in exercise.crash_bases():
        out.append(base)
        outcome = known[id(base)] = runner(base)  # kept: the grading loop need not run it again
        if outcome.report is None or outcome.report.status != "ok":
            return out  # the base itself fails (raised, ran away): grading stops there
        for node in exercise.crash_nodes:
            points = outcome.report.points.get(node, 0)
            for k in range(min(points, MAX_CRASH_POINTS)):
                out.append(replace(base, label=f"{base.label}; the {node} crashes at crash point {k}",
                                   faults=Faults(crash_at={node: {k}}, restart_after=1.0)))
    return out + exercise.scenarios()


class _Progress:
    """Shows progress once grading has run for more than a second: a widget in a notebook, text
    lines on stderr elsewhere (headless runs, terminals)."""

    def __init__(self, title: str, enabled: bool) -> None:
        self.title = title
        self.enabled = enabled
        self.started = time.perf_counter()
        self.widget = None
        self.widgets_ok = True
        self.last_text = 0.0

    def update(self, done: int, total: int, note: str) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.started < 1.0:
            return
        if self.widget is None and self.widgets_ok and self._in_notebook():
            try:
                import ipywidgets
                from IPython.display import display
                self.widget = ipywidgets.IntProgress(value=0, min=0, max=total, description=self.title[:18])
                self.label = ipywidgets.Label()
                self.box = ipywidgets.HBox([self.widget, self.label])
                display(self.box)
            except Exception:  # no widgets available: fall back to text
                self.widget, self.widgets_ok = None, False
        if self.widget is not None:
            self.widget.value = done
            self.label.value = f"{done}/{total} scenarios: {note}"
        elif now - self.last_text >= 1.0:
            self.last_text = now
            print(f"[grading {self.title}] {done}/{total} scenarios, {now - self.started:.0f} s: {note}",
                  file=sys.stderr, flush=True)

    @staticmethod
    def _in_notebook() -> bool:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
        return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"

    def close(self) -> None:
        if self.widget is not None:
            self.box.close()
            self.widget = None


def _exercise(exercise: Any) -> Exercise:
    if isinstance(exercise, bool) or not isinstance(exercise, (int, str)):
        raise TypeError(f"exercise must be an exercise number (1 to {len(EXERCISES)}) or a key such as 'ex1', "
                        f"got {exercise!r}")
    if isinstance(exercise, str):
        match = re.fullmatch(r"(?:ex)?(\d+)", exercise.strip().lower())
        number = int(match.group(1)) if match else None
    else:
        number = exercise
    if number not in EXERCISES:
        raise ValueError(f"exercise must be one of {', '.join(map(str, EXERCISES))} (or 'ex1' to "
                         f"'ex{len(EXERCISES)}'), got {exercise!r}")
    return EXERCISES[number]


def _node_class(param: str, value: Any) -> type[Node]:
    if isinstance(value, Node):
        raise TypeError(f"{param} must be a class, not an instance: pass {type(value).__name__}, not "
                        f"{type(value).__name__}() (the simulator builds a fresh node at every restart)")
    if not isinstance(value, type) or not issubclass(value, Node):
        raise TypeError(f"{param} must be a subclass of semantics.Node, got {value!r}")
    return value


def check(exercise: int | str, sender: type[Node] | None = None, receiver: type[Node] | None = None, *,
          progress: bool = True, time_budget: float = TIME_BUDGET) -> Verdict:
    """Grade a protocol for one exercise of the ladder and explain the verdict.

    exercise:    the exercise number, 1 to 6 (or "ex1" ... "ex6").
    sender:      the sender class (exercise 4: the consumer is graded against ``Broker``; pass
                 ``Broker`` or None).
    receiver:    the receiver (exercise 4: the consumer) class.
    progress:    show progress when grading takes more than a second.
    time_budget: seconds after which grading stops (a verdict of "incomplete").

    Runs the adversarial scenarios (every crash point of the receiver in small runs, partitions
    placed to lose a first attempt or an ack, long delays) and then seeded random ones, stops at
    the first broken invariant, shrinks that run (fewest messages, then the simplest faults) and
    returns a ``Verdict`` that names the invariant, the message, the seed and a hint.
    """
    ex = _exercise(exercise)
    if ex.fixed_sender is not None:
        sender = ex.fixed_sender if sender is None else sender
        if not (isinstance(sender, type) and issubclass(sender, ex.fixed_sender)):
            raise ValueError(f"exercise {ex.number} grades your consumer against semantics.grading."
                             f"{ex.fixed_sender.__name__}: pass sender={ex.fixed_sender.__name__} (or "
                             f"leave it out), got {sender!r}")
    if sender is None or receiver is None:
        missing = "sender" if sender is None else "receiver"
        raise TypeError(f"check(exercise, sender, receiver): the {missing} class is missing")
    sender = _node_class("sender", sender)
    receiver = _node_class("receiver", receiver)
    time_budget = check_number("time_budget", time_budget, low=0.0, low_open=True)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")

    runner = _Runner(ex, sender, receiver)
    started = time.perf_counter()
    bar = _Progress(f"exercise {ex.number}", progress)
    done = crashes = 0
    try:
        known: dict[int, _Outcome] = {}
        scenarios = _scenarios(ex, runner, known)
        for scenario in scenarios:
            outcome = known.pop(id(scenario), None) or runner(scenario)
            done += 1
            crashes += bool(scenario.faults.crash_at)
            bar.update(done, len(scenarios), scenario.label)
            if outcome.not_implemented:
                return _not_implemented(ex, outcome, done, time.perf_counter() - started)
            finding = runner.violation(outcome)
            if finding is not None and runner.in_contract(scenario, finding):
                counterexample = _counterexample(runner, scenario, finding)
                return _failed(ex, counterexample, done, time.perf_counter() - started)
            if time.perf_counter() - started > time_budget:
                return Verdict(ex.number, ex.title, False, "incomplete",
                               f"Grading stopped after {time_budget:g} s and {done} scenarios without a broken "
                               "invariant: the protocol is too slow to check (a handler that does a lot of "
                               "work per message, or a run that keeps retrying?).",
                               scenarios=done, elapsed=time.perf_counter() - started)
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    return Verdict(ex.number, ex.title, True, "passed",
                   f"{done} scenarios ({_tried(ex, crashes, done)}): no broken invariant "
                   f"({', '.join(ex.invariants)}) in {elapsed:.2f} s. Reached: {ex.goal}.",
                   scenarios=done, elapsed=elapsed)


def _tried(ex: Exercise, crashes: int, done: int) -> str:
    parts = []
    if crashes:
        parts.append(f"{crashes} with one crash of the {' or the '.join(ex.crash_nodes)}, at every crash "
                     "point in turn")
    parts.append(f"{done - crashes} more, adversarial then seeded random faults")
    return "; ".join(parts)


def _not_implemented(ex: Exercise, outcome: _Outcome, done: int, elapsed: float) -> Verdict:
    where = outcome.report.problem if outcome.report is not None else outcome.problem
    where = re.sub(r" at t=[\d.e+-]+$", "", where or "").replace(":  (", " (")
    return Verdict(ex.number, ex.title, False, "not implemented",
                   f"Not implemented yet: {where}. Replace `raise NotImplementedError()` in the cell marked "
                   "YOUR CODE HERE with your code, run that cell, then this one again.",
                   scenarios=done, elapsed=elapsed)


def _failed(ex: Exercise, cx: Counterexample, done: int, elapsed: float) -> Verdict:
    which = f"message {cx.msg_id!r}: " if cx.msg_id is not None else ""
    shrunk = ""
    if cx.scenario.n_messages < cx.original.n_messages:
        shrunk = f" (shrunk from {cx.original.n_messages} messages: {cx.original.label})"
    else:
        shrunk = f" ({cx.original.label})"
    lines = [f"Broken invariant: {cx.invariant}: {INVARIANTS[cx.invariant]}.",
             f"What happened: {which}{cx.explanation}.",
             f"Scenario: {cx.scenario.describe()}{shrunk}; seed {cx.seed}."]
    for crash in cx.crashes:
        lines.append(f"Crash: {crash}.")
    lines.append(f"Replay it: {cx.replay_call}")
    if not cx.reproduced:
        lines.append("Warning: the replay of this scenario did not break the invariant again, so the trace below "
                     "may not show the failure. Does your code use randomness, the wall clock or state shared "
                     "between runs (class attributes, globals)? Use self.now for time and keep state on self "
                     "or in self.durable.")
    return Verdict(ex.number, ex.title, False, "failed", "\n".join(lines), ex.hints.get(cx.invariant, ""),
                   cx, done, elapsed)


# -- shrinking -----------------------------------------------------------------------------------


def _message_counts(n: int) -> list[int]:
    counts = list(range(1, min(n, 9)))
    k = 12
    while k < n:
        counts.append(k)
        k = k * 3 // 2
    return counts


_CRASH_POINT = re.compile(r"^crash point (\d+)")


def _simplifications(scenario: Scenario, crash_points: dict[str, set[int]]) -> Iterator[tuple[str, Scenario]]:
    """Candidate scenarios with one fault fewer (or one simpler), simplest change first."""
    link, faults = scenario.link, scenario.faults
    if faults.crash_prob and crash_points:
        yield "crashes at fixed points", replace(scenario, faults=Faults(
            crash_at=crash_points, restart_after=faults.restart_after))
    if scenario.interval is not None:
        yield "stop-and-wait", replace(scenario, interval=None)
    for name in ("partitions", "duplicate", "jitter", "loss", "ack_loss"):
        value = getattr(link, name)
        if value:
            yield f"no {name}", replace(scenario, link=replace(link, **{name: () if name == "partitions" else 0.0}))
    for node, points in faults.crash_at.items():
        if len(points) > 1:
            for k in sorted(points):
                yield f"no crash at {k}", replace(scenario, faults=replace(
                    faults, crash_at={**faults.crash_at, node: points - {k}}))


def _counterexample(runner: _Runner, scenario: Scenario, finding: Finding) -> Counterexample:
    """Shrink a failing scenario: fewest messages first, then the simplest faults, keeping the same
    broken invariant; then replay the result with its trace."""
    deadline = time.perf_counter() + SHRINK_BUDGET
    best = scenario
    # Each run of a time-limit failure costs WALL_CLOCK seconds, and a bounded-state failure needs
    # the long run: neither is shrunk. A run that raised or ran away only loses messages: the
    # exception or the runaway timer rarely depends on the faults, and each of its runs is long.
    shrink = finding.invariant != BOUNDED_STATE and "time limit" not in finding.explanation
    simplify = shrink and finding.invariant != RUN_COMPLETES

    def fails(candidate: Scenario) -> bool:
        found = runner.violation(runner(candidate))
        return (found is not None and found.invariant == finding.invariant
                and runner.in_contract(candidate, found))

    def fewer_messages(current: Scenario) -> Scenario:
        for n in _message_counts(current.n_messages):
            if time.perf_counter() > deadline:
                break
            candidate = replace(current, n_messages=n)
            if fails(candidate):
                return candidate
        return current

    def one_crash(current: Scenario) -> Scenario:
        # Crash points are numbered per run, so removing one crash renumbers the others: instead,
        # try every single crash point of runs with fewer messages (or as many, if several crashes).
        sizes = [n for n in _message_counts(current.n_messages + 1) if n <= current.n_messages]
        for n in sizes:
            if n == current.n_messages and sum(map(len, current.faults.crash_at.values())) <= 1:
                break
            base = replace(current, n_messages=n, faults=NO_FAULTS)
            outcome = runner(base)
            if outcome.report is None:
                break
            for node in runner.exercise.crash_nodes:
                for k in range(min(outcome.report.points.get(node, 0), MAX_CRASH_POINTS)):
                    if time.perf_counter() > deadline:
                        return current
                    candidate = replace(base, faults=Faults(crash_at={node: {k}},
                                                            restart_after=current.faults.restart_after))
                    if fails(candidate):
                        return candidate
        return current

    if shrink:
        best = fewer_messages(best)
    if simplify:
        changed = True
        while changed and time.perf_counter() < deadline:
            changed = False
            traced = runner(best, trace=True).report
            if traced is None:  # a node could not even be built: nothing to simplify
                break
            points: dict[str, set[int]] = {}
            for e in traced.trace or ():
                if e.kind == "crash" and (m := _CRASH_POINT.match(e.text)):
                    points.setdefault(e.node, set()).add(int(m.group(1)))
            for _, candidate in _simplifications(best, points):
                if time.perf_counter() > deadline:
                    break
                seeds = dict.fromkeys((best.seed, 0, 1, 2, 3))
                hit = next((s for s in (replace(candidate, seed=seed) for seed in seeds) if fails(s)), None)
                if hit is not None:
                    best, changed = hit, True
                    break
        best = fewer_messages(best)
        if best.faults.crash_at or best.faults.crash_prob:
            best = one_crash(best)

    # A bounded-state failure is about the whole long run: its trace would bury the point.
    # An endless loop is caught again, and traced up to it, in a fraction of the wall-clock limit.
    endless = "time limit" in finding.explanation
    traced = runner(best, trace=finding.invariant != BOUNDED_STATE,
                    wall_clock=WALL_CLOCK / 4 if endless else WALL_CLOCK)
    again = runner.violation(traced)
    final = finding if endless else again or finding
    report = traced.report
    crashes = ()
    if report is not None and report.trace is not None:
        crashes = tuple(f"{e.node} at t={e.time:g}, {e.text}" for e in report.trace if e.kind == "crash")
    return Counterexample(final.invariant, final.msg_id, final.explanation, best, scenario, report, crashes,
                          best.call(runner.sender.__name__, runner.receiver.__name__), again is not None,
                          runner.sender, runner.receiver)


# -- the trace in words --------------------------------------------------------------------------


def _name(report: Report, e: Event) -> str:
    ids = [m.msg_id for m in report.messages()] if report.n_messages else []
    wire = repr(e.msg_id)
    if e.logical is not None and e.logical < len(ids) and ids[e.logical] != e.msg_id:
        return f"{wire} ({ids[e.logical]})"
    return wire


def format_trace(report: Report, *, limit: int = 60) -> str:
    """The trace of a run in words, one event a line (at most ``limit`` lines)."""
    if not isinstance(report, Report):
        raise TypeError(f"report must be a semantics Report, got {type(report).__name__}")
    if report.trace is None:
        raise ValueError("report has no trace: run it with trace=True")
    limit = check_int("limit", limit, low=1)
    lines = []
    for e in report.trace:
        t = f"t={e.time:7.2f}  {e.node:<8} "
        if e.kind == "submit":
            text = f"the application sends {e.msg_id} ({e.text})"
        elif e.kind == "send":
            fate = {"delivered": f"arrives at t={e.until:.2f}", "lost": "LOST by the network",
                    "partitioned": "dropped: link partitioned"}.get(e.fate, e.fate)
            dup = ", network duplicate" if e.text else ""
            text = f"-> {e.peer}: {e.message} {_name(report, e)} ({fate}{dup})"
        elif e.kind == "receive":
            text = f"<- {e.peer}: {e.message} {_name(report, e)}"
        elif e.kind == "down":
            text = f"is down: {e.message} {_name(report, e)} from {e.peer} is lost"
        elif e.kind == "effect":
            text = f"EFFECT of {_name(report, e)}: {e.text}"
        elif e.kind == "timer":
            text = f"timer {e.text} fires"
        elif e.kind == "crash":
            text = f"CRASH ({e.text}): volatile state lost"
        elif e.kind == "restart":
            text = f"restarts ({e.text}); durable state kept"
        else:
            text = f"{e.kind}: {e.text}"
        lines.append(t + text)
    if len(lines) > limit:
        lines = lines[:limit] + [f"... {len(lines) - limit} more events (see .counterexample.report.trace)"]
    return "\n".join(lines)


__all__ = ["check", "Verdict", "Counterexample", "Scenario", "Exercise", "EXERCISES", "INVARIANTS", "Broker",
           "format_trace", "RUN_COMPLETES", "NO_DUPLICATES", "ACK_MEANS_EFFECT", "NO_SILENT_LOSS",
           "EVERY_EFFECT", "ALL_COMMITTED", "BOUNDED_STATE"]
