"""Exercise 5: the commit discipline of a log consumer.

The learner writes the consumer; the broker is given (``partners.Broker``: one partition of a log
that pushes its records, and redelivers from the committed offset until they are committed; a
commit ``ack(k)`` makes the committed offset k + 1, the next record to read, as Kafka's is). The
consumer crashes at every crash point; pushes are lost, duplicated, reordered, and an old record is
pushed again late. Guarantee: every record takes effect exactly once, and every record is committed.
"""

from __future__ import annotations

from ...sim.choices import CRASH, DELAY, DUPLICATE, LATE, LOSE
from ...sim.faults import Faults
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import CRASH as CRASHED, DELAYED, EQUAL_BODIES, LOST_MESSAGE
from ..invariants import (ACK_MEANS_EFFECT, ACKED_TOOK_EFFECT, COMPLETES, EVERY_EFFECT, ISOLATION, NO_DUPLICATE,
                          NO_DUPLICATES, NO_LOSS, NO_SILENT_LOSS, Finding, Invariant, Trial, every_effect, times)
from ..partners import Broker
from ..scenarios import Scenario
from ..exercise import Exercise
from .common import with_rules

ALL_COMMITTED = "every record is committed"


def _all_committed(trial: Trial) -> Finding | None:
    """Read from the broker's own state: the offset the consumer committed by the end of the run."""
    committed = getattr(trial.nodes.get("sender"), "committed", 0)
    n = trial.report.n_messages
    if committed < n:
        m = trial.report.messages()[committed]
        return Finding(ALL_COMMITTED, m.logical, m.msg_id,
                       f"(offset {committed}) was never committed by the consumer, although it took effect "
                       f"{times(m.effects)}: the broker kept redelivering it, then gave up")
    return None


COMMITTED = Invariant(ALL_COMMITTED, "the consumer commits every record it has processed (the committed offset "
                      "reaches the end of the log), so that the broker stops redelivering it", _all_committed)

SCOPE = Scope(
    bases=(Base(1), Base(2), Base(2, equal=True, faults=1), Base(2, interval=0.5), Base(3, interval=0.5)),
    kinds=(LOSE, DUPLICATE, DELAY, LATE, CRASH), crash_nodes=("receiver",),
)


def random_scenarios() -> list[Scenario]:
    out = []
    for seed in range(3):
        out.append(Scenario("lost and reordered pushes", 20, seed, Link(loss=0.3, jitter=1.0), interval=0.7))
        out.append(Scenario("random consumer crashes and redelivery", 20, seed,
                            Link(loss=0.2, ack_loss=0.2, jitter=0.5), Faults(crash_prob=0.06), interval=0.7))
        out.append(Scenario("frequent consumer crashes, one record at a time", 10, seed, Link(ack_loss=0.3),
                            Faults(crash_prob=0.15)))
    return out


CUMULATIVE = ("A commit is cumulative: ack(k) moves the committed offset to k + 1, so it also commits every "
              "record before k.")

BY_OFFSET = ("Two records had equal values (two deposits of 10) and the consumer took the second for the first.",
             "A record is known by its offset, never by its value: keep your position (the next offset to process), "
             "not the values you have seen.")

EXERCISE = Exercise(
    number=5, title="Commit discipline of a log consumer",
    goal="each record takes effect once when the consumer crashes between processing and commit",
    invariants=(ISOLATION, COMPLETES, NO_DUPLICATE, ACKED_TOOK_EFFECT, NO_LOSS, every_effect(), COMMITTED),
    scope=SCOPE, random=random_scenarios,
    partners={"sender": Broker}, exact_partners=("sender",), learner=("receiver",),
    concepts=("the consumer's own position, committed with the effect", "a cumulative commit: the next offset to read"),
    guide=(
        "Run the starting point again: at which crash point is a record processed twice, and why can no "
        "order of 'process' and 'commit' avoid both a duplicate and a loss? The commit lives in the broker, "
        "the effect in the consumer: no transaction covers both.",
        "The consumer needs its own durable record of how far it got, changed in the same atomic block as "
        "the effect; the broker's commit then only saves redeliveries. Exercise 4's receiver already knows "
        "'the number of messages applied without a gap'.",
        "Keep the next offset to process in self.durable, moved with the effect in one atomic block; process "
        "only the record at that offset; then commit the offset just processed (ack(offset)); for a record "
        "already processed, commit again what you have processed; wait (do nothing) for a record that "
        "arrives after a gap.",
    ),
    hints=with_rules({
        NO_DUPLICATES: {
            CRASHED: ("The consumer crashed after processing a record but before the broker heard the commit, and "
                      "the redelivered record took effect again.",
                      "The broker's committed offset can never be atomic with your effect: keep your own position "
                      "in self.durable, written in the same atomic block as the effect, and skip what it says is "
                      "done."),
            None: ("A record took effect twice: the broker redelivers (after a lost commit, or a record pushed "
                   "twice).",
                   "Keep your own durable position, written in the same atomic block as the effect, and skip what "
                   "it says is done."),
        },
        ACK_MEANS_EFFECT: {
            EQUAL_BODIES: BY_OFFSET,
            None: ("The broker was told a record was done although its effect never committed: the commit came "
                   "before the processing, or the record was skipped.",
                   "Commit after processing, never before (commit-then-process is at-most-once), and skip only "
                   "the offsets your own durable position says are done."),
        },
        NO_SILENT_LOSS: {
            EQUAL_BODIES: BY_OFFSET,
            None: ("A record was skipped although it never took effect: the consumer's position moved without the "
                   "effect.",
                   "Move it in the same atomic block as the effect."),
        },
        EVERY_EFFECT: {
            EQUAL_BODIES: BY_OFFSET,
            LOST_MESSAGE: ("A record never took effect, and the broker will never send it again.",
                           f"{CUMULATIVE} When a record arrives after a gap (an earlier one was lost or is late), "
                           "commit only up to the last record processed without a gap."),
            DELAYED: ("A record never took effect: it arrived after a later one.",
                      f"{CUMULATIVE} Commit only up to the last record processed without a gap."),
            None: ("A record never took effect, and the broker will never send it again.",
                   f"{CUMULATIVE} Commit only what you have processed without a gap."),
        },
        ALL_COMMITTED: {
            None: ("Records were processed but never committed: the broker keeps redelivering them (and a new "
                   "consumer would process them again).",
                   "Commit with self.ack(offset) after processing the record at offset (the committed offset "
                   "becomes offset + 1), and commit again when a redelivered record is already done: the last "
                   "commit may have been lost."),
        },
    }),
)
