"""Exercise 3, durable, atomic deduplication (the receiver crashes at every crash point)."""

from semantics import Node
from semantics.grading import ACK_MEANS_EFFECT, NO_DUPLICATES, NODE_ISOLATION, RUN_COMPLETES

from . import Case, notebook
from .ex2 import SequenceSender

NB = notebook(3)
Sender, Receiver = NB["Sender"], NB["Receiver"]


class DurableInOrderReceiver(Node):
    """Correct, differently: one durable number (the next sequence number), advanced in the same
    atomic block as the effect; out-of-order copies are left for the sender to retry."""

    def on_message(self, seq, body):
        with self.atomic():
            expected = self.durable.get("expected", 1)
            if seq == expected:
                self.apply(body)
                self.durable["expected"] = expected + 1
        if seq < self.durable.get("expected", 1):
            self.ack(seq)


class AppliedSetReceiver(Node):
    """Correct: one durable set of applied ids, read, extended and written back in the atomic block."""

    def on_message(self, msg_id, body):
        with self.atomic():
            applied = self.durable.get("applied", set())
            if msg_id not in applied:
                self.apply(body)
                applied.add(msg_id)
                self.durable["applied"] = applied
        self.ack(msg_id)


class SwallowingReceiver(Node):
    """Correct, though it catches everything: a crash inside the atomic block is swallowed by the
    bare except, yet nothing commits and no later step of that incarnation takes effect."""

    def on_message(self, msg_id, body):
        try:
            with self.atomic():
                try:
                    if ("done", msg_id) not in self.durable:
                        self.apply(body)
                        self.durable[("done", msg_id)] = True
                except:  # noqa: E722 (the point of this case)
                    pass
            self.ack(msg_id)
        except:  # noqa: E722
            pass


class MarkThenProcess(Node):
    """Wrong: writes the durable mark, then applies (not atomically): a crash in between leaves a
    mark without its effect, and the retry is acknowledged as a duplicate."""

    def on_message(self, msg_id, body):
        if ("done", msg_id) not in self.durable:
            self.durable[("done", msg_id)] = True
            self.apply(body)
        self.ack(msg_id)


class ProcessThenMark(Node):
    """Wrong: applies, then writes the durable mark (not atomically): a crash in between leaves the
    effect without its mark, and the retry applies it again."""

    def on_message(self, msg_id, body):
        if ("done", msg_id) not in self.durable:
            self.apply(body)
            self.durable[("done", msg_id)] = True
        self.ack(msg_id)


class AckBeforeProcessing(Node):
    """Wrong: acknowledges first, then commits effect and mark atomically: a crash after the ack
    loses the message, and the sender will not retry."""

    def on_message(self, msg_id, body):
        self.ack(msg_id)
        with self.atomic():
            if ("done", msg_id) not in self.durable:
                self.apply(body)
                self.durable[("done", msg_id)] = True


class AckInsideTransaction(Node):
    """Wrong: the ack is sent inside the atomic block; a crash before the commit rolls back the
    effect, but the ack is already on the wire."""

    def on_message(self, msg_id, body):
        with self.atomic():
            if ("done", msg_id) not in self.durable:
                self.apply(body)
                self.ack(msg_id)
                self.durable[("done", msg_id)] = True
            else:
                self.ack(msg_id)


class SwallowsThenMarks(Node):
    """Wrong: catches the crash around the effect and marks the message done anyway, outside any
    atomic block; the crash still ends the incarnation, but a crash after the mark loses the effect."""

    def on_message(self, msg_id, body):
        if ("done", msg_id) not in self.durable:
            self.durable[("done", msg_id)] = True
            try:
                self.apply(body)
            except:  # noqa: E722 (the point of this case)
                pass
        self.ack(msg_id)


class SetdefaultInPlace(Node):
    """Wrong: the classic shelve mistake: ``self.durable.setdefault("seen", set()).add(msg_id)``
    changes a copy, so the record never becomes durable."""

    def on_message(self, msg_id, body):
        with self.atomic():
            if msg_id not in self.durable.setdefault("seen", set()):
                self.apply(body)
                self.durable["seen"].add(msg_id)
        self.ack(msg_id)


class NestedInPlace(Node):
    """Wrong: a nested value changed in place (a JSON column's mistake): ``box["seen"].append(...)``."""

    def on_message(self, msg_id, body):
        with self.atomic():
            if "box" not in self.durable:
                self.durable["box"] = {"seen": []}
            box = self.durable["box"]
            if msg_id not in box["seen"]:
                self.apply(body)
                box["seen"].append(msg_id)
        self.ack(msg_id)


class DurableTimeWindow(Node):
    """Wrong here: durable and atomic, but forgets ids 100 time units after applying them."""

    def on_message(self, msg_id, body):
        with self.atomic():
            seen = {k: t for k, t in self.durable.get("seen", {}).items() if self.now - t <= 100}
            if msg_id not in seen:
                self.apply(body)
                seen[msg_id] = self.now
            self.durable["seen"] = seen
        self.ack(msg_id)


class DurableLastFifty(Node):
    """Wrong here: durable and atomic, but keeps the last fifty ids only."""

    def on_message(self, msg_id, body):
        with self.atomic():
            recent = self.durable.get("recent", [])
            if msg_id not in recent:
                self.apply(body)
                self.durable["recent"] = (recent + [msg_id])[-50:]
        self.ack(msg_id)


class TwoTransactions(Node):
    """Wrong: the effect in one atomic block, the mark in another: a crash between them duplicates."""

    def on_message(self, msg_id, body):
        if ("done", msg_id) not in self.durable:
            with self.atomic():
                self.apply(body)
            with self.atomic():
                self.durable[("done", msg_id)] = True
        self.ack(msg_id)


class VolatileCheckDurableMark(Node):
    """Wrong: writes durable marks atomically but checks a volatile cache that a crash empties (and
    that it never fills from the durable marks again)."""

    def on_start(self):
        self.applied = set()

    def on_message(self, msg_id, body):
        if msg_id not in self.applied:
            with self.atomic():
                self.apply(body)
                self.durable[("done", msg_id)] = True
            self.applied.add(msg_id)
        self.ack(msg_id)


class AcksOnlyNew(Node):
    """Wrong: durable and atomic, but acknowledges only new messages: a lost ack is never replaced."""

    def on_message(self, msg_id, body):
        with self.atomic():
            new = ("done", msg_id) not in self.durable
            if new:
                self.apply(body)
                self.durable[("done", msg_id)] = True
        if new:
            self.ack(msg_id)


class ContentKeyed(Node):
    """Wrong: a durable, atomic record keyed by the body: two deposits of 10 collapse into one."""

    def on_message(self, msg_id, body):
        with self.atomic():
            if ("done", body.content) not in self.durable:
                self.apply(body)
                self.durable[("done", body.content)] = True
        self.ack(msg_id)


SEEN = set()


class GlobalSet(Node):
    """Wrong: a global set of applied ids: it survives crashes, but no real process keeps memory through one."""

    def on_message(self, msg_id, body):
        if msg_id not in SEEN:
            self.apply(body)
            SEEN.add(msg_id)
        self.ack(msg_id)


class ClassSet(Node):
    """Wrong: a class-level set of applied ids (``seen = set()`` in the class body)."""

    seen = set()

    def on_message(self, msg_id, body):
        if msg_id not in self.seen:
            self.apply(body)
            self.seen.add(msg_id)
        self.ack(msg_id)


CASES = [
    Case("solution", 3, Sender, Receiver, "passed", "per-id durable marks, atomic with the effect"),
    Case("durable-sequence-number", 3, SequenceSender, DurableInOrderReceiver, "passed",
         "one durable counter, atomic with the effect, in-order acceptance"),
    Case("durable-applied-set", 3, Sender, AppliedSetReceiver, "passed", "one durable set, written back"),
    Case("swallows-everything", 3, Sender, SwallowingReceiver, "passed",
         "a bare except cannot catch a crash: nothing commits", ("swallowed crash",)),
    Case("dedup-in-memory", 3, Sender, NB["InMemoryReceiver"], NO_DUPLICATES,
         "the volatile set is forgotten in a crash after the effect"),
    Case("mark-then-process", 3, Sender, MarkThenProcess, ACK_MEANS_EFFECT,
         "a crash after the mark, before the effect"),
    Case("process-then-mark", 3, Sender, ProcessThenMark, NO_DUPLICATES,
         "a crash after the effect, before the mark"),
    Case("ack-before-processing", 3, Sender, AckBeforeProcessing, ACK_MEANS_EFFECT,
         "a crash after the ack, before the effect"),
    Case("ack-inside-transaction", 3, Sender, AckInsideTransaction, ACK_MEANS_EFFECT,
         "the ack escapes a transaction that is then rolled back"),
    Case("swallows-then-marks", 3, Sender, SwallowsThenMarks, ACK_MEANS_EFFECT,
         "a crash after the mark, swallowed, loses the effect", ("swallowed crash",)),
    Case("setdefault-in-place", 3, Sender, SetdefaultInPlace, NO_DUPLICATES,
         "the copy read from durable state is changed, never written back", ("in place",)),
    Case("nested-in-place", 3, Sender, NestedInPlace, NO_DUPLICATES, "a nested list appended in place",
         ("in place",)),
    Case("durable-time-window", 3, Sender, DurableTimeWindow, NO_DUPLICATES,
         "a copy kept by the network arrives after the window", ("window",)),
    Case("durable-last-fifty", 3, Sender, DurableLastFifty, NO_DUPLICATES,
         "a copy kept by the network arrives after fifty newer messages", ("window",)),
    Case("two-transactions", 3, Sender, TwoTransactions, NO_DUPLICATES, "effect and mark commit apart"),
    Case("volatile-check", 3, Sender, VolatileCheckDurableMark, NO_DUPLICATES,
         "the check reads a cache a crash empties"),
    Case("acks-only-new", 3, Sender, AcksOnlyNew, RUN_COMPLETES, "a lost ack is never replaced"),
    Case("content-keyed-durable", 3, Sender, ContentKeyed, ACK_MEANS_EFFECT, "two deposits of 10 collapse",
         ("equal bodies",)),
    Case("global-set", 3, Sender, GlobalSet, NODE_ISOLATION, "a global variable survives crashes",
         ("shared state",)),
    Case("class-level-set", 3, Sender, ClassSet, NODE_ISOLATION, "seen = set() in the class body",
         ("shared state",)),
]
