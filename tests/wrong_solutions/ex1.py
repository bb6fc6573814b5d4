"""Exercise 1, retry until acknowledged: senders, checked with the notebook's acking receiver."""

from semantics import Node
from semantics.grading import EVERY_EFFECT, RUN_COMPLETES

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


class RetriesForever(NB["Sender"]):
    """Wrong: on_timer resends and re-arms even after the ack arrived, so the run never ends."""

    def on_ack(self, msg_id):
        pass

    def on_timer(self, msg_id):
        self.send("receiver", msg_id, self.unacked[msg_id])
        self.set_timer(msg_id, self.timeout)


class GivesUpAfterOneRetry(Node):
    """Wrong: a fixed number of retries (one), so a long partition loses the message."""

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
        if entry and entry[1] < 1:
            entry[1] += 1
            self.send("receiver", msg_id, entry[0])
            self.set_timer(msg_id, 3.0)


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


CASES = [
    Case("solution", 1, NB["Sender"], Receiver, "passed", "per-message timers, retried until acked"),
    Case("one-periodic-timer", 1, TickSender, Receiver, "passed", "a single tick resends all unacked"),
    Case("exponential-backoff", 1, BackoffSender, Receiver, "passed", "per-message doubling timeouts"),
    Case("fire-and-forget", 1, NB["FireAndForgetSender"], Receiver, EVERY_EFFECT,
         "the starting code: a lost message is gone"),
    Case("retries-forever", 1, RetriesForever, Receiver, RUN_COMPLETES,
         "timers re-armed after the ack: the run never ends (event budget)"),
    Case("gives-up-after-one-retry", 1, GivesUpAfterOneRetry, Receiver, EVERY_EFFECT,
         "a partition longer than two attempts loses the message"),
    Case("one-slot-sender", 1, OneSlotSender, Receiver, EVERY_EFFECT,
         "several messages in flight: only the latest is retried"),
]
