"""What a run keeps grows with its size only as far as asked: counts, not objects, per message.

Measured with tracemalloc (every byte Python allocates, the same on any machine: no timing here).
Before: untraced simulate kept about 240 bytes a message (strings and tuples), a trace about 3.1 KB a
message, and a traced run slowed down more than linearly as the garbage collector walked its events.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest

import semantics
from semantics import Link, run
from semantics.sim import checker
from semantics.sim.protocols import ProcessThenAckReceiver, RetryingSender

MODEL = dict(loss=0.2, ack_loss=0.1, max_retries=3)


def peak(fn) -> tuple[int, object]:
    """(bytes allocated at the peak of ``fn()`` beyond what was allocated before it, its result)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        return tracemalloc.get_traced_memory()[1] - before, result
    finally:
        tracemalloc.stop()


def per_message(fn, small: int, large: int) -> float:
    """The bytes ``fn(n)`` takes per message beyond what it takes anyway (the peaks at two sizes)."""
    return (peak(lambda: fn(large))[0] - peak(lambda: fn(small))[0]) / (large - small)


def test_untraced_simulate_does_not_grow_with_the_number_of_messages():
    small, _ = peak(lambda: semantics.simulate("exactly-once", n_messages=5_000, outcomes=False, **MODEL))
    large, report = peak(lambda: semantics.simulate("exactly-once", n_messages=100_000, outcomes=False, **MODEL))
    assert report.n_messages == 100_000 and report.lost + report.once + report.duplicated == 100_000
    assert large - small < 64 * 1024, (small, large)   # the same few kilobytes, twenty times the messages
    assert large < 256 * 1024


def test_outcomes_kept_cost_a_few_bytes_a_message():
    report = semantics.simulate("at-least-once", n_messages=1000, **MODEL)
    assert report.has_outcomes and len(report.messages()) == 1000
    cost = per_message(lambda n: semantics.simulate("at-least-once", n_messages=n, outcomes=True, **MODEL),
                       5_000, 50_000)
    assert cost < 5, cost   # attempts, deliveries, effects and acked: a byte each


def test_the_node_api_keeps_bytes_not_objects_per_message():
    def node_api(n):
        report = run(RetryingSender, ProcessThenAckReceiver, n_messages=n, link=Link(loss=0.2, ack_loss=0.1),
                     wall_clock=None)
        assert report.ok and report.n_messages == n
    cost = per_message(node_api, 4_000, 40_000)
    assert cost < 7, cost   # five counts and a flag a message: ids are made when read, not kept


def test_a_trace_takes_at_most_600_bytes_a_message():
    report = semantics.simulate("at-least-once", n_messages=1000, trace=True, **MODEL)
    assert len(report.trace) > 6 * 1000
    cost = per_message(lambda n: semantics.simulate("at-least-once", n_messages=n, trace=True, **MODEL), 500, 5_000)
    assert cost <= 600, cost


def test_a_trace_holds_no_object_per_event_for_the_garbage_collector():
    # a collector that walks every event again and again is what made large traced runs super-linear
    def tracked(n: int) -> int:
        gc.collect()
        before = len(gc.get_objects())
        report = semantics.simulate("exactly-once", n_messages=n, trace=True, crash_prob=0.02, **MODEL)
        gc.collect()
        grown = len(gc.get_objects()) - before
        assert len(report.trace) > 6 * n
        return grown
    assert abs(tracked(10_000) - tracked(1_000)) < 200


def test_a_report_without_outcomes_says_so_and_still_finds_violations(monkeypatch):
    monkeypatch.setattr(semantics.facade, "OUTCOMES_KEPT", 2_000)  # (100,000 in the library: smaller here)
    args = dict(n_messages=3_000, **MODEL, seed=3)
    counted = semantics.simulate("at-least-once", **args)          # beyond what is kept: counts only
    kept = semantics.simulate("at-least-once", outcomes=True, **args)
    assert not counted.has_outcomes and kept.has_outcomes
    with pytest.raises(checker.OutcomesNotKept, match="kept only the counts.*outcomes=True"):
        counted.messages()
    assert (counted.lost, counted.once, counted.duplicated, counted.effects, counted.attempts, counted.acked,
            counted.indefinite_applied, counted.events, counted.end_time, counted.points) == \
           (kept.lost, kept.once, kept.duplicated, kept.effects, kept.attempts, kept.acked,
            kept.indefinite_applied, kept.events, kept.end_time, kept.points)
    for semantic in semantics.SEMANTICS:
        assert counted.violations(semantic) == kept.violations(semantic)
        assert counted.verdicts(semantic) == kept.verdicts(semantic)
    assert counted.violations("exactly-once")[0].invariant == "no duplicate effects"
    # overlapping messages fold out of order: the first message (by index) that broke each is still found
    args["interval"] = 0.7
    counted, kept = semantics.simulate("at-least-once", **args), semantics.simulate("at-least-once", outcomes=True,
                                                                                     **args)
    assert counted.violations("exactly-once") == kept.violations("exactly-once") != []
