"""Shrinking a counterexample found by a random scenario: fewest messages first, then the simplest
faults, keeping the same broken invariant.

The systematic search needs none of this (breadth-first, its first counterexample is already the
smallest within its scope); a random scenario that fails has many messages and faults, most of
them irrelevant. Every candidate costs one run, and the number of runs is counted (never timed),
so that the shrunk counterexample is the same on any machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from ..sim.faults import NO_FAULTS, Faults
from .invariants import BOUNDED_STATE, RUN_COMPLETES, Finding
from .runner import Runner
from .scenarios import Scenario

RUNS = 150  # candidate runs at most
_CRASH_POINT = re.compile(r"^crash point (\d+)")


def _message_counts(n: int) -> list[int]:
    counts = list(range(1, min(n, 9)))
    k = 12
    while k < n:
        counts.append(k)
        k = k * 3 // 2
    return counts


def _simplifications(scenario: Scenario, crash_points: dict[str, set[int]]) -> Iterator[Scenario]:
    """Candidates with one fault fewer (or one simpler), simplest change first."""
    link, faults = scenario.link, scenario.faults
    if faults.crash_prob and crash_points:
        yield replace(scenario, faults=Faults(crash_at=crash_points, restart_after=faults.restart_after))
    if scenario.interval is not None:
        yield replace(scenario, interval=None)
    for name in ("partitions", "duplicate", "jitter", "loss", "ack_loss"):
        if getattr(link, name):
            yield replace(scenario, link=replace(link, **{name: () if name == "partitions" else 0.0}))
    for node, points in faults.crash_at.items():
        if len(points) > 1:
            for k in sorted(points):
                yield replace(scenario, faults=replace(faults, crash_at={**faults.crash_at, node: points - {k}}))


def shrink(runner: Runner, scenario: Scenario, finding: Finding) -> Scenario:
    """The smallest scenario found, within ``RUNS`` runs, that breaks the same invariant."""
    budget = [RUNS]
    if finding.invariant == BOUNDED_STATE:  # the point is the long run itself
        return scenario

    def fails(candidate: Scenario) -> bool:
        if budget[0] <= 0:
            return False
        budget[0] -= 1
        found = runner.judge(runner.run(candidate))
        return found is not None and found.invariant == finding.invariant

    def fewer_messages(current: Scenario) -> Scenario:
        for n in _message_counts(current.n_messages):
            candidate = replace(current, n_messages=n)
            if fails(candidate):
                return candidate
        return current

    best = fewer_messages(scenario)
    if finding.invariant == RUN_COMPLETES:  # an exception or a runaway rarely depends on the faults
        return best
    changed = True
    while changed and budget[0] > 0:
        changed = False
        traced = runner.run(best, trace=True).report
        if traced is None:
            break
        points: dict[str, set[int]] = {}
        for e in traced.trace or ():
            if e.kind == "crash" and (m := _CRASH_POINT.match(e.text)):
                points.setdefault(e.node, set()).add(int(m.group(1)))
        for candidate in _simplifications(best, points):
            seeds = dict.fromkeys((best.seed, 0, 1, 2, 3))
            hit = next((s for s in (replace(candidate, seed=seed) for seed in seeds) if fails(s)), None)
            if hit is not None:
                best, changed = hit, True
                break
    best = fewer_messages(best)
    if best.faults.crash_at or best.faults.crash_prob:
        best = _one_crash(runner, best, fails)
    return best


def _one_crash(runner: Runner, current: Scenario, fails) -> Scenario:
    """Crash points are numbered per run, so removing one crash renumbers the others: try every
    single crash point of runs with fewer messages (or as many, if there were several crashes)."""
    crashes = sum(map(len, current.faults.crash_at.values()))
    for n in [n for n in _message_counts(current.n_messages + 1) if n <= current.n_messages]:
        if n == current.n_messages and crashes <= 1 and not current.faults.crash_prob:
            break
        base = replace(current, n_messages=n, faults=NO_FAULTS)
        report = runner.run(base).report
        if report is None:
            break
        for node in runner.exercise.scope.crash_nodes or ("receiver",):
            for k in range(min(report.points.get(node, 0), 400)):
                candidate = replace(base, faults=Faults(crash_at={node: {k}},
                                                        restart_after=current.faults.restart_after))
                if fails(candidate):
                    return candidate
    return current
