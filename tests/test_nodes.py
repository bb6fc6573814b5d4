"""The protocol API's promises: volatile state dies with a crash, durable state survives, and
atomic() commits durable writes and effects together or not at all."""

import pytest

import semantics
from semantics import Faults, Node, crash_at_point, run
from semantics.sim import protocols as P


class Remembers(Node):
    """Counts messages twice: in a volatile attribute and in durable state."""

    def on_start(self):
        self.volatile_count = 0

    def on_message(self, msg_id, body):
        self.volatile_count += 1
        self.durable["count"] = self.durable.get("count", 0) + 1
        self.durable["volatile_seen"] = self.volatile_count
        self.apply(body)
        self.ack(msg_id)


def test_volatile_dies_durable_survives():
    seen = {}

    class Probe(Remembers):
        def on_message(self, msg_id, body):
            super().on_message(msg_id, body)
            seen[msg_id] = (self.volatile_count, self.durable["count"])

    run(P.RetryingSender, Probe, n_messages=4, faults=Faults(crash_times={"receiver": (5.5,)}, restart_after=1.0))
    # messages arrive at t=1, 3, 5, 7 (stop-and-wait: the next starts at the ack of the last, t=2, 4, 6);
    # the crash at 5.5 resets the volatile count
    assert seen == {"m1": (1, 1), "m2": (2, 2), "m3": (3, 3), "m4": (1, 4)}


class AtomicPair(Node):
    def on_message(self, msg_id, body):
        with self.atomic():
            if ("done", msg_id) not in self.durable:
                self.apply(body)
                self.durable[("done", msg_id)] = True
        self.ack(msg_id)


@pytest.mark.parametrize("point", range(1, 6))
def test_a_crash_inside_atomic_undoes_effect_and_writes(point):
    # receiver points for m1: 0 on_start, 1 enter, 2 begin, 3 apply, 4 write, 5 commit, 6 ack
    report = run(P.RetryingSender, AtomicPair, n_messages=1, faults=crash_at_point("receiver", point), trace=True)
    crash = next(e for e in report.trace if e.kind == "crash")
    rolled_back = any(e.kind == "rollback" for e in report.trace)
    assert rolled_back == (point in (2, 3, 4)), crash.text
    assert report.effects == 1 and report.duplicated == 0


def test_durable_values_are_copies_and_a_change_in_place_is_reported():
    seen = []

    class InPlace(Node):
        def on_message(self, msg_id, body):
            self.durable["seen"] = {msg_id}
            self.durable["seen"].add("x")           # a copy: durable state does not change
            box = self.durable.setdefault("box", {"ids": []})
            box["ids"].append(msg_id)               # nested, in place: lost too
            seen.append((self.durable["seen"], self.durable["box"]))
            self.apply(body)
            self.ack(msg_id)

    report = run(P.RetryingSender, InPlace, n_messages=1)
    assert report.ok and seen == [({"m1"}, {"ids": []})]
    assert len(report.warnings) == 2
    assert "durable key 'seen' in place" in report.warnings[0] and "self.durable['seen'] = ..." in report.warnings[0]
    assert "durable key 'box' in place" in report.warnings[1]


def test_a_value_written_back_is_not_reported():
    class WritesBack(Node):
        def on_message(self, msg_id, body):
            seen = self.durable.get("seen", set())
            seen.add(msg_id)
            self.durable["seen"] = seen
            nested = self.durable.get("nested", {"a": [1]})
            self.durable["nested"] = {"a": nested["a"] + [2]}
            self.apply(body)
            self.ack(msg_id)

    report = run(P.RetryingSender, WritesBack, n_messages=3)
    assert report.ok and report.warnings == ()


def test_only_plain_data_can_be_stored():
    class Stores(Node):
        value = None

        def on_message(self, msg_id, body):
            self.durable["x"] = self.value
            self.apply(body)
            self.ack(msg_id)

    class Thing:
        pass

    for value, words in [(Thing(), "self.durable['x']: only plain data can be stored in self.durable"),
                         ({"a": [1, Thing()]}, "self.durable['x']['a'][1]: only plain data"),
                         ({"ok": 1, Thing: 3}, "self.durable['x'] (a key): only plain data"),
                         (len, "got builtin_function_or_method <built-in function len>")]:
        Stores.value = value
        report = run(P.RetryingSender, Stores, n_messages=1)
        assert report.status == "error" and "TypeError" in report.problem and words in report.problem, report.problem
    for value in (None, 1, 2.5, "s", b"b", (1, "a"), [1, [2]], {"a": {1, 2}}, frozenset({1}), bytearray(b"x")):
        Stores.value = value
        assert run(P.RetryingSender, Stores, n_messages=1).ok, value


def test_durable_keys_must_be_immutable():
    class BadKey(Node):
        def on_message(self, msg_id, body):
            self.durable[("done", [msg_id])] = True

    report = run(P.RetryingSender, BadKey, n_messages=1)
    assert report.status == "error" and "self.durable key" in report.problem and "immutable" in report.problem


def test_durable_mapping_behaviour_inside_and_outside_atomic():
    log = []

    class Mapper(Node):
        def on_message(self, msg_id, body):
            self.durable["a"] = 1
            with self.atomic():
                self.durable["b"] = [1, 2]
                del self.durable["a"]
                log.append((sorted(self.durable), "a" in self.durable, self.durable["b"], len(self.durable)))
                with self.atomic():  # nested blocks join the outer transaction
                    self.durable["c"] = 3
            log.append(dict(self.durable))
            self.apply(body)

    run(P.FireAndForgetSender, Mapper, n_messages=1)
    assert log == [(["b"], False, [1, 2], 1), {"b": [1, 2], "c": 3}]


def test_crash_points_are_described():
    report = run(P.RetryingSender, AtomicPair, n_messages=1, trace=True)
    assert report.labels["receiver"] == (
        "on entering on_start()",
        "on entering on_message('m1', Payload('op 1'))",
        "after begin in on_message('m1', Payload('op 1'))",
        "after apply(Payload('op 1')) in on_message('m1', Payload('op 1'))",
        "after write(('done', 'm1')) in on_message('m1', Payload('op 1'))",
        "after commit in on_message('m1', Payload('op 1'))",
        "after ack('m1') in on_message('m1', Payload('op 1'))",
    )
    assert report.points["receiver"] == 7


def test_payload_equality_is_by_content():
    from semantics import Payload
    assert Payload("x", 0) == Payload("x", 1) and hash(Payload("x", 0)) == hash(Payload("x", 1))
    assert Payload("x", 0) != Payload("y", 0)


def test_timers_replace_cancel_and_die_with_a_crash():
    fired = []

    class Timed(Node):
        def on_start(self):
            self.set_timer("a", 5)
            self.set_timer("a", 2)      # replaces the first
            self.set_timer("b", 1)
            self.cancel_timer("b")
            self.set_timer("c", 20)     # dies with the crash at t=10

        def on_timer(self, key):
            fired.append((key, self.now))

    run(P.FireAndForgetSender, Timed, n_messages=0, interval=100,
        faults=Faults(crash_times={"receiver": (10,)}, restart_after=50))
    # "c" (due at t=20) died with the crash; the restarted node's on_start set its timers again
    assert fired == [("a", 2.0), ("a", 62.0), ("c", 80.0)]


# -- receipts: what apply() returns ---------------------------------------------------------------


class Ledger(semantics.Node):
    """Records the receipt of every apply, inside and outside atomic blocks."""

    receipts: list = []

    def on_message(self, msg_id, body):
        self.receipts.append(("plain", self.apply(body)))
        try:
            with self.atomic():
                self.receipts.append(("atomic", self.apply(body)))
                self.receipts.append(("atomic", self.apply(body)))
                if msg_id == "m1":
                    raise RuntimeError("roll back")
        except RuntimeError:
            pass
        self.ack(msg_id)


def test_apply_returns_the_effects_position_in_the_nodes_ledger():
    Ledger.receipts = []
    report = semantics.run(P.FireAndForgetSender, Ledger, n_messages=2, trace=True)
    # m1: plain 1, then an atomic block (2, 3) rolled back; m2: plain 2, atomic 3 and 4 committed
    assert Ledger.receipts == [("plain", 1), ("atomic", 2), ("atomic", 3), ("plain", 2), ("atomic", 3), ("atomic", 4)]
    assert [e.receipt for e in report.trace if e.kind == "effect"] == [1, 2, 3, 4]
    assert report.effects == 4


def test_a_reexecuted_message_gets_a_new_receipt():
    class Counter(semantics.Node):
        def on_message(self, msg_id, body):
            self.apply(body)
            self.ack(msg_id)

    report = semantics.run(P.RetryingSender, Counter, n_messages=1, trace=True,
                           link=semantics.Link(partitions=((0.5, 1.5),)))  # the first ack is lost
    assert [e.receipt for e in report.trace if e.kind == "effect"] == [1, 2]


# -- observe: the state of the run after every event ----------------------------------------------


def test_observed_snapshots_follow_the_run():
    snapshots = []
    kwargs = dict(n_messages=3, link=semantics.Link(loss=0.3, ack_loss=0.3), faults=semantics.Faults(crash_prob=0.15),
                  seed=3, trace=True)
    report = semantics.run(P.RetryingSender, P.DeduplicatingReceiver, observe=snapshots.append, **kwargs)
    assert report.trace == semantics.run(P.RetryingSender, P.DeduplicatingReceiver, **kwargs).trace  # observing changes nothing
    assert report.crashes > 0 and snapshots
    assert [s.events for s in snapshots] == sorted(s.events for s in snapshots)
    trace = report.trace
    for before, after in zip(snapshots, snapshots[1:]):
        receiver_before, receiver_after = before.nodes["receiver"], after.nodes["receiver"]
        if receiver_before.up and not receiver_after.up:
            assert receiver_after.volatile == {}                                 # a crash wipes volatile state
            assert receiver_after.durable == receiver_before.durable or any(     # ... and keeps durable state
                e.kind == "effect" for e in trace[before.trace_length:after.trace_length])
    last = snapshots[-1]
    assert last.nodes["receiver"].durable == {("done", f"m{i}"): True for i in (1, 2, 3)}
    assert last.nodes["receiver"].ledger == report.effects == 3
    for s in snapshots:  # a copy in flight was sent, delivered, and has not arrived yet
        for m in s.in_flight:
            sends = [e for e in trace[:s.trace_length] if e.kind == "send" and e.wire == m.wire]
            assert sends and sends[0].fate == "delivered" and sends[0].until == m.arrives and m.arrives >= s.time
        for name, node in s.nodes.items():
            assert all(due >= s.time for due in node.timers.values())


def test_observe_must_be_callable():
    with pytest.raises(TypeError, match="observe must be a function taking a Snapshot"):
        semantics.run(P.RetryingSender, P.DeduplicatingReceiver, n_messages=1, observe="yes")


# -- a crash cannot be caught -----------------------------------------------------------------------


class SwallowsInsideAtomic(Node):
    """Catches everything inside the atomic block: the crash too."""

    def on_message(self, msg_id, body):
        try:
            with self.atomic():
                try:
                    self.apply(body)
                    self.durable[("done", msg_id)] = True
                except BaseException:
                    pass
        except BaseException:
            pass
        self.ack(msg_id)


@pytest.mark.parametrize("point", [3, 4])  # after apply, after the write: both inside the block
def test_an_atomic_block_cut_by_a_crash_never_commits_even_if_the_crash_is_caught(point):
    report = run(P.FireAndForgetSender, SwallowsInsideAtomic, n_messages=1, faults=crash_at_point("receiver", point),
                 trace=True)
    kinds = [e.kind for e in report.trace]
    assert "crash" in kinds and "rollback" in kinds and report.effects == 0
    assert not any(e.kind == "send" and e.node == "receiver" for e in report.trace)  # nor the ack after it


def test_no_later_step_of_a_crashed_incarnation_takes_effect():
    done = []

    class KeepsGoing(Node):
        def on_message(self, msg_id, body):
            for step in (lambda: self.apply(body), lambda: self.ack(msg_id),
                         lambda: self.durable.__setitem__("x", 1), lambda: self.set_timer("t", 1.0),
                         lambda: self.durable.get("x"), lambda: self.send("sender", msg_id, body)):
                try:
                    step()
                    done.append("ok")
                except BaseException as exc:
                    done.append(type(exc).__name__)

    # crash point 2: right after the first step, apply (which took effect: no atomic block)
    report = run(P.FireAndForgetSender, KeepsGoing, n_messages=1,
                 faults=Faults(crash_at={"receiver": {2}}, restart_after=None), trace=True)
    assert done == ["Crashed"] * 6 and report.effects == 1
    assert [e.kind for e in report.trace if e.node == "receiver"] == ["receive", "effect", "crash"]


def test_an_old_incarnation_kept_somewhere_is_dead():
    kept = []

    class Leaks(Node):
        def on_message(self, msg_id, body):
            kept.append(self)
            self.apply(body)
            self.ack(msg_id)

    run(P.RetryingSender, Leaks, n_messages=2, faults=Faults(crash_times={"receiver": (1.5,)}, restart_after=1.0))
    old = kept[0]
    with pytest.raises(semantics.sim.nodes.Crashed):
        old.durable["x"] = 1
    with pytest.raises(semantics.sim.nodes.Crashed):
        old.send("sender", "m9", None)


def test_records_of_plain_data_can_be_stored():
    """A NamedTuple or a frozen dataclass of plain data is a record a real store can serialise; a
    mutable dataclass, or a frozen one holding a list, is refused with the field named."""
    import dataclasses
    from typing import NamedTuple

    class Reply(NamedTuple):
        request: str
        receipts: list

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        request: str
        receipt: int

    @dataclasses.dataclass(frozen=True)
    class FrozenWithList:
        receipts: list

    @dataclasses.dataclass
    class Mutable:
        receipt: int

    seen = {}

    class Stores(Node):
        def on_message(self, msg_id, body):
            self.durable["reply"] = Reply("m1", [1])
            self.durable["frozen"] = Frozen("m1", 1)
            copy = self.durable["reply"]
            copy.receipts.append(2)            # a copy: the stored record keeps [1]
            seen["reply"], seen["frozen"] = self.durable["reply"], self.durable["frozen"]
            for bad, field in ((FrozenWithList([1]), r"\.receipts: a frozen dataclass's field must be immutable"),
                               (Mutable(1), "only plain data can be stored")):
                try:
                    self.durable["bad"] = bad
                except TypeError as exc:
                    seen.setdefault("errors", []).append((str(exc), field))
            self.ack(msg_id)

    report = run(P.FireAndForgetSender, Stores, n_messages=1)
    assert report.ok, report.problem
    assert seen["reply"] == Reply("m1", [1]) and type(seen["reply"]) is Reply
    assert seen["frozen"] == Frozen("m1", 1)
    import re
    assert len(seen["errors"]) == 2 and all(re.search(pattern, text) for text, pattern in seen["errors"])


def test_the_next_message_starts_at_the_ack_not_at_the_deadline_of_the_cancelled_timer():
    """Stop-and-wait starts the next message when nothing is left in flight, and a cancelled timer is
    not in flight: no loss, delay 1, so m1 leaves at 0, arrives at 1, its ack at 2, where the sender
    cancels the timer due at 3; m2 leaves at 2. The run ends with its last real event (the ack of m3
    at 6), on every path: traced, untraced (the quick path), observed, and in ``simulate``."""
    pair = (P.RetryingSender, P.DeduplicatingReceiver)
    traced = run(*pair, n_messages=3, seed=1, trace=True)
    assert [e.time for e in traced.trace if e.kind == "submit"] == [0.0, 2.0, 4.0]
    assert not any(e.kind == "timer" for e in traced.trace)
    seen = []
    observed = run(*pair, n_messages=3, seed=1, observe=lambda s: seen.append(s.time))
    # a step for each arrival and each start of a message (at its predecessor's ack), none for the cancelled timers
    assert seen == [0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 6.0]
    assert traced.end_time == observed.end_time == run(*pair, n_messages=3, seed=1).end_time == 6.0
    assert semantics.simulate("exactly-once", n_messages=3, loss=0.0, seed=1).end_time == 6.0
    # several messages in flight: the run ends with the last ack, not at the last cancelled deadline
    spaced = dict(n_messages=3, interval=0.5, seed=1)
    assert run(*pair, **spaced).end_time == run(*pair, **spaced, trace=True).end_time == 3.0
    assert semantics.simulate("exactly-once", loss=0.0, **spaced).end_time == 3.0
