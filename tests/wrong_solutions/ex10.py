"""Exercise 10 (capstone), outbox and inbox: the sender crashes too, with several messages in flight
(a window of 4, and a receiver of at most 200 bytes)."""

from semantics import Node
from semantics.grading import (ACK_MEANS_EFFECT, BOUNDED_STATE, EVERY_EFFECT, IN_FLIGHT, NO_DUPLICATES,
                               NODE_ISOLATION)
from semantics.sim.protocols import DeduplicatingReceiver

from . import Case, notebook
from . import ex4
from .ex3 import ContentKeyed
from .ex4 import BitmapReceiver, HighWaterMark, KeysAboveReceiver

NB = notebook(10)
OutboxSender, InboxReceiver = NB["OutboxSender"], NB["InboxReceiver"]


class LogOutboxSender(Node):
    """Correct, differently: a numbered outbox log (number and entry in one atomic block), relayed by
    one periodic timer that resends every entry of the window."""

    def on_start(self):
        self.ticking = False
        self.relay()

    def entries(self):
        return sorted(k[1] for k in self.durable if isinstance(k, tuple) and k[0] == "out")

    def relay(self):
        pending = self.entries()
        for seq in pending:
            if seq >= pending[0] + 4:
                break
            self.send("receiver", seq, self.durable[("out", seq)])
        if pending and not self.ticking:
            self.ticking = True
            self.set_timer("relay", 3.0)

    def on_send(self, msg_id, body):
        with self.atomic():
            seq = self.durable.get("next", 1)
            self.durable[("out", seq)] = body
            self.durable["next"] = seq + 1
        pending = self.entries()
        if seq < pending[0] + 4:
            self.send("receiver", seq, body)
        if not self.ticking:
            self.ticking = True
            self.set_timer("relay", 3.0)

    def on_ack(self, seq):
        if ("out", seq) in self.durable:
            before = self.entries()[:1]
            del self.durable[("out", seq)]
            pending = self.entries()
            if pending and pending[:1] != before:  # the window moved: send what entered it
                for s in pending:
                    if s >= pending[0] + 4:
                        break
                    if s >= before[0] + 4:
                        self.send("receiver", s, self.durable[("out", s)])

    def on_timer(self, key):
        self.ticking = False
        self.relay()


class OneValueOutbox(Node):
    """Correct, differently: the whole outbox (and its counter) is one durable dict, read and written
    back; a timer per message in the window."""

    def on_start(self):
        self.sent = set()
        self.pump()

    def pump(self):
        box = self.durable.get("box", {"next": 1, "out": {}})
        if not box["out"]:
            return
        oldest = min(box["out"])
        for seq in sorted(box["out"]):
            if seq >= oldest + 4:
                break
            if seq not in self.sent:
                self.sent.add(seq)
                self.send("receiver", seq, box["out"][seq])
                self.set_timer(seq, 2.5)

    def on_send(self, msg_id, body):
        box = self.durable.get("box", {"next": 1, "out": {}})
        box["out"][box["next"]] = body
        box["next"] += 1
        self.durable["box"] = box
        self.pump()

    def on_ack(self, seq):
        box = self.durable.get("box", {"next": 1, "out": {}})
        if box["out"].pop(seq, None) is not None:
            self.durable["box"] = box
            self.cancel_timer(seq)
            self.pump()

    def on_timer(self, seq):
        out = self.durable.get("box", {"next": 1, "out": {}})["out"]
        if seq in out:
            self.send("receiver", seq, out[seq])
            self.set_timer(seq, 2.5)


class NotRelayedAfterRestart(OutboxSender):
    """Wrong: writes the outbox, but on_start does not send it: after a crash the timers are gone and
    nothing relays what the outbox holds."""

    def on_start(self):
        self.in_flight = set()


class ForgetsOnSend(OutboxSender):
    """Wrong: the relay deletes an outbox entry as soon as it has sent it, not when it is acknowledged:
    a lost attempt is never sent again (an at-most-once relay)."""

    def on_timer(self, key):
        super().on_timer(key)
        for seq in list(self.in_flight):
            if ("outbox", seq) in self.durable:
                del self.durable[("outbox", seq)]


class RelayGivesUp(OutboxSender):
    """Wrong: the relay gives up on a message after five tries: an outage outlasts them."""

    def on_start(self):
        self.tries = {}
        super().on_start()

    def on_timer(self, key):
        if key != "relay":
            self.tries[key] = self.tries.get(key, 0) + 1
            if self.tries[key] > 5:
                return
        super().on_timer(key)


class RestartWithoutTimers(OutboxSender):
    """Wrong: after a restart, sends the window once and sets no timer: a lost resend is final."""

    def on_start(self):
        self.in_flight = set()
        waiting = sorted(k[1] for k in self.durable if isinstance(k, tuple) and k[0] == "outbox")
        for seq in waiting[:4]:
            self.in_flight.add(seq)
            self.send("receiver", seq, self.durable[("outbox", seq)])


class VolatileCounter(OutboxSender):
    """Wrong: the outbox is durable, the counter is not: after a restart numbers start again at 1, and
    the receiver takes a new message for one it applied."""

    def on_start(self):
        self.next = 1
        super().on_start()

    def on_send(self, msg_id, body):
        seq, self.next = self.next, self.next + 1
        self.durable[("outbox", seq)] = body
        self.on_timer("relay")


class BurnsNumbers(OutboxSender):
    """Wrong: takes its number in one atomic block and writes the entry in another: a crash between
    them burns a number that no message will fill, and the receiver's record above the gap grows."""

    def on_send(self, msg_id, body):
        with self.atomic():
            seq = self.durable.get("next", 1)
            self.durable["next"] = seq + 1
        with self.atomic():
            self.durable[("outbox", seq)] = body
        self.on_timer("relay")


class NoWindow(OutboxSender):
    """Wrong: relays every outbox entry at once: no window."""

    def on_timer(self, key):
        if key != "relay":
            return super().on_timer(key)
        for k in sorted(k for k in self.durable if isinstance(k, tuple) and k[0] == "outbox"):
            if k[1] not in self.in_flight:
                self.in_flight.add(k[1])
                self.send("receiver", k[1], self.durable[k])
                self.set_timer(k[1], self.timeout)


class RestartFloods(OutboxSender):
    """Wrong: respects the window, except after a restart, when it sends the whole outbox."""

    def on_start(self):
        self.in_flight = set()
        for k in sorted(k for k in self.durable if isinstance(k, tuple) and k[0] == "outbox"):
            self.in_flight.add(k[1])
            self.send("receiver", k[1], self.durable[k])
            self.set_timer(k[1], self.timeout)


class BodyKeyedOutbox(Node):
    """Wrong: the outbox keyed by the body: two accepted messages with equal bodies share one entry."""

    def on_start(self):
        for key in self.durable:
            if isinstance(key, tuple) and key[0] == "outbox":
                seq, body = self.durable[key]
                self.send("receiver", seq, body)
                self.set_timer(key[1], 3.0)

    def on_send(self, msg_id, body):
        with self.atomic():
            seq = self.durable.get("next", 1)
            self.durable["next"] = seq + 1
            self.durable[("outbox", body.content)] = (seq, body)
        self.send("receiver", seq, body)
        self.set_timer(body.content, 3.0)

    def on_ack(self, seq):
        for key in list(self.durable):
            if isinstance(key, tuple) and key[0] == "outbox" and self.durable[key][0] == seq:
                del self.durable[key]

    def on_timer(self, content):
        if ("outbox", content) in self.durable:
            seq, body = self.durable[("outbox", content)]
            self.send("receiver", seq, body)
            self.set_timer(content, 3.0)


class ListOutboxInPlace(OutboxSender):
    """Wrong: appends to a durable list in place: the outbox never becomes durable."""

    def on_start(self):
        self.pending = {}
        self.next = 1
        for seq, body in self.durable.get("outbox", []):
            self.pending[seq] = body
            self.send("receiver", seq, body)
            self.set_timer(seq, 3.0)

    def on_send(self, msg_id, body):
        seq, self.next = self.next, self.next + 1
        self.durable.setdefault("outbox", []).append((seq, body))
        self.pending[seq] = body
        if len(self.pending) <= 4 and seq < min(self.pending) + 4:
            self.send("receiver", seq, body)
            self.set_timer(seq, 3.0)

    def on_ack(self, seq):
        if self.pending.pop(seq, None) is not None and self.pending:
            oldest = min(self.pending)
            for s in range(oldest, oldest + 4):
                if s in self.pending:
                    self.send("receiver", s, self.pending[s])
                    self.set_timer(s, 3.0)

    def on_timer(self, seq):
        if seq in self.pending:
            self.send("receiver", seq, self.pending[seq])
            self.set_timer(seq, 3.0)


class InMemoryInbox(Node):
    """Wrong: exercise 2's volatile inbox: the outbox's resends after a receiver crash are applied again."""

    def on_start(self):
        self.applied = set()

    def on_message(self, seq, body):
        if seq not in self.applied:
            self.apply(body)
            self.applied.add(seq)
        self.ack(seq)


class WindowInbox(Node):
    """Wrong here: a durable, atomic inbox that forgets numbers 100 time units after applying them."""

    def on_message(self, seq, body):
        with self.atomic():
            seen = {k: t for k, t in self.durable.get("seen", {}).items() if self.now - t <= 100}
            if seq not in seen:
                self.apply(body)
                seen[seq] = self.now
            self.durable["seen"] = seen
        self.ack(seq)


class AckFirstInbox(Node):
    """Wrong: acknowledges before the effect commits: a crash in between loses an acknowledged message."""

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


class SharedOutbox(OutboxSender):
    """Wrong: the outbox in a class attribute: it survives the sender's crashes, as no memory can."""

    box = {}

    def on_start(self):
        self.in_flight = set()
        for seq in sorted(self.box)[:4]:
            self.in_flight.add(seq)
            self.send("receiver", seq, self.box[seq])
            self.set_timer(seq, 3.0)

    def on_send(self, msg_id, body):
        seq = max(self.box, default=0) + 1
        self.box[seq] = body
        if seq < min(self.box) + 4:
            self.in_flight.add(seq)
            self.send("receiver", seq, body)
            self.set_timer(seq, 3.0)

    def on_ack(self, seq):
        self.box.pop(seq, None)

    def on_timer(self, seq):
        if seq in self.box:
            self.send("receiver", seq, self.box[seq])
            self.set_timer(seq, 3.0)


class OutboxRetention1500(OutboxSender):
    """Wrong: drops an outbox entry 1,500 time units after it was written (a retention period): an
    outage longer than that loses an accepted message."""

    def on_send(self, msg_id, body):
        with self.atomic():
            seq = self.durable.get("next", 1)
            self.durable["next"] = seq + 1
            self.durable[("outbox", seq)] = body
            self.durable[("written", seq)] = self.now
        self.on_timer("relay")

    def on_timer(self, key):
        written = self.durable.get(("written", key))
        if key != "relay" and written is not None and self.now - written > 1500:
            with self.atomic():
                self.durable.pop(("outbox", key), None)
                del self.durable[("written", key)]
            self.on_timer("relay")
            return
        super().on_timer(key)


class InboxWindowOfAMillion(Node):
    """Wrong: the inbox as a durable time window of a million time units: finite, while the outbox
    retries without end."""

    def on_message(self, seq, body):
        with self.atomic():
            seen = {s: t for s, t in self.durable.get("seen", {}).items() if self.now - t <= 1e6}
            if seq not in seen:
                self.apply(body)
                seen[seq] = self.now
            self.durable["seen"] = seen
        self.ack(seq)


CASES = [
    Case("solution", 10, OutboxSender, InboxReceiver, "passed", "a numbered outbox, a window, exercise 4's inbox"),
    Case("outbox-log-and-relay-timer", 10, LogOutboxSender, BitmapReceiver, "passed",
         "a numbered outbox log, one relay timer, a count-and-bitmap inbox"),
    Case("one-value-outbox", 10, OneValueOutbox, KeysAboveReceiver, "passed",
         "the outbox and its counter as one durable value, a key per number above the gap"),
    Case("volatile-sender", 10, ex4.Sender, InboxReceiver, EVERY_EFFECT,
         "exercise 4's sender forgets accepted messages in a crash"),
    Case("starting-point", 10, NB["Sender"], NB["Receiver"], NO_DUPLICATES,
         "exercise 1's sender and a receiver that applies every copy: a retry takes effect again (and a crash of "
         "the sender loses an accepted message)"),
    Case("outbox-not-relayed-after-restart", 10, NotRelayedAfterRestart, InboxReceiver, EVERY_EFFECT,
         "the outbox survives, but nobody reads it after a restart", ("luck",)),
    Case("outbox-entry-deleted-on-send", 10, ForgetsOnSend, InboxReceiver, EVERY_EFFECT,
         "the relay forgets before the ack", ("luck",)),
    Case("relay-gives-up", 10, RelayGivesUp, InboxReceiver, EVERY_EFFECT, "five tries, and an outage outlasts them",
         ("outage",)),
    Case("restart-without-timers", 10, RestartWithoutTimers, InboxReceiver, EVERY_EFFECT,
         "a lost resend after a restart is final"),
    Case("volatile-counter", 10, VolatileCounter, InboxReceiver, EVERY_EFFECT,
         "numbers start again after a restart: a new message overwrites an old one's entry"),
    Case("body-keyed-outbox", 10, BodyKeyedOutbox, InboxReceiver, EVERY_EFFECT,
         "two accepted messages with equal bodies share an outbox entry", ("equal bodies",)),
    Case("outbox-list-in-place", 10, ListOutboxInPlace, InboxReceiver, EVERY_EFFECT,
         "the outbox list is appended in place, never written", ("in place",)),
    Case("no-window", 10, NoWindow, InboxReceiver, IN_FLIGHT, "every outbox entry in flight", ("in flight",)),
    Case("restart-floods", 10, RestartFloods, InboxReceiver, IN_FLIGHT, "the whole outbox sent after a restart",
         ("in flight",)),
    Case("in-memory-inbox", 10, OutboxSender, InMemoryInbox, NO_DUPLICATES,
         "exercise 2's volatile inbox: the outbox's resends after a receiver crash are applied again"),
    Case("inbox-time-window", 10, OutboxSender, WindowInbox, NO_DUPLICATES,
         "a late copy arrives after the window", ("window",)),
    Case("high-watermark-inbox", 10, OutboxSender, HighWaterMark, ACK_MEANS_EFFECT,
         "an overtaken message is taken for a duplicate", ("order",)),
    Case("content-keyed-inbox", 10, OutboxSender, ContentKeyed, ACK_MEANS_EFFECT,
         "two deposits of 10 in a row collapse into one", ("equal bodies",)),
    Case("inbox-acks-first", 10, OutboxSender, AckFirstInbox, ACK_MEANS_EFFECT, "ack before the commit"),
    Case("lesson-03-inbox", 10, OutboxSender, DeduplicatingReceiver, BOUNDED_STATE,
         "lesson 03's receiver: a record per message", ("library class", "state size")),
    Case("class-level-outbox", 10, SharedOutbox, InboxReceiver, NODE_ISOLATION, "a class attribute as the outbox",
         ("shared state",)),
    Case("burns-numbers", 10, BurnsNumbers, InboxReceiver, BOUNDED_STATE,
         "a crash between taking a number and writing the entry leaves a gap for good", systematic=False),
    Case("outbox-retention-1500", 10, OutboxRetention1500, InboxReceiver, EVERY_EFFECT,
         "an outbox entry dropped after 1,500: an outage of a billion outlasts it", ("outage",)),
    Case("inbox-window-of-a-million", 10, OutboxSender, InboxWindowOfAMillion, NO_DUPLICATES,
         "a retry a billion time units later", ("window",)),
]
