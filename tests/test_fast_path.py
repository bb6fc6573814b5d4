"""The simulator has a short path for untraced runs; it must be a pure speed-up.

A traced run takes the general path (every step checks for crashes and records the trace), an
untraced run takes the short one where it can. For every configuration that changes which path a
run takes, both must give the same Report, field for field: counts, per-message outcomes, crash
points, events, end time, crashes, status and problem. Only the trace itself (and the labels of
crash points, which exist only in traced runs) may differ.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import semantics
from semantics import Faults, Link, Node, crash_at_point, run
from semantics.sim.protocols import (AckFirstReceiver, ApplyReceiver, DeduplicatingReceiver, FireAndForgetSender,
                                 InMemoryDedupReceiver, NewIdEachRetrySender, ProcessThenAckReceiver,
                                 RetryingSender, WindowedDedupReceiver)

IGNORED = {"trace", "labels", "error_trace"}  # error_trace: the library's own frames differ by path


def same(untraced, traced):
    assert traced.trace is not None and untraced.trace is None
    for field in dataclasses.fields(untraced):
        if field.name not in IGNORED:
            assert getattr(untraced, field.name) == getattr(traced, field.name), field.name


def both(sender, receiver, **kwargs):
    kwargs.setdefault("wall_clock", None)
    return run(sender, receiver, **kwargs), run(sender, receiver, trace=True, **kwargs)


@pytest.mark.parametrize("semantic", semantics.SEMANTICS)
@pytest.mark.parametrize("args", [
    dict(loss=0.0), dict(loss=0.2, ack_loss=0.1), dict(loss=1.0), dict(loss=0.5, ack_loss=1.0, max_retries=0),
    dict(loss=0.3, ack_loss=0.3, crash_prob=0.05), dict(loss=0.2, ack_loss=0.2, interval=0.5),
    dict(loss=0.2, ack_loss=0.2, interval=0.5, crash_prob=0.1, restart_after=4.0),
    dict(loss=0.2, ack_loss=0.1, duplicate=0.2, jitter=1.0, partitions=((5, 20),)),
    dict(loss=0.1, ack_loss=0.1, backoff=2.0, timeout=2.5),
])
def test_facade_runs_agree(semantic, args):
    untraced = semantics.simulate(semantic, n_messages=300, seed=7, **args)
    same(untraced, semantics.simulate(semantic, n_messages=300, seed=7, trace=True, **args))
    assert untraced.attempts > 0


PAIRS = [(FireAndForgetSender, ApplyReceiver), (RetryingSender, ProcessThenAckReceiver),
         (RetryingSender, DeduplicatingReceiver), (RetryingSender, AckFirstReceiver),
         (NewIdEachRetrySender, InMemoryDedupReceiver), (RetryingSender, WindowedDedupReceiver)]


@pytest.mark.parametrize("sender,receiver", PAIRS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("faults", [
    None,
    Faults(crash_prob=0.05, nodes=("sender", "receiver"), restart_after=2.0),
    Faults(crash_times={"receiver": (3.0, 40.0), "sender": (17.5,)}, restart_after=5.0),
    Faults(crash_times={"receiver": (10.0,)}, restart_after=None),
    crash_at_point("receiver", 7),
    crash_at_point("sender", 4),
], ids=["none", "random", "times", "no-restart", "receiver-point", "sender-point"])
def test_protocols_under_faults_agree(sender, receiver, faults):
    link = Link(loss=0.25, ack_loss=0.25)
    for interval in (None, 1.5):
        same(*both(sender, receiver, n_messages=60, link=link, faults=faults, seed=3, interval=interval))


class Relay(Node):
    """Forwards every message to a third node and acks the sender only when the third node acks."""

    def on_start(self):
        self.waiting = {}

    def on_message(self, msg_id, body):
        self.waiting[msg_id] = self.peer
        self.send("store", msg_id, body)
        self.set_timer(("resend", msg_id), 2.5)
        self.durable[("seen", msg_id)] = self.now

    def on_timer(self, key):
        _, msg_id = key
        if msg_id in self.waiting:
            del self.waiting[msg_id]

    def on_ack(self, msg_id):
        sender = self.waiting.pop(msg_id, None)
        if sender is not None:
            self.cancel_timer(("resend", msg_id))
            self.ack(msg_id, to=sender)


class Store(Node):
    def on_message(self, msg_id, body):
        with self.atomic():
            self.apply(body)
            self.send("relay", ("receipt", msg_id), "plain text")  # not a Payload: counted nowhere
        self.ack(msg_id)


class OverridesSend(RetryingSender):
    def send(self, to, msg_id, body):  # a protocol may wrap a step; its override must run
        self.sent = getattr(self, "sent", 0) + 1
        super().send(to, msg_id, body)


@pytest.mark.parametrize("random", [False, True], ids=["none", "random"])
def test_three_nodes_and_overridden_steps_agree(random):
    link = Link(loss=0.2, ack_loss=0.2)
    faults = Faults(crash_prob=0.05, nodes=("receiver", "store")) if random else None
    same(*both(RetryingSender, Relay, others={"store": Store}, n_messages=80, link=link, faults=faults, seed=5))
    faults = Faults(crash_prob=0.05, nodes=("receiver",)) if random else None
    same(*both(OverridesSend, ProcessThenAckReceiver, n_messages=80, link=link, faults=faults, seed=5))


class Raises(Node):
    def on_message(self, msg_id, body):
        if body.content == "op 5":
            raise KeyError("boom")
        self.apply(body)
        self.ack(msg_id)


class PingPong(Node):
    def on_send(self, msg_id, body):
        self.body = body
        self.send("receiver", msg_id, body)

    def on_ack(self, msg_id):
        self.send("receiver", msg_id, self.body)  # forever


def test_stopped_runs_agree():
    link = Link(loss=0.1, ack_loss=0.1)
    untraced, traced = both(RetryingSender, Raises, n_messages=20, link=link, seed=1)
    assert untraced.status == "error" and "KeyError" in untraced.problem
    same(untraced, traced)
    untraced, traced = both(PingPong, ProcessThenAckReceiver, n_messages=3, max_events=500, seed=1)
    assert untraced.status == "event budget"
    same(untraced, traced)


# -- the quick loop and the write-through atomic block -----------------------------------------------------


class Bookkeeper(Node):
    """Atomic blocks that write, delete, nest, apply twice and sometimes fail and are caught; records what
    it reads after each block (what a node sees is part of what both paths must agree on)."""

    log: list = []

    def on_start(self):
        self.seen = 0

    def on_message(self, msg_id, body):
        self.seen += 1
        n = self.seen
        try:
            with self.atomic():
                self.durable[("last",)] = msg_id
                if n % 3 == 0 and "old" in self.durable:
                    del self.durable["old"]                # a delete inside a block: the store's order matters
                self.durable["old"] = [n, msg_id]
                if n % 4 == 2 and ("count", 3) in self.durable:
                    del self.durable[("count", 3)]         # a delete whose key is not written again
                    self.durable[("after", n)] = n         # (the commit keeps the store as it is), a new key
                receipt = self.apply(body)
                with self.atomic():                        # nested: joins the outer block
                    self.durable[("count", n % 4)] = n
                    if n % 5 == 0:
                        self.apply(body)
                if n % 7 == 0:
                    raise RuntimeError("roll it all back")
        except RuntimeError:
            receipt = -1
        self.log.append((self.name, msg_id, receipt, list(self.durable.items())))
        if n % 2 == 0:
            self.durable.pop(("count", 1), None)
        self.ack(msg_id)


@pytest.mark.parametrize("interval", [None, 0.8])
def test_the_write_through_block_is_held_to_the_transaction(interval):
    # untraced: the quick loop, quick steps and QuickAtomic; traced: the general path, every write pending
    runs = []
    for trace in (False, True):
        Bookkeeper.log = []
        report = run(RetryingSender, Bookkeeper, n_messages=120, link=Link(loss=0.2, ack_loss=0.2), seed=4,
                     interval=interval, trace=trace, wall_clock=None)
        runs.append((report, list(Bookkeeper.log)))
    (untraced, quick_log), (traced, general_log) = runs
    same(untraced, traced)
    assert quick_log == general_log and any(r == -1 for _, _, r, _ in quick_log)  # some blocks rolled back


class OwnAtomic(Node):
    """A class that wraps atomic() (calling Node's): its blocks are pending transactions even on the quick
    path, and what it reads inside them must be what the general path reads."""

    log: list = []

    def atomic(self):
        return super().atomic()

    def on_message(self, msg_id, body):
        with self.atomic():
            self.durable[("done", msg_id)] = True
            was = ("old", msg_id) in self.durable
            self.durable[("old", msg_id)] = 1
            del self.durable[("old", msg_id)]
            self.log.append((("done", msg_id) in self.durable, was, ("old", msg_id) in self.durable))
            self.apply(body)
        self.ack(msg_id)


def test_a_class_s_own_atomic_block_reads_its_pending_writes_on_both_paths():
    logs = []
    for trace in (False, True):
        OwnAtomic.log = []
        report = run(RetryingSender, OwnAtomic, n_messages=30, link=Link(loss=0.2, ack_loss=0.2), seed=2,
                     trace=trace, wall_clock=None)
        logs.append((report, list(OwnAtomic.log)))
    (untraced, quick_log), (traced, general_log) = logs
    same(untraced, traced)
    assert quick_log == general_log and set(quick_log) == {(True, False, False)}


def test_fast_runs_take_the_quick_loop(monkeypatch):
    from semantics.sim.harness import _Run
    calls = []
    original = _Run.run_quick
    monkeypatch.setattr(_Run, "run_quick", lambda self: calls.append(1) or original(self))
    run(RetryingSender, DeduplicatingReceiver, n_messages=5, link=Link(loss=0.3))                  # quick
    run(RetryingSender, DeduplicatingReceiver, n_messages=5, link=Link(loss=0.3), trace=True)      # general
    run(RetryingSender, DeduplicatingReceiver, n_messages=5, link=Link(jitter=1.0))                # general
    run(RetryingSender, DeduplicatingReceiver, n_messages=5, observe=lambda s: None)               # engine.run
    assert len(calls) == 1


@pytest.mark.parametrize("max_crashes", [None, 2])
def test_inline_crash_dice_draw_as_the_general_path_does(max_crashes):
    # a node only random crashes can strike draws inline (none of the labels a traced run writes)
    faults = Faults(crash_prob=0.08, nodes=("sender", "receiver"), max_crashes=max_crashes)
    for receiver in (DeduplicatingReceiver, WindowedDedupReceiver, Bookkeeper):
        same(*both(RetryingSender, receiver, n_messages=80, link=Link(loss=0.2, ack_loss=0.2), faults=faults, seed=9))


# -- random scripts of store operations: the two paths must agree on every read -----------------------------

KEYS = st.sampled_from(["a", "b", ("done", 1), ("n", "x"), "mine"])          # "mine": a key of the message's own
VALUES = st.one_of(st.integers(-3, 3), st.sampled_from(["v", b"b", None]),
                   st.lists(st.integers(0, 3), max_size=3), st.dictionaries(st.sampled_from("pq"), st.integers(0, 3),
                                                                             max_size=2))
LEAF = st.one_of(
    st.tuples(st.just("set"), KEYS, VALUES), st.tuples(st.just("del"), KEYS), st.tuples(st.just("in"), KEYS),
    st.tuples(st.just("get"), KEYS), st.tuples(st.just("pop"), KEYS), st.tuples(st.just("setdefault"), KEYS, VALUES),
    st.tuples(st.just("mutate"), KEYS), st.just(("items",)), st.just(("apply",)), st.just(("raise",)),
    # steps besides the store's: timers (set, replaced, cancelled), an ack of another id, a message back
    st.tuples(st.just("timer"), KEYS, st.sampled_from([0.5, 2.0, 7.0])), st.tuples(st.just("cancel"), KEYS),
    st.tuples(st.just("ack"), st.sampled_from(["m1", "m3", "mine", "nobody's"])), st.just(("send back",)))
SCRIPT = st.recursive(st.lists(LEAF, max_size=6),
                      lambda inner: st.lists(st.one_of(LEAF, st.tuples(st.just("block"), inner)), max_size=5),
                      max_leaves=14)


class Scripted(Node):
    """Runs ``script`` on every message it receives (blocks nest; "raise" leaves the innermost block, and
    the exception is caught outside it) and logs everything it reads, and every timer that fires."""

    script: list = []
    log: list = []

    def on_message(self, msg_id, body):
        self.n = getattr(self, "n", 0) + 1
        self.body = body
        self.mine = ("mine", msg_id)
        self.run_ops(self.script)
        self.ack(msg_id)

    def on_timer(self, key):
        self.log.append(("timer", key, self.now, len(self.durable)))

    def key(self, key):
        return self.mine if key == "mine" else key

    def run_ops(self, ops):
        log = self.log.append
        for op in ops:
            kind = op[0]
            key = self.key(op[1]) if len(op) > 1 and kind != "block" else None
            if kind == "set":
                self.durable[key] = op[2]
            elif kind == "del":
                try:
                    del self.durable[key]
                    log(("del", key))
                except KeyError:
                    log(("del: no", key))
            elif kind == "in":
                log(("in", key, key in self.durable))
            elif kind == "get":
                log(("get", key, self.durable.get(key, "absent")))
            elif kind == "pop":
                log(("pop", key, self.durable.pop(key, "absent")))
            elif kind == "setdefault":
                log(("setdefault", key, self.durable.setdefault(key, op[2])))
            elif kind == "mutate":
                value = self.durable.get(key)
                if isinstance(value, list):
                    value.append(9)  # changed in place and never written back: a lost change
            elif kind == "items":
                log(("items", sorted(map(repr, self.durable.items())), len(self.durable)))
            elif kind == "apply":
                log(("apply", self.apply(self.body)))
            elif kind == "raise":
                raise ValueError("leave the block")
            elif kind == "timer":
                self.set_timer(key, op[2])
            elif kind == "cancel":
                self.cancel_timer(key)
            elif kind == "ack":
                self.ack(key if key != self.mine else self.mine[1])
            elif kind == "send back":
                self.send("sender", ("reply", self.n), self.body)
            elif kind == "block":
                try:
                    with self.atomic():
                        self.run_ops(op[1])
                except ValueError:
                    log(("rolled back", self.n))


class ScriptedOwnAtomic(Scripted):
    def atomic(self):  # the class's own atomic(): a pending transaction on both paths
        return super().atomic()


@settings(max_examples=150, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(script=SCRIPT, own_atomic=st.booleans(), seed=st.integers(0, 50), interval=st.sampled_from([None, 0.5]),
       sender_crashes=st.booleans())
def test_random_store_scripts_read_the_same_on_both_paths(script, own_atomic, seed, interval, sender_crashes):
    receiver = ScriptedOwnAtomic if own_atomic else Scripted
    receiver.script = [("block", script)] + script   # once inside a block, once outside (a top-level raise
    outcomes = []                                    # is the handler's error: both paths must report it)
    for trace in (False, True):
        receiver.log = []
        report = run(RetryingSender, receiver, n_messages=6, link=Link(loss=0.2, ack_loss=0.2), seed=seed,
                     trace=trace, wall_clock=None, interval=interval,   # several in flight; a mortal sender
                     faults=Faults(crash_prob=0.1, nodes=("sender",), restart_after=2.0) if sender_crashes else None)
        outcomes.append((report, list(receiver.log)))
    (untraced, quick_log), (traced, general_log) = outcomes
    same(untraced, traced)
    assert quick_log == general_log
