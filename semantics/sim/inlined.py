"""The reference protocols inlined into the event loop: ``simulate``'s path when nothing can crash.

``harness.run`` executes any protocol through the Node API: every handler and every step is a
Python call into learner-shaped code. For the three reference protocols of ``simulate`` on a plain
link (no crash, no jitter, duplication or partition, no trace) this module runs the same events
with the protocols' logic written into the loop: the same event queue, the same tie-breaking, the
same random draws in the same order, the same counts, crash points, event count and end time.
``tests/test_inlined.py`` holds it to that, field for field of the Report, against ``harness.run``
with the classes of ``semantics.sim.protocols``, over a grid of losses, retries, timeouts, backoffs
and intervals. Anything else (crashes, a trace, a richer link) goes through ``harness.run``.
``bench/bench_core.py`` measures why it is kept: several times the Node API's speed.

Memory does not grow with the number of messages: a message's state lives while its events are in
flight (one message at a time in stop-and-wait), and is then folded into the counts. What happened to
each message is kept only when asked (``outcomes``: a few bytes a message, ``checker.Tally``); without
it the report still knows the first message that broke each invariant (``Report.violations``).

Each logical message ``i`` has the id ``m{i+1}``; the sender's state (``RetryingSender.unacked``)
is ``pending`` and ``retries``, its timer the live timer's token (-1 for none), the exactly-once
receiver's durable ``("done", id)`` record ``done``.
"""

from __future__ import annotations

import itertools
import random
from heapq import heappop, heappush

from .checker import Flags, MessageOutcome, Numbered, Report, Tally, default_content, message_id

DATA, ACK, TIMER, SUBMIT = 0, 1, 2, 3
# the per-message state of overlapping messages (interval): counts, the sender's, the receiver's
ATTEMPTS, DELIVERIES, EFFECTS, ACKED, PENDING, RETRIES, TIMER_TOKEN, DONE, QUEUED = range(9)


class _Counts:
    """The run's counts, each message folded in when its last event has run."""

    __slots__ = ("lost", "once", "effects", "attempts", "received", "acked", "applied_and_acked", "kept",
                 "first_broken")

    def __init__(self, n: int, keep: bool) -> None:
        self.lost = self.once = self.effects = self.attempts = self.received = self.acked = 0
        self.applied_and_acked = 0
        self.kept = (Tally(n), Tally(n), Tally(n), Flags(n)) if keep else None
        self.first_broken: dict[str, MessageOutcome] = {}

    def fold(self, i: int, attempts: int, deliveries: int, effects: int, acked: bool) -> None:
        if effects == 0:
            self.lost += 1
        elif effects == 1:
            self.once += 1
        self.effects += effects
        self.attempts += attempts
        self.received += deliveries
        if acked:
            self.acked += 1
            if effects:
                self.applied_and_acked += 1
        if self.kept is not None:
            t_attempts, t_deliveries, t_effects, t_acked = self.kept
            t_attempts.set(i, attempts)
            t_deliveries.set(i, deliveries)
            t_effects.set(i, effects)
            t_acked.small[i] = acked
        elif effects > 1 or not effects and (deliveries or acked):  # (the receiver handles every delivery)
            for name, broken in (("no duplicate effects", effects > 1), ("no silent loss", deliveries and not effects),
                                 ("ack means effect", acked and not effects)):
                first = self.first_broken.get(name)
                if broken and (first is None or i < first.logical):
                    self.first_broken[name] = MessageOutcome(i, message_id(i), default_content(i), attempts,
                                                             deliveries, deliveries, effects, acked)


def run_reference(semantic: str, *, n_messages: int, loss: float, ack_loss: float, delay: float,
                  timeout: float, max_retries: int, backoff: float, interval: float | None, seed: int,
                  outcomes: bool = True) -> Report:
    """What ``harness.run(REFERENCE[semantic]..., link=Link(loss, ack_loss, delay=delay))`` reports
    for a run without faults or trace (arguments already validated by ``simulate``); ``outcomes``:
    keep what happened to each message (``Report.messages()``)."""
    n = n_messages
    counts = _Counts(n, outcomes)
    loop = _stop_and_wait if interval is None else _overlapping
    now, events, acks, cancels, fires = loop(semantic, n, loss, ack_loss, delay, timeout, max_retries, backoff,
                                             interval, random.Random(seed).random, counts)
    # Crash points passed (Report.points), counted as the Node API counts them: 1 for each handler
    # call and 1 after each step. Every scheduled event ran (nothing can exceed the event budget).
    retrying = acking = semantic != "at-most-once"   # RetryingSender, ProcessThenAckReceiver/DeduplicatingReceiver
    dedup = semantic == "exactly-once"
    received = counts.received
    sender_points = 1 + (3 if retrying else 2) * n + acks + cancels + fires + 2 * (counts.attempts - n)
    first = n - counts.lost
    receiver_points = 1 + (4 * received + 2 * first if dedup else 3 * received if acking else 2 * received)
    kept = counts.kept
    per_message = None
    if kept is not None:
        t_attempts, t_deliveries, t_effects, t_acked = kept
        per_message = (Numbered("m%d", n), Numbered("op %d", n), t_attempts, t_deliveries, t_deliveries, t_effects,
                       t_acked)
    return Report(
        n_messages=n, lost=counts.lost, once=counts.once, duplicated=n - counts.lost - counts.once,
        effects=counts.effects, attempts=counts.attempts, acked=counts.acked, indefinite=n - counts.acked,
        indefinite_applied=n - counts.lost - counts.applied_and_acked, status="ok", problem=None, seed=seed,
        events=events, crashes=0, end_time=now, points={"sender": sender_points, "receiver": receiver_points},
        _per_message=per_message, _first_broken=None if kept is not None else counts.first_broken)


def _stop_and_wait(semantic: str, n: int, loss: float, ack_loss: float, delay: float, timeout: float,
                   max_retries: int, backoff: float, interval: None, random_, counts: _Counts) -> tuple:
    """One message at a time: the next starts when nothing is in flight (Engine.run's on_idle), so
    the message's state is a handful of local variables."""
    retrying = acking = semantic != "at-most-once"
    dedup = semantic == "exactly-once"
    queue: list[tuple] = []
    push, pop = heappush, heappop
    order = itertools.count()                      # ties in time run in scheduling order
    acks = cancels = fires = 0                     # the sender's on_ack calls, cancel_timer steps, on_timer calls
    now = 0.0
    lossy, sure_loss = 0.0 < loss < 1.0, loss >= 1.0
    ack_lossy, sure_ack_loss = 0.0 < ack_loss < 1.0, ack_loss >= 1.0
    fold = counts.fold
    for i in range(n):
        attempts, deliveries, effects, acked, retries, done = 1, 0, 0, False, 0, False
        if not sure_loss and not (lossy and random_() < loss):  # on_send: send (and set_timer)
            push(queue, (now + delay, next(order), DATA))
        pending = retrying
        timer = -1
        if retrying:
            timer = token = next(order)            # a timer's order number is its token too
            push(queue, (now + timeout, token, TIMER))
        while queue:
            time, token, kind = pop(queue)
            if kind == DATA:                       # the receiver handles a copy
                now = time
                deliveries += 1
                if not dedup or not done:          # DeduplicatingReceiver: begin; [apply; write]; commit; ack
                    done = True
                    effects += 1
                if acking and not sure_ack_loss and not (ack_lossy and random_() < ack_loss):
                    push(queue, (now + delay, next(order), ACK))
            elif kind == ACK:                      # on_ack: forget the message, cancel its timer
                now = time
                acked = True
                acks += 1
                if pending:
                    pending = False
                    timer = -1
                    cancels += 1
            elif timer == token:                   # a live timer (else cancelled or replaced: the clock stays)
                now = time
                timer = -1
                fires += 1
                if pending:
                    if retries >= max_retries:     # give up: an indefinite outcome
                        pending = False
                    else:                          # retry: send; set_timer
                        retries += 1
                        attempts += 1
                        if not sure_loss and not (lossy and random_() < loss):
                            push(queue, (now + delay, next(order), DATA))
                        timer = token = next(order)
                        push(queue, (now + timeout * backoff ** retries, token, TIMER))
        fold(i, attempts, deliveries, effects, acked)
    return now, next(order), acks, cancels, fires


def _overlapping(semantic: str, n: int, loss: float, ack_loss: float, delay: float, timeout: float,
                 max_retries: int, backoff: float, interval: float, random_, counts: _Counts) -> tuple:
    """The application submits a message every ``interval`` (several in flight at once): each message's
    state lives in ``live`` while it has events queued."""
    retrying = acking = semantic != "at-most-once"
    dedup = semantic == "exactly-once"
    push, pop = heappush, heappop
    order = itertools.count()
    acks = cancels = fires = 0
    now = 0.0
    lossy, sure_loss = 0.0 < loss < 1.0, loss >= 1.0
    ack_lossy, sure_ack_loss = 0.0 < ack_loss < 1.0, ack_loss >= 1.0
    fold = counts.fold
    live: dict[int, list] = {}
    queue: list[tuple] = []
    if n > 1:  # the next submission is scheduled before the first message's own events
        queue.append((interval, next(order), SUBMIT, 0))
    i, submitted = (0 if n else None), 1
    while True:
        if i is not None:                          # on_send of message i: send (and set_timer)
            s = live[i] = [1, 0, 0, False, retrying, 0, -1, False, 0]
            if not sure_loss and not (lossy and random_() < loss):
                push(queue, (now + delay, next(order), DATA, i))
                s[QUEUED] += 1
            if retrying:
                s[TIMER_TOKEN] = token = next(order)
                push(queue, (now + timeout, token, TIMER, i))
                s[QUEUED] += 1
            if not s[QUEUED]:
                fold(i, 1, 0, 0, False)
                del live[i]
            i = None
        if not queue:
            break
        time, token, kind, j = pop(queue)
        if kind == SUBMIT:                         # schedule the next one, hand this one over
            now = time
            if submitted + 1 < n:
                push(queue, (now + interval, next(order), SUBMIT, 0))
            i, submitted = submitted, submitted + 1
            continue
        s = live[j]
        s[QUEUED] -= 1
        if kind == DATA:
            now = time
            s[DELIVERIES] += 1
            if not dedup or not s[DONE]:
                s[DONE] = True
                s[EFFECTS] += 1
            if acking and not sure_ack_loss and not (ack_lossy and random_() < ack_loss):
                push(queue, (now + delay, next(order), ACK, j))
                s[QUEUED] += 1
        elif kind == ACK:
            now = time
            s[ACKED] = True
            acks += 1
            if s[PENDING]:
                s[PENDING] = False
                s[TIMER_TOKEN] = -1
                cancels += 1
        elif s[TIMER_TOKEN] == token:
            now = time
            s[TIMER_TOKEN] = -1
            fires += 1
            if s[PENDING]:
                if s[RETRIES] >= max_retries:
                    s[PENDING] = False
                else:
                    r = s[RETRIES] = s[RETRIES] + 1
                    s[ATTEMPTS] += 1
                    if not sure_loss and not (lossy and random_() < loss):
                        push(queue, (now + delay, next(order), DATA, j))
                        s[QUEUED] += 1
                    s[TIMER_TOKEN] = token = next(order)
                    push(queue, (now + timeout * backoff ** r, token, TIMER, j))
                    s[QUEUED] += 1
        if not s[QUEUED]:                          # nothing of it left in flight: its counts are final
            fold(j, s[ATTEMPTS], s[DELIVERIES], s[EFFECTS], s[ACKED])
            del live[j]
    return now, next(order), acks, cancels, fires
