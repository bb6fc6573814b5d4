"""The autograder's catalog: every wrong answer is rejected for the right reason, by the systematic
search alone where it lies in its scope; every correct answer passes; the verdict says what must
hold, what happened, the smallest scenario, how to replay it, and a hint that fits the cause."""

from __future__ import annotations

import pytest

import semantics
from semantics import Node
from semantics import grading as G
from semantics.grading.grade import grade, plain_report
from semantics.grading.hints import levels
from semantics.grading.session import classes_for, exercise_of, verdict_of
from wrong_solutions import CLASSES, all_cases

CASES = all_cases()
WRONG = [c for c in CASES if c.expect != "passed"]
RIGHT = [c for c in CASES if c.expect == "passed"]


def test_catalog_has_what_the_issue_asks_for():
    assert len(G.EXERCISES) >= 9 and len(WRONG) >= 100
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
    # lesson 05's working mechanisms are not answers to the rungs they do not solve (issue 13)
    from semantics.sim.patterns import FencingStore, LastReplyServer, OutboxConsumer
    library = {c.receiver: c.expect for c in WRONG if "library class" in c.covers}
    assert library[LastReplyServer] == G.FIRST_RECEIPT and library[FencingStore] == G.NO_DUPLICATES
    assert library[OutboxConsumer] == G.NO_DUPLICATES


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
    # the hint is the exercise's for that invariant, chosen by what the counterexample shows; the verdict
    # names the call that shows its next level
    texts = levels(ex.hints, case.expect, outcome.causes)
    assert verdict.hint and verdict.hint == texts[0]
    text = flat(str(verdict))
    if len(texts) > 1:
        assert f"hint({case.exercise}, {case.expect!r}" in verdict.more and "level=2)" in verdict.more
        assert flat(verdict.more) in text and G.hint(case.exercise, case.expect, next(
            (c for c in outcome.causes if c in ex.hints.get(case.expect, {})), None), level=2).startswith(texts[1])
    statement = next(i.statement for i in ex.invariants if i.name == case.expect)
    assert f"Broken invariant: {case.expect}: {statement}" in text
    assert "What happened: " in text and "Replay it: verdict.counterexample.replay()" in text
    cx = verdict.counterexample
    assert cx.msg_id is None or repr(cx.msg_id) in text
    if cx.report is not None:
        # the replay is the same run, event for event, and it breaks what the verdict says
        replay = cx.replay()
        assert plain_report(replay).trace == cx.report.trace  # (the verdict's report crossed a pipe: plain ids)
        assert verdict.diagram() is not None


@pytest.mark.parametrize("case", [c for c in WRONG if not c.systematic], ids=lambda c: c.id)
def test_mistakes_beyond_the_search_are_caught_by_the_seeded_random_scenarios(case):
    assert _graded(case, random=False)[3].passed  # outside the search's scope, as its case says
    verdict = G.check(case.exercise, case.sender, case.receiver, progress=False)
    assert verdict.invariant == case.expect and verdict.counterexample.phase == "random", str(verdict)
    assert "Found by: seeded random scenario" in flat(verdict.explanation)
    cx = verdict.counterexample
    assert ("shrunk from" in verdict.explanation) == (cx.scenario != cx.original)  # shrunk where it could be


@pytest.mark.parametrize("case", RIGHT, ids=lambda c: c.id)
def test_correct_answers_pass(case):
    verdict = G.check(case.exercise, case.sender, case.receiver, progress=False)
    assert verdict.passed and verdict.status == "passed" and verdict.counterexample is None, str(verdict)
    text = flat(str(verdict))
    assert "Covered: all " in text and "schedules of the systematic search" in text and "seeded random scenarios" in text


def test_the_search_finds_the_smallest_counterexample_first():
    # breadth-first: no fault when none is needed, one when one is enough, and the fewest messages
    smallest = {"ex2-retry-without-dedup": (1, 1), "ex2-content-hash-as-id": (2, 0), "ex3-dedup-in-memory": (1, 1),
                "ex3-mark-then-process": (1, 1), "ex5-process-then-commit": (1, 1), "ex1-fire-and-forget": (1, 1),
                "ex6-never-acks": (1, 0), "ex10-volatile-sender": (1, 2), "ex1-one-slot-sender": (2, 1),
                "ex4-high-water-mark": (2, 1), "ex7-lesson-05-last-reply": (2, 1), "ex8-dedup-only": (1, 0),
                "ex9-no-cutoff": (1, 1)}
    for case in WRONG:
        if case.id in smallest:
            scenario = _graded(case, random=False)[3].counterexample.scenario
            assert (scenario.n_messages, len(scenario.choices)) == smallest[case.id], (case.id, scenario)


def test_a_scenario_describes_the_adversarys_choices_in_words():
    case = next(c for c in WRONG if c.id == "ex10-volatile-sender")
    text = flat(str(_graded(case, random=False)[3]))
    assert "at t=0, the network loses message 1 (its first copy)" in text  # the sender's own number for m1
    assert "the sender crashes on entering on_timer(1), and restarts at t=4" in text
    assert "choices=[(3, 'lose'), (6, 'crash')]" in text
    case = next(c for c in WRONG if c.id == "ex9-no-cutoff")
    text = flat(str(_graded(case, random=False)[3]))
    assert "at t=2, the network goes down for 26 time units, starting with the ack of 'm1'" in text


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
    from wrong_solutions import ex1, ex2, ex3, ex4, ex6, ex10

    ladder = [
        # (sender, receiver, passes these exercises, then fails this one with this invariant)
        (ex2.Sender, ex2.Receiver, [2], (3, G.NO_DUPLICATES)),                  # volatile dedup: crashes
        (ex2.NewIdEachRetry, ex1.Receiver, [1], (2, G.NO_DUPLICATES)),          # new ids: fine until dedup
        (ex3.Sender, ex3.Receiver, [3], (4, G.ACK_MEANS_EFFECT)),               # one number: reordering
        (ex4.Sender, ex3.HighWaterMark, [3], (4, G.ACK_MEANS_EFFECT)),          # a high-water mark: reordering
        (ex4.Sender, ex4.Receiver, [3, 4], (6, G.BOUNDED_STATE)),               # a gap that never closes
        (ex4.Sender, ex10.InboxReceiver, [4], (10, G.EVERY_EFFECT)),            # volatile sender: sender crashes
    ]
    for sender, receiver, passes, (fails, invariant) in ladder:
        for number in passes:
            assert G.check(number, sender, receiver, progress=False).passed, (sender, receiver, number)
        assert G.check(fails, sender, receiver, progress=False).invariant == invariant, (sender, receiver, fails)


# -- arguments ----------------------------------------------------------------------------------------

from wrong_solutions import ex2 as _ex2, ex5 as _ex5  # noqa: E402


@pytest.mark.parametrize("args, error, words", [
    ((0, _ex2.Sender, _ex2.Receiver), ValueError, "exercise must be one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"),
    (("ex19", _ex2.Sender, _ex2.Receiver), ValueError, "got 'ex19'"),
    ((1.0, _ex2.Sender, _ex2.Receiver), TypeError, "exercise must be an exercise number"),
    ((2, _ex2.Sender(), _ex2.Receiver), TypeError, "sender must be a class, not an instance"),
    ((2, _ex2.Sender, int), TypeError, "receiver must be a subclass of semantics.Node"),
    ((2, _ex2.Sender), TypeError, "the receiver class is missing"),
    ((5, _ex2.Sender, _ex5.InboxConsumer), ValueError, "pass sender=Broker"),
    ((8, _ex2.Sender, _ex2.Receiver), ValueError, "pass sender=Worker"),
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
    with pytest.raises(ValueError, match="cause needs an invariant"):
        G.hint(2, cause="crash")


def test_exercise_keys_and_partner_classes():
    assert G.check("ex5", None, _ex5.InboxConsumer, progress=False).passed
    assert exercise_of(" EX5 ").number == 5 and exercise_of("ex10") is exercise_of(10)
    assert classes_for(exercise_of(5), G.Broker, _ex5.InboxConsumer)[0]["sender"] is G.Broker
    from wrong_solutions import ex3, ex6, ex8
    classes, notes = classes_for(exercise_of(6), ex6.Sender, ex6.NB["Receiver"])
    assert classes["sender"] is G.NumberedSender and not notes  # the notebook's sender is the exercise's own
    classes, notes = classes_for(exercise_of(6), ex6.NoRetrySender, ex6.NB["Receiver"])
    assert classes["sender"] is G.NumberedSender and "exercise 6 grades against its own sender" in notes[0]
    classes, notes = classes_for(exercise_of(3), ex3.Sender, ex3.Receiver)
    assert classes["sender"] is G.SequenceSender and not notes
    # exercise 8: check's first class plays the workers, its second the store; the rest is the exercise's
    classes, notes = classes_for(exercise_of(8), None, ex8.Store)
    assert classes == {"c1": G.Worker, "store": ex8.Store, "sender": G.Producer, "receiver": G.LeaseQueue,
                       "c2": G.Worker} and not notes


def test_hints_are_chosen_by_cause_and_have_levels():
    from semantics.grading.hints import CRASH, DUPLICATE
    crash = G.hint(3, G.NO_DUPLICATES, CRASH)
    assert "After a crash" in crash and crash != G.hint(3, G.NO_DUPLICATES, DUPLICATE)
    assert G.hint(3, G.NO_DUPLICATES, "a cause it has no hint for") == G.hint(3, G.NO_DUPLICATES)
    # levels: each names the call for the next one; asked beyond the last, the last again, saying so
    assert crash.endswith("(Hint 1 of 2; the next one, closer to the answer: hint(3, 'no duplicate effects', "
                          "'crash', level=2).)")
    second = G.hint(3, G.NO_DUPLICATES, CRASH, level=2)
    assert "self.durable" in second and "hint(" not in second
    assert G.hint(3, G.NO_DUPLICATES, CRASH, level=5) == ("(There are 2 levels of this hint; here is the last one "
                                                          "again.) " + second)


def test_every_rung_has_its_own_hints_in_levels_and_every_broken_invariant_a_hint():
    for number, ex in G.EXERCISES.items():
        assert len(ex.guide) >= 2, number
        assert G.hint(number).startswith(ex.guide[0]) and f"hint({number}, level=2)" in G.hint(number)
        assert G.hint(number, level=len(ex.guide)) == ex.guide[-1]  # the near-answer, the last level
        for invariant in ex.names:
            assert G.hint(number, invariant), (number, invariant)
    # the rungs past exercise 2 give at least two levels for every invariant of their own
    for number in range(3, len(G.EXERCISES) + 1):
        ex = G.EXERCISES[number]
        for invariant in ex.names:
            if invariant not in (G.NODE_ISOLATION, G.RUN_COMPLETES):
                assert "level=2" in G.hint(number, invariant), (number, invariant)


# -- scenarios, exercise 6's contract, the broker of exercise 5, progress --------------------------

from semantics import Link  # noqa: E402
from semantics.grading.runner import Runner  # noqa: E402
from semantics.grading.scenarios import Scenario  # noqa: E402


def test_scenarios_check_their_arguments():
    with pytest.raises(ValueError, match=r"n_messages must be an integer \[1, 100000\], got 0"):
        Scenario("x", 0)
    with pytest.raises(TypeError, match="link must be a semantics.Link"):
        Scenario("x", 1, link=0.3)
    with pytest.raises(ValueError, match="contents must hold at least n_messages=3 bodies, got 1"):
        Scenario("x", 3, contents=("a",))
    with pytest.raises(ValueError, match="choices: choice must be one of"):
        Scenario("x", 1, choices=((1, "burn"),))


def test_scenario_replay_call_names_only_what_differs():
    s = Scenario("x", 2, 7, Link(ack_loss=0.5), semantics.Faults(crash_at={"receiver": {3}}), interval=0.5)
    assert s.call("S", "R") == ("semantics.run(S, R, n_messages=2, link=semantics.Link(ack_loss=0.5), "
                                "faults=semantics.Faults(crash_at={'receiver': {3}}), seed=7, interval=0.5, "
                                "trace=True)")
    assert "ack loss 50%" in s.describe() and "crash point 3" in s.describe()
    chosen = Scenario("x", 1, contents=("deposit 10",), choices=((3, "delay"),), lengths=(7.0, 1_000.0, 10_000.0))
    assert chosen.call("S", "R") == ("semantics.run(S, R, n_messages=1, contents=['deposit 10'], "
                                     "choices=semantics.sim.choices.Replay([(3, 'delay')], hold=7), trace=True)")
    # a length that no choice of the schedule uses is left out (a loss is not held back, an outage not paused)
    lost = Scenario("x", 1, contents=("deposit 10",), choices=((3, "lose"),), lengths=(7.0, 1_000.0, 1e9, 1e9))
    assert lost.call("S", "R").endswith("choices=[(3, 'lose')], trace=True)")
    down = Scenario("x", 1, contents=("deposit 10",), choices=((3, "outage"),), lengths=(7.0, 1_000.0, 1e9, 1e9))
    assert down.call("S", "R").endswith("choices=semantics.sim.choices.Replay([(3, 'outage')], pause=1e+09), trace=True)")
    # a fixed outage on a link that draws no random number: the seed changes nothing, and is not shown
    fixed = Scenario("x", 4, link=Link(partitions=((1.5, 15.5),)))
    assert fixed.call("S", "R") == "semantics.run(S, R, n_messages=4, link=semantics.Link(partitions=((1.5, 15.5),)), trace=True)"
    assert "seed" not in fixed.describe()
    for random_run in (Scenario("x", 4, link=Link(loss=0.2, partitions=((1.5, 15.5),))),
                       Scenario("x", 4, faults=semantics.Faults(crash_prob=0.1))):
        assert "seed=0" in random_run.call("S", "R") and "seed 0" in random_run.describe()


def _ex6_runner(receiver):
    from wrong_solutions import ex6
    ex = exercise_of(6)
    return Runner(ex, classes_for(ex, ex6.Sender, receiver)[0])


def test_exercise_6_does_not_judge_copies_beyond_the_horizon():
    from semantics.grading.invariants import Finding
    from wrong_solutions import ex6
    runner = _ex6_runner(ex6.NB["Receiver"])
    first = Finding(G.NO_DUPLICATES, 0, "m1", "")
    assert runner.in_contract(Scenario("bounded delays", 3, 0, Link(ack_loss=1.0, jitter=0.1), interval=2.0), first)
    assert not runner.in_contract(Scenario("huge jitter", 3, 0, Link(ack_loss=1.0, jitter=30.0), interval=2.0),
                                  first)
    assert runner.in_contract(Scenario("huge jitter", 3, 0, Link(jitter=30.0)), Finding(G.BOUNDED_STATE, None, None, ""))


def test_the_contract_filter_is_what_lets_a_window_at_the_bound_pass(monkeypatch):
    # A window of 23 is correct for the stated bound and passes; judged without the contract (copies
    # later than the bound held against it) it would be rejected: the filter is load-bearing.
    from wrong_solutions import ex6
    ex = exercise_of(6)
    classes = classes_for(ex, ex6.Sender, ex6.WindowAtTheBound)[0]
    assert grade(ex, classes, systematic=False).status == "passed"  # (the contract matters for random runs)
    monkeypatch.setattr(Runner, "in_contract", lambda self, scenario, finding: True)
    assert grade(ex, classes, systematic=False).finding.invariant == G.NO_DUPLICATES


def test_exercise_6_rejects_windows_just_short_of_the_horizon():
    # The bound needs a time window of 23 after the first arrival and the last 12 sequence numbers;
    # one less of either is caught (by the seeded random runs where a copy comes that late).
    from wrong_solutions import ex6

    class Keep11(ex6.SequenceWindowReceiver):
        keep = 11

    for receiver, invariants in ((ex6.Window22, (G.NO_DUPLICATES,)), (Keep11, (G.ACK_MEANS_EFFECT, G.NO_SILENT_LOSS))):
        ex = exercise_of(6)
        outcome = grade(ex, classes_for(ex, ex6.Sender, receiver)[0], systematic=False)  # (the search passes them)
        assert outcome.finding.invariant in invariants


def test_state_is_measured_in_bytes_after_every_handler():
    from wrong_solutions import ex6
    bounded = _ex6_runner(ex6.NB["Receiver"]).run(Scenario("long", 300, interval=2.0))
    assert 50 < bounded.state < 400  # a window of 30 time units: 16 entries or so, whatever the run's length
    for receiver in (ex6.UnboundedReceiver, ex6.GrowingBitmap, ex6.DurableSetInDict, ex6.DebugLog):
        small = _ex6_runner(receiver).run(Scenario("short", 20, interval=2.0)).state
        large = _ex6_runner(receiver).run(Scenario("longer", 40, interval=2.0)).state
        assert large > small, receiver  # grows with the run: a few top-level entries or not
    grown = _ex6_runner(ex6.UnboundedReceiver).run(Scenario("long", 3_000, interval=2.0))
    assert grown.halted == G.BOUNDED_STATE and grown.state > 1_024 and "durable ('done'," in grown.state_detail


def test_state_size_is_the_length_of_the_states_text():
    from semantics import run
    sizes = []

    class Measures(Node):
        def on_message(self, msg_id, body):
            self.durable["seen"] = {1: 2.0, 2: 4.0}
            self.note = "x"
            sizes.append(G.state_size(self))
            self.apply(body)
            self.ack(msg_id)

    run(semantics.sim.protocols.RetryingSender, Measures, n_messages=1)
    # volatile {'note':'x'}: 12 bytes; durable {'seen':{1:2.0,2:4.0}}: 22 bytes
    assert sizes == [12 + 22]
    with pytest.raises(TypeError, match="node must be a semantics.Node"):
        G.state_size("receiver")


def test_broker_redelivers_until_committed_and_gives_up_on_silence():
    report = semantics.run(G.Broker, _ex5.NeverCommits, n_messages=2, trace=True)
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


def test_headless_progress_is_text_on_stderr(capsys):
    from semantics.grading.progress import Progress
    bar = Progress("exercise 3", True)
    bar.started -= 5  # as if grading had run for five seconds
    bar.update(12, "2 messages with equal bodies")
    bar.close()
    err = capsys.readouterr().err
    assert "[grading exercise 3] 12 runs: 2 messages with equal bodies" in err
    quiet = Progress("exercise 3", False)
    quiet.started -= 5
    quiet.update(1, "x")
    assert capsys.readouterr().err == ""


def test_the_state_meter_follows_closures_and_generator_frames():
    from semantics.grading import state_size
    from semantics.sim.state import size

    class Hidden(Node):
        def on_start(self):
            kept = set(range(100))

            def check(n):
                return n in kept

            def frame():
                inside = list(range(100))
                yield len(inside)

            self.check, self.frame = check, frame()
            next(self.frame)

    class Plain(Node):
        def on_start(self):
            self.check = len  # (a function that keeps nothing)

    hidden, plain = Hidden(), Plain()
    hidden.on_start()
    plain.on_start()
    assert state_size(hidden) > 2 * size(list(range(100))) > state_size(plain)  # the set and the list, both seen


def test_state_on_the_class_functions_and_the_machine_clock_are_reported():
    import functools
    import time
    from semantics.grading.outside import Watch

    class Memo(Node):
        @functools.lru_cache(maxsize=None)
        def seen(self, msg_id):
            return True

    class Default(Node):
        def on_message(self, msg_id, body, seen=set()):
            seen.add(msg_id)

    class Clock(Node):
        def on_timer(self, key):
            return time.monotonic()

    class Sleeps(Node):
        def on_timer(self, key):
            time.sleep(0)

    memo = Watch([Memo])
    Memo().seen(1)
    assert "the cache of" in " ".join(memo.changes())
    default = Watch([Default])
    Default().on_message(1, "x")
    assert "mutable default argument" in " ".join(default.changes())
    assert "reads the machine's clock (time.monotonic)" in " ".join(Watch([Clock]).changes())
    assert Watch([Sleeps]).changes() == ()


def test_the_equal_bodies_hint_only_when_the_failure_needs_equal_bodies():
    class LastOnly(Node):
        """Resends only the most recent message: a lost earlier one is never retried (nothing to do with
        bodies, though the counterexample's bodies are equal)."""

        def on_start(self):
            self.last = None

        def on_send(self, msg_id, body):
            self.last = (msg_id, body)
            self.send("receiver", msg_id, body)
            self.set_timer("t", 3.0)

        def on_ack(self, msg_id):
            if self.last and self.last[0] == msg_id:
                self.last = None

        def on_timer(self, key):
            if self.last:
                self.send("receiver", *self.last)
                self.set_timer("t", 3.0)

    v = G.check(1, LastOnly, None, progress=False)
    assert v.invariant == G.EVERY_EFFECT and "equal bodies" not in v.hint
    body_keyed = next(c for c in WRONG if c.id == "ex1-body-keyed-sender")
    assert "equal bodies" in G.check(1, body_keyed.sender, body_keyed.receiver, progress=False).hint


# -- what no simulated restart can show: the hash salt of a process ---------------------------------------------


def test_a_protocol_that_calls_hash_is_told_what_a_real_restart_does_to_it():
    case = next(c for c in RIGHT if c.receiver is not None and c.exercise == 2)

    class Hashing(case.receiver):
        def fingerprint(self, msg_id):  # never called: the note reads the code, not a run
            return ("done", hash(msg_id) % 64)

    class Attribute(case.receiver):
        def fingerprint(self, msg_id):
            return self.hash, [len(m) for m in msg_id]   # an attribute named hash is not the built-in

    namespace = {"hash": lambda value: 0, "base": case.receiver}     # nor is a hash() the module defines
    exec("class Shadowed(base):\n    def fingerprint(self, msg_id):\n        return hash(msg_id)\n", namespace)

    helper = {"base": case.receiver}                                 # a notebook's helper function counts
    exec("def key(msg_id):\n    return ('done', hash(msg_id))\n\n"
         "class ThroughHelper(base):\n    def fingerprint(self, msg_id):\n        return key(msg_id)\n", helper)
    assert "ThroughHelper.fingerprint calls hash()" in G.check(2, case.sender, helper["ThroughHelper"],
                                                               progress=False).notes[-1]

    verdict = G.check(2, case.sender, Hashing, progress=False)
    assert verdict.passed  # the same behaviour: the note is not a failure
    note = [n for n in verdict.notes if "hash()" in n]
    assert len(note) == 1 and note[0].startswith("Hashing.fingerprint calls hash(). Python salts the hash of a str")
    assert "PYTHONHASHSEED" in note[0] and "hashlib" in note[0] and "Hashing.fingerprint" in flat(str(verdict))
    for receiver in (Attribute, namespace["Shadowed"], case.receiver):
        assert not [n for n in G.check(2, case.sender, receiver, progress=False).notes if "hash()" in n], receiver
