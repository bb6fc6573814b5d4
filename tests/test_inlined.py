"""``simulate`` runs the reference protocols inlined into the event loop when nothing can crash;
the report must be the very one ``run`` gives with the classes of ``semantics.sim.protocols``."""

from __future__ import annotations

import random

import pytest

import semantics
from semantics import Link, run
from semantics.facade import _timers_finite
from semantics.sim.inlined import run_reference
from semantics.sim.protocols import REFERENCE, RetryingSender


def through_the_node_api(semantic, *, n_messages, loss, ack_loss=0.0, max_retries=3, seed=0, delay=1.0,
                         timeout=None, backoff=1.0, interval=None):
    sender, receiver = REFERENCE[semantic]
    timeout = 3.0 * delay if timeout is None else timeout
    if sender is RetryingSender:
        def sender():
            return RetryingSender(timeout=timeout, max_retries=max_retries, backoff=backoff)
    return run(sender, receiver, n_messages=n_messages, link=Link(loss=loss, ack_loss=ack_loss, delay=delay),
               seed=seed, interval=interval, max_events=10_000 + 50 * (max_retries + 2) * n_messages,
               wall_clock=None)


def agree(semantic, **args):
    inlined = semantics.simulate(semantic, **args)
    general = through_the_node_api(semantic, **args)
    assert inlined == general, (semantic, args)  # every field: counts, per message, points, events, end time
    return inlined


@pytest.mark.parametrize("semantic", semantics.SEMANTICS)
@pytest.mark.parametrize("loss,ack_loss", [(0.0, 0.0), (0.2, 0.1), (1.0, 0.0), (0.0, 1.0), (0.5, 0.5), (0.9, 0.3)])
@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_stop_and_wait_agrees(semantic, loss, ack_loss, max_retries):
    report = agree(semantic, n_messages=200, loss=loss, ack_loss=ack_loss, max_retries=max_retries, seed=9)
    assert report.n_messages == 200 and report.events > 0 or loss == 1.0


@pytest.mark.parametrize("semantic", semantics.SEMANTICS)
@pytest.mark.parametrize("timing", [
    dict(timeout=1.5),                     # the timer fires before any ack can return: early retries
    dict(timeout=2.0),                     # ... exactly when the ack returns: ties broken by scheduling order
    dict(timeout=2.5, backoff=2.0),
    dict(delay=0.3, timeout=0.5, backoff=1.5),
    dict(interval=0.5),                    # several messages in flight at once
    dict(interval=2.0, timeout=2.0),
    dict(interval=7.0, backoff=3.0),
])
def test_timing_agrees(semantic, timing):
    agree(semantic, n_messages=150, loss=0.3, ack_loss=0.3, max_retries=4, seed=2, **timing)


def test_random_configurations_agree():
    rng = random.Random(20261127)
    for _ in range(60):
        args = dict(n_messages=rng.choice([0, 1, 2, rng.randrange(3, 80)]), loss=rng.choice([0.0, 1.0, rng.random()]),
                    ack_loss=rng.choice([0.0, 1.0, rng.random()]), max_retries=rng.randrange(0, 6),
                    seed=rng.randrange(10**6), delay=rng.choice([1.0, 0.5, 2.0]),
                    timeout=rng.choice([None, 0.7, 2.0, 5.0]), backoff=rng.choice([1.0, 1.5, 2.0]),
                    interval=rng.choice([None, None, 0.25, 1.0, 3.0]))
        agree(rng.choice(semantics.SEMANTICS), **args)


def test_it_is_the_path_simulate_takes():
    calls = []
    original = semantics.facade.run_reference
    semantics.facade.run_reference = lambda *a, **k: calls.append(a) or original(*a, **k)
    try:
        semantics.simulate("exactly-once", n_messages=5, loss=0.2)                  # inlined
        semantics.simulate("exactly-once", n_messages=5, loss=0.2, crash_prob=0.1)  # a crash: the Node API
        semantics.simulate("exactly-once", n_messages=5, loss=0.2, trace=True)      # a trace: the Node API
        semantics.simulate("exactly-once", n_messages=5, loss=0.2, jitter=0.5)      # reordering: the Node API
    finally:
        semantics.facade.run_reference = original
    assert len(calls) == 1


def test_a_timer_too_long_to_represent_goes_through_the_node_api():
    assert not _timers_finite(3.0, 10.0, 400) and _timers_finite(3.0, 2.0, 1000)
    report = semantics.simulate("at-least-once", n_messages=3, loss=1.0, max_retries=400, backoff=10.0)
    assert report.status == "error" and "set_timer(after) must be finite" in report.problem


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("interval", [None, 0.5, 10.0])
def test_a_few_messages_agree(n, interval):
    for semantic in semantics.SEMANTICS:
        agree(semantic, n_messages=n, loss=0.3, ack_loss=0.3, seed=n, interval=interval)


def test_no_messages():
    assert run_reference("exactly-once", n_messages=0, loss=0.1, ack_loss=0.1, delay=1.0, timeout=3.0,
                         max_retries=3, backoff=1.0, interval=None, seed=0) == \
        through_the_node_api("exactly-once", n_messages=0, loss=0.1, ack_loss=0.1)
