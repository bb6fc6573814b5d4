"""Exercise 4, several messages in flight (a window of 4, reordering, receiver crashes, at most
200 bytes of receiver state)."""

from semantics import Node
from semantics.grading import (ACK_MEANS_EFFECT, BOUNDED_STATE, EVERY_COPY_ACKED, EVERY_EFFECT, IN_FLIGHT,
                               NO_DUPLICATES)

from . import Case, notebook
from . import ex3

NB = notebook(4)
Sender, Receiver = NB["Sender"], NB["Receiver"]


class QueueSender(Node):
    """Correct, differently: a list of waiting messages and a dict of those in flight; the window is
    the oldest number in flight (or waiting) plus 4."""

    timeout = 2.5

    def on_start(self):
        self.numbered = 0
        self.waiting = []   # [(seq, body)], in order
        self.flying = {}    # seq -> body

    def on_send(self, msg_id, body):
        self.numbered += 1
        self.waiting.append((self.numbered, body))
        self.pump()

    def pump(self):
        while self.waiting:
            oldest = min(self.flying) if self.flying else self.waiting[0][0]
            if self.waiting[0][0] >= oldest + 4:
                return
            seq, body = self.waiting.pop(0)
            self.flying[seq] = body
            self.send("receiver", seq, body)
            self.set_timer(seq, self.timeout)

    def on_ack(self, seq):
        if self.flying.pop(seq, None) is not None:
            self.cancel_timer(seq)
            self.pump()

    def on_timer(self, seq):
        if seq in self.flying:
            self.send("receiver", seq, self.flying[seq])
            self.set_timer(seq, self.timeout)


class GoBackSender(QueueSender):
    """Correct, differently: one timer for the window; when it fires, every message in flight is
    sent again (go-back-N's retransmission, with a receiver that keeps what arrived early)."""

    def pump(self):
        before = len(self.flying)
        super().pump()
        if self.flying and not before:
            self.set_timer("window", self.timeout)

    def on_ack(self, seq):
        if self.flying.pop(seq, None) is not None:
            self.pump()

    def set_timer(self, key, after):
        super().set_timer("window", after)

    def cancel_timer(self, key):
        pass

    def on_timer(self, key):
        for seq in sorted(self.flying):
            self.send("receiver", seq, self.flying[seq])
        if self.flying:
            super().set_timer("window", self.timeout)


class BitmapReceiver(Node):
    """Correct, differently: the count applied without a gap and a bitmap of the numbers above it, in
    one durable pair (bit k: number count + 1 + k applied)."""

    def on_message(self, seq, body):
        with self.atomic():
            done, bits = self.durable.get("record", (0, 0))
            if seq > done and not bits >> (seq - done - 1) & 1:
                self.apply(body)
                bits |= 1 << (seq - done - 1)
                while bits & 1:
                    done, bits = done + 1, bits >> 1
                self.durable["record"] = (done, bits)
        self.ack(seq)


class KeysAboveReceiver(Node):
    """Correct, differently: one durable key per number applied above the gap, deleted as the gap
    closes."""

    def on_message(self, seq, body):
        with self.atomic():
            done = self.durable.get("done", 0)
            if seq > done and ("above", seq) not in self.durable:
                self.apply(body)
                self.durable[("above", seq)] = True
                while ("above", done + 1) in self.durable:
                    done += 1
                    del self.durable[("above", done)]
                self.durable["done"] = done
        self.ack(seq)


class StopAndWaitNoWindow(Node):
    """Wrong: sends every message at once (exercise 3's sender, with several in flight): no window."""

    timeout = 3.0

    def on_start(self):
        self.next_seq = 1
        self.unacked = {}

    def on_send(self, msg_id, body):
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        self.unacked[seq] = body
        self.send("receiver", seq, body)
        self.set_timer(seq, self.timeout)

    def on_ack(self, seq):
        if self.unacked.pop(seq, None) is not None:
            self.cancel_timer(seq)

    def on_timer(self, seq):
        if seq in self.unacked:
            self.send("receiver", seq, self.unacked[seq])
            self.set_timer(seq, self.timeout)


class CountingWindow(QueueSender):
    """Wrong: at most 4 messages unacknowledged, anywhere: after an ack in the middle, a fifth one goes
    out while the oldest is still missing (a count is not a sliding window)."""

    def pump(self):
        while self.waiting and len(self.flying) < 4:
            seq, body = self.waiting.pop(0)
            self.flying[seq] = body
            self.send("receiver", seq, body)
            self.set_timer(seq, self.timeout)


class WindowOfFive(QueueSender):
    """Wrong: a window of 5."""

    def pump(self):
        while self.waiting:
            oldest = min(self.flying) if self.flying else self.waiting[0][0]
            if self.waiting[0][0] >= oldest + 5:
                return
            seq, body = self.waiting.pop(0)
            self.flying[seq] = body
            self.send("receiver", seq, body)
            self.set_timer(seq, self.timeout)


class PumpsOnlyOnSend(QueueSender):
    """Wrong: the window is filled when a message is submitted, never when an ack frees it: a message
    that waited is never sent."""

    def on_ack(self, seq):
        if self.flying.pop(seq, None) is not None:
            self.cancel_timer(seq)


class BodyKeyedSender(QueueSender):
    """Wrong: keeps the messages in flight by body: two deposits of 10 share one entry, and a lost one
    is never sent again."""

    def pump(self):
        while self.waiting:
            seq, body = self.waiting.pop(0)
            self.flying[body.content] = (seq, body)
            self.send("receiver", seq, body)
            self.set_timer(body.content, self.timeout)

    def on_ack(self, seq):
        for content, (s, _) in list(self.flying.items()):
            if s == seq:
                del self.flying[content]
                self.cancel_timer(content)

    def on_timer(self, content):
        if content in self.flying:
            seq, body = self.flying[content]
            self.send("receiver", seq, body)
            self.set_timer(content, self.timeout)


class StrictOrderReceiver(Node):
    """Wrong here: applies only the next number and leaves a number that arrives early unacknowledged
    (lesson 03's enforced order): correct effects, but the sender keeps retrying what arrived."""

    def on_message(self, seq, body):
        with self.atomic():
            expected = self.durable.get("expected", 1)
            if seq == expected:
                self.apply(body)
                self.durable["expected"] = expected + 1
        if seq < self.durable.get("expected", 1):
            self.ack(seq)


class HighWaterMark(Node):
    """Wrong: applies a number above the highest applied: an overtaken message is skipped, and acked."""

    def on_message(self, seq, body):
        with self.atomic():
            if seq > self.durable.get("last", 0):
                self.apply(body)
                self.durable["last"] = seq
        self.ack(seq)


class VolatileGapRecord(Node):
    """Wrong: the right record, kept on self: a crash forgets it."""

    def on_start(self):
        self.done, self.above = 0, set()

    def on_message(self, seq, body):
        if seq > self.done and seq not in self.above:
            self.apply(body)
            self.above.add(seq)
            while self.done + 1 in self.above:
                self.done += 1
                self.above.discard(self.done)
        self.ack(seq)


class EveryNumber(Node):
    """Wrong here: a durable set of every number applied: correct effects, unbounded state."""

    def on_message(self, seq, body):
        with self.atomic():
            applied = self.durable.get("applied", frozenset())
            if seq not in applied:
                self.apply(body)
                self.durable["applied"] = applied | {seq}
        self.ack(seq)


class NeverFolds(Node):
    """Wrong: remembers the numbers applied above a count that never moves: the set grows forever."""

    def on_message(self, seq, body):
        with self.atomic():
            above = self.durable.get("above", frozenset())
            if seq not in above:
                self.apply(body)
                self.durable["above"] = above | {seq}
        self.ack(seq)


class AboveInPlace(Node):
    """Wrong: the set above the gap changed in place and never written back."""

    def on_message(self, seq, body):
        with self.atomic():
            done = self.durable.get("done", 0)
            above = self.durable.setdefault("above", set())
            if seq > done and seq not in above:
                self.apply(body)
                above.add(seq)
                while done + 1 in above:
                    done += 1
                    above.discard(done)
                self.durable["done"] = done
        self.ack(seq)


class AckBeforeCommit(Node):
    """Wrong: acknowledges before the atomic block: a crash in between loses an acknowledged message."""

    def on_message(self, seq, body):
        self.ack(seq)
        with self.atomic():
            done = self.durable.get("done", 0)
            above = self.durable.get("above", frozenset())
            if seq > done and seq not in above:
                self.apply(body)
                above = above | {seq}
                while done + 1 in above:
                    done += 1
                    above = above - {done}
                self.durable["done"] = done
                self.durable["above"] = above


CASES = [
    Case("solution", 4, Sender, Receiver, "passed", "a sliding window of 4; the count without a gap and the set above"),
    Case("queue-sender-bitmap", 4, QueueSender, BitmapReceiver, "passed",
         "a waiting list and a dict in flight; a durable count and bitmap"),
    Case("go-back-keys-above", 4, GoBackSender, KeysAboveReceiver, "passed",
         "one timer resends the whole window; a durable key per number above the gap"),
    Case("starting-point", 4, NB["StopAndWaitSender"], NB["OneNumberReceiver"], NO_DUPLICATES,
         "one number, in memory: a crash forgets it (and a message that arrives early is acknowledged, never "
         "applied)"),
    Case("one-number-receiver", 4, Sender, ex3.Receiver, ACK_MEANS_EFFECT,
         "exercise 3's answer behind a window: an early number is taken for applied", ("order",)),
    Case("high-water-mark", 4, Sender, HighWaterMark, ACK_MEANS_EFFECT,
         "a message overtaken by the next is taken for a duplicate", ("order",)),
    Case("refuses-early-copies", 4, Sender, StrictOrderReceiver, EVERY_COPY_ACKED,
         "lesson 03's enforced order: an early number is never acknowledged", ("order", "acks")),
    Case("volatile-gap-record", 4, Sender, VolatileGapRecord, NO_DUPLICATES, "a crash forgets the record"),
    Case("ack-before-commit", 4, Sender, AckBeforeCommit, ACK_MEANS_EFFECT, "a crash between ack and commit"),
    Case("above-in-place", 4, Sender, AboveInPlace, NO_DUPLICATES, "the set above the gap changed in place",
         ("in place",)),
    Case("every-number", 4, Sender, EveryNumber, BOUNDED_STATE, "a durable set of every number",
         ("state size",)),
    Case("never-folds", 4, Sender, NeverFolds, BOUNDED_STATE, "numbers above a gap that never closes",
         ("state size",)),
    Case("no-window", 4, StopAndWaitNoWindow, Receiver, IN_FLIGHT, "every message sent at once", ("in flight",)),
    Case("counting-window", 4, CountingWindow, Receiver, IN_FLIGHT,
         "four unacknowledged anywhere: not a sliding window", ("in flight",)),
    Case("window-of-five", 4, WindowOfFive, Receiver, IN_FLIGHT, "one too many in flight", ("in flight",)),
    Case("pumps-only-on-send", 4, PumpsOnlyOnSend, Receiver, EVERY_EFFECT,
         "a message that waited for the window is never sent", ("in flight",)),
    Case("body-keyed-sender", 4, BodyKeyedSender, Receiver, EVERY_EFFECT,
         "two deposits of 10 share one entry in flight", ("equal bodies",)),
]
