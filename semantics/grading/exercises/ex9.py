"""Exercise 9: an effect no transaction can undo, and its idempotency key.

The learner writes the consumer ("receiver"): for each message from the producer ("sender",
``partners.Producer``: resends until acknowledged) it must have the payment service ("service",
``partners.Payments``: lesson 05's ``PaymentService``) execute one payment. A call is a message to
the service whose id is its idempotency key and whose body is the message's body; the service
answers with an ack of the key. The service keeps a key for 24 time units after executing its call;
a call with a key it no longer holds is a new payment. A call reaches the service within 3 time
units of being sent, or never. The consumer crashes at every crash point; messages, calls and
answers are lost, duplicated, held back; a producer's message is delivered again long after
everything else; the network goes down for 26 time units, longer than a key is kept.

Guarantee: only the service pays; no message is paid twice; every message is paid or reported
unresolved (``self.durable[("unresolved", msg_id)] = True``: a record someone reconciles); and
every message is paid when the network was never down longer than a key is kept.
"""

from __future__ import annotations

from ...sim.choices import CRASH, DELAY, DUPLICATE, LATE, LOSE, OUTAGE
from ...sim.faults import Faults
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import CRASH as CRASHED, LATE_COPY, LOST_ACK, OUTAGE as OUT, RUNAWAY
from ..invariants import (COMPLETES, EVERY_EFFECT, ISOLATION, NO_DUPLICATE, NO_DUPLICATES, RUN_COMPLETES, Finding,
                          Invariant, Trial, times)
from ..partners import RETENTION, Payments, Producer
from ..scenarios import Scenario
from ..exercise import Exercise
from .common import RUNAWAY_HINT, with_rules
from .ex8 import durable_of

SERVICE = "service"
OUTAGE_LENGTH = 26.0  # longer than a key is kept (24), short enough that a retry can come after it
DELIVERY = 3.0        # a call reaches the service within 3 of being sent (1 at least), or never

PAID_BY_SERVICE = "only the service pays"
PAID_OR_REPORTED = "paid or reported"


def _paid_by_service(trial: Trial) -> Finding | None:
    service = trial.nodes.get(SERVICE)
    host = getattr(service, "__dict__", {}).get("_host")
    paid = getattr(host, "ledger", 0)
    if paid != trial.report.effects:
        m = next((m for m in trial.report.messages() if m.effects), None)
        return Finding(PAID_BY_SERVICE, m.logical if m else None, m.msg_id if m else None,
                       f"{trial.report.effects - paid} effect(s) were applied by another node than the payment "
                       "service: the consumer called self.apply itself, which pays nothing")
    return None


def _unresolved(trial: Trial) -> set:
    return {key[1] for key in durable_of(trial.nodes.get("receiver"))
            if isinstance(key, tuple) and len(key) == 2 and key[0] == "unresolved"}


def _borrowed_key(trial: Trial, logical: int) -> tuple[object, int] | None:
    """(key, other message) if a call for message ``logical`` carried a key the consumer had first used
    for another message (read from the trace: the calls, by the message whose body they carry)."""
    first_use: dict = {}
    for e in trial.report.trace or ():
        if e.kind == "send" and e.node == "receiver" and e.peer == SERVICE and e.message == "data" \
                and e.logical is not None and "network duplicate" not in e.text:
            try:
                owner = first_use.setdefault(e.msg_id, e.logical)
            except TypeError:  # an unhashable key: the run itself reports it
                continue
            if e.logical == logical and owner != logical:
                return e.msg_id, owner
    return None


def _paid_or_reported(trial: Trial) -> Finding | None:
    reported = _unresolved(trial)
    messages = trial.report.messages()
    for m in messages:
        if not m.effects and m.msg_id not in reported:
            borrowed = _borrowed_key(trial, m.logical)
            if borrowed is not None:
                key, other = borrowed
                return Finding(PAID_OR_REPORTED, m.logical, m.msg_id,
                               f"was never paid and never reported unresolved: its call carried the key {key!r}, "
                               f"which the consumer had first used for {messages[other].msg_id!r}; the service took "
                               "it for a repeat of that call and answered without paying")
            return Finding(PAID_OR_REPORTED, m.logical, m.msg_id,
                           f"was never paid and never reported unresolved (the producer sent it {times(m.attempts)}, "
                           f"it was {'acknowledged' if m.acked else 'never acknowledged'} to the producer): nobody "
                           "will ever look at it")
    return None


def cut_off(trial: Trial) -> bool:
    """Whether the network was down for longer than a key is kept, in this run."""
    scenario = trial.scenario
    return (any(choice == OUTAGE for _, choice in scenario.choices)
            or any(end - start >= RETENTION for start, end in scenario.link.partitions))


def _paid_unless_cut_off(trial: Trial) -> Finding | None:
    if cut_off(trial):
        return None
    for m in trial.report.messages():
        if not m.effects:
            reported = " (it was reported unresolved, needlessly)" if m.msg_id in _unresolved(trial) else ""
            return Finding(EVERY_EFFECT, m.logical, m.msg_id,
                           f"was never paid, although the network was never down for as long as a key is kept "
                           f"({RETENTION:g}){reported}")
    return None


ONLY_SERVICE = Invariant(PAID_BY_SERVICE, "every effect is a payment the service executed: the consumer never "
                         "applies a message itself", _paid_by_service)
PAID_OR_REPORTED_ = Invariant(PAID_OR_REPORTED, "every message is paid or reported unresolved (a durable "
                              "('unresolved', msg_id) record of the consumer) by the end of the run", _paid_or_reported)
PAID = Invariant(EVERY_EFFECT, f"every message is paid, unless the network was down for longer than a key is kept "
                 f"({RETENTION:g})", _paid_unless_cut_off)

#: The edge of the retry horizon: the first call is executed at t=2 (it left at 1), and no answer gets through
#: until t=23 (first call + 22), so the consumer keeps calling; the last call it sends is held back until it
#: arrives 3 after it left. A consumer that still calls 22 after its first call pays twice (the key, saved at
#: 2, is gone at 26); one that stops by 21 is safe. (The network is down for 21, less than a key is kept: the
#: message was paid, so 'every message takes effect' holds.)
BOUNDARY = Base(1, faults=1, kinds=(DELAY,), partitions=((2.0, 2.0 + RETENTION - DELIVERY),))

SCOPE = Scope(
    bases=(Base(1), BOUNDARY, Base(2, equal=True, faults=1), Base(2, interval=1.0, faults=1),
           Base(200, faults=1, kinds=(LATE,), first_only=True)),
    kinds=(LOSE, DUPLICATE, DELAY, LATE, OUTAGE, CRASH), crash_nodes=("receiver",),
    hold=DELIVERY - 1.0, outage=OUTAGE_LENGTH, alone=(LATE,),
    where=((LATE, (("sender", "receiver"),)),  # no call is delivered after its key could have expired
           # a producer's copy is never held back: that would only postpone the first call, and in the boundary
           # base push it into the window, where a correct consumer rightly gives up unpaid
           (DELAY, (("receiver", "service"), ("service", "receiver"), ("receiver", "sender")))),
)


def random_scenarios() -> list[Scenario]:
    out = []
    for seed in range(3):
        # (a key's lifetime allows about five attempts: with 30% loss some message would run out of them by
        # bad luck alone, and be rightly reported unresolved, not paid)
        out.append(Scenario("loss and ack loss on every link, consumer crashes", 15, seed,
                            Link(loss=0.1, ack_loss=0.1), Faults(crash_prob=0.03), interval=1.0))
    out.append(Scenario("the network down for 14 (a key outlives it)", 4, 0, Link(partitions=((1.5, 15.5),)),
                        interval=1.0))
    out.append(Scenario(f"the network down for {OUTAGE_LENGTH:g} (longer than a key is kept)", 4, 0,
                        Link(partitions=((1.5, 1.5 + OUTAGE_LENGTH),)), interval=1.0))
    return out


KEY = ("A transaction of yours cannot reach the service: a call that left is out of its reach. Give every call "
       "for a message the same idempotency key (the message's id), so that the service recognises a repeat.")
EXPIRY = (f"The service keeps a key {RETENTION:g} after executing its call: the first call may execute 1 after it "
          f"was sent, a call takes up to {DELIVERY:g} to arrive, so a call sent {RETENTION - DELIVERY + 1:g} or more "
          "after the first one may find the key gone.")

EXERCISE = Exercise(
    number=9, title="An effect no transaction can undo",
    goal=("one payment per message through an idempotency key, and a report instead of a second payment when a "
          "retry could outlive the key"),
    invariants=(ISOLATION, COMPLETES, ONLY_SERVICE, NO_DUPLICATE, PAID_OR_REPORTED_, PAID),
    scope=SCOPE, random=random_scenarios,
    partners={"sender": Producer, SERVICE: Payments}, learner=("receiver",),
    concepts=("an effect outside the transaction", "an idempotency key", "the key's expiry against the retry horizon",
              "a report instead of a blind retry"),
    guide=(
        "Run the starting point again: where must a crash strike for a message to be paid twice, and what did "
        "the atomic block undo? The payment happens at the service, out of reach of your transaction.",
        f"{KEY} But a key is a deduplication record someone else keeps, for a limited time: {EXPIRY}",
        "Record durably, before the first call for a message, when you first called; call with the message's id "
        "as the key, again and again, until the service answers; never send a call that could arrive after the "
        "key may have expired: stop, and write a durable ('unresolved', msg_id) record for someone to check. "
        "Remember which messages you have handled, so that a copy delivered late is not a new payment.",
    ),
    hints=with_rules({
        PAID_BY_SERVICE: {
            None: ("The consumer applied a message itself: only the payment service can pay.",
                   "Send a call to the service (self.send('service', key, body)) instead of calling self.apply."),
        },
        NO_DUPLICATES: {
            OUT: ("A message was paid twice: a call reached the service after it had forgotten the key, after a "
                  "long outage.", EXPIRY + " Past that point, stop calling and report the message unresolved."),
            LATE_COPY: ("A message was paid twice: the producer's message came again long after everything else, "
                        "and the consumer called again, long after the key had expired.",
                        "Remember, durably, every message you have paid or reported, and never call again for one."),
            CRASHED: ("A message was paid twice after a crash of the consumer.",
                      "What you know about your calls (that you called, and when first) must be durable before the "
                      "call leaves; and the key must be the same after a restart. " + EXPIRY),
            None: ("A message was paid twice: the service did not recognise the second call.",
                   KEY + " " + EXPIRY),
        },
        PAID_OR_REPORTED: {
            CRASHED: ("A message was neither paid nor reported after a crash: either its call carried a key first "
                      "used for another message (What happened says so; the service answered it as a repeat), or "
                      "the producer was told it was done, or the consumer recorded it, and nothing ever called "
                      "again.",
                      "A key belongs to one message for good, whatever crashes: derive it from the message's id, "
                      "never from a counter a restart can reset. And whatever you acknowledge to the producer must "
                      "be paid or reported even if you crash: keep what is still to call in self.durable, and call "
                      "again after a restart (on_start), or acknowledge the producer only once the service has "
                      "answered."),
            OUT: ("A message was neither paid nor reported after a long outage.",
                  "When you stop calling (the key may have expired), write the durable ('unresolved', msg_id) "
                  "record: someone must check what happened."),
            None: ("A message was neither paid nor reported: the consumer stopped calling without a record, or "
                   "called with a key first used for another message (What happened says which).",
                   "Either the service answers a call with this message's own key (its id: paid), or you write a "
                   "durable ('unresolved', msg_id) record."),
        },
        EVERY_EFFECT: {
            None: ("A message was never paid although the service could be reached within the key's lifetime.",
                   "Retry a call (same key) until the service answers; report unresolved only once a call could "
                   "arrive after the key expired."),
        },
        RUN_COMPLETES: {
            RUNAWAY: ("The run never ended: the producer resends a message until it is acknowledged, or your "
                      "timers keep firing.",
                      "Acknowledge every message to the producer (self.ack(msg_id, to='sender') outside "
                      "on_message), a repeated one too, once it is paid, reported, or safely recorded. "
                      + RUNAWAY_HINT),
        },
    }),
)
