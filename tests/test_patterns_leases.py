"""Leases and fencing (semantics.sim.patterns.leases, .fencing).

Fault model: a broker that leases each message to one consumer at a time and takes it back when the
lease expires; consumers that may take longer than the lease (a pause); a store that applies writes
and, when fencing, rejects a write whose token is lower than one it has seen. No message loss: every
duplicate here comes from two live holders of one lease-expired message.
"""

from __future__ import annotations

import random

import pytest

from semantics import run
from semantics.sim.patterns import Fenced, FencingStore, LeaseBroker, Leased, SlowConsumer
from semantics.sim.protocols import RetryingSender


def producer():
    return RetryingSender(timeout=3.0, max_retries=3)


def leased(c1, c2, *, lease=6.0, fence=True, n=1, trace=True, **broker):
    report = run(producer, lambda: LeaseBroker(lease=lease, **broker), n_messages=n, trace=trace,
                 others={"c1": c1, "c2": c2, "store": lambda: FencingStore(fence=fence)})
    assert report.ok, report.problem
    return report


def notes(report, node):
    return [e.text for e in report.trace if e.kind == "note" and e.node == node]


def test_a_lease_longer_than_the_work_gives_one_holder():
    r = leased(lambda: SlowConsumer(1.0), lambda: SlowConsumer(1.0), n=20)
    assert r.once == 20
    assert not notes(r, "receiver")   # no lease expired
    tokens = [e.msg_id.token for e in r.trace
              if e.kind == "send" and e.node == "receiver" and e.message == "data" and isinstance(e.msg_id, Leased)]
    assert tokens == list(range(1, 21))  # one lease per message, numbered in order


def test_a_pause_longer_than_the_lease_gives_two_live_holders():
    r = leased(lambda: SlowConsumer(10.0), lambda: SlowConsumer(1.0), fence=False)
    assert r.duplicated == 1
    assert "lease 1 of m1 expired" in notes(r, "receiver")
    writers = [e.peer for e in r.trace if e.kind == "receive" and e.node == "store"]
    assert writers == ["c2", "c1"]    # the new holder wrote first, the paused one after it


def test_fencing_rejects_the_paused_holders_late_write():
    r = leased(lambda: SlowConsumer(10.0, fenced=True), lambda: SlowConsumer(1.0, fenced=True))
    assert r.once == 1
    assert notes(r, "store") == ["token 1 < 2: rejected"]
    assert "ack of m1 lease 1: lease no longer held" not in notes(r, "receiver")  # c1 never acks: it was refused


def test_fencing_orders_the_writers_it_does_not_deduplicate():
    """Work times drawn independently per consumer: the store accepts writes of one message only in
    increasing token order and rejects every older one that comes after; what it lets through twice
    is a pair of writes that arrived in token order."""
    rng = random.Random(4)
    times = [{f"m{i}": rng.expovariate(0.5) for i in range(1, 801)} for _ in range(2)]
    for register in (False, True):
        r = leased(lambda: SlowConsumer(times[0].get, fenced=True, register=register),
                   lambda: SlowConsumer(times[1].get, fenced=True, register=register), n=800)
        highest: dict = {}
        effects: dict = {}
        rejected = 0
        store = [e for e in r.trace if e.node == "store" and e.kind in ("receive", "effect", "note")]
        for e, following in zip(store, store[1:] + [None]):
            if e.kind != "receive":
                continue
            request = e.msg_id
            if request.token < highest.get(request.key, 0):       # older than a token seen: refused
                assert following is not None and following.kind == "note" and "rejected" in following.text
                rejected += 1
                continue
            highest[request.key] = request.token
            if not request.register:                              # accepted: one effect
                assert following is not None and following.kind == "effect"
                effects[request.key] = effects.get(request.key, 0) + 1
        assert rejected > 0 and sum(c > 1 for c in effects.values()) == r.duplicated > 0
    unfenced = leased(lambda: SlowConsumer(times[0].get), lambda: SlowConsumer(times[1].get), fence=False, n=800)
    assert unfenced.duplicated > r.duplicated


def test_registration_fences_from_the_start_of_the_work():
    """Lease 1 leaves at t=1 and expires at 7; c2 gets lease 2 at t=8 and shows its token to the
    store at t=9, writes at t=10; c1's write lands at t=9.5: accepted without registration (1 is
    the highest token the store has seen), refused with it."""
    plain = leased(lambda: SlowConsumer(6.5, fenced=True), lambda: SlowConsumer(1.0, fenced=True))
    early = leased(lambda: SlowConsumer(6.5, fenced=True, register=True),
                   lambda: SlowConsumer(1.0, fenced=True, register=True))
    assert plain.duplicated == 1 and early.once == 1
    assert notes(early, "store") == ["token 1 < 2: rejected"]


def test_kafka_style_epochs_one_resource_for_the_whole_store():
    store = FencingStore(scope="store")
    assert store.resource(Fenced("a", 1)) == store.resource(Fenced("b", 2)) == "store"
    assert FencingStore().resource(Fenced("a", 1)) == "a"


def test_messages_set_aside_after_max_deliveries():
    r = leased(lambda: SlowConsumer(20.0), lambda: SlowConsumer(20.0), fence=False, max_deliveries=2)
    assert "m1: 2 leases expired, set aside" in notes(r, "receiver")


@pytest.mark.parametrize("make, error, words", [
    (lambda: LeaseBroker(consumers="c1"), TypeError, "consumers must be a non-empty sequence"),
    (lambda: LeaseBroker(consumers=()), TypeError, "consumers must be a non-empty sequence"),
    (lambda: LeaseBroker(lease=0), ValueError, "lease must be in"),
    (lambda: LeaseBroker(max_deliveries=0), ValueError, "max_deliveries must be an integer"),
    (lambda: SlowConsumer(work_time=-1), ValueError, "work_time must be in"),
    (lambda: SlowConsumer(fenced="yes"), TypeError, "fenced must be True or False"),
    (lambda: SlowConsumer(register=True), ValueError, "register=True needs fenced=True"),
    (lambda: FencingStore(fence=1), TypeError, "fence must be True or False"),
    (lambda: FencingStore(scope="table"), ValueError, "scope must be one of"),
])
def test_arguments_are_checked(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_a_bad_work_time_function_is_reported_by_the_run():
    r = run(producer, LeaseBroker, n_messages=1, others={"c1": lambda: SlowConsumer(lambda m: -1.0),
                                                         "c2": SlowConsumer, "store": FencingStore})
    assert r.status == "error" and "work_time('m1') must be in" in r.problem


def test_an_ack_under_an_expired_lease_does_not_settle_the_message():
    """c1 needs 3 units: its ack reaches the broker at t=8, after lease 1 expired (t=7) and lease 2
    went to c2; the broker waits for c2's ack (t=12) under the current lease."""
    r = leased(lambda: SlowConsumer(3.0), lambda: SlowConsumer(1.0), fence=False)
    assert notes(r, "receiver") == ["lease 1 of m1 expired", "ack of m1 lease 1: lease no longer held"]
    settled = [e.time for e in r.trace if e.kind == "receive" and e.node == "receiver" and e.message == "ack"]
    assert settled == [8.0, 12.0]
