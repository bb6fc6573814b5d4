"""Exercise 3: durable, atomic deduplication.

The receiver crashes, at every crash point in turn (and restarts from on_start, with its durable
state). Faults as in exercise 2, plus those crashes. Guarantee: exactly-once effects.
"""

from __future__ import annotations

from ...sim.choices import CRASH, DELAY, DUPLICATE, LATE, LOSE, OUTAGE
from ...sim.faults import Faults
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import CRASH as CRASHED, LATE_COPY, OUTAGE as OUT
from ..invariants import (ACK_MEANS_EFFECT, ACKED_TOOK_EFFECT, COMPLETES, EVERY_EFFECT, ISOLATION, NO_DUPLICATE,
                          NO_DUPLICATES, NO_LOSS, NO_SILENT_LOSS, every_effect)
from ..scenarios import REPEATED, Scenario
from ..exercise import Exercise
from .common import with_rules
from .ex2 import DEDUP_BY_ID

SCOPE = Scope(
    bases=(Base(1), Base(2, equal=True), Base(2, interval=0.5, equal=True), Base(3, interval=0.5),
           Base(200, faults=1, kinds=(LATE,), first_only=True)),
    kinds=(LOSE, DUPLICATE, DELAY, LATE, OUTAGE, CRASH), crash_nodes=("receiver",),
)


def random_scenarios() -> list[Scenario]:
    out = []
    for seed in range(3):
        out.append(Scenario("random receiver crashes, ack loss, delays", 20, seed,
                            Link(loss=0.2, ack_loss=0.3, jitter=1.0), Faults(crash_prob=0.05), contents=REPEATED))
        out.append(Scenario("frequent receiver crashes, several in flight", 15, seed,
                            Link(loss=0.2, ack_loss=0.2, jitter=0.5, duplicate=0.1), Faults(crash_prob=0.12),
                            interval=1.0, contents=REPEATED))
    return out


ATOMIC = ("Attributes on self are volatile: a crash forgets them, so the record of applied ids must live in "
          "self.durable. And the effect and that record must commit together, inside one `with self.atomic():` "
          "block: a crash between them leaves one without the other.")

EXERCISE = Exercise(
    number=3, title="Durable, atomic deduplication",
    goal="exactly-once effects when the receiver crashes at any point",
    invariants=(ISOLATION, COMPLETES, NO_DUPLICATE, ACKED_TOOK_EFFECT, NO_LOSS, every_effect()),
    scope=SCOPE, random=random_scenarios,
    hints=with_rules({
        NO_DUPLICATES: {
            CRASHED: "After a crash the receiver applied a message again. " + ATOMIC,
            LATE_COPY: ("A copy arrived again long after everything else, and your receiver had forgotten the "
                        "message: a record that forgets (after a time, or after N messages) lets a late copy "
                        "through. Keep every applied id. " + ATOMIC),
            None: "A message took effect twice. " + DEDUP_BY_ID + " " + ATOMIC,
        },
        ACK_MEANS_EFFECT: {
            CRASHED: ("The sender got an ack, yet the message never took effect: a crash struck between the ack (or "
                      "the durable 'done' mark) and the effect. Mark the id and apply the effect in the same atomic "
                      "block, and acknowledge only after the block has committed (an ack is a message on the wire: "
                      "no transaction can take it back)."),
            None: ("The sender got an ack for a message that never took effect: only a copy whose id was already "
                   "applied may be skipped, and the ack comes after the commit."),
        },
        NO_SILENT_LOSS: {
            None: ("A copy was skipped as a duplicate although the message never took effect: the 'done' mark was "
                   "written without the effect. Write both in one atomic block."),
        },
        EVERY_EFFECT: {
            OUT: ("The network was down for a long stretch and the message never took effect: the sender must keep "
                  "retrying until the ack of that very message arrives, however long it takes."),
            None: ("A message never took effect: look at the crash point in the trace. Acknowledge only after the "
                   "effect and its record are durable."),
        },
    }),
)
