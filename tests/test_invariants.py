"""Each guarantee's invariants under random and adversarial faults (hypothesis, and every crash
point in turn), and proof that the checker sees violations when they happen."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import semantics
from semantics import Faults, Link, crash_at_point, run
from semantics.sim import protocols as P

probability = st.floats(0.0, 1.0)
links = st.builds(
    Link, loss=st.floats(0.0, 0.9), ack_loss=st.floats(0.0, 0.9), duplicate=st.sampled_from([0.0, 0.0, 0.3]),
    jitter=st.sampled_from([0.0, 0.5, 3.0]),
    partitions=st.sampled_from([(), ((5.0, 20.0),), ((0.0, 3.0), (40.0, 60.0))]))
crashes = st.builds(Faults, crash_prob=st.sampled_from([0.0, 0.05, 0.2]), max_crashes=st.just(20))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def retrying(max_retries=4, timeout=3.0):
    return lambda: P.RetryingSender(timeout=timeout, max_retries=max_retries)


@SETTINGS
@given(link=links, faults=crashes, seed=st.integers(0, 2**32), n=st.integers(1, 12))
def test_at_most_once_never_duplicates_without_network_duplication(link, faults, seed, n):
    link = Link(loss=link.loss, ack_loss=link.ack_loss, jitter=link.jitter, partitions=link.partitions)
    report = run(P.FireAndForgetSender, P.ApplyReceiver, n_messages=n, link=link, faults=faults, seed=seed)
    assert report.ok and report.duplicated == 0 and report.attempts == n
    assert report.violations("at-most-once") == []


def test_at_most_once_reference_relies_on_a_network_that_does_not_duplicate():
    """Fire and forget has no defence against the network doubling a datagram (TCP's sequence
    numbers are that defence): the checker must see it."""
    report = run(P.FireAndForgetSender, P.ApplyReceiver, n_messages=200, link=Link(duplicate=0.5), seed=1)
    assert report.duplicated > 0
    assert report.violations("at-most-once")[0].invariant == "no duplicate effects"


@SETTINGS
@given(link=links, faults=crashes, seed=st.integers(0, 2**32), n=st.integers(1, 12),
       retries=st.integers(0, 6))
def test_exactly_once_never_duplicates_and_loses_only_unacknowledged(link, faults, seed, n, retries):
    report = run(retrying(retries), P.DeduplicatingReceiver, n_messages=n, link=link, faults=faults, seed=seed)
    assert report.ok
    assert report.duplicated == 0
    assert report.violations("exactly-once") == []
    for m in report.messages():
        if m.effects == 0:
            assert not m.acked and m.handled == 0
            if report.crashes == 0:
                assert m.deliveries == 0  # lost only when every attempt was lost


@SETTINGS
@given(link=links, seed=st.integers(0, 2**32), n=st.integers(1, 12))
def test_exactly_once_without_crashes_loses_only_when_every_attempt_is_lost(link, seed, n):
    report = run(retrying(3), P.DeduplicatingReceiver, n_messages=n, link=link, seed=seed)
    for m in report.messages():
        assert m.effects <= 1
        assert (m.effects == 0) == (m.deliveries == 0)


def test_at_least_once_reference_duplicates_under_ack_loss():
    report = semantics.simulate("at-least-once", n_messages=200, loss=0.0, ack_loss=0.5, seed=3, trace=True)
    assert report.duplicated > 0
    dup = next(m for m in report.messages() if m.effects >= 2)
    lost_acks = [e for e in report.trace if e.kind == "send" and e.message == "ack" and e.logical == dup.logical
                 and e.fate == "lost"]
    assert lost_acks, "a duplicate needs a lost ack (the network loses no data here)"
    assert report.violations("at-least-once") == []
    assert report.violations("exactly-once")[0].invariant == "no duplicate effects"


LOSSY = Link(loss=0.3, ack_loss=0.3)


def crash_point_outcomes(receiver, n=3, seed=3):
    """Run once to count the receiver's crash points, then crash at each one in turn."""
    probe = run(retrying(20), receiver, n_messages=n, link=LOSSY, seed=seed)
    outcomes = []
    for k in range(probe.points["receiver"]):
        report = run(retrying(20), receiver, n_messages=n, link=LOSSY, seed=seed,
                     faults=crash_at_point("receiver", k))
        assert report.ok and report.crashes == 1
        outcomes.append((k, report))
    return outcomes


def test_exactly_once_reference_survives_a_crash_at_every_point():
    outcomes = crash_point_outcomes(P.DeduplicatingReceiver)
    assert len(outcomes) > 10
    for k, report in outcomes:
        assert report.violations("exactly-once") == [], k
        assert report.lost == 0 and report.duplicated == 0, k


@pytest.mark.parametrize("receiver, invariant", [
    (P.ProcessThenMarkReceiver, "no duplicate effects"),
    (P.InMemoryDedupReceiver, "no duplicate effects"),
    (P.MarkThenProcessReceiver, "no silent loss"),
    (P.AckFirstReceiver, "ack means effect"),
])
def test_tempting_variants_break_at_some_crash_point(receiver, invariant):
    broken = [(k, r) for k, r in crash_point_outcomes(receiver) if r.violations("exactly-once")]
    assert broken, f"{receiver.__name__} should break at some crash point"
    assert any(v.invariant == invariant for _, r in broken for v in r.violations("exactly-once"))


def test_new_id_on_every_retry_defeats_deduplication():
    report = run(lambda: P.NewIdEachRetrySender(max_retries=5), P.DeduplicatingReceiver, n_messages=100,
                 link=Link(ack_loss=0.5), seed=2)
    assert report.duplicated > 0


def test_content_hash_collapses_different_messages():
    report = run(retrying(), P.ContentHashReceiver, n_messages=4, contents=["+10", "+10", "+5", "+10"])
    assert report.lost == 2
    assert report.violations("exactly-once")[0].invariant == "no silent loss"


def test_window_shorter_than_retry_horizon_duplicates():
    # a late duplicate (network delay) arrives after the window forgot its id
    short = run(retrying(6, timeout=2.0), lambda: P.WindowedDedupReceiver(window=1.0), n_messages=300,
                link=Link(ack_loss=0.4), seed=5)
    long = run(retrying(6, timeout=2.0), lambda: P.WindowedDedupReceiver(window=100.0), n_messages=300,
               link=Link(ack_loss=0.4), seed=5)
    assert short.duplicated > 0 and long.duplicated == 0


def test_scheduled_crash_of_the_sender_between_handlers():
    report = run(retrying(), P.DeduplicatingReceiver, n_messages=5, seed=1, trace=True, interval=10.0,
                 faults=Faults(crash_times={"sender": (0.5,)}, restart_after=2.0))
    kinds = [e.kind for e in report.trace if e.node == "sender"]
    assert "crash" in kinds and "restart" in kinds
    assert report.crashes == 1
    # m1 was sent at t=0; its ack arrived at t=2 while the sender was down: indefinite
    assert report.message(0).effects == 1 and not report.message(0).acked
    assert [e.kind for e in report.trace if e.msg_id == "m1" and e.message == "ack"] == ["send", "down"]
    assert all(m.acked for m in report.messages()[1:])


def test_per_link_fault_models():
    """A broker between sender and receiver: a perfect first hop, a lossy second hop."""

    class Broker(semantics.Node):
        def on_message(self, msg_id, body):
            if self.peer == "sender":
                self.send("receiver", msg_id, body)
            self.ack(msg_id)

    class ToBroker(P.RetryingSender):
        def transmit(self, msg_id):
            body, retries = self.unacked[msg_id]
            self.send("broker", msg_id, body)
            self.set_timer(msg_id, self.timeout)

    report = run(ToBroker, P.ApplyReceiver, n_messages=2000, others={"broker": Broker}, seed=3,
                 link=Link(), links={("broker", "receiver"): Link(loss=0.25)}, trace=True)
    first_hop = [e for e in report.trace if e.kind == "send" and {e.node, e.peer} == {"sender", "broker"}]
    second_hop = [e for e in report.trace if e.kind == "send" and {e.node, e.peer} == {"broker", "receiver"}]
    assert all(e.fate == "delivered" for e in first_hop)
    assert 0.2 < sum(e.fate == "lost" for e in second_hop) / len(second_hop) < 0.3
    assert report.lost == sum(e.fate == "lost" and e.message == "data" for e in second_hop)


def test_trace_names_the_message_of_forwarded_acks_and_of_timers_keyed_otherwise():
    class Relay(semantics.Node):
        """Forwards under its own numbering, and acks the sender when the receiver acks."""

        def on_start(self):
            self.origin = {}

        def on_message(self, msg_id, body):
            number = len(self.origin) + 1
            self.origin[number] = msg_id
            self.send("receiver", number, body)

        def on_ack(self, number):
            self.ack(self.origin[number], to="sender")

    class TicketSender(P.RetryingSender):
        def on_send(self, msg_id, body):
            self.unacked[msg_id] = [body, 0]
            self.send("broker", msg_id, body)
            self.set_timer(("ticket", msg_id), 10.0)   # keyed otherwise than by the id

        def on_timer(self, key):
            pass

    report = run(TicketSender, P.ProcessThenAckReceiver, n_messages=2, others={"broker": Relay}, trace=True)
    acks = [e for e in report.trace if e.kind == "send" and e.message == "ack"]
    assert len(acks) == 4 and all(e.logical is not None for e in acks)
    timers = [e for e in report.trace if e.kind == "timer"]
    assert [e.logical for e in timers] == [0, 1]
    assert report.acked == 2
