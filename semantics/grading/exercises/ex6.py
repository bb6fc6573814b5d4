"""Exercise 6: a deduplication window and the retry horizon.

The learner writes the receiver; the sender is given (``partners.NumberedSender``: numbers its
messages, a new one every 2 time units, and gives up after 4 retries 4 apart), so every copy of a
message arrives within 24 time units of its submission: the stated horizon. A message whose every
copy is lost leaves a gap that nothing fills (exercise 4's receiver waits for it forever). The
receiver crashes at every crash point; copies are lost, duplicated and overtaken (within the
horizon); the network goes down for longer than the horizon; a long run of 5,000 messages, and one of
4,000 with heavy loss (gaps that never fill, at random places), measure the state. Guarantee: exactly-once effects within the horizon, every copy acknowledged, and at most
1,024 bytes of state (``semantics.grading.state_size``).
"""

from __future__ import annotations

from ...sim.choices import CRASH, DELAY, DUPLICATE, LOSE, OUTAGE
from ...sim.faults import Faults
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import CRASH as CRASHED, DELAYED, LOST_ACK
from ..invariants import (ACK_MEANS_EFFECT, ACKED_TOOK_EFFECT, BOUNDED_STATE, COMPLETES, EVERY_ACKED,
                          EVERY_COPY_ACKED, EVERY_EFFECT, ISOLATION, NO_DUPLICATE, NO_DUPLICATES, NO_LOSS,
                          NO_SILENT_LOSS, bounded_state, every_effect)
from ..partners import NumberedSender
from ..scenarios import Scenario
from ..exercise import Exercise
from .common import with_rules

INTERVAL = 2.0       # a new message every 2 time units
HORIZON = 24.0       # every copy arrives within 24 of its message's submission
STATE_BOUND = 1_024  # bytes of receiver state (durable and volatile)

SCOPE = Scope(
    bases=(Base(1, interval=INTERVAL),
           # every ack lost, so every message arrives 5 times: the first copy takes 1, the last one (sent at 16)
           # is held to exactly the horizon (24): two copies exactly 23 apart, a window's boundary
           Base(1, interval=INTERVAL, faults=1, kinds=(DELAY,), link=Link(ack_loss=1.0)),
           Base(2, interval=INTERVAL, equal=True), Base(3, interval=INTERVAL),
           # the first message's copies lost twice: it first arrives after three newer ones
           Base(4, interval=INTERVAL, faults=2, kinds=(LOSE,), first_only=True),
           # the network down for 30 from the first copy: the first 14 messages never arrive, a gap for good
           Base(600, interval=INTERVAL, faults=1, kinds=(OUTAGE,), first_only=True),
           Base(5_000, interval=INTERVAL, faults=0)),
    kinds=(LOSE, DUPLICATE, DELAY, CRASH), crash_nodes=("receiver",),
    hold=7.0,  # the last copy leaves 16 after the first and takes 1: held 7 more, it arrives at 24
    outage=30.0,  # longer than the sender's retries (16): every copy of a message sent meanwhile is lost
)


def random_scenarios() -> list[Scenario]:
    out = [Scenario("every ack lost: each message arrives 5 times, the last one 16 after the first", 20,
                    interval=INTERVAL, link=Link(ack_loss=1.0))]
    for seed in range(4):
        # No ack ever arrives, so every message arrives 5 times; a fast first copy and a slow last one
        # put two copies of a message up to 23 apart inside the bound: time windows short of 23 fail.
        out.append(Scenario("every ack lost, long delays: two copies of a message up to 23 apart", 150, seed,
                            Link(ack_loss=1.0, jitter=2.5), interval=INTERVAL))
    for seed in (27, 0, 1, 2):
        # A message whose early copies are lost and whose last copy is slow arrives for the first time
        # after newer messages: sequence windows short of 12 numbers take it for a duplicate. (In seed
        # 27, message 191 first arrives 23.9 after its submission, after message 202.)
        out.append(Scenario("early copies lost, the last one slow: a message arrives after newer ones", 300,
                            seed, Link(loss=0.75, ack_loss=1.0, jitter=2.5), interval=INTERVAL))
    # Heavy loss for long: the sender gives up on about one message in six (0.7^5), at random places, so the
    # gaps never fill and never repeat a pattern: a record that keeps one entry per gap (holes below the
    # highest number, merged ranges) or a compressed bitmap of everything ever applied outgrows the bound.
    out.append(Scenario("a long run with heavy loss: the sender gives up on one message in six", 4_000, 0,
                        Link(loss=0.7), interval=INTERVAL))
    for seed in range(2):
        out.append(Scenario("a long run: loss, ack loss, reordering", 150, seed,
                            Link(loss=0.3, ack_loss=0.3, jitter=0.5), interval=INTERVAL))
        out.append(Scenario("a long run with receiver crashes", 150, seed,
                            Link(loss=0.2, ack_loss=0.4, jitter=0.5), Faults(crash_prob=0.02), interval=INTERVAL))
    return out


WINDOW = (f"The window must cover the whole horizon ({HORIZON:g} time units after a message's submission, or "
          f"{HORIZON / INTERVAL:g} sequence numbers), and it must be durable and updated atomically with the effect.")
GAP = ("The sender gives up: a message whose every copy was lost leaves a gap that no copy will ever fill, so a "
       "record of 'everything below the first gap' never moves again.")

EXERCISE = Exercise(
    number=6, title="A deduplication window and the retry horizon",
    goal=(f"exactly-once with at most {STATE_BOUND:,} bytes of state, for copies arriving within {HORIZON:g} time "
          "units of their message's submission"),
    invariants=(ISOLATION, COMPLETES, NO_DUPLICATE, ACKED_TOOK_EFFECT, NO_LOSS, every_effect(handled_only=True),
                EVERY_ACKED, bounded_state(STATE_BOUND)),
    scope=SCOPE, random=random_scenarios,
    partners={"sender": NumberedSender}, learner=("receiver",),
    state_node="receiver", state_bound=STATE_BOUND, horizon=HORIZON,
    concepts=("a retry horizon instead of gaps that close", "forgetting by time or by number"),
    guide=(
        "Run the starting point again: why does exercise 4's receiver, correct there, outgrow its bound here? "
        "Look at what this sender does with a message whose copies are all lost.",
        f"{GAP} What bounds the record instead is time: every copy of a message arrives within {HORIZON:g} time "
        "units of its submission, so after that nothing can ask about it again.",
        f"Remember the messages applied recently (by the time of their first arrival, or by their numbers: a "
        f"message is submitted every {INTERVAL:g}), forget an entry once it is older than the horizon, and keep "
        "that record durable and changed with the effect in one atomic block; acknowledge every copy.",
    ),
    hints=with_rules({
        BOUNDED_STATE: {
            None: ("The state grows with every message: something is never forgotten (a set, a list, a string or "
                   "a bitmap that only grows, or numbers above a gap that never closes).",
                   f"{GAP} Every copy of a message arrives within {HORIZON:g} time units of its submission, so an "
                   f"entry older than that (in time, or in sequence numbers: a message is submitted every "
                   f"{INTERVAL:g}) can never be needed again: drop it."),
        },
        NO_DUPLICATES: {
            CRASHED: ("After a crash the receiver applied a message again.",
                      "The window must be durable and updated in the same atomic block as the effect."),
            None: ("A late copy took effect again: the deduplication window forgot the message too early.",
                   WINDOW),
        },
        ACK_MEANS_EFFECT: {
            DELAYED: ("A message was acknowledged but never took effect: it arrived after a later one (retries "
                      "reorder messages) and was taken for a duplicate.",
                      "'Higher than anything seen' is not the same as 'new': remember which sequence numbers "
                      "within the window you have applied, not only the highest."),
            None: ("A message was acknowledged but never took effect: it was taken for a duplicate.",
                   "Remember which sequence numbers within the window you have applied, not only the highest. "
                   + WINDOW),
        },
        NO_SILENT_LOSS: {
            None: ("A message was dropped although it never took effect: it was taken for a duplicate.",
                   "Keep the set of applied sequence numbers within the window, not only the highest."),
        },
        EVERY_EFFECT: {
            None: ("A message never took effect although the receiver handled a copy of it.",
                   "Apply a new message before acknowledging it, whatever else it does."),
        },
        EVERY_COPY_ACKED: {
            LOST_ACK: ("The first ack of a message was lost and the receiver did not acknowledge its next copy.",
                       "Acknowledge every copy, duplicates too, after the commit."),
            None: ("A copy was handled and not acknowledged.",
                   "Acknowledge every copy you handle, duplicates too, after the commit: the sender stops "
                   "retrying only when an ack arrives, and gives up on a message it was never told took effect."),
        },
    }),
)
