"""Exercise 6 (capstone), outbox and inbox: the sender crashes too."""

from semantics import Node
from semantics.grading import EVERY_EFFECT, NO_DUPLICATES

from . import Case, notebook
from .ex2 import Receiver as InMemoryInbox
from .ex3 import DurableInOrderReceiver

NB = notebook(6)
OutboxSender, InboxReceiver = NB["OutboxSender"], NB["InboxReceiver"]


class LogOutboxSender(Node):
    """Correct, differently: the outbox is a durable log numbered by a durable counter (written in
    one atomic block), relayed by one periodic timer that resends every entry still in it."""

    def on_start(self):
        self.ticking = False
        if any(isinstance(k, tuple) and k[0] == "out" for k in self.durable):
            self.tick()

    def tick(self):
        self.ticking = True
        self.set_timer("relay", 3.0)

    def on_send(self, msg_id, body):
        with self.atomic():
            seq = self.durable.get("next", 1)
            self.durable[("out", seq)] = body
            self.durable["next"] = seq + 1
        self.send("receiver", seq, body)
        if not self.ticking:
            self.tick()

    def on_ack(self, seq):
        if ("out", seq) in self.durable:
            del self.durable[("out", seq)]

    def on_timer(self, key):
        self.ticking = False
        pending = sorted(k[1] for k in self.durable if isinstance(k, tuple) and k[0] == "out")
        for seq in pending:
            self.send("receiver", seq, self.durable[("out", seq)])
        if pending:
            self.tick()


class OutboxNotRelayedAfterRestart(OutboxSender):
    """Wrong: writes the outbox, but on_start does not resend it: after a crash the timers are gone
    and nothing relays what the outbox holds."""

    def on_start(self):
        pass


class ForgetsOnSend(OutboxSender):
    """Wrong: the relay deletes the outbox entry as soon as it has sent it (not when it is
    acknowledged): a lost attempt is never sent again (at-most-once relay)."""

    def on_send(self, msg_id, body):
        self.durable[("outbox", msg_id)] = body
        self.send("receiver", msg_id, body)
        del self.durable[("outbox", msg_id)]
        self.set_timer(msg_id, self.timeout)


CASES = [
    Case("solution", 6, OutboxSender, InboxReceiver, "passed", "per-message outbox keys and timers"),
    Case("outbox-log-and-relay-timer", 6, LogOutboxSender, DurableInOrderReceiver, "passed",
         "a numbered outbox log, one relay timer, an in-order durable receiver"),
    Case("volatile-sender", 6, NB["Sender"], InboxReceiver, EVERY_EFFECT,
         "exercise 1's sender forgets accepted messages in a crash"),
    Case("outbox-not-relayed-after-restart", 6, OutboxNotRelayedAfterRestart, InboxReceiver, EVERY_EFFECT,
         "the outbox survives, but nobody reads it after a restart"),
    Case("outbox-entry-deleted-on-send", 6, ForgetsOnSend, InboxReceiver, EVERY_EFFECT,
         "the relay forgets before the ack"),
    Case("in-memory-inbox", 6, OutboxSender, InMemoryInbox, NO_DUPLICATES,
         "exercise 2's volatile inbox: the outbox's resends after a receiver crash are applied again"),
]
