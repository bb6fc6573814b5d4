"""Effects a transaction cannot undo (semantics.sim.patterns.external): a payment service with
idempotency keys that expire, and the consumers that call it.

Fault model: a producer retrying with one id per message, a consumer ("receiver") that may crash at
any crash point, and a service ("service") that never crashes; every link may lose messages and acks.
The effect counted is the service's execution of a call.
"""

from __future__ import annotations

import pytest

from semantics import Faults, Link, run
from semantics.sim.patterns import (CallInTransactionConsumer, CallThenAckConsumer, OutboxConsumer,
                                    PaymentService)
from semantics.sim.protocols import RetryingSender


def producer():
    return RetryingSender(timeout=6.0, max_retries=3)   # longer than the 4-hop round trip


def calls(consumer, *, n=1500, retention=24.0, seed=3, **more):
    report = run(producer, consumer, n_messages=n, others={"service": lambda: PaymentService(retention=retention)},
                 seed=seed, **more)
    assert report.ok, report.problem
    return report


LOSSY = Link(loss=0.1, ack_loss=0.1)


# -- the service ----------------------------------------------------------------------------------


def direct(retention, partitions):
    """A caller that talks to the service directly ("receiver"), key = message id, resending every
    3 time units: the service's memory of the key decides how many executions there are."""
    return run(lambda: RetryingSender(timeout=3.0, max_retries=12), lambda: PaymentService(retention=retention),
               n_messages=1, link=Link(partitions=partitions), trace=True)


def test_a_held_key_gets_the_saved_response():
    r = direct(24.0, ((1.0, 1.5), (4.0, 4.5)))   # the first two answers are lost: two repeats
    assert r.effects == 1 and r.acked == 1
    notes = [e.text for e in r.trace if e.kind == "note"]
    assert notes == ["key m1: saved response #1", "key m1: saved response #1"]


def test_a_forgotten_key_is_a_new_call():
    r = direct(10.0, ((1.0, 20.0),))   # answers lost until t=20; the key was saved at t=1
    assert r.effects == 2
    assert any("expired" in e.text for e in r.trace if e.kind == "note")
    assert direct(None, ((1.0, 20.0),)).effects == 1    # kept forever: one execution


def test_the_service_refuses_a_call_without_a_payload():
    class Bad(RetryingSender):
        def on_send(self, msg_id, body):
            self.send("receiver", msg_id, "not a payload")
    r = run(Bad, PaymentService, n_messages=1)
    assert r.status == "error" and "carries the Payload" in r.problem


# -- the consumers ----------------------------------------------------------------------------------


def test_a_fresh_key_per_call_duplicates_without_any_crash():
    assert calls(lambda: CallThenAckConsumer(key="call"), link=LOSSY).duplicated > 100


def test_the_message_id_as_key_keeps_one_execution_through_loss_and_crashes():
    r = calls(lambda: CallThenAckConsumer(key="message"), link=LOSSY, faults=Faults(crash_prob=0.02))
    assert r.duplicated == 0 and r.crashes > 50


def test_atomic_cannot_take_back_a_call():
    """A crash inside the atomic block, after the call left: the record is rolled back, the call
    is not, and the retry calls again (a fresh key: a second execution)."""
    clean = run(producer, CallInTransactionConsumer, n_messages=1, others={"service": PaymentService}, trace=True)
    labels = clean.labels["receiver"]
    k = next(i for i, label in enumerate(labels) if label.startswith("after send("))
    r = run(producer, CallInTransactionConsumer, n_messages=1, others={"service": PaymentService}, trace=True,
            faults=Faults(crash_at={"receiver": {k}}))
    assert r.duplicated == 1
    assert any(e.kind == "rollback" for e in r.trace)   # the block rolled back ...
    assert sum(e.kind == "effect" for e in r.trace) == 2  # ... yet the service executed twice


def test_a_call_inside_the_transaction_is_never_retried_when_lost():
    r = calls(CallInTransactionConsumer, link=Link(loss=0.1))
    lost_acked = [m for m in r.messages() if m.acked and m.effects == 0]
    assert len(lost_acked) > 50   # acknowledged, recorded as done, and the call never made it


def test_the_outbox_survives_every_crash_point():
    clean = run(producer, OutboxConsumer, n_messages=3, others={"service": PaymentService}, trace=True)
    labels = clean.labels["receiver"]
    assert len(labels) > 15
    for k in range(len(labels)):
        r = run(producer, OutboxConsumer, n_messages=3, others={"service": PaymentService},
                faults=Faults(crash_at={"receiver": {k}}))
        assert r.ok and r.duplicated == 0 and r.lost == 0, (k, labels[k])


def test_the_outbox_under_loss_and_random_crashes():
    r = calls(OutboxConsumer, link=LOSSY, faults=Faults(crash_prob=0.02))
    assert r.duplicated == 0
    # a message is lost only when the producer's retries ran out before the consumer committed it
    assert all(not m.acked for m in r.messages() if m.effects == 0)


@pytest.mark.parametrize("outage, executions", [(20.0, 1), (40.0, 2)])
def test_the_outbox_retries_past_the_key_retention(outage, executions):
    """The call executes at t=2, its answer is lost in an outage of the consumer-service link; the
    relay retries until the link is back. Within the 24-unit retention the key holds; after, the
    retry is a new call."""
    r = run(producer, OutboxConsumer, n_messages=1, others={"service": lambda: PaymentService(retention=24.0)},
            links={("receiver", "service"): Link(partitions=((1.5, outage),))})
    assert r.effects == executions


@pytest.mark.parametrize("make, error, words", [
    (lambda: PaymentService(retention=0), ValueError, "retention must be in"),
    (lambda: PaymentService(retention="1 day"), TypeError, "retention must be a number"),
    (lambda: CallThenAckConsumer(key="uuid"), ValueError, "key must be one of"),
    (lambda: CallInTransactionConsumer(key=None), TypeError, "key must be one of"),
    (lambda: OutboxConsumer(relay_every=-1), ValueError, "relay_every must be in"),
    (lambda: OutboxConsumer(max_calls=0), ValueError, "max_calls must be an integer"),
])
def test_arguments_are_checked(make, error, words):
    with pytest.raises(error, match=words):
        make()
