"""Exercise 3: durable, atomic deduplication in one number.

The learner writes the receiver; the sender is given (``partners.SequenceSender``: numbers its
messages 1, 2, 3... and sends each again until acknowledged), one message at a time. The receiver
crashes at every crash point in turn (and restarts from on_start, with its durable state); copies
are lost, duplicated, overtaken by a retry, delivered again late; the network goes down for long.
Guarantee: exactly-once effects, every copy acknowledged, and a receiver whose state stays small
however long it runs (at most 100 bytes: no record per message).
"""

from __future__ import annotations

from ...sim.choices import CRASH, DELAY, DUPLICATE, LATE, LOSE, OUTAGE
from ...sim.faults import Faults
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import CRASH as CRASHED, LATE_COPY, LOST_ACK
from ..invariants import (ACK_MEANS_EFFECT, ACKED_TOOK_EFFECT, BOUNDED_STATE, COMPLETES, EVERY_ACKED,
                          EVERY_COPY_ACKED, EVERY_EFFECT, ISOLATION, NO_DUPLICATE, NO_DUPLICATES, NO_LOSS,
                          NO_SILENT_LOSS, bounded_state, every_effect)
from ..partners import SequenceSender
from ..scenarios import REPEATED, Scenario
from ..exercise import Exercise
from .common import with_rules

STATE_BOUND = 100  # bytes of receiver state, durable and volatile

SCOPE = Scope(
    bases=(Base(1), Base(2, equal=True), Base(3), Base(40, faults=0),
           Base(200, faults=1, kinds=(LATE,), first_only=True)),
    kinds=(LOSE, DUPLICATE, DELAY, LATE, OUTAGE, CRASH), crash_nodes=("receiver",),
)


def random_scenarios() -> list[Scenario]:
    out = []
    for seed in range(3):
        out.append(Scenario("random receiver crashes, loss, ack loss, delays", 20, seed,
                            Link(loss=0.2, ack_loss=0.3, jitter=1.0), Faults(crash_prob=0.05), contents=REPEATED))
        out.append(Scenario("frequent receiver crashes, network duplicates", 15, seed,
                            Link(loss=0.2, ack_loss=0.2, duplicate=0.1), Faults(crash_prob=0.12), contents=REPEATED))
    out.append(Scenario("a long run with ack loss", 300, 0, Link(ack_loss=0.3), contents=REPEATED))
    return out


ATOMIC = ("a crash between two separate steps leaves one without the other: the effect and the record of it "
          "must commit together, in one atomic block, and the ack comes after that block")

EXERCISE = Exercise(
    number=3, title="Durable, atomic deduplication in one number",
    goal=f"exactly-once effects when the receiver crashes at any point, in at most {STATE_BOUND} bytes of state",
    invariants=(ISOLATION, COMPLETES, NO_DUPLICATE, ACKED_TOOK_EFFECT, NO_LOSS, every_effect(), EVERY_ACKED,
                bounded_state(STATE_BOUND)),
    scope=SCOPE, random=random_scenarios,
    partners={"sender": SequenceSender}, learner=("receiver",), state_bound=STATE_BOUND,
    concepts=("durable versus volatile state", "the record and the effect in one atomic commit", "the ack after the commit",
              "one sequence number as the whole record"),
    guide=(
        "Run the starting point again and read its lines: at which crash point does a message take effect "
        "twice, and what did the receiver know after the restart? Attributes on self are gone after a crash; "
        "self.durable is not.",
        "The sender numbers its messages and sends the next one only once the previous one is acknowledged. "
        "So the receiver does not need a record per message to recognise a copy: what it has applied so far "
        "is described by very little.",
        "One durable number is enough: the number of the last message applied. A copy numbered at or below "
        "it was applied already; the next number is new. Change the effect and that number in one atomic "
        "block, and acknowledge after the block, duplicates too.",
    ),
    hints=with_rules({
        NO_DUPLICATES: {
            CRASHED: ("After a crash the receiver applied a message again: what it knew about the messages it "
                      "had applied was lost, or was written in a separate step from the effect.",
                      f"Keep that knowledge in self.durable, not on self: {ATOMIC}."),
            LATE_COPY: ("A copy arrived again long after everything else, and the receiver took it for a new "
                        "message.",
                        "A copy numbered at or below the last message applied is always a duplicate, however "
                        "late it comes: compare numbers, never times."),
            None: ("A message took effect twice: a copy of it was not recognised.",
                   f"The number of the last message applied, durable, recognises every copy: {ATOMIC}."),
        },
        ACK_MEANS_EFFECT: {
            CRASHED: ("The sender got an ack, yet the message never took effect: a crash struck between the ack "
                      "(or the record of the message) and the effect.",
                      "Acknowledge only after the atomic block with the effect has committed: an ack is a "
                      "message on the wire, and no transaction can take it back."),
            None: ("The sender got an ack for a message that never took effect: the receiver took it for one "
                   "it had applied.",
                   "Only a copy numbered at or below the last message applied may be skipped; the ack comes "
                   "after the commit."),
        },
        NO_SILENT_LOSS: {
            None: ("A copy was skipped as a duplicate although the message never took effect.",
                   "The record moved without the effect: write both in one atomic block."),
        },
        EVERY_EFFECT: {
            None: ("A message never took effect: the sender kept sending it, so the receiver skipped every copy "
                   "or never acknowledged one.",
                   "Is a message numbered one more than the last applied always applied (and acknowledged)?"),
        },
        EVERY_COPY_ACKED: {
            LOST_ACK: ("The first ack of a message was lost and the receiver did not acknowledge its next copy.",
                       "Acknowledge every copy, duplicates too, after the commit: the sender stops only when "
                       "an ack arrives."),
            None: ("The receiver handled a copy without acknowledging it.",
                   "Acknowledge every copy it handles, duplicates too, after the commit."),
        },
        BOUNDED_STATE: {
            None: (f"The state grows with every message (a record per message): it must stay under "
                   f"{STATE_BOUND} bytes however long the run.",
                   "The sender numbers its messages and never has two in flight: the last number applied says "
                   "everything about the past. Keep that one number instead of a record per message."),
        },
    }),
)
