"""Reply caches (semantics.sim.patterns.reply_cache): what a server answers to a retried request.

Fault model: a client (stop-and-wait, timeout longer than the round trip) and a server over a link
that loses requests and replies alike with probability p; N = max_retries + 1 attempts at most.
The executing server is at-least-once with reply loss as ack loss; the reply cache keeps every
request to one execution and tells the client the first execution's receipt.
"""

from __future__ import annotations

import pytest

import semantics
from semantics import Faults, Link, run
from semantics.sim.analysis import confidence_interval
from semantics.sim.patterns import (ExecutingServer, LastReplyServer, Reply, RequestClient, SilentDedupServer,
                                    request_outcomes, sequence_number)
from semantics.sim.patterns.reply_cache import keep

P, RETRIES, N_REQUESTS = 0.2, 3, 3000
N = RETRIES + 1


def serve(server, *, n=N_REQUESTS, seed=11, **more):
    clients = []
    report = run(keep(clients, lambda: RequestClient(timeout=3.0, max_retries=RETRIES)), server, n_messages=n,
                 link=more.pop("link", Link(loss=P)), seed=seed, trace=True, **more)
    assert report.ok, report.problem
    return report, request_outcomes(report, clients[-1])


def within(count, n, p, level=0.999):
    low, high = confidence_interval(p, p * (1 - p), n, level)
    return low <= count / n <= high


def test_executing_server_is_at_least_once_with_reply_loss_as_ack_loss():
    report, out = serve(ExecutingServer)
    expected = semantics.expected("at-least-once", loss=P, ack_loss=P, max_retries=RETRIES)
    assert within(report.duplicated, report.n_messages, expected["duplicated"])
    assert within(report.lost, report.n_messages, P ** N)
    # the client hears the first execution's receipt only if that execution's reply arrived
    assert within(out.first_receipt, out.requests, (1 - P) * (1 - P ** N))
    assert out.later_receipt > 0 and out.no_result == 0


def test_silent_deduplication_executes_once_and_leaves_the_client_without_an_answer():
    report, out = serve(SilentDedupServer)
    assert report.duplicated == 0 and out.later_receipt == 0
    # a reply exists only for the first execution: it must arrive, or the client hears nothing
    assert within(out.gave_up, out.requests, 1 - (1 - P) * (1 - P ** N))
    assert out.gave_up_executed > 0.9 * out.gave_up


def test_last_reply_cache_replays_the_first_receipt():
    report, out = serve(LastReplyServer)
    assert report.duplicated == 0 and out.later_receipt == 0 and out.no_result == 0
    s = (1 - P) ** 2
    assert within(out.gave_up, out.requests, (1 - s) ** N)
    assert out.first_receipt == out.requests - out.gave_up


def test_last_reply_cache_survives_every_crash_point_but_not_in_memory():
    clean = run(lambda: RequestClient(timeout=3.0, max_retries=RETRIES), LastReplyServer, n_messages=3,
                link=Link(), trace=True)
    points = len(clean.labels["receiver"])
    assert points >= 12
    for k in range(points):
        r = run(lambda: RequestClient(timeout=3.0, max_retries=RETRIES), LastReplyServer, n_messages=3,
                faults=Faults(crash_at={"receiver": {k}}))
        assert r.duplicated == 0 and r.lost == 0, (k, clean.labels["receiver"][k])
    report, _ = serve(lambda: LastReplyServer(volatile=True), faults=Faults(crash_prob=0.02))
    assert report.duplicated > 0  # the slot in memory is forgotten by a crash


def test_one_slot_per_client_forgets_replies_that_pipelined_requests_still_need():
    report, out = serve(LastReplyServer, link=Link(loss=P, jitter=1.0), interval=0.5)
    assert report.duplicated == 0          # never executes twice ...
    assert out.no_result > 0 and report.lost > P ** N * report.n_messages * 10  # ... but forgets and refuses


def test_a_lost_reply_diagram_story():
    """One request, its first reply lost: the executing server applies it twice (receipts 1, 2),
    the reply cache once, and replays receipt 1."""
    link = Link(partitions=((1.0, 1.5),))   # the reply leaves at t=1 and is dropped
    for server, receipts, status in [(ExecutingServer, [1, 2], "executed"), (LastReplyServer, [1], "cached")]:
        clients = []
        r = run(keep(clients, lambda: RequestClient(timeout=3.0)), server, n_messages=1, link=link, trace=True)
        assert [e.receipt for e in r.trace if e.kind == "effect"] == receipts
        reply = clients[-1].durable[("reply", "m1")]
        assert reply == Reply("m1", receipts[-1] if status == "executed" else 1, status)


@pytest.mark.parametrize("value, expected", [("m12", 12), (("c", 3), 3), (7, 7)])
def test_sequence_numbers(value, expected):
    assert sequence_number(value) == expected


@pytest.mark.parametrize("bad, error", [("abc", ValueError), (True, TypeError), ((1, "x"), ValueError)])
def test_sequence_number_refuses_other_ids(bad, error):
    with pytest.raises(error, match="request id must be"):
        sequence_number(bad)


@pytest.mark.parametrize("make, error, words", [
    (lambda: RequestClient(timeout=0), ValueError, "timeout must be in"),
    (lambda: RequestClient(max_retries=-1), ValueError, "max_retries must be an integer"),
    (lambda: RequestClient(max_retries=1.5), TypeError, "max_retries must be an integer"),
    (lambda: LastReplyServer(volatile="yes"), TypeError, "volatile must be True or False"),
])
def test_arguments_are_checked(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_outcomes_need_a_traced_run_and_the_client():
    report = run(RequestClient, ExecutingServer, n_messages=2)
    with pytest.raises(ValueError, match="traced run"):
        request_outcomes(report, RequestClient())
    traced = run(RequestClient, ExecutingServer, n_messages=2, trace=True)
    with pytest.raises(TypeError, match="RequestClient node"):
        request_outcomes(traced, ExecutingServer())
