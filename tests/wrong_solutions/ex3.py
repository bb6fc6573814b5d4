"""Exercise 3, durable, atomic deduplication in one number (the receiver crashes at every crash
point; the given sender numbers its messages and has one in flight; at most 100 bytes of state)."""

from semantics import Node
from semantics.grading import ACK_MEANS_EFFECT, BOUNDED_STATE, EVERY_COPY_ACKED, NO_DUPLICATES, NODE_ISOLATION
from semantics.sim.protocols import DeduplicatingReceiver

from . import Case, notebook

NB = notebook(3)
Sender, Receiver = NB["Sender"], NB["Receiver"]


class HighWaterMark(Node):
    """Correct here (one message in flight): applies a number above the highest applied."""

    def on_message(self, seq, body):
        with self.atomic():
            if seq > self.durable.get("last", 0):
                self.apply(body)
                self.durable["last"] = seq
        self.ack(seq)


class NextExpected(Node):
    """Correct, differently: the next number expected; acknowledges only what it has applied."""

    def on_message(self, seq, body):
        with self.atomic():
            expected = self.durable.get("expected", 1)
            if seq == expected:
                self.apply(body)
                self.durable["expected"] = expected + 1
        if seq < self.durable.get("expected", 1):
            self.ack(seq)


class LastWithReceipt(Node):
    """Correct, differently: one durable pair, the last number applied and its receipt."""

    def on_message(self, seq, body):
        with self.atomic():
            last, _ = self.durable.get("last", (0, None))
            if seq == last + 1:
                self.durable["last"] = (seq, self.apply(body))
        self.ack(seq)


class SwallowingReceiver(Node):
    """Correct, though it catches everything: a crash inside the atomic block is swallowed by the
    bare except, yet nothing commits and no later step of that incarnation takes effect."""

    def on_message(self, seq, body):
        try:
            with self.atomic():
                try:
                    if seq > self.durable.get("last", 0):
                        self.apply(body)
                        self.durable["last"] = seq
                except:  # noqa: E722 (the point of this case)
                    pass
            self.ack(seq)
        except:  # noqa: E722
            pass


class VolatileNumber(Node):
    """Wrong: the number is an attribute: a crash after the effect forgets it."""

    def on_start(self):
        self.last = 0

    def on_message(self, seq, body):
        if seq > self.last:
            self.apply(body)
            self.last = seq
        self.ack(seq)


class MarkThenProcess(Node):
    """Wrong: moves the durable number, then applies (not atomically): a crash in between leaves a
    number without its effect, and the retry is acknowledged as a duplicate."""

    def on_message(self, seq, body):
        if seq > self.durable.get("last", 0):
            self.durable["last"] = seq
            self.apply(body)
        self.ack(seq)


class ProcessThenMark(Node):
    """Wrong: applies, then moves the durable number (not atomically): a crash in between duplicates."""

    def on_message(self, seq, body):
        if seq > self.durable.get("last", 0):
            self.apply(body)
            self.durable["last"] = seq
        self.ack(seq)


class AckBeforeProcessing(Node):
    """Wrong: acknowledges first, then commits effect and number atomically: a crash after the ack
    loses the message, and the sender will not retry."""

    def on_message(self, seq, body):
        self.ack(seq)
        with self.atomic():
            if seq > self.durable.get("last", 0):
                self.apply(body)
                self.durable["last"] = seq


class AckInsideTransaction(Node):
    """Wrong: the ack is sent inside the atomic block; a crash before the commit rolls back the
    effect, but the ack is already on the wire."""

    def on_message(self, seq, body):
        with self.atomic():
            if seq > self.durable.get("last", 0):
                self.apply(body)
                self.durable["last"] = seq
            self.ack(seq)


class SwallowsThenMarks(Node):
    """Wrong: catches the crash around the effect and moves the number anyway, outside any atomic
    block; the crash still ends the incarnation, but a crash after the move loses the effect."""

    def on_message(self, seq, body):
        if seq > self.durable.get("last", 0):
            self.durable["last"] = seq
            try:
                self.apply(body)
            except:  # noqa: E722 (the point of this case)
                pass
        self.ack(seq)


class TwoTransactions(Node):
    """Wrong: the effect in one atomic block, the number in another: a crash between them duplicates."""

    def on_message(self, seq, body):
        if seq > self.durable.get("last", 0):
            with self.atomic():
                self.apply(body)
            with self.atomic():
                self.durable["last"] = seq
        self.ack(seq)


class VolatileCheckDurableMark(Node):
    """Wrong: writes the durable number atomically but checks a volatile copy that a crash resets (and
    that it never reads back from durable state)."""

    def on_start(self):
        self.last = 0

    def on_message(self, seq, body):
        if seq > self.last:
            with self.atomic():
                self.apply(body)
                self.durable["last"] = seq
            self.last = seq
        self.ack(seq)


class AcksOnlyNew(Node):
    """Wrong: durable and atomic, but acknowledges only a message it applies now: a lost ack is never
    replaced, and the sender retries forever."""

    def on_message(self, seq, body):
        with self.atomic():
            new = seq > self.durable.get("last", 0)
            if new:
                self.apply(body)
                self.durable["last"] = seq
        if new:
            self.ack(seq)


class SetdefaultInPlace(Node):
    """Wrong: ``self.durable.setdefault("seen", set()).add(seq)`` changes a copy: nothing becomes durable."""

    def on_message(self, seq, body):
        with self.atomic():
            if seq not in self.durable.setdefault("seen", set()):
                self.apply(body)
                self.durable["seen"].add(seq)
        self.ack(seq)


class NestedInPlace(Node):
    """Wrong: a nested value changed in place (a JSON column's mistake): ``box["last"] = seq``."""

    def on_message(self, seq, body):
        with self.atomic():
            if "box" not in self.durable:
                self.durable["box"] = {"last": 0}
            box = self.durable["box"]
            if seq > box["last"]:
                self.apply(body)
                box["last"] = seq
        self.ack(seq)


class ContentKeyed(Node):
    """Wrong: remembers the last body applied instead of the last number: two deposits of 10 in a row
    collapse into one."""

    def on_message(self, seq, body):
        with self.atomic():
            if self.durable.get("last body") != body.content:
                self.apply(body)
                self.durable["last body"] = body.content
        self.ack(seq)


class AppliedSetReceiver(Node):
    """Wrong here: durable and atomic, but one durable set of every applied number: it outgrows 100 bytes."""

    def on_message(self, seq, body):
        with self.atomic():
            applied = self.durable.get("applied", set())
            if seq not in applied:
                self.apply(body)
                applied.add(seq)
                self.durable["applied"] = applied
        self.ack(seq)


class LastFifty(Node):
    """Wrong here: durable and atomic, but keeps the last fifty numbers: fifty numbers do not fit."""

    def on_message(self, seq, body):
        with self.atomic():
            recent = self.durable.get("recent", [])
            if seq not in recent:
                self.apply(body)
                self.durable["recent"] = (recent + [seq])[-50:]
        self.ack(seq)


SEEN = set()


class GlobalSet(Node):
    """Wrong: a global set of applied numbers: it survives crashes, but no real process keeps memory
    through one."""

    def on_message(self, seq, body):
        if seq not in SEEN:
            self.apply(body)
            SEEN.add(seq)
        self.ack(seq)


class ClassNumber(Node):
    """Wrong: a class-level number (``last = [0]`` in the class body)."""

    last = [0]

    def on_message(self, seq, body):
        if seq > self.last[0]:
            self.apply(body)
            self.last[0] = seq
        self.ack(seq)


CASES = [
    Case("solution", 3, Sender, Receiver, "passed", "the last number applied, durable, atomic with the effect"),
    Case("high-water-mark", 3, Sender, HighWaterMark, "passed", "above the highest applied: right with one in flight"),
    Case("next-expected", 3, Sender, NextExpected, "passed", "the next number expected; acks only what it applied"),
    Case("last-with-receipt", 3, Sender, LastWithReceipt, "passed", "one durable pair: number and receipt"),
    Case("swallows-everything", 3, Sender, SwallowingReceiver, "passed",
         "a bare except cannot catch a crash: nothing commits", ("swallowed crash",)),
    Case("dedup-in-memory", 3, Sender, NB["InMemoryReceiver"], NO_DUPLICATES,
         "exercise 2's volatile set is forgotten in a crash after the effect"),
    Case("volatile-number", 3, Sender, VolatileNumber, NO_DUPLICATES, "one number, on self: a crash forgets it"),
    Case("mark-then-process", 3, Sender, MarkThenProcess, ACK_MEANS_EFFECT,
         "a crash after the number moved, before the effect"),
    Case("process-then-mark", 3, Sender, ProcessThenMark, NO_DUPLICATES,
         "a crash after the effect, before the number moved"),
    Case("ack-before-processing", 3, Sender, AckBeforeProcessing, ACK_MEANS_EFFECT,
         "a crash after the ack, before the effect"),
    Case("ack-inside-transaction", 3, Sender, AckInsideTransaction, ACK_MEANS_EFFECT,
         "the ack escapes a transaction that is then rolled back"),
    Case("swallows-then-marks", 3, Sender, SwallowsThenMarks, ACK_MEANS_EFFECT,
         "a crash after the move, swallowed, loses the effect", ("swallowed crash",)),
    Case("two-transactions", 3, Sender, TwoTransactions, NO_DUPLICATES, "effect and number commit apart"),
    Case("volatile-check", 3, Sender, VolatileCheckDurableMark, NO_DUPLICATES,
         "the check reads a copy a crash resets"),
    Case("acks-only-new", 3, Sender, AcksOnlyNew, EVERY_COPY_ACKED, "a copy of an applied message is not acknowledged",
         ("acks",)),
    Case("setdefault-in-place", 3, Sender, SetdefaultInPlace, NO_DUPLICATES,
         "the copy read from durable state is changed, never written back", ("in place",)),
    Case("nested-in-place", 3, Sender, NestedInPlace, NO_DUPLICATES, "a nested value changed in place",
         ("in place",)),
    Case("content-keyed", 3, Sender, ContentKeyed, ACK_MEANS_EFFECT, "two deposits of 10 in a row collapse",
         ("equal bodies",)),
    Case("durable-id-set", 3, Sender, AppliedSetReceiver, BOUNDED_STATE, "a durable set of every number",
         ("state size",)),
    Case("lesson-03-receiver", 3, Sender, DeduplicatingReceiver, BOUNDED_STATE,
         "lesson 03's reference receiver keeps a record per message", ("library class",)),
    Case("last-fifty", 3, Sender, LastFifty, BOUNDED_STATE, "fifty numbers", ("state size",)),
    Case("global-set", 3, Sender, GlobalSet, NODE_ISOLATION, "a global variable survives crashes",
         ("shared state",)),
    Case("class-level-number", 3, Sender, ClassNumber, NODE_ISOLATION, "a class attribute as the number",
         ("shared state",)),
]
