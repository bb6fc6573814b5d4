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


# -- inputs that were accepted silently: each is named now, with what is allowed and a near miss -----------

from semantics import Node, crash_at_point  # noqa: E402


def test_a_misspelled_node_in_faults_nodes_is_refused_at_run_time():
    # before: accepted, and no crash ever happened (while the same typo in crash_at raised)
    faults = Faults(crash_prob=0.5, nodes=("recevier",))
    with pytest.raises(ValueError) as info:
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=3, faults=faults)
    for word in ["faults.nodes", "'recevier'", "(did you mean 'receiver'?)", "'sender', 'receiver'"]:
        assert word in str(info.value), str(info.value)
    with pytest.raises(ValueError, match="did you mean 'broker'"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=1, others={"broker": P.ProcessThenAckReceiver},
            faults=Faults(crash_prob=0.1, nodes=("receiver", "brokr")))


@pytest.mark.parametrize("faults, param", [
    (crash_at_point("recever", 2), "faults.crash_at"),
    (Faults(crash_times={"sendr": (1.0,)}), "faults.crash_times"),
])
def test_misspelled_nodes_in_crash_schedules_get_a_suggestion(faults, param):
    with pytest.raises(ValueError, match=f"{param} names node .* \\(did you mean '(receiver|sender)'\\?\\)"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=1, faults=faults)


def test_a_misspelled_node_in_links_gets_a_suggestion():
    with pytest.raises(ValueError, match="links names node 'reciever' \\(did you mean 'receiver'\\?\\)"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=1, links={("sender", "reciever"): Link()})


def test_faults_nodes_must_be_names():
    with pytest.raises(TypeError, match="nodes must be a node name or a sequence of node names"):
        Faults(nodes=5)
    with pytest.raises(TypeError, match="nodes must name nodes with strings, got 3"):
        Faults(nodes=("receiver", 3))
    assert Faults(nodes="sender").nodes == ("sender",)


@pytest.mark.parametrize("value, hint", [("no", "did you mean False?"), ("yes", "did you mean True?"),
                                         (1, "did you mean True?"), (None, ""), ("False", "did you mean False?")])
def test_trace_must_be_true_or_false(value, hint):
    # before: trace="no" turned tracing on (any non-empty string is true)
    for call in (lambda: run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=1, trace=value),
                 lambda: semantics.simulate("at-least-once", n_messages=1, loss=0.1, trace=value)):
        with pytest.raises(TypeError) as info:
            call()
        assert f"trace must be True or False, got {value!r}" in str(info.value) and hint in str(info.value)


def test_outcomes_must_be_true_or_false():
    with pytest.raises(TypeError, match="outcomes must be True or False, got 'all'"):
        semantics.simulate("at-least-once", n_messages=1, loss=0.1, outcomes="all")


@pytest.mark.parametrize("contents, words", [
    ("abc", ["contents must be a sequence with one body per message", "got the str 'abc'", "wrap it in a list"]),
    (b"ab", ["contents must be a sequence", "bytes"]),
    ({"a", "b", "c"}, ["contents must be a sequence of one body per message in order", "set"]),
    ({"m1": "a"}, ["contents must be a sequence", "mapping"]),
    (7, ["contents must be a sequence", "7 of type int"]),
])
def test_contents_must_be_a_sequence_of_bodies(contents, words):
    # before: contents="abc" ran three messages with the one-letter bodies 'a', 'b' and 'c'
    with pytest.raises(TypeError) as info:
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=3, contents=contents)
    for word in words:
        assert word in str(info.value), str(info.value)
    report = run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=3, contents=("a", "b", ["c"]))
    assert [m.content for m in report.messages()] == ["a", "b", ("c",)]


def test_others_cannot_replace_the_sender_or_the_receiver():
    with pytest.raises(ValueError, match="others names node 'receiver', which is already the run's receiver"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=1, others={"receiver": P.ApplyReceiver})
    with pytest.raises(TypeError, match="others must name its nodes with strings, got 1"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=1, others={1: P.ApplyReceiver})
    with pytest.raises(TypeError, match="others must be a dict"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=1, others=[P.ApplyReceiver])


def test_a_send_to_a_misspelled_node_says_which_was_meant():
    class SendsToATypo(Node):
        def on_send(self, msg_id, body):
            self.send("recevier", msg_id, body)

    report = run(SendsToATypo, P.ProcessThenAckReceiver, n_messages=1)
    assert report.status == "error"
    assert "send(to='recevier'): no node named 'recevier' (did you mean 'receiver'?); nodes are 'sender', " \
           "'receiver'" in report.problem


def test_a_message_is_asked_for_by_its_index_in_range():
    report = semantics.simulate("at-least-once", n_messages=3, loss=0.2, seed=1)
    assert report.message(2).msg_id == "m3"
    for bad, error in [(-1, ValueError), (3, ValueError), ("m1", TypeError), (1.0, TypeError)]:
        with pytest.raises(error, match="logical"):
            report.message(bad)


def test_a_sequence_diagram_lane_for_a_node_the_run_does_not_have_is_refused():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from semantics.views.plots import sequence_diagram
    report = semantics.simulate("exactly-once", n_messages=2, loss=0.3, seed=0, trace=True)
    with pytest.raises(ValueError, match="nodes names node 'bob', which is not a node of this run; its nodes "
                                         "are 'sender', 'receiver'"):
        sequence_diagram(report, nodes=["bob"])  # before: an empty lane
    with pytest.raises(ValueError, match="'recever' \\(did you mean 'receiver'\\?\\)"):
        sequence_diagram(report, nodes=["sender", "recever"])
    import matplotlib.pyplot as plt
    plt.close(sequence_diagram(report, nodes=["receiver", "sender"]))


def test_sweep_sequences_and_keys():
    from semantics.sim.sweeps import sweep
    with pytest.raises(TypeError, match="values must be a sequence of numbers in order .* set"):
        sweep("loss", {0.1, 0.2}, n_messages=10)
    result = sweep("loss", [0.1, 0.2], n_messages=10)
    with pytest.raises(TypeError, match="keys must be a sequence of keys .* got the string 'lost'"):
        result.table(keys="lost")
    with pytest.raises(TypeError, match="values must be a sequence of numbers"):
        result.closed_forms("exactly-once", values=0.3)
    assert "lost" in result.table(keys=["lost"])


def test_agreement_probability_is_a_flag():
    from semantics.sim.analysis import agreement
    with pytest.raises(TypeError, match="probability must be True or False, got 'yes'"):
        agreement("lost", 0.1, 0.1, 0.09, 100, probability="yes")


def test_a_traced_run_too_large_for_memory_is_refused_up_front_with_the_estimate():
    # before: accepted, and it would have needed about 26 GB
    with pytest.raises(ValueError) as info:
        semantics.simulate("at-least-once", n_messages=10_000_000, loss=0.2, ack_loss=0.1, trace=True)
    text = str(info.value)
    assert "trace=True keeps every event of the run" in text and "GB for n_messages=10,000,000" in text
    assert "Trace fewer messages" in text
    with pytest.raises(ValueError, match="GB for n_messages=10,000,000"):
        run(P.RetryingSender, P.ProcessThenAckReceiver, n_messages=10_000_000, trace=True)
