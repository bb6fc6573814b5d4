"""Exercise 2, stable ids and deduplication."""

import hashlib

from semantics import Node
from semantics.grading import ACK_MEANS_EFFECT, NO_DUPLICATES, RUN_COMPLETES

from . import Case, notebook

NB = notebook(2)
Sender, Receiver = NB["Sender"], NB["Receiver"]


class SequenceSender(NB["Sender"]):
    """Numbers its messages 1, 2, 3, ... (its own stable ids) and retries until acknowledged."""

    def on_start(self):
        super().on_start()
        self.next_seq = 1
        self.seq_of = {}

    def on_send(self, msg_id, body):
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        super().on_send(seq, body)


class InOrderReceiver(Node):
    """Correct, differently: applies only the next sequence number (volatile counter); anything
    else already applied is re-acknowledged, anything ahead is left for the sender to retry."""

    def on_start(self):
        self.expected = 1

    def on_message(self, seq, body):
        if seq == self.expected:
            self.apply(body)
            self.expected += 1
        if seq < self.expected:
            self.ack(seq)


class NewIdEachRetry(NB["Sender"]):
    """Wrong: a fresh id on every attempt, so the receiver cannot recognise a retry."""

    def on_start(self):
        super().on_start()
        self.attempt = {}

    def on_send(self, msg_id, body):
        self.attempt[msg_id] = 0
        self.unacked[msg_id] = body
        self.send("receiver", f"{msg_id}/0", body)
        self.set_timer(msg_id, self.timeout)

    def on_ack(self, wire_id):
        super().on_ack(wire_id.split("/")[0])

    def on_timer(self, msg_id):
        if msg_id in self.unacked:
            self.attempt[msg_id] += 1
            self.send("receiver", f"{msg_id}/{self.attempt[msg_id]}", self.unacked[msg_id])
            self.set_timer(msg_id, self.timeout)


class ContentHashReceiver(Node):
    """Wrong: deduplicates by a hash of the body (SQS FIFO content-based deduplication), so two
    different messages with equal bodies collapse into one."""

    def on_start(self):
        self.applied = set()

    def on_message(self, msg_id, body):
        key = hashlib.sha256(repr(body.content).encode()).hexdigest()
        if key not in self.applied:
            self.apply(body)
            self.applied.add(key)
        self.ack(msg_id)


class SilentOnDuplicates(Node):
    """Wrong: deduplicates but does not acknowledge a duplicate; when the first ack is lost the
    sender never hears one and retries forever."""

    def on_start(self):
        self.applied = set()

    def on_message(self, msg_id, body):
        if msg_id not in self.applied:
            self.apply(body)
            self.applied.add(msg_id)
            self.ack(msg_id)


CASES = [
    Case("solution", 2, Sender, Receiver, "passed", "a set of applied ids, every copy acked"),
    Case("sequence-numbers-in-order", 2, SequenceSender, InOrderReceiver, "passed",
         "sender-assigned sequence numbers, receiver accepts only the next one"),
    Case("retry-without-dedup", 2, Sender, NB["ApplyAndAckReceiver"], NO_DUPLICATES,
         "the starting receiver applies every retry"),
    Case("new-id-every-retry", 2, NewIdEachRetry, Receiver, NO_DUPLICATES,
         "each attempt carries a new id, so dedup never fires"),
    Case("content-hash-as-id", 2, Sender, ContentHashReceiver, ACK_MEANS_EFFECT,
         "two deposits of 10 collapse into one, the second is acked without effect"),
    Case("duplicates-not-acked", 2, Sender, SilentOnDuplicates, RUN_COMPLETES,
         "a lost ack is never replaced: the sender retries forever"),
]
