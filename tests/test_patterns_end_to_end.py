"""The end-to-end argument (semantics.sim.patterns.end_to_end): an application that resubmits a
request it gave up on, a hop that is exactly-once for its own ids, and an end store that
deduplicates by the hop's id or by the application's name for the request.

Fault model: every link loses messages and acks (20% each); nothing crashes.
"""

from __future__ import annotations

import pytest

from semantics import Link, run
from semantics.sim.patterns import EndStore, ImpatientApp, Relay

N = 1500
CONTENTS = [f"order {i}" for i in range(1, N + 1)]


def pipeline(key, relay_dedup=True, resubmits=2, n=N, trace=False, link=Link(loss=0.2, ack_loss=0.2)):
    report = run(lambda: ImpatientApp(timeout=3.0, max_retries=1, resubmits=resubmits),
                 lambda: Relay(dedup=relay_dedup), n_messages=n, others={"db": lambda: EndStore(key=key)},
                 link=link, contents=CONTENTS[:n], seed=6, trace=trace)
    assert report.ok, report.problem
    return report


def test_exactly_once_hops_still_duplicate_resubmitted_requests():
    assert pipeline("hop").duplicated > 50
    assert pipeline("hop", resubmits=0).duplicated == 0   # without resubmissions, the hops suffice


@pytest.mark.parametrize("relay_dedup", [True, False])
def test_the_check_at_the_end_removes_every_duplicate(relay_dedup):
    assert pipeline("application", relay_dedup=relay_dedup).duplicated == 0


def test_the_hops_deduplication_only_saves_work():
    """Without it the end store sees more copies (and still applies each request once)."""
    def forwards(report):
        return sum(e.kind == "send" and e.node == "receiver" and e.peer == "db" and e.message == "data"
                   for e in report.trace)
    with_hop = pipeline("application", relay_dedup=True, n=400, trace=True)
    without = pipeline("application", relay_dedup=False, n=400, trace=True)
    assert with_hop.duplicated == without.duplicated == 0
    assert forwards(without) > forwards(with_hop)


def test_a_resubmission_travels_under_a_new_id():
    # every ack to the application is lost: it retries, gives up and submits again as m1.1
    r = pipeline("hop", n=1, resubmits=1, link=Link(ack_loss=1.0), trace=True)
    assert "gave up; submits again as m1.1" in [e.text for e in r.trace if e.kind == "note"]
    assert r.effects == 2


@pytest.mark.parametrize("make, error, words", [
    (lambda: ImpatientApp(resubmits=-1), ValueError, "resubmits must be an integer"),
    (lambda: Relay(dedup=None), TypeError, "dedup must be True or False"),
    (lambda: Relay(max_forwards=0), ValueError, "max_forwards must be an integer"),
    (lambda: EndStore(key="content"), ValueError, "key must be one of"),
])
def test_arguments_are_checked(make, error, words):
    with pytest.raises(error, match=words):
        make()
