"""The autograder's catalog: every wrong answer is rejected for the right reason, by the systematic
search alone where it lies in its scope; every correct answer passes; the verdict says what must
hold, what happened, the smallest scenario, how to replay it, and a hint that fits the cause."""

from __future__ import annotations

import pytest

import semantics
from semantics import Node
from semantics import grading as G
from semantics.grading.grade import grade
from semantics.grading.hints import levels
from semantics.grading.session import classes_for, exercise_of, verdict_of
from wrong_solutions import CLASSES, all_cases

CASES = all_cases()
WRONG = [c for c in CASES if c.expect != "passed"]
RIGHT = [c for c in CASES if c.expect == "passed"]


def test_catalog_has_what_the_issue_asks_for():
    assert len(WRONG) >= 60
    for number in G.EXERCISES:
        assert any(c.exercise == number for c in WRONG)
        right = [c for c in RIGHT if c.exercise == number]
        assert len(right) >= 3, f"exercise {number} needs three different correct solutions"
        assert len({(c.sender, c.receiver) for c in right}) == len(right)
    covered = {kind for c in CASES for kind in c.covers}
    assert covered == set(CLASSES), set(CLASSES) - covered
    for required in ("retry-without-dedup", "new-id-every-retry", "dedup-in-memory", "mark-then-process",
                     "ack-before-processing", "window-shorter-than-horizon", "high-watermark", "content-hash-as-id"):
        assert required in {c.name for c in WRONG}


def flat(text: str) -> str:
    """The verdict's text without its line wrapping."""
    return " ".join(text.split())


def _graded(case, **phases):
    ex = exercise_of(case.exercise)
    classes, notes = classes_for(ex, case.sender, case.receiver)
    outcome = grade(ex, classes, **phases)
    return ex, classes, outcome, verdict_of(ex, classes, outcome, notes, 0.0)


@pytest.mark.parametrize("case", [c for c in WRONG if c.systematic], ids=lambda c: c.id)
def test_the_systematic_search_alone_rejects_each_wrong_answer_for_its_reason(case):
    ex, classes, outcome, verdict = _graded(case, random=False)
    assert not verdict.passed and verdict.status == "failed", str(verdict)
    assert verdict.invariant == case.expect, str(verdict)
    assert verdict.counterexample.phase == "systematic"
    # the hint is the exercise's for that invariant, chosen by what the counterexample shows
    assert verdict.hint and verdict.hint == levels(ex.hints, case.expect, outcome.causes)[0]
    text = flat(str(verdict))
    statement = next(i.statement for i in ex.invariants if i.name == case.expect)
    assert f"Broken invariant: {case.expect}: {statement}" in text
    assert "What happened: " in text and "Replay it: verdict.counterexample.replay()" in text
    cx = verdict.counterexample
    assert cx.msg_id is None or repr(cx.msg_id) in text
    if cx.report is not None:
        # the replay is the same run, event for event, and it breaks what the verdict says
        replay = cx.replay()
        assert replay.trace == cx.report.trace
        assert verdict.diagram() is not None


@pytest.mark.parametrize("case", [c for c in WRONG if not c.systematic], ids=lambda c: c.id)
def test_mistakes_beyond_the_search_are_caught_by_the_seeded_random_scenarios(case):
    assert _graded(case, random=False)[3].passed  # outside the search's scope, as its case says
    verdict = G.check(case.exercise, case.sender, case.receiver, progress=False)
    assert verdict.invariant == case.expect and verdict.counterexample.phase == "random", str(verdict)
    assert "shrunk from" in verdict.explanation and "Found by: seeded random scenario" in flat(verdict.explanation)


@pytest.mark.parametrize("case", RIGHT, ids=lambda c: c.id)
def test_correct_answers_pass(case):
    verdict = G.check(case.exercise, case.sender, case.receiver, progress=False)
    assert verdict.passed and verdict.status == "passed" and verdict.counterexample is None, str(verdict)
    text = flat(str(verdict))
    assert "Covered: all " in text and "schedules of the systematic search" in text and "seeded random scenarios" in text


def test_the_search_finds_the_smallest_counterexample_first():
    # breadth-first: no fault when none is needed, one when one is enough, and the fewest messages
    smallest = {"ex2-retry-without-dedup": (1, 1), "ex2-content-hash-as-id": (2, 0), "ex3-dedup-in-memory": (1, 1),
                "ex3-mark-then-process": (1, 1), "ex4-process-then-commit": (1, 1), "ex1-fire-and-forget": (1, 1),
                "ex5-never-acks": (1, 0), "ex6-volatile-sender": (1, 2), "ex1-one-slot-sender": (2, 1)}
    for case in WRONG:
        if case.id in smallest:
            scenario = _graded(case, random=False)[3].counterexample.scenario
            assert (scenario.n_messages, len(scenario.choices)) == smallest[case.id], (case.id, scenario)


def test_a_scenario_describes_the_adversarys_choices_in_words():
    case = next(c for c in WRONG if c.id == "ex6-volatile-sender")
    text = flat(str(_graded(case, random=False)[3]))
    assert "at t=0, the network loses 'm1' (its first copy)" in text
    assert "the sender crashes on entering on_timer('m1'), and restarts at t=4" in text
    assert "choices=[(3, 'lose'), (6, 'crash')]" in text


def test_a_failure_that_does_not_replay_is_flagged():
    # learner state that changes between runs makes a failure unreproducible (and is shared state)
    class FirstRunOnly(Node):
        runs = [0]

        def on_start(self):
            self.applied = set()
            self.runs[0] += 1

        def on_message(self, msg_id, body):
            if self.runs[0] <= 1 or msg_id not in self.applied:
                self.apply(body)
                self.applied.add(msg_id)
            self.ack(msg_id)

    from wrong_solutions import ex2
    verdict = G.check(2, ex2.Sender, FirstRunOnly, progress=False)
    assert verdict.invariant == G.NODE_ISOLATION and "FirstRunOnly.runs (a class attribute) changed" in flat(str(verdict))


# -- the ladder ---------------------------------------------------------------------------------------


def test_the_ladder_catches_each_flaw_at_the_rung_that_adds_its_fault():
    from wrong_solutions import ex1, ex2, ex3, ex5, ex6

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
            assert G.check(number, sender, receiver, progress=False).passed, (sender, receiver, number)
        assert G.check(fails, sender, receiver, progress=False).invariant == invariant


# -- arguments ----------------------------------------------------------------------------------------

from wrong_solutions import ex2 as _ex2, ex4 as _ex4  # noqa: E402


@pytest.mark.parametrize("args, error, words", [
    ((0, _ex2.Sender, _ex2.Receiver), ValueError, "exercise must be one of 1, 2, 3, 4, 5, 6"),
    (("ex9", _ex2.Sender, _ex2.Receiver), ValueError, "got 'ex9'"),
    ((1.0, _ex2.Sender, _ex2.Receiver), TypeError, "exercise must be an exercise number"),
    ((2, _ex2.Sender(), _ex2.Receiver), TypeError, "sender must be a class, not an instance"),
    ((2, _ex2.Sender, int), TypeError, "receiver must be a subclass of semantics.Node"),
    ((2, _ex2.Sender), TypeError, "the receiver class is missing"),
    ((4, _ex2.Sender, _ex4.InboxConsumer), ValueError, "pass sender=Broker"),
])
def test_arguments_are_checked(args, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        G.check(*args, progress=False)


def test_keyword_arguments_are_checked():
    with pytest.raises(TypeError, match="progress must be True or False"):
        G.check(1, _ex2.Sender, _ex2.Receiver, progress="yes")
    with pytest.raises(TypeError, match="isolate must be True or False"):
        G.check(1, _ex2.Sender, _ex2.Receiver, isolate=1)
    with pytest.raises(TypeError, match="report must be a semantics Report"):
        G.format_trace("trace")
    with pytest.raises(ValueError, match="has no trace"):
        G.format_trace(semantics.run(_ex2.Sender, _ex2.Receiver, n_messages=1))
    with pytest.raises(ValueError, match="invariant must be one of exercise 2's"):
        G.hint(2, "bounded state")
    with pytest.raises(ValueError, match="level must be an integer >= 1, got 0"):
        G.hint(2, G.NO_DUPLICATES, level=0)


def test_exercise_keys_and_partner_classes():
    assert G.check("ex4", None, _ex4.InboxConsumer, progress=False).passed
    assert G.check(" EX4 ", G.Broker, _ex4.InboxConsumer, progress=False).exercise == 4
    from wrong_solutions import ex5
    given = G.check(5, ex5.Sender, ex5.NB["Receiver"], progress=False)
    assert given.passed and not given.notes  # the notebook's sender is the exercise's own: no note
    changed = G.check(5, ex5.NoRetrySender, ex5.NB["Receiver"], progress=False)
    assert changed.passed and "exercise 5 grades against its own sender" in flat(str(changed))


def test_hints_are_chosen_by_cause_and_have_levels():
    from semantics.grading.hints import CRASH, DUPLICATE
    crash = G.hint(3, G.NO_DUPLICATES, CRASH)
    assert "After a crash" in crash and crash != G.hint(3, G.NO_DUPLICATES, DUPLICATE)
    assert G.hint(3, G.NO_DUPLICATES, "a cause it has no hint for") == G.hint(3, G.NO_DUPLICATES)
    assert G.hint(3, G.NO_DUPLICATES, level=5) == G.hint(3, G.NO_DUPLICATES)  # one level so far: repeated
