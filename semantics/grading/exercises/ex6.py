"""Exercise 6 (capstone): outbox and inbox.

Both nodes crash, at every crash point in turn; messages and acks are lost, duplicated, overtaken,
delivered again late, and the network goes down for longer than any retry budget. A message whose
on_send was cut by a crash was never accepted: it need not take effect, but must not take effect
twice. Guarantee: every accepted message takes effect exactly once.
"""

from __future__ import annotations

from ...sim.choices import CRASH, DELAY, DUPLICATE, LATE, LOSE, OUTAGE
from ...sim.faults import Faults
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import CRASH as CRASHED, EQUAL_BODIES, LATE_COPY, OUTAGE as OUT
from ..invariants import (ACK_MEANS_EFFECT, ACKED_TOOK_EFFECT, COMPLETES, EVERY_EFFECT, ISOLATION, NO_DUPLICATE,
                          NO_DUPLICATES, NO_LOSS, NO_SILENT_LOSS, every_effect)
from ..scenarios import REPEATED, Scenario
from ..exercise import Exercise
from .common import with_rules

BOTH = ("sender", "receiver")
SCOPE = Scope(
    bases=(Base(1), Base(1, faults=3, kinds=(LOSE, CRASH)), Base(2, equal=True),
           Base(2, interval=0.5, equal=True, faults=1), Base(3, interval=0.5, faults=1),
           Base(200, faults=1, kinds=(LATE,), first_only=True)),
    kinds=(LOSE, DUPLICATE, DELAY, LATE, OUTAGE, CRASH), crash_nodes=BOTH,
)


def random_scenarios() -> list[Scenario]:
    out = []
    for seed in range(3):
        out.append(Scenario("random crashes of both nodes, loss, ack loss, delays", 20, seed,
                            Link(loss=0.3, ack_loss=0.3, jitter=0.5), Faults(crash_prob=0.05, nodes=BOTH),
                            interval=1.0, contents=REPEATED))
        out.append(Scenario("frequent crashes of both nodes, one message at a time", 10, seed,
                            Link(loss=0.3, ack_loss=0.2), Faults(crash_prob=0.1, nodes=BOTH), contents=REPEATED))
    return out


OUTBOX = ("Write each message to a durable outbox before on_send returns; in on_start, which runs again after "
          "every restart, send again whatever the outbox still holds and set its timers again (timers do not "
          "survive a crash); remove an entry only when its ack arrives.")

EXERCISE = Exercise(
    number=6, title="Capstone: outbox and inbox",
    goal="exactly-once effects when the sender and the receiver both crash",
    invariants=(ISOLATION, COMPLETES, NO_DUPLICATE, ACKED_TOOK_EFFECT, NO_LOSS, every_effect(accepted_only=True)),
    scope=SCOPE, random=random_scenarios,
    hints=with_rules({
        EVERY_EFFECT: {
            OUT: ("The network was down for a long stretch and the relay stopped sending: a message in the outbox "
                  "must be sent again until its ack arrives, however long that takes. " + OUTBOX),
            EQUAL_BODIES: ("Two accepted messages had equal bodies and one of them was lost: key the outbox by "
                           "msg_id, never by the body."),
            CRASHED: ("The sender accepted a message (on_send returned), and after a crash nobody sent it again: a "
                      "crash takes the volatile list of unacknowledged messages and the timers with it. " + OUTBOX),
            None: ("The sender accepted a message (on_send returned), and it was not sent again until acknowledged: "
                   "an entry left the outbox before its ack arrived, or nothing resent it. " + OUTBOX),
        },
        NO_DUPLICATES: {
            LATE_COPY: ("A copy arrived again long after everything else and the inbox had forgotten the message: an "
                        "inbox that forgets (after a time, or after N messages) lets a late copy through."),
            None: ("A message took effect twice. An outbox resends what it is not sure about, by design: the "
                   "receiver's inbox must absorb that. Keep it durable and committed in the same atomic block as "
                   "the effect (exercise 3)."),
        },
        ACK_MEANS_EFFECT: {
            None: ("The sender got an ack for a message that never took effect: the receiver acknowledged (or marked "
                   "the id done) before the effect committed, or took it for another message. Mark and apply in one "
                   "atomic block, by msg_id, and ack after it."),
        },
        NO_SILENT_LOSS: {
            None: ("A copy was skipped as a duplicate although the message never took effect: the inbox mark was "
                   "written without the effect. Write both in one atomic block."),
        },
    }),
)
