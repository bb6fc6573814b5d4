"""The trace stepper, driven headless: its steps cover the trace in order, and the state it shows at
each step is the state the trace implies (durable state survives every crash, volatile state does
not: a crash wipes it, the restart rebuilds it), with the messages in flight and the timers; the
view moves step by step and shows what a crash wiped."""

from __future__ import annotations

import pytest

import semantics
from semantics import Faults, Link
from semantics.sim.protocols import DeduplicatingReceiver, InMemoryDedupReceiver, RetryingSender
from semantics.views import plots, stepper

RUNS = {  # name -> (sender, receiver, run kwargs): crashes, losses, lost acks and duplicates in each
    "volatile dedup, receiver crashes": (RetryingSender, InMemoryDedupReceiver, dict(
        n_messages=3, link=Link(loss=0.2, ack_loss=0.5), faults=Faults(crash_prob=0.12), seed=4)),
    "durable dedup, receiver crashes": (RetryingSender, DeduplicatingReceiver, dict(
        n_messages=4, link=Link(loss=0.3, ack_loss=0.4, duplicate=0.2), faults=Faults(crash_prob=0.1), seed=3)),
    "durable dedup, sender crashes": (RetryingSender, DeduplicatingReceiver, dict(
        n_messages=3, link=Link(loss=0.3, ack_loss=0.3), faults=Faults(crash_prob=0.15, nodes=("sender",)), seed=5)),
}


@pytest.fixture(params=list(RUNS), scope="module")
def recording(request):
    sender, receiver, kwargs = RUNS[request.param]
    rec = stepper.record(sender, receiver, **kwargs)
    kinds = {e.kind for e in rec.report.trace}
    assert {"crash", "restart", "effect"} <= kinds, f"{request.param}: the run must crash and restart"
    return rec


def test_the_steps_cover_the_trace_in_order(recording):
    trace = recording.report.trace
    assert [e for step in recording.steps for e in step.events] == list(trace)
    for k, step in enumerate(recording.steps):
        assert step.number == k and step.events == tuple(trace[step.first:step.last + 1])
        assert step.snapshot.trace_length == step.last + 1
        assert step.time == pytest.approx(step.events[-1].time)


def implied_state(trace, last):
    """What the trace up to event ``last`` says each node's state must be, computed from the trace
    alone: which nodes are up, effects committed, the receiver's durable dedup records and its
    volatile 'seen' set since its last (re)start, the sender's unacknowledged messages, and the
    copies in flight."""
    up = {"sender": True, "receiver": True}
    ledger, done, seen, unacked, given_up = 0, set(), set(), set(), set()
    arrived = {e.wire for e in trace[:last + 1] if e.kind in ("receive", "down")}
    flying = set()
    for e in trace[:last + 1]:
        if e.kind == "crash":
            up[e.node] = False
            if e.node == "receiver":
                seen = set()
            else:
                unacked = set()  # the sender forgets what it was waiting for
        elif e.kind == "restart":
            up[e.node] = True
        elif e.kind == "effect":
            ledger += 1
            done.add(e.msg_id)
            seen.add(e.msg_id)
        elif e.kind == "submit":
            unacked.add(e.msg_id)
        elif e.kind == "receive" and e.message == "ack" and e.node == "sender":
            unacked.discard(e.msg_id)
        elif e.kind == "note" and e.text.startswith("gave up on "):
            unacked.discard(e.text.split()[-1])
        elif e.kind == "send" and e.fate == "delivered" and e.wire not in arrived:
            flying.add(e.wire)
    return up, ledger, done, seen, unacked - given_up, flying


def test_the_state_at_each_step_is_the_state_the_trace_implies(recording):
    trace = recording.report.trace
    durable_dedup = any(isinstance(k, tuple) and k[0] == "done"
                        for step in recording.steps for k in step.snapshot.nodes["receiver"].durable)
    for step in recording.steps:
        up, ledger, done, seen, unacked, flying = implied_state(trace, step.last)
        nodes = step.snapshot.nodes
        where = f"step {step.number} (t={step.time:g})"
        assert {n: s.up for n, s in nodes.items()} == up, where
        assert nodes["receiver"].ledger == ledger, where
        if durable_dedup:  # durable: every record committed with its effect, kept through every crash
            assert set(nodes["receiver"].durable) == {("done", m) for m in done}, where
        elif up["receiver"]:  # volatile: only what this incarnation saw
            assert nodes["receiver"].volatile["seen"] == seen, where
        if up["sender"]:
            assert set(nodes["sender"].volatile["unacked"]) == unacked, where
            assert set(nodes["sender"].timers) == unacked, where  # one retry timer per unacked message
        for name, node in nodes.items():
            if not node.up:
                assert node.volatile == {} and node.timers == {}, f"{where}: {name} is down, its memory is gone"
        assert {f.wire for f in step.snapshot.in_flight} == flying, where


def test_a_crash_wipes_volatile_state_and_keeps_durable_state(recording):
    crashes = [s for s in recording.steps if any(e.kind == "crash" for e in s.events)]
    assert crashes
    for step in crashes:
        before = recording.steps[step.number - 1].snapshot.nodes if step.number else None
        for e in step.events:
            if e.kind != "crash" or before is None:
                continue
            node, was = step.snapshot.nodes[e.node], before[e.node]
            if not node.up:
                assert node.volatile == {}
                assert step.wiped[e.node] == (was.volatile if was.up else {})
            # durable state only grows at a crash: what was committed stays
            assert set(was.durable) <= set(node.durable)
            assert node.ledger >= was.ledger
        text = recording.describe(step.number)
        assert "DOWN (crashed)" in text or "restarts" in text


def test_the_volatile_dedup_set_is_wiped_and_rebuilt_and_the_view_shows_it_struck_through():
    # the receiver applies m1 at t=1 and crashes at t=1.5, before its ack of m1 arrives
    view = stepper.step_through(RetryingSender, InMemoryDedupReceiver, n_messages=3, link=Link(ack_loss=0.5),
                                faults=Faults(crash_times={"receiver": (1.5,)}, restart_after=4.0), seed=4)
    steps = view.recording.steps
    wiped = next(s for s in steps if s.wiped.get("receiver", {}).get("seen"))
    assert wiped.wiped["receiver"]["seen"] == {"m1"}
    view.slider.value = wiped.number + 1
    html = view.state_html.value
    assert "wiped by the crash" in html and "<s " in html and "DOWN (crashed)" in html
    assert "volatile: wiped by the crash (was {'seen': {'m1'}})" in view.text
    restarted = next(s for s in steps[wiped.number:] if s.snapshot.nodes["receiver"].up)
    view.slider.value = restarted.number + 1
    assert restarted.snapshot.nodes["receiver"].volatile["seen"] <= wiped.wiped["receiver"]["seen"] | {
        e.msg_id for e in restarted.events}


def test_the_view_steps_forward_and_back_and_draws_the_run_so_far():
    sender, receiver, kwargs = RUNS["durable dedup, receiver crashes"]
    view = stepper.step_through(sender, receiver, **kwargs)
    trace = view.recording.report.trace
    assert view.previous_button.disabled and not view.next_button.disabled
    images = {bytes(view.image.value)}
    for k in range(1, 8):
        view.next()
        assert view.slider.value == k + 1
        step = view.step
        sends = sum(e.kind == "send" for e in trace[:step.last + 1])
        assert plots.count_marks(view.figure)["arrow"] == sends  # the arrows sent so far, no more
        images.add(bytes(view.image.value))
    assert len(images) == 8
    view.previous()
    assert view.slider.value == 7
    view.slider.value = view.slider.max
    assert view.next_button.disabled
    assert plots.count_marks(view.figure)["arrow"] == sum(e.kind == "send" for e in trace)
    assert f"step {len(view.recording.steps)} of {len(view.recording.steps)}" in view.happened.value


def test_a_recording_of_a_simulation_is_that_simulation():
    settings = dict(n_messages=4, loss=0.3, ack_loss=0.3, crash_prob=0.1, duplicate=0.1, jitter=0.5, seed=3)
    for semantic in semantics.SEMANTICS:
        rec = stepper.record_simulation(semantic, **settings)
        assert rec.report.trace == semantics.simulate(semantic, trace=True, **settings).trace


def test_step_through_a_report_checks_it_is_the_same_run():
    sender, receiver, kwargs = RUNS["durable dedup, receiver crashes"]
    report = semantics.run(sender, receiver, trace=True, **kwargs)
    assert stepper.step_through(sender, receiver, report=report, **kwargs).recording.report.trace == report.trace
    with pytest.raises(ValueError, match="the replay differs from this report at trace event"):
        stepper.step_through(sender, receiver, report=report, **{**kwargs, "seed": kwargs["seed"] + 1})
    with pytest.raises(TypeError, match="trace is set by the stepper"):
        stepper.record(sender, receiver, trace=True, **kwargs)
    with pytest.raises(ValueError, match=r"k must be an integer"):
        stepper.record(sender, receiver, **kwargs).state(10_000)


def test_step_through_a_grader_counterexample():
    from semantics.grading import check

    from wrong_solutions import ex3  # the exercise's own sender: it retries without end

    verdict = check(3, ex3.Sender, InMemoryDedupReceiver, progress=False)
    cx = verdict.counterexample
    assert cx is not None and cx.report is not None
    view = stepper.step_through_counterexample(cx)
    assert view.recording.report.trace == cx.report.trace
    assert any(s.wiped for s in view.recording.steps)  # the crash that made the duplicate
    with pytest.raises(TypeError, match="counterexample must have sender, receiver and a scenario"):
        stepper.step_through_counterexample(object())


def test_every_exercise_offers_its_counterexample_step_by_step():
    """The verdict says "step through it", and it works for each exercise's counterexample, a run the
    grader stopped at a violation (exercise 5's state bound) included."""
    from semantics.grading import check
    from wrong_solutions import all_cases

    stepped = set()
    for case in all_cases():
        if case.expect == "passed" or case.exercise in stepped:
            continue
        verdict = check(case.exercise, case.sender, case.receiver, progress=False)
        cx = verdict.counterexample
        if cx is None or cx.phase == "isolation":
            continue
        assert "verdict.counterexample.step_through()" in str(verdict)
        view = cx.step_through()
        steps = view.recording.steps
        assert steps and steps[-1].last == len(cx.report.trace) - 1  # the very run shown, to its end
        stepped.add(case.exercise)
    from semantics.grading.exercises import EXERCISES
    assert stepped == set(EXERCISES)


def test_a_crash_inside_a_handler_says_the_wiped_state_is_as_it_was_before_the_step():
    # a snapshot is taken between events, never inside a handler: a crash right after apply() wipes
    # what the handler had in memory at that point, which the stepper can only show as it was before
    inside = stepper.record(RetryingSender, InMemoryDedupReceiver, n_messages=1,
                            faults=semantics.crash_at_point("receiver", 2))   # after apply(m1)
    step = next(s for s in inside.steps if s.wiped)
    assert step.mid_handler == {"receiver"}
    assert "volatile: wiped by the crash (was {'seen': set()} before this step)" in inside.describe(step.number)
    between = stepper.record(RetryingSender, InMemoryDedupReceiver, n_messages=1, link=Link(ack_loss=1.0),
                             faults=Faults(crash_times={"receiver": (1.5,)}))
    step = next(s for s in between.steps if s.wiped)
    assert step.mid_handler == frozenset() and step.wiped["receiver"] == {"seen": {"m1"}}
    assert "volatile: wiped by the crash (was {'seen': {'m1'}})" in between.describe(step.number)
