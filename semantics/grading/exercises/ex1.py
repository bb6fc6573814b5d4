"""Exercise 1: retry until acknowledged.

The learner writes the sender; the receiver is given (it applies every copy and acknowledges it).
Faults: messages and acks lost, duplicated, overtaken by later copies, and an outage longer than any
finite retry budget. Guarantee: at-least-once, every message takes effect (duplicates allowed).
"""

from __future__ import annotations

from ...sim.choices import DELAY, DUPLICATE, LOSE, OUTAGE
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import DELAYED, DUPLICATE as NETWORK_DUPLICATE, EQUAL_BODIES, OUTAGE as OUT, RUNAWAY
from ..invariants import COMPLETES, EVERY_EFFECT, ISOLATION, RUN_COMPLETES, every_effect
from ..partners import ApplyAndAckReceiver
from ..scenarios import REPEATED, Scenario
from ..exercise import Exercise
from .common import EXCEPTION_HINT, with_rules

#: An outage longer than any finite retry deadline: a thousand time units simulated event by event, then
#: a billion more skipped over (``Scope.pause``): a sender that gives up after some time, however long,
#: gives up; one that retries without end still retries when the network comes back.
PAUSE = 1e9

SCOPE = Scope(
    bases=(Base(1), Base(2, equal=True), Base(2, interval=0.5, equal=True), Base(3, interval=0.5)),
    kinds=(LOSE, DUPLICATE, DELAY, OUTAGE),
    pause=PAUSE,
)


def random_scenarios() -> list[Scenario]:
    out = [
        Scenario("the network is partitioned at first: every first attempt is lost", 3,
                 link=Link(partitions=((0.0, 7.5),)), contents=REPEATED),
        Scenario("several messages in flight, the first ones lost in a partition", 6, interval=0.5,
                 link=Link(partitions=((0.0, 2.2),)), contents=REPEATED),
    ]
    for seed in range(3):
        out.append(Scenario("request loss 30%", 20, seed, Link(loss=0.3), contents=REPEATED))
        out.append(Scenario("request loss 70%", 10, seed, Link(loss=0.7), contents=REPEATED))
        out.append(Scenario("request and ack loss, reordering, several in flight", 20, seed,
                            Link(loss=0.4, ack_loss=0.2, duplicate=0.1, jitter=1.0), interval=0.7, contents=REPEATED))
    return out


EXERCISE = Exercise(
    number=1, title="Retry until acknowledged",
    goal="at-least-once: every message takes effect despite request loss",
    invariants=(ISOLATION, COMPLETES, every_effect()),
    scope=SCOPE, random=random_scenarios,
    partners={"receiver": ApplyAndAckReceiver}, learner=("sender",),
    concepts=("retry on a timeout", "keep every message until its ack", "state keyed by message id"),
    guide=(
        "Run the starting point again: which messages never took effect, and what did the sender learn about "
        "them? A message lost on the wire is gone: only the sender can do something about it.",
        "The receiver acknowledges what it applied. A sender that remembers every message until its ack "
        "arrives, and watches the time, can tell which ones to send again; it cannot tell a lost message from "
        "a lost ack or a slow one, and need not.",
        "Keep every unacknowledged message (by its msg_id) and set a timer for it when you send it; when the "
        "timer fires and the message is still unacknowledged, send it again with the same msg_id and set the "
        "timer again; on its ack, forget it and cancel its timer. No limit on the retries.",
    ),
    hints=with_rules({
        EVERY_EFFECT: {
            OUT: ("The network was down for a long stretch and your sender stopped trying.",
                  "A message that is not acknowledged must be sent again, however long it takes: a fixed number of "
                  "retries still loses messages, with probability p^N."),
            EQUAL_BODIES: ("Two different messages had equal bodies (two deposits of 10), and your sender kept only "
                           "one of them.",
                           "Key what you remember by msg_id, never by the body."),
            None: ("A message that is lost on the wire is gone: only the sender can fix it.",
                   "Remember every message that is not acknowledged yet, set a timer for it, and when the timer "
                   "fires send it again and set the timer again; forget it (and cancel its timer) when its ack "
                   "arrives. Keep several messages in flight apart: key everything by msg_id."),
        },
        RUN_COMPLETES: {
            RUNAWAY: ("A timer that is re-armed even after its message was acknowledged keeps the run going forever.",
                      "In on_timer, retry only messages still waiting for an ack, and cancel the timer in on_ack."),
            NETWORK_DUPLICATE: ("The network delivered an ack twice: on_ack must accept an ack for a message it has "
                                "already forgotten (dict.pop(msg_id, None), not del). " + EXCEPTION_HINT),
            DELAYED: ("An ack arrived late, after a retry of its message: on_ack must accept an ack for a message it "
                      "has already forgotten (dict.pop(msg_id, None), not del). " + EXCEPTION_HINT),
        },
    }),
)
