"""The autograder: every catalog entry gets the verdict it deserves, for the right reason, and
learner code that raises, never acks or runs away is reported, never a hang or a crash."""

from __future__ import annotations

import time

import pytest

import semantics
from semantics import Link, Node
from semantics import grading as G
from semantics.grading import Scenario, check
from wrong_solutions import all_cases, ex2, ex3, ex4, ex5

CASES = all_cases()


def test_catalog_has_what_the_issue_asks_for():
    wrong = [c for c in CASES if c.expect != "passed"]
    assert len(wrong) >= 8
    names = {c.name for c in wrong}
    for required in ("retry-without-dedup", "new-id-every-retry", "dedup-in-memory", "mark-then-process",
                     "ack-before-processing", "window-shorter-than-horizon", "high-watermark",
                     "content-hash-as-id"):
        assert required in names
    for number in G.EXERCISES:
        right = [c for c in CASES if c.exercise == number and c.expect == "passed"]
        assert len(right) >= 2, f"exercise {number} needs two different correct solutions"
        assert len({(c.sender, c.receiver) for c in right}) == len(right)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_catalog_verdict(case):
    verdict = check(case.exercise, case.sender, case.receiver, progress=False)
    if case.expect == "passed":
        assert verdict.passed, str(verdict)
        assert verdict.status == "passed" and verdict.counterexample is None
        return
    assert not verdict.passed and verdict.status == "failed", str(verdict)
    # the right reason: the invariant named, with the hint written for it
    assert verdict.invariant == case.expect, str(verdict)
    assert verdict.hint == G.EXERCISES[case.exercise].hints[case.expect]
    text = str(verdict)
    assert f"Broken invariant: {case.expect}" in text and "Replay it: semantics.run(" in text
    cx = verdict.counterexample
    assert f"seed {cx.seed}" in text
    if case.expect != G.BOUNDED_STATE:
        # the replay is the same run, event for event, and it breaks what the verdict says
        replay = cx.replay()
        assert replay.trace == cx.report.trace
        if case.expect in semantics.INVARIANTS:
            broken = {v.invariant for v in replay.violations("exactly-once")}
            assert case.expect in broken
        assert cx.msg_id is None or cx.msg_id in text


def test_counterexamples_are_shrunk_to_the_fewest_messages():
    smallest = {("ex2", "retry-without-dedup"): 1, ("ex2", "content-hash-as-id"): 2,
                ("ex3", "dedup-in-memory"): 1, ("ex3", "mark-then-process"): 1, ("ex4", "process-then-commit"): 1,
                ("ex5", "window-shorter-than-horizon"): 1, ("ex5", "high-watermark"): 2}
    for case in CASES:
        key = (f"ex{case.exercise}", case.name)
        if key in smallest:
            cx = check(case.exercise, case.sender, case.receiver, progress=False).counterexample
            assert cx.scenario.n_messages == smallest[key], (key, cx.scenario)


def test_shrinking_simplifies_random_faults():
    # In-memory dedup first fails in a small crash-point run; starting from a big random scenario
    # instead, the shrinker must still get to a handful of messages and fixed crash points.
    runner = G._Runner(G.EXERCISES[3], ex3.Sender, ex3.NB["InMemoryReceiver"])
    big = Scenario("random", 20, 0, Link(loss=0.2, ack_loss=0.3, jitter=1.0),
                   semantics.Faults(crash_prob=0.1), contents=G.REPEATED)
    finding = runner.violation(runner(big))
    assert finding is not None and finding.invariant == G.NO_DUPLICATES
    cx = G._counterexample(runner, big, finding)
    assert cx.invariant == G.NO_DUPLICATES
    assert cx.scenario.n_messages <= 2
    assert cx.scenario.faults.crash_prob == 0 and cx.scenario.faults.crash_at  # random -> fixed points
    assert cx.original is big and "shrunk from 20 messages" in G._failed(G.EXERCISES[3], cx, 1, 0.0).explanation


def test_a_failure_that_does_not_replay_is_flagged():
    # learner state shared between runs (a class attribute) makes a failure unreproducible
    class FirstRunOnly(Node):
        runs = [0]

        def on_start(self):
            self.applied = set()
            self.runs[0] += 1
            self.sloppy = self.runs[0] <= 2  # only the first two runs misbehave

        def on_message(self, msg_id, body):
            if self.sloppy or msg_id not in self.applied:
                self.apply(body)
                self.applied.add(msg_id)
            self.ack(msg_id)

    verdict = check(2, ex2.Sender, FirstRunOnly, progress=False)
    assert verdict.invariant == G.NO_DUPLICATES and not verdict.counterexample.reproduced
    assert "did not break the invariant again" in verdict.explanation
    assert check(2, ex2.Sender, ex2.NB["ApplyAndAckReceiver"], progress=False).counterexample.reproduced


def test_scenarios_check_their_arguments():
    with pytest.raises(ValueError, match=r"n_messages must be an integer \[1, 100000\], got 0"):
        Scenario("x", 0)
    with pytest.raises(TypeError, match="link must be a semantics.Link"):
        Scenario("x", 1, link=0.3)
    with pytest.raises(ValueError, match="contents must hold at least n_messages=3 bodies, got 1"):
        Scenario("x", 3, contents=("a",))


def test_verdicts_are_deterministic():
    a = check(3, ex3.Sender, ex3.ProcessThenMark, progress=False)
    b = check(3, ex3.Sender, ex3.ProcessThenMark, progress=False)
    assert a.explanation == b.explanation and a.counterexample.report.trace == b.counterexample.report.trace


# -- untrusted learner code ------------------------------------------------------------------------


class Unfinished(Node):
    def on_message(self, msg_id, body):
        # YOUR CODE HERE
        raise NotImplementedError()


class UnfinishedInInit(Node):
    def __init__(self):
        raise NotImplementedError()


class Raises(Node):
    def on_message(self, msg_id, body):
        self.apply(body)
        raise KeyError("oops")


class NeedsArguments(Node):
    def __init__(self, window):
        self.window = window


class LoopsForever(Node):
    def on_message(self, msg_id, body):
        while True:
            pass


class NeverAcks(Node):
    def on_message(self, msg_id, body):
        self.apply(body)


def test_not_implemented_is_reported_not_raised():
    for receiver in (Unfinished, UnfinishedInInit):
        verdict = check(2, ex2.Sender, receiver, progress=False)
        assert verdict.status == "not implemented" and not verdict.passed
        assert "Not implemented yet" in verdict.explanation and "NotImplementedError" in verdict.explanation
        assert "NOT IMPLEMENTED YET" in str(verdict)


def test_an_exception_is_a_failed_run_with_the_line():
    verdict = check(2, ex2.Sender, Raises, progress=False)
    assert verdict.invariant == G.RUN_COMPLETES
    assert "KeyError" in verdict.explanation and 'raise KeyError("oops")' in verdict.explanation
    assert verdict.counterexample.scenario.n_messages == 1


def test_a_constructor_that_fails_is_reported():
    verdict = check(2, ex2.Sender, NeedsArguments, progress=False)
    assert verdict.invariant == G.RUN_COMPLETES and "building a node raised TypeError" in verdict.explanation
    assert "missing 1 required positional argument: 'window'" in str(verdict) and verdict.diagram() is None


def test_an_endless_loop_is_stopped_by_the_wall_clock():
    started = time.perf_counter()
    verdict = check(2, ex2.Sender, LoopsForever, progress=False)
    assert time.perf_counter() - started < 3 * G.WALL_CLOCK + 2  # no shrinking of a time limit
    assert verdict.invariant == G.RUN_COMPLETES and "time limit" in verdict.explanation


def test_a_receiver_that_never_acks_ends_on_the_event_budget():
    verdict = check(2, ex2.Sender, NeverAcks, progress=False)
    assert verdict.invariant == G.RUN_COMPLETES and "event budget" in verdict.explanation
    assert "timer re-armed" in verdict.hint or "never hears" in verdict.hint


def test_time_budget_gives_an_incomplete_verdict():
    verdict = check(3, ex3.Sender, ex3.Receiver, progress=False, time_budget=1e-9)
    assert verdict.status == "incomplete" and not verdict.passed and verdict.scenarios == 1


# -- the contract of exercise 5 and the broker of exercise 4 -------------------------------------


def test_exercise_5_does_not_judge_copies_beyond_the_horizon():
    runner = G._Runner(G.EXERCISES[5], ex5.Sender, ex5.NB["Receiver"])
    first = G.Finding(G.NO_DUPLICATES, 0, "m1", "")
    assert runner.in_contract(Scenario("bounded delays", 3, 0, Link(ack_loss=1.0), interval=2.0), first)
    assert not runner.in_contract(Scenario("huge jitter", 3, 0, Link(ack_loss=1.0, jitter=30.0), interval=2.0),
                                  first)
    assert runner.in_contract(Scenario("huge jitter", 3, 0, Link(jitter=30.0)), G.Finding(G.BOUNDED_STATE, None,
                                                                                           None, ""))


def test_the_contract_filter_is_what_lets_a_window_at_the_bound_pass(monkeypatch):
    # A window of 23 is correct for the stated bound and passes; judged without the contract (copies
    # later than the bound held against it) it would be rejected: the filter is load-bearing.
    assert check(5, ex5.Sender, ex5.WindowAtTheBound, progress=False).passed
    monkeypatch.setattr(G._Runner, "in_contract", lambda self, scenario, finding: True)
    assert check(5, ex5.Sender, ex5.WindowAtTheBound, progress=False).invariant == G.NO_DUPLICATES


def test_exercise_5_rejects_windows_just_short_of_the_horizon():
    # The catalog's short window is 5. The bound needs a time window of 23 after the first arrival
    # and the last 12 sequence numbers; one less of either is caught (in seeded scenarios where a
    # copy comes that late), and exactly those pass.
    class Window22(ex5.TimeWindow):
        window = 22.0

    class Keep11(ex5.SequenceWindowReceiver):
        keep = 11

    assert check(5, ex5.Sender, Window22, progress=False).invariant == G.NO_DUPLICATES
    assert check(5, ex5.Sender, Keep11, progress=False).invariant in (G.ACK_MEANS_EFFECT, G.NO_SILENT_LOSS)
    # (the catalog's sequence-window-at-the-bound and window-at-the-bound pass)


def test_bounded_state_is_measured_after_every_handler():
    runner = G._Runner(G.EXERCISES[5], ex5.Sender, ex5.NB["UnboundedReceiver"])
    outcome = runner(Scenario("long", 100, 0, interval=2.0))
    assert outcome.state == 100
    outcome = G._Runner(G.EXERCISES[5], ex5.Sender, ex5.NB["Receiver"])(Scenario("long", 100, 0, interval=2.0))
    assert 10 <= outcome.state <= 20


def test_broker_redelivers_until_committed_and_gives_up_on_silence():
    report = semantics.run(G.Broker, ex4.NeverCommits, n_messages=2, trace=True)
    assert report.ok and report.effects == 2
    rounds = [e for e in report.trace if e.kind == "send" and e.message == "data"]
    # the first record: pushed, then redelivered max_rounds times; the broker has given up by the
    # time the second one comes, which is pushed once
    assert len(rounds) == 1 + G.Broker.max_rounds + 1
    assert any("broker gave up" in e.text for e in report.trace if e.kind == "note")


def test_broker_ignores_a_commit_that_is_not_an_offset():
    class Garbage(Node):
        def on_message(self, offset, body):
            self.apply(body)
            self.ack("nonsense")
            self.ack(10**6)
            self.ack(offset)

    assert semantics.run(G.Broker, Garbage, n_messages=3).ok


# -- arguments, display, progress ----------------------------------------------------------------


@pytest.mark.parametrize("args, error, words", [
    ((0, ex2.Sender, ex2.Receiver), ValueError, "exercise must be one of 1, 2, 3, 4, 5, 6"),
    (("ex9", ex2.Sender, ex2.Receiver), ValueError, "got 'ex9'"),
    ((1.0, ex2.Sender, ex2.Receiver), TypeError, "exercise must be an exercise number"),
    ((2, ex2.Sender(), ex2.Receiver), TypeError, "sender must be a class, not an instance"),
    ((2, ex2.Sender, int), TypeError, "receiver must be a subclass of semantics.Node"),
    ((2, ex2.Sender), TypeError, "the receiver class is missing"),
    ((4, ex2.Sender, ex4.InboxConsumer), ValueError, "pass sender=Broker"),
])
def test_arguments_are_checked(args, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        check(*args, progress=False)


def test_keyword_arguments_are_checked():
    with pytest.raises(ValueError, match=r"time_budget must be in \(0, inf\), got -1"):
        check(1, ex2.Sender, ex2.Receiver, time_budget=-1)
    with pytest.raises(TypeError, match="progress must be True or False"):
        check(1, ex2.Sender, ex2.Receiver, progress="yes")
    with pytest.raises(TypeError, match="report must be a semantics Report"):
        G.format_trace("trace")
    with pytest.raises(ValueError, match="has no trace"):
        G.format_trace(semantics.run(ex2.Sender, ex2.Receiver, n_messages=1))


def test_exercise_keys_and_broker_default():
    assert check("ex4", None, ex4.InboxConsumer, progress=False).passed
    assert check(" EX4 ", G.Broker, ex4.InboxConsumer, progress=False).exercise == 4


def test_rich_display_shows_text_html_and_the_diagram(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    check(3, ex3.Sender, ex3.ProcessThenMark, progress=False)._ipython_display_()
    assert "Broken invariant: no duplicate effects" in shown[0]["text/plain"] and "<pre" in shown[0]["text/html"]
    assert shown[1]["image/png"].startswith(b"\x89PNG")


def test_html_display_escapes_learner_text():
    verdict = check(2, ex2.Sender, Raises, progress=False)
    html = verdict._repr_html_()
    assert "<pre" in html and "NOT PASSED" in html and 'raise KeyError(&quot;oops&quot;)' in html


def test_headless_progress_is_text_on_stderr(capsys):
    bar = G._Progress("exercise 3", True)
    bar.started -= 5  # as if grading had run for five seconds
    bar.update(12, 80, "random receiver crashes")
    bar.close()
    err = capsys.readouterr().err
    assert "[grading exercise 3] 12/80 scenarios" in err and "random receiver crashes" in err
    quiet = G._Progress("exercise 3", False)
    quiet.started -= 5
    quiet.update(1, 2, "x")
    assert capsys.readouterr().err == ""


def test_scenario_replay_call_names_only_what_differs():
    s = Scenario("x", 2, 7, Link(ack_loss=0.5), semantics.Faults(crash_at={"receiver": {3}}), interval=0.5)
    assert s.call("S", "R") == ("semantics.run(S, R, n_messages=2, link=semantics.Link(ack_loss=0.5), "
                                "faults=semantics.Faults(crash_at={'receiver': {3}}), seed=7, interval=0.5, "
                                "trace=True)")
    assert "ack loss 50%" in s.describe() and "crash point 3" in s.describe()


# -- no false rejection: correct solutions hold under random scenarios of each exercise's fault model

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FAULT_MODELS = {  # exercise -> (max loss, max ack loss, max duplicate, max jitter, max crash prob, pace)
    1: (0.6, 0.3, 0.0, 0.0, 0.0, None),
    2: (0.4, 0.5, 0.3, 3.0, 0.0, None),
    3: (0.3, 0.4, 0.2, 1.5, 0.12, None),
    4: (0.3, 0.3, 0.0, 1.0, 0.12, None),
    5: (0.3, 1.0, 0.0, 2.5, 0.05, 2.0),
    6: (0.3, 0.3, 0.0, 1.0, 0.08, None),
}


@st.composite
def scenarios(draw, number):
    loss, ack_loss, duplicate, jitter, crash, pace = FAULT_MODELS[number]
    ex = G.EXERCISES[number]
    link = Link(loss=draw(st.floats(0, loss)), ack_loss=draw(st.floats(0, ack_loss)),
                duplicate=draw(st.floats(0, duplicate)), jitter=draw(st.floats(0, jitter)))
    faults = semantics.Faults(crash_prob=draw(st.floats(0, crash)), nodes=ex.crash_nodes) if crash else \
        semantics.Faults()
    interval = pace if pace else draw(st.one_of(st.none(), st.floats(0.3, 3.0)))
    return Scenario("random", draw(st.integers(1, 12)), draw(st.integers(0, 10**6)), link, faults, interval,
                    G.REPEATED)


def _holds(number, cases):
    @settings(max_examples=25, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(scenarios(number))
    def holds(scenario):
        for case in cases:
            runner = G._Runner(G.EXERCISES[number], case.sender, case.receiver)
            finding = runner.violation(runner(scenario))
            assert finding is None or not runner.in_contract(scenario, finding), (case.id, scenario, finding)

    holds()


@pytest.mark.parametrize("number", sorted(FAULT_MODELS))
def test_correct_solutions_never_break_an_invariant_in_their_fault_model(number):
    _holds(number, [c for c in CASES if c.exercise == number and c.expect == "passed"])


@pytest.mark.parametrize("number, name", [(3, "dedup-in-memory"), (5, "window-shorter-than-horizon"),
                                          (6, "volatile-sender")])
def test_the_same_random_scenarios_catch_a_wrong_solution(number, name):
    # negative control: the property above is able to fail
    with pytest.raises(AssertionError):
        _holds(number, [c for c in CASES if c.exercise == number and c.name == name])


def test_the_ladder_catches_each_flaw_at_the_rung_that_adds_its_fault():
    # Each answer (or tempting variant) passes the rungs whose faults it survives and is rejected by
    # the first rung that adds the fault it cannot survive.
    from wrong_solutions import ex1, ex6

    ladder = [
        # (sender, receiver, passes these exercises, then fails this one with this invariant)
        (ex2.Sender, ex2.Receiver, [2], (3, G.NO_DUPLICATES)),                 # volatile dedup: crashes
        (ex2.Sender, ex3.ProcessThenMark, [2], (3, G.NO_DUPLICATES)),          # not atomic: crashes
        (ex2.NewIdEachRetry, ex1.Receiver, [1], (2, G.NO_DUPLICATES)),         # new ids: fine until dedup
        (ex6.NB["Sender"], ex3.Receiver, [1, 2, 3], (6, G.EVERY_EFFECT)),      # volatile sender: sender crashes
        (ex5.Sender, ex5.NB["UnboundedReceiver"], [], (5, G.BOUNDED_STATE)),  # ex3's answer: long runs
    ]
    for sender, receiver, passes, (fails, invariant) in ladder:
        for number in passes:
            assert check(number, sender, receiver, progress=False).passed, (sender, receiver, number)
        assert check(fails, sender, receiver, progress=False).invariant == invariant
