"""Exercise 9, an effect no transaction can undo: the consumer between a producer and a payment
service whose idempotency keys expire."""

from semantics import Node
from semantics.grading import EVERY_EFFECT, NO_DUPLICATES, PAID_BY_SERVICE, PAID_OR_REPORTED, Producer
from semantics.sim.patterns import CallInTransactionConsumer, CallThenAckConsumer, OutboxConsumer

from . import Case, notebook

NB = notebook(9)
Consumer = NB["Consumer"]


class OutboxWithCutoff(Node):
    """Correct, differently: the transactional outbox for the call (the message acknowledged once the
    outbox row is durable), relayed every 3 time units from durable state, and given up, reported,
    once a call could outlive the key."""

    def on_start(self):
        self.ticking = False
        self.on_timer("relay")  # after a restart: relay what the outbox holds at once

    def tick(self):
        if not self.ticking and any(isinstance(k, tuple) and k[0] == "row" for k in self.durable):
            self.ticking = True
            self.set_timer("relay", 3.0)

    def on_message(self, msg_id, body):
        with self.atomic():
            if ("seen", msg_id) not in self.durable:
                self.durable[("seen", msg_id)] = True
                self.durable[("row", msg_id)] = (body, self.now)  # the call to make, and its first time
        self.ack(msg_id)
        self.relay(msg_id)
        self.tick()

    def relay(self, msg_id):
        row = self.durable.get(("row", msg_id))
        if row is None:
            return
        body, first = row
        if self.now - first > 21:
            with self.atomic():
                del self.durable[("row", msg_id)]
                self.durable[("unresolved", msg_id)] = True
            return
        self.send("service", msg_id, body)

    def on_timer(self, key):
        self.ticking = False
        for k in list(self.durable):
            if isinstance(k, tuple) and k[0] == "row":
                self.relay(k[1])
        self.tick()

    def on_ack(self, key):
        if self.peer == "service" and ("row", key) in self.durable:
            del self.durable[("row", key)]


class OwnTimers(Node):
    """Correct, differently: calls on its own timer (every 3), acknowledges the producer once paid or
    reported; one durable record per message: ("first", time), then ("paid",) or ("unresolved",)."""

    def on_start(self):
        for key in self.durable:
            if isinstance(key, tuple) and key[0] == "msg" and self.durable[key][0] == "first":
                self.set_timer(key[1], 0.5)

    def on_message(self, msg_id, body):
        state = self.durable.get(("msg", msg_id))
        if state is None:
            state = ("first", self.now, body)
            self.durable[("msg", msg_id)] = state
            self.call(msg_id)
        elif state[0] != "first":
            self.ack(msg_id)

    def call(self, msg_id):
        state = self.durable[("msg", msg_id)]
        if state[0] != "first":
            return
        if self.now - state[1] > 21:
            with self.atomic():
                self.durable[("msg", msg_id)] = ("done",)
                self.durable[("unresolved", msg_id)] = True
            self.ack(msg_id, to="sender")
            return
        self.send("service", msg_id, state[2])
        self.set_timer(msg_id, 3.0)

    def on_timer(self, msg_id):
        if ("msg", msg_id) in self.durable:
            self.call(msg_id)

    def on_ack(self, key):
        if self.peer == "service" and self.durable.get(("msg", key), ("done",))[0] == "first":
            self.durable[("msg", key)] = ("paid",)
            self.cancel_timer(key)
            self.ack(key, to="sender")


class EarlyReporter(Consumer):
    """Wrong: too cautious: stops calling 12 after the first call (half the key's life), and reports
    messages unresolved that a few more calls would have paid (after the network was down for 14)."""

    def on_message(self, msg_id, body):
        first = self.durable.get(("first call", msg_id))
        if first is not None and not self.durable.get(("settled", msg_id)) and self.now - first > 12:
            with self.atomic():
                self.durable[("unresolved", msg_id)] = True
                self.durable[("settled", msg_id)] = True
        super().on_message(msg_id, body)


class PaysItself(Node):
    """Wrong: applies the message itself: no payment is made."""

    def on_message(self, msg_id, body):
        with self.atomic():
            if ("done", msg_id) not in self.durable:
                self.apply(body)
                self.durable[("done", msg_id)] = True
        self.ack(msg_id)


class NoCutoff(Node):
    """Wrong: the message id as the key, every producer's resend calls again, forever: after a long
    outage the key has expired, and the call pays a second time."""

    def on_message(self, msg_id, body):
        if self.durable.get(("paid", msg_id)):
            self.ack(msg_id)
            return
        self.send("service", msg_id, body)

    def on_ack(self, key):
        if self.peer == "service":
            self.durable[("paid", key)] = True
            self.ack(key, to="sender")


class FreshKeys(NoCutoff):
    """Wrong: a new key for every call (the time of the call in it): every retry is a new payment."""

    def on_message(self, msg_id, body):
        if self.durable.get(("paid", msg_id)):
            self.ack(msg_id)
            return
        self.send("service", (msg_id, self.now), body)

    def on_ack(self, key):
        if self.peer == "service":
            self.durable[("paid", key[0])] = True
            self.ack(key[0], to="sender")


class FirstCallVolatile(Consumer):
    """Wrong: remembers the time of the first call on self: after a crash the clock starts again, and a
    call after the key expired pays twice."""

    def on_start(self):
        self.first = {}

    def on_message(self, msg_id, body):
        if self.durable.get(("settled", msg_id)):
            self.ack(msg_id)
            return
        first = self.first.setdefault(msg_id, self.now)
        if self.now - first > 21:
            with self.atomic():
                self.durable[("unresolved", msg_id)] = True
                self.durable[("settled", msg_id)] = True
            self.ack(msg_id)
            return
        self.send("service", msg_id, body)


class RecordsAfterCalling(Consumer):
    """Wrong: writes the time of the first call after the call has left: a crash in between, and the
    clock starts late."""

    def on_message(self, msg_id, body):
        if self.durable.get(("settled", msg_id)):
            self.ack(msg_id)
            return
        first = self.durable.get(("first call", msg_id))
        if first is not None and self.now - first > 21:
            with self.atomic():
                self.durable[("unresolved", msg_id)] = True
                self.durable[("settled", msg_id)] = True
            self.ack(msg_id)
            return
        self.send("service", msg_id, body)
        if first is None:
            self.durable[("first call", msg_id)] = self.now


class CutoffTooLate(Consumer):
    """Wrong: stops calling 30 after the first call: a call after 22 may find the key gone."""

    def on_message(self, msg_id, body):
        if self.durable.get(("settled", msg_id)):
            self.ack(msg_id)
            return
        first = self.durable.get(("first call", msg_id))
        if first is None:
            first = self.now
            self.durable[("first call", msg_id)] = first
        if self.now - first > 30:
            with self.atomic():
                self.durable[("unresolved", msg_id)] = True
                self.durable[("settled", msg_id)] = True
            self.ack(msg_id)
            return
        self.send("service", msg_id, body)


class GivesUpSilently(Consumer):
    """Wrong: stops calling when the key may have expired, and acknowledges, but reports nothing."""

    def on_message(self, msg_id, body):
        if self.durable.get(("settled", msg_id)):
            self.ack(msg_id)
            return
        first = self.durable.get(("first call", msg_id))
        if first is None:
            first = self.now
            self.durable[("first call", msg_id)] = first
        if self.now - first > 21:
            self.durable[("settled", msg_id)] = True
            self.ack(msg_id)
            return
        self.send("service", msg_id, body)


class ReportsEverything(Node):
    """Wrong: never calls, reports every message unresolved: nothing is paid."""

    def on_message(self, msg_id, body):
        self.durable[("unresolved", msg_id)] = True
        self.ack(msg_id)


class AckThenCall(Node):
    """Wrong: acknowledges the producer, then calls once, keeping nothing: a crash in between (or a lost
    call) leaves a message nobody pays or reports."""

    def on_message(self, msg_id, body):
        self.ack(msg_id)
        self.send("service", msg_id, body)


class ForgetsPaid(Consumer):
    """Wrong: forgets a message once the service answered (it deletes its records): a copy delivered
    late is a new message, and its call comes after the key expired."""

    def on_ack(self, key):
        if self.peer == "service":
            if ("first call", key) in self.durable:
                del self.durable[("first call", key)]
            self.ack(key, to="sender")

# -- found by an adversary: retry horizons at and past the key's edge, a key reused for two messages --

SAFE = 21.0   # a call sent < 22 after the first call cannot find the key gone
RETRY = 2.0


class RefConsumer(Node):
    """(The base of the next ones: the reference's idea, with its own retry timer.) Durable first-call time written before the first call; same key (msg_id); own retry timer; stop and report unresolved past the horizon; durable done record forever."""
    horizon = SAFE
    def _key(self, msg_id):
        return msg_id
    def on_start(self):
        for k in list(self.durable):
            if isinstance(k, tuple) and k[0] == "first" and ("done", k[1]) not in self.durable \
                    and ("unresolved", k[1]) not in self.durable:
                self.set_timer(k[1], 0.1)
    def _call(self, msg_id, body):
        first = self.durable.get(("first", msg_id))
        if first is None:
            with self.atomic():
                self.durable[("first", msg_id)] = self.now
                self.durable[("body", msg_id)] = body
            first = self.now
        if self.now - first <= self.horizon:
            self.send("service", self._key(msg_id), body)
            self.set_timer(msg_id, RETRY)
        else:
            self.durable[("unresolved", msg_id)] = True
            self.ack(msg_id, to="sender")
    def on_message(self, msg_id, body):
        if ("done", msg_id) in self.durable or ("unresolved", msg_id) in self.durable:
            self.ack(msg_id)
            return
        self._call(msg_id, body)
    def on_timer(self, msg_id):
        if ("done", msg_id) in self.durable or ("unresolved", msg_id) in self.durable:
            return
        self._call(msg_id, self.durable[("body", msg_id)])
    def on_ack(self, key):
        msg_id = key
        if ("first", msg_id) in self.durable and ("done", msg_id) not in self.durable:
            self.durable[("done", msg_id)] = True
        self.cancel_timer(msg_id)
        if ("done", msg_id) in self.durable:
            self.ack(msg_id, to="sender")


class HorizonIsTTL(RefConsumer):
    """Wrong: retries until 24 (the key's lifetime) after the first call, forgetting the delivery delay."""
    horizon = 24.0


class HorizonOffByOne(RefConsumer):
    """Wrong by one: still calls 22 after the first call, which hint 2 calls unsafe (held back, the call
    arrives 25 after the first, when the key saved 1 after it is gone)."""
    horizon = 22.0


class KeyFromVolatileCounter(RefConsumer):
    """Wrong: keys 'pay-<n>' from a volatile counter: after a restart the counter starts again and the next
    message gets an old message's key; the service answers its call as a repeat, and it is never paid."""
    def on_start(self):
        self.n = 0
        super().on_start()
    def _key(self, msg_id):
        k = self.durable.get(("k", msg_id))
        if k is None:
            self.n += 1
            k = f"pay-{self.n}"
            self.durable[("k", msg_id)] = k
            self.durable[("byk", k)] = msg_id
        return k
    def on_ack(self, key):
        msg_id = self.durable.get(("byk", key))
        if msg_id is not None:
            super().on_ack(msg_id)


class ProducerDriven(Node):
    """Correct, differently: no timers at all: every producer copy (every 4) triggers one call with the same key while within the horizon; first-call time durable before the first call; done/unresolved records forever."""
    def on_message(self, msg_id, body):
        if ("done", msg_id) in self.durable or ("unresolved", msg_id) in self.durable:
            self.ack(msg_id)
            return
        first = self.durable.get(("first", msg_id))
        if first is None:
            self.durable[("first", msg_id)] = self.now
            first = self.now
        if self.now - first < 22.0 - 1e-9:
            self.send("service", msg_id, body)
        else:
            self.durable[("unresolved", msg_id)] = True
            self.ack(msg_id)
    def on_ack(self, key):
        self.durable[("done", key)] = True
        self.ack(key, to="sender")


class DeadlineRecord(RefConsumer):
    """Correct, differently: stores the absolute DEADLINE (first + 21) instead of the first time, in one durable dict per message, and reports unresolved from the timer as soon as the deadline passes."""
    def _call(self, msg_id, body):
        rec = self.durable.get(("rec", msg_id))
        if rec is None:
            rec = {"deadline": self.now + SAFE, "body": body}
            with self.atomic():
                self.durable[("rec", msg_id)] = rec
                self.durable[("first", msg_id)] = self.now
                self.durable[("body", msg_id)] = body
        if self.now <= rec["deadline"]:
            self.send("service", msg_id, body)
            self.set_timer(msg_id, min(RETRY, max(rec["deadline"] - self.now, 0.0) + 0.5))
        else:
            self.durable[("unresolved", msg_id)] = True
            self.ack(msg_id, to="sender")


CASES = [
    Case("solution", 9, Producer, Consumer, "passed", "call until answered, stop and report at 21 after the first"),
    Case("outbox-with-cutoff", 9, Producer, OutboxWithCutoff, "passed",
         "an outbox row with its first call's time, relayed, reported at the cut-off"),
    Case("own-timers", 9, Producer, OwnTimers, "passed", "its own retry timers, one durable state per message"),
    Case("starting-point", 9, Producer, NB["CallInBlock"], PAID_OR_REPORTED,
         "the call inside the atomic block: a lost call is acknowledged, and never paid (a crash after it pays twice)"),
    Case("lesson-05-call-then-ack", 9, Producer, CallThenAckConsumer, NO_DUPLICATES,
         "lesson 05's consumer with a stable key: a resend after the key expired pays again",
         ("library class", "expiry")),
    Case("lesson-05-outbox", 9, Producer, OutboxConsumer, NO_DUPLICATES,
         "lesson 05's outbox relays for 60 time units: past the key's 24", ("library class", "expiry")),
    Case("lesson-05-call-in-transaction", 9, Producer, CallInTransactionConsumer, PAID_OR_REPORTED,
         "lesson 05's call inside the transaction acknowledges a call that was lost", ("library class",)),
    Case("pays-itself", 9, Producer, PaysItself, PAID_BY_SERVICE, "self.apply is not a payment"),
    Case("no-cutoff", 9, Producer, NoCutoff, NO_DUPLICATES, "retries forever with the same key", ("expiry",)),
    Case("fresh-keys", 9, Producer, FreshKeys, NO_DUPLICATES, "a new key for every call"),
    Case("first-call-volatile", 9, Producer, FirstCallVolatile, NO_DUPLICATES,
         "a crash restarts the clock of the key", ("expiry",)),
    Case("records-after-calling", 9, Producer, RecordsAfterCalling, NO_DUPLICATES,
         "the first call's time written after the call left", ("expiry",)),
    Case("cutoff-too-late", 9, Producer, CutoffTooLate, NO_DUPLICATES, "a call 30 after the first", ("expiry",)),
    Case("gives-up-silently", 9, Producer, GivesUpSilently, PAID_OR_REPORTED, "stops without a report",
         ("expiry", "outage")),
    Case("reports-everything", 9, Producer, ReportsEverything, EVERY_EFFECT, "never pays"),
    Case("early-reporter", 9, Producer, EarlyReporter, EVERY_EFFECT,
         "gives up 12 after the first call, with half the key's life left", ("expiry",), systematic=False),
    Case("ack-then-call", 9, Producer, AckThenCall, NO_DUPLICATES,
         "no record, no cut-off: the producer's resend after an outage calls again, after the key expired"),
    Case("forgets-paid", 9, Producer, ForgetsPaid, NO_DUPLICATES, "a late copy of a paid message calls again",
         ("window",)),
    Case("producer-driven", 9, Producer, ProducerDriven, "passed", "no timers: every producer copy is a call"),
    Case("deadline-record", 9, Producer, DeadlineRecord, "passed", "an absolute deadline per message"),
    Case("horizon-is-ttl", 9, Producer, HorizonIsTTL, NO_DUPLICATES,
         "retries until the key's lifetime, ignoring the delivery delay", ("expiry",)),
    Case("horizon-off-by-one", 9, Producer, HorizonOffByOne, NO_DUPLICATES,
         "still calls 22 after the first call: held back, the call finds the key gone", ("expiry",)),
    Case("key-from-volatile-counter", 9, Producer, KeyFromVolatileCounter, PAID_OR_REPORTED,
         "a restart resets the key counter: one key for two messages"),
]
