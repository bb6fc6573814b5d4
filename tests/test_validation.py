"""Bad input gets a clear error naming the parameter, the value given and what is allowed."""

import math

import pytest

import semantics
from semantics import Faults, Link, run
from semantics.sim import protocols as P

GOOD = dict(n_messages=10, loss=0.1)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(loss=-0.1), ValueError, ["loss", "-0.1", "[0, 1]"]),
    (dict(loss=1.5), ValueError, ["loss", "1.5", "[0, 1]"]),
    (dict(loss=math.nan), ValueError, ["loss", "NaN"]),
    (dict(loss="0.2"), TypeError, ["loss", "'0.2'", "number"]),
    (dict(loss=True), TypeError, ["loss", "True"]),
    (dict(ack_loss=2), ValueError, ["ack_loss", "2", "[0, 1]"]),
    (dict(ack_loss=None), TypeError, ["ack_loss", "None"]),
    (dict(max_retries=-1), ValueError, ["max_retries", "-1"]),
    (dict(max_retries=2.5), TypeError, ["max_retries", "2.5", "integer"]),
    (dict(max_retries="3"), TypeError, ["max_retries", "'3'"]),
    (dict(n_messages=-5), ValueError, ["n_messages", "-5"]),
    (dict(n_messages=1.0), TypeError, ["n_messages", "1.0", "integer"]),
    (dict(seed=-1), ValueError, ["seed", "-1"]),
    (dict(seed="x"), TypeError, ["seed", "'x'"]),
    (dict(duplicate=1.0), ValueError, ["duplicate", "[0, 0.99]"]),
    (dict(delay=0), ValueError, ["delay", "0"]),
    (dict(jitter=-1), ValueError, ["jitter", "-1"]),
    (dict(timeout=0), ValueError, ["timeout", "0"]),
    (dict(backoff=0.5), ValueError, ["backoff", "0.5"]),
    (dict(crash_prob=7), ValueError, ["crash_prob", "7"]),
    (dict(partitions=[(5, 1)]), ValueError, ["partitions[0]", "end after"]),
    (dict(partitions="oops"), TypeError, ["partitions"]),
    (dict(interval=-2), ValueError, ["interval", "-2"]),
])
def test_simulate_rejects(kwargs, error, words):
    with pytest.raises(error) as info:
        semantics.simulate("at-least-once", **{**GOOD, **kwargs})
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize("semantic, error", [("exactly once", ValueError), ("EXACTLY-ONCE", ValueError),
                                             (3, TypeError), (None, TypeError)])
def test_unknown_semantic(semantic, error):
    with pytest.raises(error, match="semantic must be one of 'at-most-once', 'at-least-once', 'exactly-once'"):
        semantics.simulate(semantic, **GOOD)
    with pytest.raises(error, match="semantic"):
        semantics.expected(semantic, loss=0.1)


@pytest.mark.parametrize("kwargs, error, word", [
    (dict(loss=-1), ValueError, "loss"), (dict(ack_loss="a"), TypeError, "ack_loss"),
    (dict(max_retries=-3), ValueError, "max_retries"), (dict(max_retries=1.5), TypeError, "max_retries")])
def test_expected_rejects(kwargs, error, word):
    with pytest.raises(error, match=word):
        semantics.expected("at-least-once", **{"loss": 0.1, **kwargs})


def test_run_rejects_bad_protocols_and_settings():
    with pytest.raises(TypeError, match="pass the class, not an instance"):
        run(P.RetryingSender(), P.ProcessThenAckReceiver, n_messages=1)
    with pytest.raises(TypeError, match="subclass of semantics.Node"):
        run(dict, P.ProcessThenAckReceiver, n_messages=1)
    with pytest.raises(TypeError, match="link must be a semantics.Link"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=1, link={"loss": 0.1})
    with pytest.raises(ValueError, match="contents must hold one body per message"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=2, contents=["a"])
    with pytest.raises(ValueError, match="crash_times names node 'brokr'"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=1, faults=Faults(crash_times={"brokr": 1}))
    with pytest.raises(ValueError, match="max_events"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=1, max_events=0)


def test_link_and_faults_validate():
    with pytest.raises(ValueError, match="loss must be in"):
        Link(loss=3)
    with pytest.raises(ValueError, match="restart_after"):
        Faults(restart_after=0)
    with pytest.raises(TypeError, match="crash_at must be a mapping"):
        Faults(crash_at=[1, 2])
    with pytest.raises(ValueError, match=r"crash_at\['receiver'\] point must be an integer >= 0, got -1"):
        Faults(crash_at={"receiver": {-1}})
    with pytest.raises(ValueError, match="max_retries"):
        P.RetryingSender(max_retries=-1)


@pytest.mark.parametrize("typo, meant", [("at-least-one", "at-least-once"), ("AT_MOST_ONCE", "at-most-once"),
                                         ("exactly once", "exactly-once"), ("exactly-onse", "exactly-once")])
def test_a_misspelled_guarantee_gets_a_suggestion(typo, meant):
    with pytest.raises(ValueError, match=f"got '{typo}' \\(did you mean '{meant}'\\?\\)"):
        semantics.simulate(typo, n_messages=1, loss=0.0)


def test_no_suggestion_for_a_far_miss():
    with pytest.raises(ValueError) as info:
        semantics.simulate("reliable", n_messages=1, loss=0.0)
    assert "did you mean" not in str(info.value)
