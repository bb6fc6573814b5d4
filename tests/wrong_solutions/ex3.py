"""Exercise 3, durable, atomic deduplication (the receiver crashes at every crash point)."""

from semantics import Node
from semantics.grading import ACK_MEANS_EFFECT, NO_DUPLICATES

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
    """Correct: one durable frozenset of applied ids, replaced in the atomic block (copy on write)."""

    def on_message(self, msg_id, body):
        with self.atomic():
            applied = self.durable.get("applied", frozenset())
            if msg_id not in applied:
                self.apply(body)
                self.durable["applied"] = applied | {msg_id}
        self.ack(msg_id)


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


CASES = [
    Case("solution", 3, Sender, Receiver, "passed", "per-id durable marks, atomic with the effect"),
    Case("durable-sequence-number", 3, SequenceSender, DurableInOrderReceiver, "passed",
         "one durable counter, atomic with the effect, in-order acceptance"),
    Case("durable-applied-set", 3, Sender, AppliedSetReceiver, "passed", "one durable set value, copy on write"),
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
]
