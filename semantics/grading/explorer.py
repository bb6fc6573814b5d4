"""The systematic search: every schedule of faults within a small, stated scope, fewest faults first.

Stateless model checking by replay. A run's nondeterministic points (each transmission's fate,
each crash point of a node that may crash) are numbered as they occur (``semantics.sim.choices``);
a *schedule* is the list of the points where the adversary does not take the default. The search
runs the schedule without faults, then every schedule with one fault at one of the points that run
went through, then, from each of those runs, every schedule with a second fault at a later point,
and so on up to the base's fault budget: breadth-first, so the first counterexample found has the
fewest messages (bases are tried smallest first) and then the fewest faults.

Between two events the search hashes the run's state (every node's volatile and durable state,
the messages in flight, the timers, what took effect: ``_Run.state_key``). A state already reached
by another schedule with at least as many faults left to spend has the same futures, which that
schedule's extensions explore: the search does not extend this one from there (DSLabs' model
checker prunes the same way, on its state graph).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from ..sim.choices import CRASH, DATA_ONLY, DELAY, DELIVER, DUPLICATE, LATE, LOSE, OUTAGE, Oracle, Schedule
from ..sim.faults import Faults
from ..sim.network import Link
from .scenarios import DISTINCT, EQUAL, Scenario, bodies, deterministic

#: States hashed per run at most: a run that goes on for thousands of events (an outage, a protocol
#: that never stops) would spend more time hashing than the schedules it could save.
HASHED = 300

#: In words, what each choice does to a copy (for the coverage line).
CHOICE_WORDS = {LOSE: "lost", DUPLICATE: "duplicated", DELAY: "delayed past later copies",
                LATE: "delivered again after everything else", OUTAGE: "cut off by a long outage",
                CRASH: "crashes"}


@dataclass(frozen=True)
class Base:
    """One starting point of the search: the messages and the pace, and how many faults to add.

    n_messages: how many messages the application sends;
    interval:   None: one at a time (stop-and-wait); else a new message every ``interval``;
    equal:      True: every message has the same body (two deposits of 10 are two deposits);
    faults:     the most faults in one schedule;
    kinds:      the choices tried (None: the scope's);
    first_only: the copy choices apply to the first message's copies only (a long base);
    partitions: windows (start, end) in which the network is down in every schedule of this base (a
                boundary the choices alone would need many faults for: every reply lost until a last retry).
    link:       a link without randomness under the adversary's choices (``Link(ack_loss=1.0)``: every
                ack lost, so that every retry happens without spending the fault budget on it).
    """

    n_messages: int
    interval: float | None = None
    equal: bool = False
    faults: int = 2
    kinds: tuple[str, ...] | None = None
    first_only: bool = False
    partitions: tuple[tuple[float, float], ...] = ()
    link: Link = field(default_factory=Link)

    def __post_init__(self) -> None:
        if not deterministic(self.link):
            raise ValueError(f"link must draw no random numbers (losses of 0 or 1, no duplicates, no jitter), "
                             f"got {self.link!r}")

    def describe(self) -> str:
        n = f"{self.n_messages:,} message{'s' if self.n_messages != 1 else ''}"
        if self.n_messages > 1:
            n += " with equal bodies" if self.equal else ""
            n += ", one at a time" if self.interval is None else f", several in flight (one every {self.interval:g})"
        for start, end in self.partitions:
            n += f", the network down from t={start:g} to t={end:g}"
        if self.link.ack_loss == 1.0:
            n += ", every ack lost"
        if self.link.loss == 1.0:
            n += ", every message lost"
        return n


@dataclass(frozen=True)
class Scope:
    """What the systematic search covers for one exercise.

    bases:       the starting points, smallest first;
    kinds:       the choices of the adversary: LOSE, DUPLICATE, DELAY, LATE, OUTAGE (copies, data and
                 acks) and CRASH (at every crash point of the nodes in ``crash_nodes``);
    crash_nodes: the nodes that may crash (each crash is followed by a restart ``restart_after`` later);
    alone:       choices tried only as the single fault of a schedule (an outage or a late copy
                 already stretches a run over thousands of time units);
    hold, outage, late, pause: the lengths of ``semantics.sim.choices.Oracle`` (``pause``: an outage
                 that lasts that much longer, for a guarantee that needs retrying without end);
    where:       {choice: the (source, destination) node pairs it applies to}; a choice not named
                 applies to every transmission (exercise 9: a late copy of a producer's message, never
                 of a call to the payment service, which no caller could survive).
    """

    bases: tuple[Base, ...]
    kinds: tuple[str, ...]
    crash_nodes: tuple[str, ...] = ()
    alone: tuple[str, ...] = (OUTAGE, LATE)
    hold: float = 20.0
    outage: float = 1_000.0
    late: float = 10_000.0
    pause: float = 0.0
    restart_after: float = 1.0
    where: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def allows(self, choice: str, src: str, dst: str) -> bool:
        for kind, pairs in self.where:
            if kind == choice:
                return (src, dst) in pairs
        return True

    def scenario(self, base: Base, schedule: Schedule = ()) -> Scenario:
        link = replace(base.link, partitions=base.partitions) if base.partitions else base.link
        return Scenario(base.describe(), base.n_messages, interval=base.interval, link=link,
                        contents=bodies(EQUAL if base.equal else DISTINCT, base.n_messages),
                        faults=Faults(restart_after=self.restart_after), choices=schedule,
                        lengths=(self.hold, self.outage, self.late, self.pause))

    def describe(self) -> str:
        """The scope in words: what the verdict says was covered."""
        copies = [CHOICE_WORDS[k] for k in self.kinds if k != CRASH]
        parts = []
        if copies:
            parts.append("each message or ack " + ", ".join(copies[:-1]) + (" or " if len(copies) > 1 else "")
                         + copies[-1])
        if CRASH in self.kinds and self.crash_nodes:
            parts.append(f"the {' or the '.join(self.crash_nodes)} crashing at any crash point")
        return "; ".join(parts)


@dataclass
class Coverage:
    """What the search covered: schedules run, and the extensions skipped as repeats of states
    already explored."""

    schedules: int = 0
    pruned: int = 0
    bases: list[str] = field(default_factory=list)
    complete: bool = True     # False: stopped at a counterexample


class _Search(Oracle):
    """Replays a schedule and, after its last fault, records where one more fault could go."""

    def __init__(self, scope: Scope, base: Base, schedule: Schedule, seen: dict[str, int] | None,
                 extra: Callable[[], str] | None = None) -> None:
        super().__init__(hold=scope.hold, outage=scope.outage, late=scope.late, pause=scope.pause)
        self.choices = dict(schedule)
        self.after = schedule[-1][0] if schedule else -1
        kinds = base.kinds if base.kinds is not None else scope.kinds
        left = base.faults - len(schedule)
        extend = left > 0 and not any(c in scope.alone for _, c in schedule)
        self.copy_kinds = tuple(k for k in kinds if k != CRASH and (not schedule or k not in scope.alone)) \
            if extend else ()
        self.crash_nodes = scope.crash_nodes if extend and CRASH in kinds else ()
        self.first_only = base.first_only
        self.scope = scope
        self.extensions: list[tuple[int, tuple[str, ...]]] = []
        # Hashing states pays only where many schedules share states: small bases.
        self.seen = seen if extend and base.n_messages <= 3 and not base.first_only else None
        self.left = left
        self.stop_at: int | None = None     # pruned: no extension from this decision on
        self.skipped = 0                    # the extensions not made because of that
        self.hashed = 0                     # states hashed in this run (at most HASHED)
        self.boundary = self._boundary if self.seen is not None else None
        self.extra = extra  # what the grader measures besides the run (the largest state so far)

    def copy(self, index, now, src, dst, message, msg_id, logical):
        choice = self.choices.get(index)
        if choice is not None:
            return choice
        if self.copy_kinds and index > self.after and (not self.first_only or logical == 0):
            options = tuple(k for k in self.copy_kinds if (message == "data" or k not in DATA_ONLY)
                            and (not self.scope.where or self.scope.allows(k, src, dst)))
            if self.stop_at is None:
                if options:
                    self.extensions.append((index, options))
            else:
                self.skipped += len(options)
        return DELIVER

    def crash(self, index, now, node):
        if self.choices.get(index) == CRASH:
            return True
        if node in self.crash_nodes and index > self.after:
            if self.stop_at is None:
                self.extensions.append((index, (CRASH,)))
            else:
                self.skipped += 1
        return False

    def _boundary(self, run) -> None:
        if self.stop_at is not None or run.decisions <= self.after or self.hashed >= HASHED:
            return
        self.hashed += 1
        key = run.state_key() if self.extra is None else f"{run.state_key()}|{self.extra()}"
        if self.seen.get(key, -1) >= self.left:
            self.stop_at = run.decisions
        else:
            self.seen[key] = self.left


def explore(scope: Scope, run: Callable[[Scenario, Oracle], object], judge: Callable[[object], object],
            coverage: Coverage, progress: Callable[[str], None] | None = None,
            extra: Callable[[], str] | None = None) -> Iterator[tuple[Scenario, object, object]]:
    """Run every schedule of ``scope``, bases in order, breadth-first by number of faults.

    ``run(scenario, oracle)`` runs one schedule and returns its trial; ``judge(trial)`` returns a
    finding or None; ``extra()``, what the invariants read besides the run's state (it joins the
    state's key, so that pruning never merges two states an invariant could tell apart). Yields (scenario, trial, finding) for the first run that breaks an invariant
    (the smallest counterexample) and stops; ``coverage`` counts what was explored.
    """
    for base in scope.bases:
        coverage.bases.append(base.describe())
        seen: dict[str, int] = {}
        level: list[Schedule] = [()]
        for depth in range(base.faults + 1):
            following: list[Schedule] = []
            for schedule in level:
                search = _Search(scope, base, schedule, seen, extra)
                scenario = scope.scenario(base, schedule)
                trial = run(scenario, search)
                coverage.schedules += 1
                if progress is not None:
                    progress(base.describe())
                finding = judge(trial)
                if finding is not None:
                    coverage.complete = False
                    yield scenario, trial, finding
                    return
                coverage.pruned += search.skipped
                for index, options in search.extensions:
                    for choice in options:
                        following.append(schedule + ((index, choice),))
            level = following
            if not level:
                break
