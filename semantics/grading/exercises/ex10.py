"""Exercise 10 (capstone): outbox and inbox, several messages in flight.

The learner writes both nodes, and both crash, at every crash point in turn; messages and acks are
lost, duplicated, overtaken, delivered again late, and the network goes down for longer than any
retry budget. The application submits messages faster than a round trip. A message whose on_send
was cut by a crash was never accepted: it need not take effect, but must not take effect twice.
Guarantee: every accepted message takes effect exactly once, every copy is acknowledged, at most 4
consecutive messages are in flight, and the receiver's state stays small (exercise 4's bounds, now
with a sender that crashes too).
"""

from __future__ import annotations

from ...sim.choices import CRASH, DELAY, DUPLICATE, LATE, LOSE, OUTAGE
from ...sim.faults import Faults
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import CRASH as CRASHED, DELAYED, EQUAL_BODIES, LATE_COPY, LOST_ACK, OUTAGE as OUT
from ..invariants import (ACK_MEANS_EFFECT, ACKED_TOOK_EFFECT, BOUNDED_STATE, COMPLETES, EVERY_ACKED, EVERY_COPY_ACKED,
                          EVERY_EFFECT, IN_FLIGHT, ISOLATION, NO_DUPLICATE, NO_DUPLICATES, NO_LOSS, NO_SILENT_LOSS,
                          bounded_state, every_effect, in_flight_window)
from ..scenarios import REPEATED, Scenario
from ..exercise import Exercise
from .common import with_rules

BOTH = ("sender", "receiver")
WINDOW = 4         # consecutive messages in flight at most (exercise 4)
STATE_BOUND = 200  # bytes of receiver state (exercise 4)
#: An outage longer than any finite retry deadline: a thousand time units simulated event by event, then
#: a billion more skipped over (``Scope.pause``): a sender that gives up after some time, however long,
#: gives up; one that retries without end still retries when the network comes back.
PAUSE = 1e9

SCOPE = Scope(
    bases=(Base(1), Base(1, faults=3, kinds=(LOSE, CRASH)), Base(2, equal=True),
           Base(2, interval=0.5, equal=True, faults=1), Base(3, interval=0.5, faults=1),
           Base(6, interval=0.5, faults=1, kinds=(LOSE, CRASH)), Base(8, interval=0.25, faults=1, kinds=(CRASH,)),
           Base(200, faults=1, kinds=(LATE,), first_only=True), Base(300, interval=1.0, faults=0)),
    kinds=(LOSE, DUPLICATE, DELAY, LATE, OUTAGE, CRASH), crash_nodes=BOTH,
    pause=PAUSE, late=PAUSE,
)


def random_scenarios() -> list[Scenario]:
    out = []
    for seed in range(3):
        out.append(Scenario("random crashes of both nodes, loss, ack loss, delays", 20, seed,
                            Link(loss=0.3, ack_loss=0.3, jitter=0.5), Faults(crash_prob=0.05, nodes=BOTH),
                            interval=1.0, contents=REPEATED))
        out.append(Scenario("frequent crashes of both nodes, one message at a time", 10, seed,
                            Link(loss=0.3, ack_loss=0.2), Faults(crash_prob=0.1, nodes=BOTH), contents=REPEATED))
    out.append(Scenario("a long run, several in flight, both nodes crashing now and then", 300, 0,
                        Link(loss=0.1, ack_loss=0.1, jitter=0.5), Faults(crash_prob=0.01, nodes=BOTH), interval=1.0,
                        contents=REPEATED))
    return out


OUTBOX = ("An accepted message must survive the sender's crash: it is in self.durable before on_send returns, "
          "and on_start, which runs again after every restart, sends again what is still unacknowledged and sets "
          "its timers again (timers do not survive a crash); an entry leaves only when its ack arrives.")
NUMBERS = ("The receiver's bound rests on numbers without gaps: a number given to a message and its durable outbox "
           "entry must commit together, or a crash between them leaves a number that no message will ever fill.")

EXERCISE = Exercise(
    number=10, title="Capstone: outbox and inbox",
    goal=f"exactly-once effects when the sender and the receiver both crash, {WINDOW} in flight, bounded inbox",
    invariants=(ISOLATION, COMPLETES, NO_DUPLICATE, ACKED_TOOK_EFFECT, NO_LOSS, every_effect(accepted_only=True),
                EVERY_ACKED, in_flight_window(WINDOW, accepted_only=True), bounded_state(STATE_BOUND)),
    scope=SCOPE, random=random_scenarios, state_bound=STATE_BOUND, needs_trace=True,
    concepts=("the transactional outbox", "recovery in on_start", "numbers given durably, with the message"),
    guide=(
        "Run the starting point again: at which crash point of the sender is an accepted message never sent "
        "again? The application was told 'accepted' when on_send returned.",
        "The sending side needs what exercise 3 gave the receiving side: its promise (every accepted message, "
        "its number, what is still unacknowledged) in self.durable, written before on_send returns, and a "
        "restart that picks up where the crash left off. The receiving side is exercise 4's.",
        "Sender: in on_send, give the message the next number and write it to a durable outbox in one atomic "
        f"block; send the oldest {WINDOW} entries, retry each until acknowledged, delete an entry on its ack and "
        "send the next; on_start does the sending again after a restart. Receiver: exercise 4's durable record "
        "(the count applied without a gap, and the numbers applied above it), changed with the effect in one "
        "atomic block; acknowledge every copy.",
    ),
    hints=with_rules({
        EVERY_EFFECT: {
            OUT: ("The network was down for a long stretch and the relay stopped sending.",
                  "A message in the outbox must be sent again until its ack arrives, however long that takes. "
                  + OUTBOX),
            EQUAL_BODIES: ("Two accepted messages had equal bodies and one of them was lost.",
                           "Key the outbox by the message's number or id, never by its body."),
            CRASHED: ("The sender accepted a message (on_send returned), and after a crash nobody sent it again: a "
                      "crash takes the volatile list of unacknowledged messages and the timers with it.",
                      OUTBOX + " The number of each message is part of that promise: a number given again after a "
                      "restart overwrites or shadows an older message."),
            None: ("The sender accepted a message (on_send returned), and it was not sent again until "
                   "acknowledged: an entry left the outbox before its ack arrived, or nothing resent it.", OUTBOX),
        },
        NO_DUPLICATES: {
            LATE_COPY: ("A copy arrived again long after everything else and the inbox took it for a new message.",
                        "A number at or below the count applied without a gap is a duplicate, however late it comes."),
            CRASHED: ("A message took effect twice after a crash.",
                      "The inbox must be durable and committed in the same atomic block as the effect; and after a "
                      "restart the sender must send a message under the number it had before, never a new one. "
                      + NUMBERS),
            None: ("A message took effect twice. An outbox resends what it is not sure about, by design: the "
                   "receiver's inbox must absorb that.",
                   "Keep the inbox durable and committed in the same atomic block as the effect (exercises 3 "
                   "and 4), and give a message its number once."),
        },
        ACK_MEANS_EFFECT: {
            DELAYED: ("The sender got an ack for a message that never took effect: it arrived after a later one and "
                      "was taken for a duplicate.",
                      "'Higher than the last number applied' is not 'new', and 'lower' is not 'applied': keep the "
                      "numbers applied above the first gap."),
            CRASHED: ("The sender got an ack for a message that never took effect, after a crash.",
                      "Did the sender reuse a number after a restart (a counter that was not durable)? Then the "
                      "receiver took a new message for an old one. " + NUMBERS),
            None: ("The sender got an ack for a message that never took effect.",
                   "The receiver acknowledged before the effect committed, or took it for another message: mark "
                   "and apply in one atomic block, by number, and ack after it."),
        },
        NO_SILENT_LOSS: {
            None: ("A copy was skipped as a duplicate although the message never took effect.",
                   "The inbox record was written without the effect, or a number was reused: write both in one "
                   "atomic block, and give each message its own number, durably."),
        },
        EVERY_COPY_ACKED: {
            LOST_ACK: ("The first ack of a message was lost and the receiver did not acknowledge its next copy.",
                       "Acknowledge every copy, duplicates too, after the commit."),
            None: ("The receiver handled a copy without acknowledging it.",
                   "Acknowledge every copy, early ones and duplicates too, after the commit."),
        },
        IN_FLIGHT: {
            CRASHED: ("After a restart the sender sent more than the window.",
                      f"on_start sends again only the oldest {WINDOW} unacknowledged entries, the others wait."),
            None: (f"The sender sent a message while one {WINDOW} or more places before it was not acknowledged.",
                   f"Send only the oldest {WINDOW} unacknowledged entries of the outbox; the next one when the "
                   "oldest is acknowledged."),
        },
        BOUNDED_STATE: {
            None: (f"The receiver's state grows with every message: it must stay under {STATE_BOUND} bytes.",
                   "Exercise 4's record: one number for everything applied without a gap, and the few numbers "
                   "applied above it. " + NUMBERS),
        },
    }),
)
