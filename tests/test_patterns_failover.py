"""Failover (semantics.sim.patterns.failover): a deduplication record on a primary that fails for
good, a replica that takes over with the records it received, and a client that turns to it.

Fault model: the primary crashes once, at each crash point in turn, and never restarts; the client
fails over after one unanswered attempt. Either every ack reaches the client, or every ack from the
primary is lost (the client retries each request, so a record missing on the replica shows).
"""

from __future__ import annotations

import pytest

from semantics import Faults, Link, run
from semantics.sim.patterns import (EffectStore, FailoverClient, PrimaryService, ReplicaService,
                                    StatelessService)

VARIANTS = {
    "async": (lambda: PrimaryService("async", lag=1.0), ReplicaService, {}),
    "sync": (lambda: PrimaryService("sync"), ReplicaService, {}),
    "record with the effect": (StatelessService, StatelessService, {"db": EffectStore}),
}
ACK_LOST = {("sender", "receiver"): Link(ack_loss=1.0)}


def failover(variant, point=None, links=None, n=1, trace=False):
    primary, replica, extra = VARIANTS[variant]
    faults = Faults() if point is None else Faults(crash_at={"receiver": {point}}, restart_after=None)
    report = run(lambda: FailoverClient(timeout=3.0), primary, n_messages=n, others={"replica": replica, **extra},
                 links=links or {}, faults=faults, trace=trace)
    assert report.ok, report.problem
    return report


def duplicating_points(variant, links=None):
    labels = failover(variant, links=links, trace=True).labels["receiver"]
    return [labels[k] for k in range(len(labels)) if failover(variant, k, links).duplicated]


@pytest.mark.parametrize("variant, expected", [
    ("async", ["after commit", "after ack('m1')", "after set_timer(('replicate', 'm1'))",
               "on entering on_timer(('replicate', 'm1'))"]),
    ("sync", ["after commit"]),
    ("record with the effect", []),
])
def test_which_crash_points_duplicate_when_the_ack_is_lost(variant, expected):
    found = duplicating_points(variant, ACK_LOST)
    assert [label.split(" in ")[0] if " in " in label else label for label in found] == expected


@pytest.mark.parametrize("variant, count", [("async", 1), ("sync", 1), ("record with the effect", 0)])
def test_with_acks_delivered_only_a_crash_between_effect_and_replication_duplicates(variant, count):
    assert len(duplicating_points(variant)) == count


def test_no_variant_duplicates_or_loses_without_a_failover():
    for variant in VARIANTS:
        r = failover(variant, n=50, links=ACK_LOST)
        assert r.once == 50, variant


def test_the_client_turns_to_the_replica_after_an_unanswered_attempt():
    r = failover("async", 5, trace=True)   # after commit: the primary is gone before it acknowledged
    assert "fails over to the replica" in [e.text for e in r.trace if e.kind == "note"]
    assert {e.node for e in r.trace if e.kind == "effect"} == {"receiver", "replica"}


@pytest.mark.parametrize("make, error, words", [
    (lambda: PrimaryService("semi-sync"), ValueError, "replication must be one of"),
    (lambda: PrimaryService(lag=0), ValueError, "lag must be in"),
    (lambda: FailoverClient(switch_after=0), ValueError, "switch_after must be an integer"),
    (lambda: FailoverClient(timeout=-3), ValueError, "timeout must be in"),
])
def test_arguments_are_checked(make, error, words):
    with pytest.raises(error, match=words):
        make()
