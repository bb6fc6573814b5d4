"""Exercise 1, retry until acknowledged: senders, graded against the exercise's own receiver."""

import random
import time

from semantics import Node
from semantics.grading import EVERY_EFFECT, NODE_ISOLATION, RUN_COMPLETES

from . import Case, notebook

NB = notebook(1)
Receiver = NB["Receiver"]


class TickSender(Node):
    """Correct, differently: one periodic timer resends every unacknowledged message; it stops
    ticking when nothing is waiting, so the run can end."""

    def on_start(self):
        self.unacked = {}
        self.ticking = False

    def on_send(self, msg_id, body):
        self.unacked[msg_id] = body
        self.send("receiver", msg_id, body)
        if not self.ticking:
            self.ticking = True
            self.set_timer("tick", 3.0)

    def on_ack(self, msg_id):
        self.unacked.pop(msg_id, None)

    def on_timer(self, key):
        self.ticking = False
        for msg_id, body in list(self.unacked.items()):
            self.send("receiver", msg_id, body)
        if self.unacked:
            self.ticking = True
            self.set_timer("tick", 3.0)


class BackoffSender(Node):
    """Correct, differently: exponential backoff (doubling, capped at 20) per message."""

    def on_start(self):
        self.unacked = {}  # msg_id -> [body, next wait]

    def on_send(self, msg_id, body):
        self.unacked[msg_id] = [body, 2.5]
        self.send("receiver", msg_id, body)
        self.set_timer(msg_id, 2.5)

    def on_ack(self, msg_id):
        if self.unacked.pop(msg_id, None):
            self.cancel_timer(msg_id)

    def on_timer(self, msg_id):
        entry = self.unacked.get(msg_id)
        if entry:
            entry[1] = min(2 * entry[1], 20.0)
            self.send("receiver", msg_id, entry[0])
            self.set_timer(msg_id, entry[1])


class TimerKeyedSender(Node):
    """Correct, differently: timers keyed by ("retry", msg_id, attempt), an ack ignored unless it is
    for a message still waiting, attempts counted without limit."""

    def on_start(self):
        self.waiting = {}  # msg_id -> (body, attempt)

    def on_send(self, msg_id, body):
        self.waiting[msg_id] = (body, 1)
        self.send("receiver", msg_id, body)
        self.set_timer(("retry", msg_id), 4.0)

    def on_ack(self, msg_id):
        if msg_id in self.waiting:
            del self.waiting[msg_id]
            self.cancel_timer(("retry", msg_id))

    def on_timer(self, key):
        _, msg_id = key
        if msg_id in self.waiting:
            body, attempt = self.waiting[msg_id]
            self.waiting[msg_id] = (body, attempt + 1)
            self.send("receiver", msg_id, body)
            self.set_timer(key, 4.0)


class RetriesForever(NB["Sender"]):
    """Wrong: on_timer resends and re-arms even after the ack arrived, so the run never ends."""

    def on_ack(self, msg_id):
        pass

    def on_timer(self, msg_id):
        self.send("receiver", msg_id, self.unacked[msg_id])
        self.set_timer(msg_id, self.timeout)


class GivesUp(Node):
    """Wrong: a fixed number of retries, so an outage longer than the attempts loses the message."""

    retries = 1

    def on_start(self):
        self.unacked = {}

    def on_send(self, msg_id, body):
        self.unacked[msg_id] = [body, 0]
        self.send("receiver", msg_id, body)
        self.set_timer(msg_id, 3.0)

    def on_ack(self, msg_id):
        self.unacked.pop(msg_id, None)

    def on_timer(self, msg_id):
        entry = self.unacked.get(msg_id)
        if entry and entry[1] < self.retries:
            entry[1] += 1
            self.send("receiver", msg_id, entry[0])
            self.set_timer(msg_id, 3.0)


class GivesUpAfterTwenty(GivesUp):
    """Wrong: twenty retries (a minute of trying) still give up during a long outage."""

    retries = 20


class OneSlotSender(Node):
    """Wrong: remembers only the latest message, so with several in flight an earlier lost one is
    never retried."""

    def on_start(self):
        self.pending = None

    def on_send(self, msg_id, body):
        self.pending = (msg_id, body)
        self.send("receiver", msg_id, body)
        self.set_timer("retry", 3.0)

    def on_ack(self, msg_id):
        if self.pending and self.pending[0] == msg_id:
            self.pending = None
            self.cancel_timer("retry")

    def on_timer(self, key):
        if self.pending:
            self.send("receiver", *self.pending)
            self.set_timer("retry", 3.0)


class BodyKeyedSender(Node):
    """Wrong: remembers unacknowledged messages by their body: two messages with equal bodies in
    flight overwrite each other, and the first one is never retried."""

    def on_start(self):
        self.unacked = {}  # body content -> msg_id

    def on_send(self, msg_id, body):
        self.unacked[body.content] = (msg_id, body)
        self.send("receiver", msg_id, body)
        self.set_timer(body.content, 3.0)

    def on_ack(self, msg_id):
        for content, (waiting, _) in list(self.unacked.items()):
            if waiting == msg_id:
                del self.unacked[content]

    def on_timer(self, content):
        if content in self.unacked:
            self.send("receiver", *self.unacked[content])
            self.set_timer(content, 3.0)


class ArmsOnce(NB["Sender"]):
    """Wrong: resends on the first timeout but does not set the timer again: a second loss is final."""

    def on_timer(self, msg_id):
        if msg_id in self.unacked:
            self.send("receiver", msg_id, self.unacked[msg_id])


class DelOnAck(NB["Sender"]):
    """Wrong: ``del self.unacked[msg_id]`` in on_ack: a second ack for the same message (a network
    duplicate, or the ack of a retry) raises KeyError."""

    def on_ack(self, msg_id):
        del self.unacked[msg_id]
        self.cancel_timer(msg_id)


class SharedOutstanding(Node):
    """Wrong: the unacknowledged messages in a class attribute, shared by every sender and every run."""

    unacked = {}

    def on_send(self, msg_id, body):
        self.unacked[msg_id] = body
        self.send("receiver", msg_id, body)
        self.set_timer(msg_id, 3.0)

    def on_ack(self, msg_id):
        self.unacked.pop(msg_id, None)

    def on_timer(self, msg_id):
        if msg_id in self.unacked:
            self.send("receiver", msg_id, self.unacked[msg_id])
            self.set_timer(msg_id, 3.0)


class Deadline1500(NB["Sender"]):
    """Wrong: stops retrying a message 1,500 time units after its first send (a 25-minute retry deadline):
    an outage longer than that loses it. (Issue 11's adversary, old exercise 1.)"""

    def on_start(self):
        super().on_start()
        self.first = {}

    def on_send(self, msg_id, body):
        self.first[msg_id] = self.now
        super().on_send(msg_id, body)

    def on_timer(self, msg_id):
        if msg_id in self.unacked and self.now - self.first[msg_id] > 1500:
            del self.unacked[msg_id]
            return
        super().on_timer(msg_id)


class WallClockDeadline(NB["Sender"]):
    """Wrong: gives up on a message 2 seconds of *real* time (time.time()) after its first send, the
    machine's clock taken for the simulated one: its verdict would depend on the machine's speed."""

    def on_start(self):
        super().on_start()
        self.first = {}

    def on_send(self, msg_id, body):
        self.first[msg_id] = time.time()
        super().on_send(msg_id, body)

    def on_timer(self, msg_id):
        if msg_id in self.unacked and time.time() - self.first[msg_id] > 2.0:
            del self.unacked[msg_id]
            return
        super().on_timer(msg_id)



class FullJitterSender(NB["Sender"]):
    """Correct, differently: exponential backoff with full jitter (a random wait between 1 and 3 * 2**n,
    capped at 60), retried until acknowledged: random numbers drawn in a handler, the same in every run
    of a scenario (the grader seeds them)."""

    def on_start(self):
        super().on_start()
        self.tries = {}

    def on_timer(self, msg_id):
        if msg_id in self.unacked:
            self.tries[msg_id] = self.tries.get(msg_id, 0) + 1
            self.send("receiver", msg_id, self.unacked[msg_id])
            self.set_timer(msg_id, random.uniform(1.0, min(60.0, 3.0 * 2 ** self.tries[msg_id])))



class CoinFlipGiveUp(NB["Sender"]):
    """Wrong: on each timeout, gives up with probability 1/5 ('the receiver is probably gone'): a few
    losses in a row, and a message is dropped. Which retry gives up is a random draw: the grader
    seeds it per run, so the verdict (its counterexample and trace) is the same every time."""

    def on_timer(self, msg_id):
        if msg_id in self.unacked and random.random() < 0.2:
            del self.unacked[msg_id]
            return
        super().on_timer(msg_id)


CASES = [
    Case("solution", 1, NB["Sender"], Receiver, "passed", "per-message timers, retried until acked"),
    Case("one-periodic-timer", 1, TickSender, Receiver, "passed", "a single tick resends all unacked"),
    Case("exponential-backoff", 1, BackoffSender, Receiver, "passed", "per-message doubling timeouts"),
    Case("timer-keyed-by-tuple", 1, TimerKeyedSender, Receiver, "passed", "tuple timer keys, attempts counted"),
    Case("full-jitter-backoff", 1, FullJitterSender, Receiver, "passed", "random waits, seeded per run by the grader"),
    Case("fire-and-forget", 1, NB["FireAndForgetSender"], Receiver, EVERY_EFFECT,
         "the starting code: a lost message is gone"),
    Case("retries-forever", 1, RetriesForever, Receiver, RUN_COMPLETES,
         "timers re-armed after the ack: the run never ends (event budget)"),
    Case("gives-up-after-one-retry", 1, GivesUp, Receiver, EVERY_EFFECT,
         "two losses in a row lose the message", ("outage",)),
    Case("gives-up-after-twenty-retries", 1, GivesUpAfterTwenty, Receiver, EVERY_EFFECT,
         "an outage outlasts any fixed number of retries", ("outage",)),
    Case("one-slot-sender", 1, OneSlotSender, Receiver, EVERY_EFFECT,
         "several messages in flight: only the latest is retried"),
    Case("body-keyed-sender", 1, BodyKeyedSender, Receiver, EVERY_EFFECT,
         "two messages with equal bodies in flight overwrite each other", ("equal bodies",)),
    Case("timer-armed-once", 1, ArmsOnce, Receiver, EVERY_EFFECT, "a second loss in a row is final"),
    Case("del-on-ack", 1, DelOnAck, Receiver, RUN_COMPLETES, "a duplicated ack raises KeyError"),
    Case("class-level-outstanding", 1, SharedOutstanding, Receiver, NODE_ISOLATION,
         "a class attribute shared by every run", ("shared state",)),
    Case("coin-flip-give-up", 1, CoinFlipGiveUp, Receiver, EVERY_EFFECT, "gives up at random after a loss",
         ("outage",)),
    Case("deadline-1500", 1, Deadline1500, Receiver, EVERY_EFFECT,
         "a retry deadline of 1,500: an outage of a billion outlasts it", ("outage",)),
    Case("wall-clock-deadline", 1, WallClockDeadline, Receiver, NODE_ISOLATION,
         "a deadline on the machine's clock (time.time)", ("wall clock",)),
]
