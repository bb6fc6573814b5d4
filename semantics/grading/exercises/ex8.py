"""Exercise 8: leases and fencing tokens.

The learner writes the store; everything else is given: a producer ("sender", ``partners.Producer``),
a queue ("receiver", ``partners.LeaseQueue``: lesson 05's lease broker) that lends each message to
the workers "c1" and "c2" in turn under a lease of 6, numbering every lease it grants (the fencing
token), and the two workers (``partners.Worker``: each shows its token to the store when it starts,
works, writes with the token, and acknowledges its lease once the store acknowledged the write).
Worker c1 is slow: its work outlasts its lease, so the queue lends the message to c2 while c1 is
still working. The store crashes at every crash point; requests and acks are lost, duplicated,
overtaken, delivered again late. Guarantee: each message takes effect once, the store never applies
a write whose token is lower than one it has been shown for that message, and every message is
settled (acknowledged to the queue under its current lease).
"""

from __future__ import annotations

from typing import Any

from ...sim.choices import CRASH, DELAY, DUPLICATE, LATE, LOSE
from ...sim.faults import Faults
from ...sim.network import Link
from ...sim.nodes import DEAD
from ...sim.patterns.fencing import Fenced
from ..explorer import Base, Scope
from ..hints import CRASH as CRASHED, LATE_COPY, LOST_ACK
from ..invariants import (COMPLETES, EVERY_EFFECT, ISOLATION, NO_DUPLICATE, NO_DUPLICATES, Finding, Invariant, Trial,
                          every_effect)
from ..partners import LEASE, LeaseQueue, Producer, Worker
from ..scenarios import Scenario
from ..exercise import Exercise
from .common import with_rules

STORE = "store"
FENCED = "stale tokens are fenced"
SETTLED = "every message is settled"
SETTLED_MEANS_EFFECT = "settled means effect"


def durable_of(node: Any) -> dict:
    """What is durable on ``node`` (the last incarnation of a node in a run), as a crash would leave it."""
    host = getattr(node, "__dict__", {}).get("_host")
    if host is None or host is DEAD:
        return {}
    return host.durable.committed()


def _fenced(trial: Trial) -> Finding | None:
    """Read from the trace: each request the store handled to the end raises the highest token it has
    been shown for its message; an effect of a write with a lower token breaks the invariant."""
    trace = trial.report.trace or ()
    shown: dict[Any, int] = {}
    current: Fenced | None = None   # the request the store is handling
    crashed = False
    for e in trace:
        if e.node != STORE:
            continue
        if e.kind in ("receive", "down", "timer", "restart"):
            if current is not None and not crashed:
                shown[current.key] = max(shown.get(current.key, 0), current.token)
            current, crashed = (e.msg_id if e.kind == "receive" and isinstance(e.msg_id, Fenced) else None), False
        elif e.kind == "crash":
            crashed = True
        elif e.kind == "effect" and current is not None and current.token < shown.get(current.key, 0):
            m = trial.report.messages()[e.logical] if e.logical is not None else None
            return Finding(FENCED, e.logical, m.msg_id if m else current.key,
                           f"took effect at t={e.time:g} from a write with token {current.token}, although the store "
                           f"had already been shown token {shown[current.key]} for it: a worker whose lease had "
                           "expired wrote after a newer holder had started")
    return None


def _queue(trial: Trial) -> dict:
    return durable_of(trial.nodes.get("receiver"))


def _settled(trial: Trial) -> Finding | None:
    queue = _queue(trial)
    for m in trial.report.messages():
        if ("done", m.msg_id) not in queue:
            leases = queue.get(("leases", m.msg_id), 0)
            return Finding(SETTLED, m.logical, m.msg_id,
                           f"was never settled: the queue lent it {times_(leases)} and no worker acknowledged a "
                           f"lease it still held (after {LeaseQueue().max_deliveries} leases it sets a message aside)")
    return None


def _settled_means_effect(trial: Trial) -> Finding | None:
    queue = _queue(trial)
    for m in trial.report.messages():
        if ("done", m.msg_id) in queue and not m.effects:
            return Finding(SETTLED_MEANS_EFFECT, m.logical, m.msg_id,
                           "was settled (a worker acknowledged its lease, after the store acknowledged its write), "
                           "yet never took effect")
    return None


def times_(n: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(n, f"{n} times")


FENCING = Invariant(FENCED, "once the store has handled a request with token t for a message (a start or a write), "
                    "it never applies a write with a lower token for that message", _fenced)
ALL_SETTLED = Invariant(SETTLED, "every message is settled: a worker acknowledges its lease while it still holds "
                        "it, so the queue stops lending the message", _settled)
SETTLED_EFFECT = Invariant(SETTLED_MEANS_EFFECT, "a message the queue counts as settled took effect", _settled_means_effect)

SCOPE = Scope(
    bases=(Base(1, faults=1), Base(1, faults=2, kinds=(DELAY, CRASH)), Base(2, faults=1),
           Base(2, interval=1.0, faults=1),  # the leases of two messages overlap: fencing is per message
           Base(3, faults=1)),
    kinds=(LOSE, DUPLICATE, DELAY, LATE, CRASH), crash_nodes=(STORE,),
    hold=3.0,  # a copy held back arrives at most 3 later than it would have
)


def random_scenarios() -> list[Scenario]:
    # No random delays: a lease of 6 leaves c2 (work 1, four hops of 1) a margin of 1 only; a lease that
    # expires because of the network, again and again, sets a message aside whatever the store does.
    out = []
    for seed in range(3):
        out.append(Scenario("loss and ack loss on every link, store crashes", 6, seed,
                            Link(loss=0.1, ack_loss=0.1), Faults(crash_prob=0.05, nodes=(STORE,))))
        out.append(Scenario("several messages at once, network duplicates", 6, seed,
                            Link(loss=0.1, duplicate=0.1), interval=3.0))
    return out


TOKEN = ("Only the store sees every write, so only the store can refuse a stale one: it must remember, durably, "
         "the highest token it has been shown for each message, and refuse a request with a lower one.")

EXERCISE = Exercise(
    number=8, title="Leases and fencing tokens",
    goal=("each message takes effect once, no write from a superseded lease lands, and every message is settled, "
          "with workers slower than their lease"),
    invariants=(ISOLATION, COMPLETES, NO_DUPLICATE, FENCING, SETTLED_EFFECT, every_effect(), ALL_SETTLED),
    scope=SCOPE, random=random_scenarios,
    partners={"sender": Producer, "receiver": LeaseQueue, "c1": Worker, "c2": Worker},
    exact_partners=("c1",), slots=("c1", STORE), learner=(STORE,), needs_trace=True,
    concepts=("a lease that expires while the work goes on", "a fencing token checked by the store",
              "fencing orders writers, it does not deduplicate"),
    guide=(
        "Run the starting point again: the store applies every write it gets. Which message takes effect twice, "
        f"and whose lease (of {LEASE:g}) had expired when its write arrived?",
        "Every lease comes with a token, a number that grows with every lease the queue grants, and the workers "
        "show it to the store when they start and with their write. " + TOKEN + " A token alone does not make "
        "the work happen once: a worker may finish just after its lease expired, before the next holder starts.",
        "For each message, keep durably the highest token shown and whether the message was applied; refuse (apply "
        "nothing) a request whose token is lower than the highest (acknowledging it is harmless: the queue ignores "
        "an ack under a lease it no longer holds); otherwise raise the highest, apply a write only if the message "
        "was not applied yet, in the same atomic block, and acknowledge every write you accept, a duplicate too, "
        "after the commit.",
    ),
    hints=with_rules({
        NO_DUPLICATES: {
            CRASHED: ("After a crash the store applied a message again.",
                      "What it knows about applied messages must be durable, written with the effect in one "
                      "atomic block."),
            None: ("A message took effect twice: two workers held it in turn, and both writes were applied.",
                   "Fencing orders the writers, it does not deduplicate: the first holder can finish just after "
                   "its lease expired, before the next one starts. Remember which messages were applied, and "
                   "apply a write only once per message."),
        },
        FENCED: {
            CRASHED: ("After a crash the store applied a write with an old token: it had forgotten the newer token "
                      "it was shown.",
                      "Keep the highest token per message in self.durable (a start counts too), written before "
                      "you acknowledge anything."),
            LATE_COPY: ("An old write arrived again late, and the store applied it although a newer token had been "
                        "shown for that message.", TOKEN),
            None: ("The store applied a write whose token is lower than one it had already been shown for that "
                   "message: a worker whose lease had expired wrote after a newer holder had started.", TOKEN),
        },
        SETTLED_MEANS_EFFECT: {
            None: ("The queue counts a message as settled, yet it never took effect: the store acknowledged a "
                   "write it did not apply (or before applying it).",
                   "Acknowledge a current holder's write only after the atomic block that applied it (or found "
                   "it applied) has committed, never before or instead of applying it."),
        },
        EVERY_EFFECT: {
            None: ("A message never took effect: the store refused every write for it, or never acknowledged "
                   "one, and the queue set it aside.",
                   "A request carrying the highest token shown so far (or a higher one) is the current holder's: "
                   "accept it."),
        },
        SETTLED: {
            LOST_ACK: ("A message was never settled: the store's ack of a write was lost, and the repeated write "
                       "got no ack.",
                       "Acknowledge a repeated write from the current holder too (it is a duplicate: apply nothing, "
                       "acknowledge again)."),
            None: ("A message was never settled: no worker heard that its write was accepted while it still held "
                   "the lease.",
                   "Acknowledge every write you accept, a duplicate from the current holder too; the worker then "
                   "acknowledges its lease to the queue."),
        },
    }),
)
