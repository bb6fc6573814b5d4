"""No false rejection: the correct answers of the catalog hold under random scenarios drawn from each
exercise's fault model (hypothesis, derandomized), and the same random scenarios catch a wrong answer
(the property can fail)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import semantics
from semantics import Link
from semantics import grading as G
from semantics.grading.runner import Runner
from semantics.grading.scenarios import REPEATED
from semantics.grading.session import classes_for
from wrong_solutions import all_cases

CASES = all_cases()

FAULT_MODELS = {  # exercise -> (max loss, max ack loss, max duplicate, max jitter, max crash prob, pace)
    1: (0.6, 0.3, 0.0, 0.0, 0.0, None),
    2: (0.4, 0.5, 0.3, 3.0, 0.0, None),
    3: (0.3, 0.4, 0.2, 1.5, 0.12, "one at a time"),  # the rung's premise: one message in flight
    4: (0.3, 0.3, 0.1, 1.5, 0.08, 0.5),
    5: (0.3, 0.3, 0.0, 1.0, 0.12, None),
    6: (0.3, 1.0, 0.0, 2.5, 0.05, 2.0),
    7: (0.3, 0.3, 0.0, 1.0, 0.05, 1.0),
    8: (0.1, 0.1, 0.1, 0.0, 0.05, None),  # no jitter: a lease of 6 leaves c2 a margin of 1
    9: (0.1, 0.1, 0.0, 0.0, 0.03, 1.0),   # (more loss and a key's lifetime can run out by bad luck alone)
    10: (0.3, 0.3, 0.0, 1.0, 0.08, None),
}


@st.composite
def scenarios(draw, number):
    loss, ack_loss, duplicate, jitter, crash, pace = FAULT_MODELS[number]
    ex = G.EXERCISES[number]
    link = Link(loss=draw(st.floats(0, loss)), ack_loss=draw(st.floats(0, ack_loss)),
                duplicate=draw(st.floats(0, duplicate)), jitter=draw(st.floats(0, jitter)))
    nodes = ex.scope.crash_nodes or ("receiver",)
    faults = semantics.Faults(crash_prob=draw(st.floats(0, crash)), nodes=nodes) if crash else semantics.Faults()
    if pace == "one at a time":
        interval = None
    else:
        interval = pace if pace else draw(st.one_of(st.none(), st.floats(0.3, 3.0)))
    return G.Scenario("random", draw(st.integers(1, 12)), draw(st.integers(0, 10**6)), link, faults, interval,
                      REPEATED)


def _holds(number, cases):
    runners = [Runner(G.EXERCISES[number], classes_for(G.EXERCISES[number], c.sender, c.receiver)[0]) for c in cases]

    @settings(max_examples=20, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(scenarios(number))
    def holds(scenario):
        for case, runner in zip(cases, runners):
            finding = runner.judge(runner.run(scenario))
            assert finding is None, (case.id, scenario, finding)

    holds()


@pytest.mark.parametrize("number", sorted(FAULT_MODELS))
def test_correct_solutions_never_break_an_invariant_in_their_fault_model(number):
    _holds(number, [c for c in CASES if c.exercise == number and c.expect == "passed"])


@pytest.mark.parametrize("number, name", [(3, "dedup-in-memory"), (6, "window-shorter-than-horizon"),
                                          (10, "volatile-sender"), (8, "trusting-store"), (9, "fresh-keys")])
def test_the_same_random_scenarios_catch_a_wrong_solution(number, name):
    with pytest.raises(AssertionError):
        _holds(number, [c for c in CASES if c.exercise == number and c.name == name])
