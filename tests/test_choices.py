"""The adversary's choices (semantics.sim.choices): every nondeterministic point of a run can be
decided on purpose, the same schedule gives the same run, and no choice costs anything when absent."""

from __future__ import annotations

import pytest

from semantics import Faults, Link, Node, run
from semantics.sim import protocols as P
from semantics.sim.choices import CRASH, DELAY, DUPLICATE, LATE, LOSE, OUTAGE, Oracle, Replay, check_schedule


class Points(Oracle):
    """Records every decision point of a run."""

    def __init__(self):
        super().__init__()
        self.points = []

    def copy(self, index, now, src, dst, message, msg_id, logical):
        self.points.append((index, "copy", src, message, msg_id))
        return "deliver"

    def crash(self, index, now, node):
        self.points.append((index, "crash", node))
        return False


def points(n=1, **kwargs):
    oracle = Points()
    report = run(P.RetryingSender, P.DeduplicatingReceiver, n_messages=n, choices=oracle, **kwargs)
    return oracle.points, report


def test_every_copy_and_every_crash_point_is_a_numbered_decision():
    found, report = points(1)
    assert [p[0] for p in found] == list(range(len(found))) == list(range(report.details.decisions))
    copies = [p for p in found if p[1] == "copy"]
    assert copies == [(3, "copy", "sender", "data", "m1"), (11, "copy", "receiver", "ack", "m1")]
    crash_points = [p for p in found if p[1] == "crash"]
    assert len(crash_points) == sum(report.points.values())  # one per crash point of every node
    plain = run(P.RetryingSender, P.DeduplicatingReceiver, n_messages=1)
    assert (report.effects, report.acked, report.events) == (plain.effects, plain.acked, plain.events)


def trace_of(schedule, n=1, receiver=P.DeduplicatingReceiver, **kwargs):
    return run(P.RetryingSender, receiver, n_messages=n, choices=schedule, trace=True, **kwargs)


def test_lose_duplicate_and_crash():
    lost = trace_of([(3, LOSE)])
    assert [e.fate for e in lost.trace if e.kind == "send"][:2] == ["lost", "delivered"]  # then the retry
    doubled = trace_of([(3, DUPLICATE)], receiver=P.ProcessThenAckReceiver)
    assert doubled.effects == 2 and sum(e.text == "network duplicate" for e in doubled.trace) == 1
    crashed = trace_of([(7, CRASH)])
    crash = [e for e in crashed.trace if e.kind == "crash"]
    assert len(crash) == 1 and crash[0].node == "receiver" and crashed.effects == 1


def test_a_delayed_copy_arrives_right_after_the_next_copy_on_its_link():
    report = trace_of([(3, DELAY)], receiver=P.ProcessThenAckReceiver)  # the first copy of m1 is held back
    receives = [e for e in report.trace if e.kind == "receive" and e.message == "data"]
    first, retry = [e for e in report.trace if e.kind == "send" and e.message == "data"][:2]
    assert first.text == "delayed" and first.until == retry.until  # released when the retry arrives
    assert [e.wire for e in receives[:2]] == [retry.wire, first.wire]  # ... and right after it
    assert report.effects == 2  # a late original: a duplicate for a receiver without deduplication


def test_a_held_copy_arrives_at_the_latest_after_hold():
    class Once(Node):
        def on_send(self, msg_id, body):
            self.send("receiver", msg_id, body)

    report = run(Once, P.ApplyReceiver, n_messages=1, choices=Replay([(3, DELAY)], hold=7.0), trace=True)
    assert [e.time for e in report.trace if e.kind == "receive"] == [8.0]  # delay 1 + hold 7: nothing overtook it


def test_a_late_copy_arrives_again_after_everything_else():
    report = trace_of([(3, LATE)], n=3, receiver=P.ProcessThenAckReceiver)
    effects = [e for e in report.trace if e.kind == "effect"]
    assert [e.msg_id for e in effects] == ["m1", "m2", "m3", "m1"] and effects[-1].time >= 10_000


def test_an_outage_drops_everything_for_its_length():
    report = run(P.RetryingSender, P.DeduplicatingReceiver, n_messages=1, choices=Replay([(3, OUTAGE)], outage=7.0),
                 trace=True)
    sends = [e for e in report.trace if e.kind == "send"]
    dropped = [e for e in sends if e.fate == "partitioned"]
    assert [e.time for e in dropped] == [0.0, 3.0, 6.0] and all(e.text == "outage" for e in dropped)
    assert sends[3].time == 9.0 and sends[3].fate == "delivered" and report.effects == 1


def test_the_same_schedule_gives_the_same_run():
    schedule = [(3, LOSE), (16, CRASH)]
    a, b = trace_of(schedule, n=2, interval=0.5), trace_of(schedule, n=2, interval=0.5)
    assert a == b and a.trace == b.trace
    assert trace_of(schedule, n=2, interval=0.5).trace != trace_of([(3, LOSE)], n=2, interval=0.5).trace


def test_a_choice_that_does_not_fit_its_point_is_ignored_and_noted():
    report = run(P.RetryingSender, P.DeduplicatingReceiver, n_messages=1, choices=[(0, LOSE), (3, CRASH)])
    assert report.details.ignored == ((0, LOSE), (3, CRASH)) and report.effects == 1


@pytest.mark.parametrize("schedule, error, words", [
    ("lose", TypeError, "choices must be a sequence of"),
    ([(1,)], TypeError, "choices must hold (decision index, choice) pairs"),
    ([(-1, LOSE)], ValueError, "choices: decision index must be an integer >= 0, got -1"),
    ([(1, "burn")], ValueError, "choices: choice must be one of"),
    ([(1, LOSE), (1, CRASH)], ValueError, "each decision index may appear once"),
])
def test_schedules_are_checked(schedule, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_schedule(schedule)


def test_the_state_key_says_when_two_runs_are_in_the_same_state():
    keys = {}

    class Keys(Oracle):
        def __init__(self, name):
            super().__init__()
            self.name, self.choices = name, {}
            keys[name] = []

        def boundary(self, run):
            keys[self.name].append(run.state_key())

    # crashing on entering the handler or right after beginning the atomic block (rolled back) leaves
    # the same state behind; crashing after the commit does not
    def key_after(schedule_point):
        oracle = Keys(schedule_point)
        oracle.crash = lambda index, now, node: index == schedule_point
        run(P.RetryingSender, P.DeduplicatingReceiver, n_messages=1, choices=oracle)
        return keys[schedule_point]

    enter, begin, commit = key_after(6), key_after(7), key_after(10)
    # from the restart on (t=2), the runs that crashed on entering or after begin are the same run
    assert [k for k in enter if k.startswith("[2.0")]
    assert [k for k in enter if k.startswith("[2.0")] == [k for k in begin if k.startswith("[2.0")]
    assert [k for k in enter if k.startswith("[2.0")] != [k for k in commit if k.startswith("[2.0")]
    assert len(set(enter)) == len(enter)  # time is part of the state: a run never repeats a state


def test_no_oracle_no_cost_the_fast_path_is_untouched():
    # the short path runs when nothing can crash and nothing is traced or chosen: the same report
    plain = run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=200, link=Link(loss=0.2, ack_loss=0.2),
                seed=3)
    chosen = run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=200, link=Link(loss=0.2, ack_loss=0.2),
                 seed=3, choices=[])
    assert plain == chosen and plain.details is None and chosen.details is not None


def test_random_faults_and_choices_combine():
    report = run(P.RetryingSender, P.DeduplicatingReceiver, n_messages=5, link=Link(loss=0.3), seed=4,
                 faults=Faults(crash_prob=0.05), choices=[(3, LOSE)])
    assert report.ok and report.effects == 5
