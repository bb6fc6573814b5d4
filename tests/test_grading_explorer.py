"""The systematic search: every schedule within a base's fault budget, breadth-first, each replayable,
with repeated states pruned soundly (the same verdicts, fewer runs)."""

from __future__ import annotations

import pytest

from semantics import run
from semantics.grading import explorer as E
from semantics.grading.exercises import EXERCISES
from semantics.grading.grade import grade
from semantics.grading.runner import Runner
from semantics.grading.session import classes_for
from semantics.sim.choices import CRASH, LOSE
from wrong_solutions import all_cases

CASES = {c.id: c for c in all_cases()}


def runner_for(case_id):
    case = CASES[case_id]
    ex = EXERCISES[case.exercise]
    return ex, Runner(ex, classes_for(ex, case.sender, case.receiver)[0])


def test_schedules_are_breadth_first_and_each_is_a_replayable_run():
    ex, runner = runner_for("ex3-solution")
    scope = E.Scope(bases=(E.Base(1, faults=2),), kinds=(LOSE, CRASH), crash_nodes=("receiver",))
    seen = []

    def record(scenario, oracle):
        trial = runner.run(scenario, oracle)
        seen.append((scenario.choices, trial.report))
        return trial

    coverage = E.Coverage()
    assert list(E.explore(scope, record, lambda trial: None, coverage)) == []
    faults = [len(choices) for choices, _ in seen]
    assert faults == sorted(faults) and faults[0] == 0 and max(faults) == 2  # fewest faults first
    assert coverage.schedules == len(seen) == len({c for c, _ in seen})     # each schedule once
    for choices, report in seen[::25]:  # a schedule replays as a plain semantics.run call
        again = run(runner.classes["sender"], runner.classes["receiver"], n_messages=1,
                    contents=["deposit 10"], choices=choices, wall_clock=None)
        assert (again.effects, again.acked, again.events, again.crashes) == \
               (report.effects, report.acked, report.events, report.crashes)


def without_pruning(monkeypatch):
    monkeypatch.setattr(E, "HASHED", 0)


@pytest.mark.parametrize("case_id", ["ex3-solution", "ex10-solution", "ex5-inbox-and-prefix-commit", "ex8-solution"])
def test_pruning_skips_repeated_states_without_changing_what_passes(case_id, monkeypatch):
    ex, runner = runner_for(case_id)
    pruned = grade(ex, runner.classes, random=False)
    without_pruning(monkeypatch)
    full = grade(ex, runner.classes, random=False)
    assert pruned.status == full.status == "passed"
    assert pruned.coverage.pruned > 0 and full.coverage.pruned == 0
    assert pruned.coverage.schedules < full.coverage.schedules


@pytest.mark.parametrize("case_id", ["ex3-process-then-mark", "ex3-ack-inside-transaction", "ex5-commits-whatever-arrives",
                                     "ex10-outbox-not-relayed-after-restart", "ex10-restart-without-timers",
                                     "ex6-sequence-window-of-three", "ex1-one-slot-sender", "ex4-refuses-early-copies",
                                     "ex7-forgets-too-soon", "ex9-records-after-calling"])
def test_pruning_finds_the_same_counterexample(case_id, monkeypatch):
    ex, runner = runner_for(case_id)
    pruned = grade(ex, runner.classes, random=False)
    without_pruning(monkeypatch)
    full = grade(ex, runner.classes, random=False)
    assert pruned.finding.invariant == full.finding.invariant == CASES[case_id].expect
    assert (pruned.scenario.n_messages, len(pruned.scenario.choices)) == \
           (full.scenario.n_messages, len(full.scenario.choices))


def test_coverage_is_the_same_every_time_and_said_in_words():
    ex, runner = runner_for("ex10-solution")
    a, b = grade(ex, runner.classes, random=False), grade(ex, runner.classes, random=False)
    assert (a.coverage.schedules, a.coverage.pruned) == (b.coverage.schedules, b.coverage.pruned)
    words = ex.scope.describe()
    assert "lost, duplicated, delayed past later copies" in words and "the sender or the receiver crashing" in words
    assert E.Base(2, interval=0.5, equal=True).describe() == "2 messages with equal bodies, several in flight (one every 0.5)"


def test_every_exercise_states_its_scope():
    for ex in EXERCISES.values():
        assert ex.scope.bases and ex.scope.bases == tuple(sorted(ex.scope.bases, key=lambda b: b.n_messages))
        assert all(i.statement for i in ex.invariants) and ex.invariants[0].name == "nodes keep to themselves"
        assert ex.random()


def test_an_exercise_can_read_snapshots_partner_state_and_extra_nodes():
    # What the next rungs need (a lease broker, a fencing store, a reply cache): an exercise with an
    # extra node it gives, invariants computed from the run's snapshots and from a partner's state.
    import dataclasses

    from semantics import Node
    from semantics.grading.invariants import COMPLETES, ISOLATION, Finding, Invariant
    from semantics.grading.partners import ApplyAndAckReceiver

    class Auditor(Node):
        """A third node the exercise adds: counts the messages the receiver forwards to it."""

        def on_start(self):
            self.seen = 0

        def on_message(self, msg_id, body):
            self.seen += 1

    class Forwarding(ApplyAndAckReceiver):
        def on_message(self, msg_id, body):
            super().on_message(msg_id, body)
            self.send("auditor", msg_id, body)

    def audited(trial):
        if trial.nodes["auditor"].seen < trial.report.n_messages:
            return Finding("audited", None, None, f"the auditor saw {trial.nodes['auditor'].seen}")
        ever_down = any(not s.nodes["receiver"].up for s in trial.snapshots)
        return Finding("audited", None, None, "the receiver was down") if ever_down else None

    base = EXERCISES[1]
    ex = dataclasses.replace(base, invariants=(ISOLATION, COMPLETES, Invariant("audited", "the auditor sees all",
                                                                               audited)),
                             others={"auditor": Auditor}, partners={"receiver": Forwarding}, needs_snapshots=True,
                             scope=E.Scope(bases=(E.Base(2, faults=1),), kinds=(CRASH,), crash_nodes=("receiver",)),
                             random=lambda: [])
    classes = {"sender": CASES["ex1-solution"].sender, "receiver": Forwarding}  # the auditor comes with the exercise
    outcome = grade(ex, classes)
    assert outcome.status == "failed" and outcome.finding.invariant == "audited"
    assert outcome.finding.explanation in ("the receiver was down", "the auditor saw 1")


def test_a_choice_can_be_kept_to_some_links():
    # exercise 9: a late copy of the producer's message, never of a call to the payment service (a call
    # that arrives after its key expired is a second payment no consumer could prevent)
    from semantics.sim.choices import LATE

    ex, runner = runner_for("ex9-solution")
    assert ex.scope.allows(LATE, "sender", "receiver") and not ex.scope.allows(LATE, "receiver", "service")
    assert ex.scope.allows(LOSE, "receiver", "service")
    base = E.Base(1, faults=1, kinds=(LATE,))
    coverage = E.Coverage()
    scope = E.Scope(bases=(base,), kinds=(LATE,), where=ex.scope.where)
    late = []

    def record(scenario, oracle):
        late.extend(oracle.extensions)
        return runner.run(scenario, oracle)

    list(E.explore(scope, record, lambda trial: None, coverage))
    trial = runner.run(scope.scenario(base), E._Search(scope, base, (), None), trace=True)
    sends = [e for e in trial.report.trace if e.kind == "send" and e.message == "data"]
    assert any(e.node == "receiver" and e.peer == "service" for e in sends)  # calls happen ...
    assert coverage.schedules == 1 + sum(e.node == "sender" for e in sends)  # ... and only the producer's copies vary


def test_an_outage_can_outlast_any_deadline_without_simulating_every_retry():
    """``Oracle.pause``: halfway through an outage every pending event moves a billion time units later,
    so a sender with a deadline (however long) gives up, one that retries without end still delivers,
    and the run takes about as many events as the outage's simulated thousand."""
    from semantics.sim.choices import OUTAGE, Replay

    class Deadline(CASES["ex1-solution"].sender):
        def on_start(self):
            super().on_start()
            self.first = {}

        def on_send(self, msg_id, body):
            self.first[msg_id] = self.now
            super().on_send(msg_id, body)

        def on_timer(self, msg_id):
            if msg_id in self.unacked and self.now - self.first[msg_id] > 1e6:
                del self.unacked[msg_id]
                return
            super().on_timer(msg_id)

    receiver = CASES["ex1-solution"].receiver
    plain = dict(n_messages=1, contents=["deposit 10"])
    short = run(Deadline, receiver, choices=Replay([(3, OUTAGE)]), **plain)
    assert short.messages()[0].effects == 1  # a thousand time units: the deadline of a million is not reached
    long = run(Deadline, receiver, choices=Replay([(3, OUTAGE)], pause=1e9), trace=True, **plain)
    assert long.messages()[0].effects == 0 and long.trace[-1].time > 1e9
    fine = run(CASES["ex1-solution"].sender, receiver, choices=Replay([(3, OUTAGE)], pause=1e9), trace=True, **plain)
    assert fine.messages()[0].effects == 1 and len(fine.trace) < 1_000
    assert [e.time for e in fine.trace if e.kind == "effect"][0] > 1e9 + 1_000  # after the outage, paused too


def test_a_base_can_lose_every_ack_without_spending_its_fault_budget():
    base = E.Base(1, interval=2.0, faults=1, link=semantics_link(ack_loss=1.0))
    assert base.describe() == "1 message, every ack lost"
    scenario = EXERCISES[6].scope.scenario(base)
    assert scenario.systematic and scenario.link.ack_loss == 1.0
    with pytest.raises(ValueError, match="link must draw no random numbers"):
        E.Base(1, link=semantics_link(ack_loss=0.5))


def semantics_link(**kw):
    from semantics import Link
    return Link(**kw)
