"""Exercise 6 (capstone), outbox and inbox: the sender crashes too."""

from semantics import Node
from semantics.grading import ACK_MEANS_EFFECT, EVERY_EFFECT, NO_DUPLICATES, NODE_ISOLATION

from . import Case, notebook
from .ex2 import Receiver as InMemoryInbox
from .ex3 import AppliedSetReceiver, DurableInOrderReceiver

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


class OneValueOutbox(Node):
    """Correct, differently: the whole outbox is one durable dict, read and written back; a
    restart relays it in order of submission."""

    def on_start(self):
        for msg_id, body in self.durable.get("outbox", {}).items():
            self.send("receiver", msg_id, body)
            self.set_timer(msg_id, 2.5)

    def on_send(self, msg_id, body):
        outbox = self.durable.get("outbox", {})
        outbox[msg_id] = body
        self.durable["outbox"] = outbox
        self.send("receiver", msg_id, body)
        self.set_timer(msg_id, 2.5)

    def on_ack(self, msg_id):
        outbox = self.durable.get("outbox", {})
        if outbox.pop(msg_id, None) is not None:
            self.durable["outbox"] = outbox
            self.cancel_timer(msg_id)

    def on_timer(self, msg_id):
        outbox = self.durable.get("outbox", {})
        if msg_id in outbox:
            self.send("receiver", msg_id, outbox[msg_id])
            self.set_timer(msg_id, 2.5)


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


class RelayGivesUp(OutboxSender):
    """Wrong: the relay gives up after five tries: an outage outlasts them."""

    def on_start(self):
        self.tries = {}
        super().on_start()

    def on_timer(self, msg_id):
        self.tries[msg_id] = self.tries.get(msg_id, 0) + 1
        if self.tries[msg_id] <= 5:
            super().on_timer(msg_id)


class RestartWithoutTimers(OutboxSender):
    """Wrong: after a restart, resends the outbox once but sets no timer: a lost resend is final."""

    def on_start(self):
        for key in self.durable:
            if isinstance(key, tuple) and key[0] == "outbox":
                self.send("receiver", key[1], self.durable[key])


class BodyKeyedOutbox(Node):
    """Wrong: the outbox keyed by the body: two accepted messages with equal bodies share one entry."""

    def on_start(self):
        for key in self.durable:
            if key[0] == "outbox":
                msg_id, body = self.durable[key]
                self.send("receiver", msg_id, body)
                self.set_timer(key[1], 3.0)

    def on_send(self, msg_id, body):
        self.durable[("outbox", body.content)] = (msg_id, body)
        self.send("receiver", msg_id, body)
        self.set_timer(body.content, 3.0)

    def on_ack(self, msg_id):
        for key in list(self.durable):
            if key[0] == "outbox" and self.durable[key][0] == msg_id:
                del self.durable[key]

    def on_timer(self, content):
        if ("outbox", content) in self.durable:
            msg_id, body = self.durable[("outbox", content)]
            self.send("receiver", msg_id, body)
            self.set_timer(content, 3.0)


class ListOutboxInPlace(Node):
    """Wrong: appends to a durable list in place: the outbox never becomes durable."""

    def on_start(self):
        self.pending = {}
        for msg_id, body in self.durable.get("outbox", []):
            self.pending[msg_id] = body
            self.send("receiver", msg_id, body)
            self.set_timer(msg_id, 3.0)

    def on_send(self, msg_id, body):
        self.durable.setdefault("outbox", []).append((msg_id, body))
        self.pending[msg_id] = body
        self.send("receiver", msg_id, body)
        self.set_timer(msg_id, 3.0)

    def on_ack(self, msg_id):
        self.pending.pop(msg_id, None)

    def on_timer(self, msg_id):
        if msg_id in self.pending:
            self.send("receiver", msg_id, self.pending[msg_id])
            self.set_timer(msg_id, 3.0)


class WindowInbox(Node):
    """Wrong here: a durable, atomic inbox that forgets ids 100 time units after applying them."""

    def on_message(self, msg_id, body):
        with self.atomic():
            seen = {k: t for k, t in self.durable.get("seen", {}).items() if self.now - t <= 100}
            if msg_id not in seen:
                self.apply(body)
                seen[msg_id] = self.now
            self.durable["seen"] = seen
        self.ack(msg_id)


class LastFiftyInbox(Node):
    """Wrong here: a durable, atomic inbox of the last fifty ids."""

    def on_message(self, msg_id, body):
        with self.atomic():
            recent = self.durable.get("recent", [])
            if msg_id not in recent:
                self.apply(body)
                self.durable["recent"] = (recent + [msg_id])[-50:]
        self.ack(msg_id)


class ContentInbox(Node):
    """Wrong: a durable, atomic inbox keyed by the body: two deposits of 10 collapse into one."""

    def on_message(self, msg_id, body):
        with self.atomic():
            if ("done", body.content) not in self.durable:
                self.apply(body)
                self.durable[("done", body.content)] = True
        self.ack(msg_id)


class AckFirstInbox(Node):
    """Wrong: acknowledges before the effect commits: a crash in between loses an acknowledged message."""

    def on_message(self, msg_id, body):
        self.ack(msg_id)
        with self.atomic():
            if ("done", msg_id) not in self.durable:
                self.apply(body)
                self.durable[("done", msg_id)] = True


class SharedOutbox(Node):
    """Wrong: the outbox in a class attribute: it survives the sender's crashes, as no memory can."""

    outbox = {}

    def on_start(self):
        for msg_id, body in self.outbox.items():
            self.send("receiver", msg_id, body)
            self.set_timer(msg_id, 3.0)

    def on_send(self, msg_id, body):
        self.outbox[msg_id] = body
        self.send("receiver", msg_id, body)
        self.set_timer(msg_id, 3.0)

    def on_ack(self, msg_id):
        self.outbox.pop(msg_id, None)

    def on_timer(self, msg_id):
        if msg_id in self.outbox:
            self.send("receiver", msg_id, self.outbox[msg_id])
            self.set_timer(msg_id, 3.0)


CASES = [
    Case("solution", 6, OutboxSender, InboxReceiver, "passed", "per-message outbox keys and timers"),
    Case("outbox-log-and-relay-timer", 6, LogOutboxSender, DurableInOrderReceiver, "passed",
         "a numbered outbox log, one relay timer, an in-order durable receiver"),
    Case("one-value-outbox", 6, OneValueOutbox, AppliedSetReceiver, "passed",
         "the outbox and the inbox as one durable value each, written back"),
    Case("volatile-sender", 6, NB["Sender"], InboxReceiver, EVERY_EFFECT,
         "exercise 1's sender forgets accepted messages in a crash"),
    Case("outbox-not-relayed-after-restart", 6, OutboxNotRelayedAfterRestart, InboxReceiver, EVERY_EFFECT,
         "the outbox survives, but nobody reads it after a restart", ("luck",)),
    Case("outbox-entry-deleted-on-send", 6, ForgetsOnSend, InboxReceiver, EVERY_EFFECT,
         "the relay forgets before the ack", ("luck",)),
    Case("relay-gives-up", 6, RelayGivesUp, InboxReceiver, EVERY_EFFECT, "five tries, and an outage outlasts them",
         ("outage",)),
    Case("restart-without-timers", 6, RestartWithoutTimers, InboxReceiver, EVERY_EFFECT,
         "a lost resend after a restart is final"),
    Case("body-keyed-outbox", 6, BodyKeyedOutbox, InboxReceiver, EVERY_EFFECT,
         "two accepted messages with equal bodies share an outbox entry", ("equal bodies",)),
    Case("outbox-list-in-place", 6, ListOutboxInPlace, InboxReceiver, EVERY_EFFECT,
         "the outbox list is appended in place, never written", ("in place",)),
    Case("in-memory-inbox", 6, OutboxSender, InMemoryInbox, NO_DUPLICATES,
         "exercise 2's volatile inbox: the outbox's resends after a receiver crash are applied again"),
    Case("inbox-time-window", 6, OutboxSender, WindowInbox, NO_DUPLICATES,
         "a late copy arrives after the window", ("window",)),
    Case("inbox-last-fifty", 6, OutboxSender, LastFiftyInbox, NO_DUPLICATES,
         "a late copy arrives after fifty newer messages", ("window",)),
    Case("content-keyed-inbox", 6, OutboxSender, ContentInbox, ACK_MEANS_EFFECT,
         "two deposits of 10 collapse into one", ("equal bodies",)),
    Case("inbox-acks-first", 6, OutboxSender, AckFirstInbox, ACK_MEANS_EFFECT, "ack before the commit"),
    Case("class-level-outbox", 6, SharedOutbox, InboxReceiver, NODE_ISOLATION, "a class attribute as the outbox",
         ("shared state",)),
]
