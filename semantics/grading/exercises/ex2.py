"""Exercise 2: stable ids and deduplication.

The learner writes the receiver (and may change the sender: it is graded with the receiver). No
crash yet. Faults: messages and acks lost, duplicated by the network, overtaken by later copies, a
copy delivered again long after everything else (a billion time units: no finite window is enough), a
long run of 2,000 messages, and an outage longer than any retry budget.
Guarantee: every message takes effect, and none takes effect twice.
"""

from __future__ import annotations

from ...sim.choices import DELAY, DUPLICATE, LATE, LOSE, OUTAGE
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import (DELAYED, DUPLICATE as NETWORK_DUPLICATE, EQUAL_BODIES, LATE_COPY, LOST_ACK, OUTAGE as OUT,
                     UNACKED)
from ..invariants import (ACK_MEANS_EFFECT, ACKED_TOOK_EFFECT, COMPLETES, EVERY_EFFECT, ISOLATION, NO_DUPLICATE,
                          NO_DUPLICATES, NO_LOSS, NO_SILENT_LOSS, RUN_COMPLETES, every_effect)
from ..scenarios import REPEATED, Scenario
from ..exercise import Exercise
from .common import RUNAWAY_HINT, with_rules

#: A late copy arrives this long after it was sent: longer than any finite deduplication window a
#: learner might pick "to be safe" (a million time units), since exercise 2 states no horizon.
LATE_AFTER = 1e9

SCOPE = Scope(
    bases=(Base(1), Base(2, equal=True), Base(2, interval=0.5, equal=True), Base(3, interval=0.5),
           # sixteen in flight, the first copy of m1 lost: m1 is first seen after m10..m12 (ids compared as
           # text: 'm1' is part of 'm12')
           Base(16, interval=0.2, faults=1, kinds=(LOSE,), first_only=True),
           # a long run, then a copy of m1 again: a record of the last N ids (N < 2,000) has forgotten it, and
           # a filter that answers "probably seen" (a Bloom filter) takes some new message for a duplicate
           Base(2_000, faults=1, kinds=(LATE,), first_only=True)),
    kinds=(LOSE, DUPLICATE, DELAY, LATE, OUTAGE), late=LATE_AFTER,
)


def random_scenarios() -> list[Scenario]:
    out = [Scenario("the network delivers every message twice", 3, link=Link(duplicate=0.99), contents=REPEATED)]
    for seed in range(3):
        out.append(Scenario("ack loss 40%", 20, seed, Link(ack_loss=0.4), contents=REPEATED))
        out.append(Scenario("long delays: originals arrive after their retries", 15, seed,
                            Link(delay=1.0, jitter=4.0), contents=REPEATED))
        out.append(Scenario("loss, ack loss, duplicates and reordering, several in flight", 25, seed,
                            Link(loss=0.3, ack_loss=0.3, duplicate=0.2, jitter=1.5), interval=0.8, contents=REPEATED))
    return out


DEDUP_BY_ID = ("The receiver must remember the ids it has applied and only acknowledge a copy it has seen. That "
               "works only if every retry carries the same id as the original: an id made per attempt makes each "
               "retry look new.")

EXERCISE = Exercise(
    number=2, title="Stable ids and deduplication",
    goal="no duplicate effects despite ack loss, duplicates and reordering",
    invariants=(ISOLATION, COMPLETES, NO_DUPLICATE, ACKED_TOOK_EFFECT, NO_LOSS, every_effect()),
    scope=SCOPE, random=random_scenarios,
    concepts=("a stable id on every copy", "deduplication by id", "acknowledge duplicates too"),
    guide=(
        "Run the starting point again: which messages took effect twice, and what had happened to their first "
        "ack? A retry is not the only way a copy arrives twice: the network duplicates, and a slow original "
        "can arrive after its retry.",
        "Only the receiver sees both copies, so only the receiver can tell: it needs something that is the same "
        "on every copy of a message and different between two messages (two deposits of 10 are two deposits).",
        "Remember the msg_id of every message you applied; apply a message only if its id is new; acknowledge "
        "every copy, a duplicate too (its first ack may be the one that was lost).",
    ),
    hints=with_rules({
        NO_DUPLICATES: {
            LATE_COPY: ("A copy arrived again long after everything else (networks do keep copies), and your "
                        "receiver had forgotten the message.",
                        "A deduplication record that forgets (after a time, or after N messages) lets a late copy "
                        "through. " + DEDUP_BY_ID),
            NETWORK_DUPLICATE: ("The network delivered a message twice and both copies took effect.", DEDUP_BY_ID),
            DELAYED: ("A late original arrived after its retry and both took effect.", DEDUP_BY_ID),
            None: ("A second copy of a message (a retry after a lost ack) took effect again.", DEDUP_BY_ID),
        },
        ACK_MEANS_EFFECT: {
            EQUAL_BODIES: ("The sender got an ack for a message that never took effect: the receiver took it for a "
                           "duplicate of another message with an equal body.",
                           "Two deposits of 10 are two deposits: deduplicate by the message id, never by the "
                           "content."),
            None: ("The sender got an ack for a message that never took effect: the receiver took it for a "
                   "duplicate.",
                   "Only a copy whose id was already applied may be skipped."),
        },
        NO_SILENT_LOSS: {
            EQUAL_BODIES: ("The receiver handled a message without applying it: it took it for a duplicate of "
                           "another message with an equal body.",
                           "Deduplicate by the message id, never by the content."),
            None: ("The receiver handled a message without applying it and it never took effect.",
                   "Only a copy whose id was already applied may be skipped."),
        },
        EVERY_EFFECT: {
            OUT: ("The network was down for a long stretch and the message never took effect.",
                  "The sender must keep retrying until the ack of that very message arrives, however long it takes."),
            None: ("A message never took effect: does the receiver acknowledge a copy it did not apply?",
                   "Keep the sender retrying until the ack of that very message arrives."),
        },
        RUN_COMPLETES: {
            UNACKED: ("The receiver handled a copy without acknowledging it, and the sender, which never heard an "
                      "ack for it, kept retrying: the run never ends.",
                      "Acknowledge every copy, duplicates too: the first ack may be the one that was lost."),
            LOST_ACK: ("A sender that never hears an ack retries forever.",
                       "Acknowledge duplicates too: the first ack may have been lost. " + RUNAWAY_HINT),
        },
    }),
)
