"""Exercise 4: several messages in flight.

The learner writes the sender and the receiver. The application submits a message every 0.5 time
units, faster than a round trip (2), so several messages are in flight, and retries and delays make
them overtake each other. The receiver crashes at every crash point. Guarantee: exactly-once
effects, every copy acknowledged, at most 4 consecutive messages in flight (a sliding window), and
a receiver whose state stays small however long it runs (no record per message): deduplication
that does not assume order.
"""

from __future__ import annotations

from ...sim.choices import CRASH, DELAY, DUPLICATE, LATE, LOSE, OUTAGE
from ...sim.faults import Faults
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import CRASH as CRASHED, DELAYED, EQUAL_BODIES, LOST_ACK, LOST_MESSAGE, OUTAGE as OUT
from ..invariants import (ACK_MEANS_EFFECT, ACKED_TOOK_EFFECT, BOUNDED_STATE, COMPLETES, EVERY_ACKED,
                          EVERY_COPY_ACKED, EVERY_EFFECT, IN_FLIGHT, ISOLATION, NO_DUPLICATE, NO_DUPLICATES, NO_LOSS,
                          NO_SILENT_LOSS, bounded_state, every_effect, in_flight_window)
from ..scenarios import REPEATED, Scenario
from ..exercise import Exercise
from .common import with_rules

WINDOW = 4         # consecutive messages in flight at most
PACE = 0.5         # a new message every 0.5 time units
STATE_BOUND = 200  # bytes of receiver state, durable and volatile

SCOPE = Scope(
    bases=(Base(1), Base(2, interval=PACE, equal=True), Base(3, interval=PACE), Base(5, interval=PACE, faults=1),
           Base(200, interval=PACE, faults=1, kinds=(LATE,), first_only=True), Base(300, interval=1.0, faults=0)),
    kinds=(LOSE, DUPLICATE, DELAY, LATE, OUTAGE, CRASH), crash_nodes=("receiver",),
)


def random_scenarios() -> list[Scenario]:
    out = []
    for seed in range(3):
        out.append(Scenario("several in flight: loss, ack loss, duplicates, reordering, receiver crashes", 30, seed,
                            Link(loss=0.3, ack_loss=0.3, duplicate=0.1, jitter=1.5), Faults(crash_prob=0.05),
                            interval=PACE, contents=REPEATED))
    out.append(Scenario("a long run with reordering", 300, 0, Link(loss=0.1, ack_loss=0.2, jitter=1.0), interval=1.0,
                        contents=REPEATED))
    return out


ORDER = ("'Higher than the last number applied' is not the same as 'new' once messages overtake each other, and "
         "'lower' is not the same as 'applied'.")

EXERCISE = Exercise(
    number=4, title="Several messages in flight",
    goal=(f"exactly-once effects with up to {WINDOW} messages in flight, reordered, in at most {STATE_BOUND} bytes of "
          "receiver state"),
    invariants=(ISOLATION, COMPLETES, NO_DUPLICATE, ACKED_TOOK_EFFECT, NO_LOSS, every_effect(), EVERY_ACKED,
                in_flight_window(WINDOW), bounded_state(STATE_BOUND)),
    scope=SCOPE, random=random_scenarios, state_bound=STATE_BOUND, needs_trace=True,
    concepts=("a sliding window of messages in flight", "deduplication without order: a count and the numbers above it"),
    guide=(
        "Run the starting point again: which message is skipped or refused when it arrives after a later one, "
        "and what does the sender then do? Two things are new: copies arrive out of order, and the sender "
        f"may have at most {WINDOW} consecutive messages in flight.",
        f"{ORDER} What has been applied is described by a number below which every message was applied, plus "
        "the few numbers above it that arrived early. The sender's window is what keeps the second part small.",
        f"Sender: give each message a number once, send at most {WINDOW} consecutive ones, keep the others "
        "waiting and send the next one when the oldest is acknowledged; retry each until acknowledged. "
        "Receiver: durably, the number of messages applied without a gap and the numbers applied above it, "
        "changed with the effect in one atomic block; acknowledge every copy after the block.",
    ),
    hints=with_rules({
        NO_DUPLICATES: {
            CRASHED: ("After a crash the receiver applied a message again.",
                      "Both parts of the record (the count without a gap and the numbers above it) must be durable "
                      "and change in the same atomic block as the effect."),
            None: ("A message took effect twice: a copy that arrived out of order was taken for a new message.",
                   f"{ORDER} Remember the numbers applied above the gap too, until the gap closes."),
        },
        ACK_MEANS_EFFECT: {
            DELAYED: ("A message was acknowledged but never took effect: it arrived after a later one and was "
                      "taken for a duplicate.",
                      f"{ORDER} Keep the numbers applied above the first gap, not only the highest one."),
            None: ("A message was acknowledged but never took effect: it was taken for a duplicate, or "
                   "acknowledged before its effect committed.",
                   f"{ORDER} Skip only a number you know was applied; acknowledge after the commit."),
        },
        NO_SILENT_LOSS: {
            None: ("A copy was skipped as a duplicate although its message never took effect.",
                   f"{ORDER} Skip only a number you know was applied."),
        },
        EVERY_EFFECT: {
            OUT: ("The network was down for a long stretch and a message never took effect: retry every "
                  "unacknowledged message until its ack arrives, however long that takes.",
                  "After the outage, does every waiting message still get sent? A window that never moves "
                  "keeps the rest waiting forever."),
            EQUAL_BODIES: ("Two messages had equal bodies and one never took effect: key what the sender keeps by "
                           "the message's number or id, never by its body.",
                           "Two deposits of 10 are two messages."),
            None: ("A message never took effect: it was never sent, or never sent again after a loss.",
                   "Every message the application submits must leave the waiting list once the window has room, "
                   "and be sent again until its ack arrives."),
        },
        EVERY_COPY_ACKED: {
            DELAYED: ("A copy that arrived before an earlier message was not acknowledged: the sender sends it "
                      "again and again while it waits.",
                      "Apply a message that arrives early (remember its number), and acknowledge it: refusing it "
                      "leaves the sender retrying what could have been done."),
            LOST_MESSAGE: ("A copy that arrived after a gap (an earlier message was lost) was not acknowledged.",
                           "Apply a message that arrives early (remember its number), and acknowledge it."),
            LOST_ACK: ("The first ack of a message was lost and the receiver did not acknowledge its next copy.",
                       "Acknowledge every copy, duplicates too, after the commit."),
            None: ("The receiver handled a copy without acknowledging it.",
                   "Acknowledge every copy it handles, early ones and duplicates too, after the commit."),
        },
        IN_FLIGHT: {
            None: (f"The sender sent a message while one {WINDOW} or more places before it was not acknowledged.",
                   f"Keep the messages beyond the window waiting (in order); send the next one only when the "
                   f"oldest unacknowledged message is acknowledged, so that at most {WINDOW} consecutive ones are "
                   "in flight."),
        },
        BOUNDED_STATE: {
            None: (f"The receiver's state grows with every message: it must stay under {STATE_BOUND} bytes however "
                   "long the run.",
                   "Everything below the first gap can be summed up in one number; only the numbers applied above "
                   "it need remembering, and the sender's window keeps them few. Drop a number from that set as "
                   "soon as the gap below it closes."),
        },
    }),
)
