"""Grading one protocol for one exercise: the systematic search, then the random scenarios, then the
counterexample (shrunk, replayed with its trace, described). What ``check`` runs in a child process.

The result, an ``Outcome``, is plain data (it crosses a pipe): a pure function of the protocol's
code and the exercise, the same on any machine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any

from ..sim.checker import Event, Report
from ..sim.choices import DELAY, DELIVER, DUPLICATE, LATE, LOSE, OUTAGE, Replay
from .explorer import Coverage, explore
from .hints import EQUAL_BODIES, causes
from .invariants import BOUNDED_STATE, Finding, Trial
from .runner import Runner
from .scenarios import Scenario
from .shrinking import shrink

SYSTEMATIC, RANDOM = "systematic", "random"


@dataclass
class Outcome:
    """What grading found, as plain data."""

    status: str                                   # "passed", "failed", "not implemented"
    finding: Finding | None = None
    scenario: Scenario | None = None              # the counterexample (shrunk)
    original: Scenario | None = None              # the scenario that failed first
    report: Report | None = None                  # the traced replay of ``scenario``
    problem: str | None = None                    # why a node could not be built (report None)
    phase: str = SYSTEMATIC                       # which phase found it
    coverage: Coverage = field(default_factory=Coverage)
    random_runs: int = 0
    reproduced: bool = True                       # the traced replay broke the invariant again
    causes: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()                  # the adversary's choices, in words
    warnings: tuple[str, ...] = ()                # durable values changed in place, and the like
    notes: tuple[str, ...] = ()                   # what the isolation saw (a stuck call, a dead process)
    output: str = ""                              # what the protocol printed (truncated)
    printed: int = 0                              # characters printed in all


def grade(exercise: Any, classes: dict[str, type], *, systematic: bool = True, random: bool = True,
          progress: Callable[[int, str], None] | None = None, runner: Runner | None = None) -> Outcome:
    """Grade ``classes`` ({node name: class}) for ``exercise``; see the module docstring."""
    runner = runner or Runner(exercise, classes)
    coverage = Coverage()
    done = [0]

    def tick(label: str) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], label)

    if systematic:
        extra = (lambda: str(runner.meter.largest)) if exercise.state_bound is not None else None
        for scenario, trial, finding in explore(exercise.scope, runner.run, runner.judge, coverage, tick, extra):
            return _failed(runner, trial, finding, scenario, SYSTEMATIC, coverage, 0)
    runs = 0
    if random:
        for scenario in exercise.random():
            trial = runner.run(scenario)
            runs += 1
            tick(scenario.label)
            finding = runner.judge(trial)
            if finding is not None:
                return _failed(runner, trial, finding, scenario, RANDOM, coverage, runs)
    final = runner.watch.changes(simulator=True)
    if final:  # a monkeypatch seen only now: blame the last run
        trial = runner.run(runner.current) if runner.current is not None else None
        if trial is not None:
            trial.outside = final
            finding = runner.judge(trial)
            if finding is not None:
                return _failed(runner, trial, finding, trial.scenario, RANDOM if runs else SYSTEMATIC, coverage, runs)
    return Outcome("passed", coverage=coverage, random_runs=runs)


def _failed(runner: Runner, trial: Trial, finding: Finding, scenario: Scenario, phase: str, coverage: Coverage,
            runs: int) -> Outcome:
    if trial.not_implemented:
        return Outcome("not implemented", finding, scenario, scenario, trial.report, trial.problem, phase,
                       coverage, runs)
    original = scenario
    if phase == RANDOM:
        scenario = shrink(runner, scenario, finding)
    elif finding.invariant == BOUNDED_STATE and scenario.interval is not None and not scenario.choices:
        # The state outgrew its bound at state_at: the run cut after the messages sent by then is the
        # same run up to there (the pace is fixed), and breaks the bound at the same moment.
        shorter = replace(scenario, n_messages=min(scenario.n_messages, int(trial.state_at // scenario.interval) + 1))
        again = runner.judge(runner.run(shorter))
        if again is not None and again.invariant == BOUNDED_STATE:
            scenario = shorter
    narrator = _Narrator(scenario)
    traced = runner.run(scenario, narrator if scenario.choices else None, trace=True, simulator=True)
    again = runner.judge(traced)
    final = again if again is not None and again.invariant == finding.invariant else finding
    final = replace(final, msg_id=plain(final.msg_id))  # (the protocol's own ids may be any object)
    report = traced.report
    faults = _faults(narrator, report, scenario)
    seen = causes(report, outside=bool(traced.outside or trial.outside), problem=traced.problem)
    if EQUAL_BODIES in seen and not _because_of_equal_bodies(runner, scenario, final):
        seen = tuple(c for c in seen if c != EQUAL_BODIES)
    return Outcome("failed", final, scenario, original, plain_report(report), traced.problem or trial.problem, phase,
                   coverage, runs, reproduced=again is not None and again.invariant == finding.invariant,
                   causes=seen,
                   faults=faults, warnings=report.warnings if report is not None else ())


def _because_of_equal_bodies(runner: Runner, scenario: Scenario, finding: Finding) -> bool:
    """True when the counterexample needs its equal bodies: the same run with every body different
    breaks no invariant, or another one. (A hint about equal bodies for a failure that has nothing to do
    with them sends the learner looking in the wrong place.)"""
    distinct = tuple(f"deposit {10 + i}" for i in range(scenario.n_messages))
    again = runner.judge(runner.run(replace(scenario, contents=distinct)))
    return again is None or again.invariant != finding.invariant


class _Narrator(Replay):
    """Replays a schedule and says each of its choices in words, with the time it was taken."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario.choices, **scenario.oracle_lengths())
        self.copies: Counter = Counter()
        self.words: list[tuple[float, str]] = []

    def copy(self, index, now, src, dst, message, msg_id, logical):
        self.copies[(src, message, msg_id)] += 1
        choice = super().copy(index, now, src, dst, message, msg_id, logical)
        if choice != DELIVER:
            nth = self.copies[(src, message, msg_id)]
            name = repr(msg_id) if isinstance(msg_id, str) else f"message {msg_id!r}"  # (a number alone reads oddly)
            what = name if message == "data" else f"the ack of {name}"
            which = "" if message != "data" else (" (its first copy)" if nth == 1 else f" (copy {nth}, a retry)")
            self.words.append((now, {
                LOSE: f"the network loses {what}{which}",
                DUPLICATE: f"the network delivers {what}{which} twice",
                DELAY: f"the network holds {what}{which} back until a later copy has overtaken it (at most "
                       f"{self.hold:g} time units)",
                LATE: f"the network delivers {what}{which}, and once more after everything else",
                OUTAGE: (f"the network goes down for {self.outage:,g} time units, starting with {what}{which}"
                         if not self.pause else
                         f"the network goes down for {self.outage + self.pause:,.0f} time units, starting with "
                         f"{what}{which} (the grader runs {self.outage / 2:,g} of them at each end, and skips the "
                         f"{self.pause:,.0f} between: every pending timer and copy comes that much later)"),
            }[choice]))
        return choice


def _faults(narrator: _Narrator, report: Report | None, scenario: Scenario) -> tuple[str, ...]:
    """The adversary's choices in words, in time order (where each crash struck read from the trace)."""
    if report is None or report.trace is None or not scenario.choices:
        return ()
    timeline = list(narrator.words)
    trace = report.trace
    for i, e in enumerate(trace):
        if e.kind == "crash":
            where = e.text.split(": ", 1)[1] if ": " in e.text else e.text
            back = next((r.time for r in trace[i:] if r.kind == "restart" and r.node == e.node), None)
            again = f", and restarts at t={back:g}" if back is not None else ""
            timeline.append((e.time, f"the {e.node} crashes {where}{again}"))
    timeline.sort(key=lambda item: item[0])
    return tuple(f"at t={t:g}, {text}" for t, text in timeline)


# -- plain data: what crosses the pipe ------------------------------------------------------------

_PLAIN = (type(None), bool, int, float, str, bytes)


def plain(value: Any) -> Hashable:
    """``value`` if it is plain data (what a pipe can carry to the kernel), else its repr."""
    if type(value) in _PLAIN:
        return value
    if type(value) is tuple:
        return tuple(plain(v) for v in value)
    if type(value) is frozenset:
        return frozenset(plain(v) for v in value)
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__}>"


def plain_report(report: Report | None) -> Report | None:
    """The report with every protocol-made value (message ids) made plain."""
    if report is None:
        return None
    trace = None
    if report.trace is not None:
        trace = tuple(e if type(e.msg_id) in _PLAIN else
                      Event(e.time, e.node, e.kind, plain(e.msg_id), e.logical, e.peer, e.wire, e.message, e.fate,
                            e.until, e.text, e.receipt) for e in report.trace)
    per = report._per_message
    if per:
        per = (tuple(plain(i) for i in per[0]), tuple(plain(c) for c in per[1]), *per[2:])
    return replace(report, trace=trace, _per_message=per, error_trace=None)
