"""The reference protocols inlined into the event loop: ``simulate``'s path when nothing can crash.

``harness.run`` executes any protocol through the Node API: every handler and every step is a
Python call into learner-shaped code. For the three reference protocols of ``simulate`` on a plain
link (no crash, no jitter, duplication or partition, no trace) this module runs the same events
with the protocols' logic written into the loop: the same event queue, the same tie-breaking, the
same random draws in the same order, the same counts, crash points, event count and end time.
``tests/test_inlined.py`` holds it to that, field for field of the Report, against ``harness.run``
with the classes of ``semantics.sim.protocols``, over a grid of losses, retries, timeouts, backoffs
and intervals. Anything else (crashes, a trace, a richer link) goes through ``harness.run``.

Each logical message ``i`` has the id ``m{i+1}``; the sender's state (``RetryingSender.unacked``)
is ``pending[i]`` and ``retries[i]``, its timers ``timer[i]`` (the live timer's token, -1 for none),
the exactly-once receiver's durable ``("done", id)`` records are ``done[i]``.
"""

from __future__ import annotations

import itertools
import random
from heapq import heappop, heappush

from .checker import Report

DATA, ACK, TIMER, SUBMIT = 0, 1, 2, 3


def run_reference(semantic: str, *, n_messages: int, loss: float, ack_loss: float, delay: float,
                  timeout: float, max_retries: int, backoff: float, interval: float | None, seed: int) -> Report:
    """What ``harness.run(REFERENCE[semantic]..., link=Link(loss, ack_loss, delay=delay))`` reports
    for a run without faults or trace (arguments already validated by ``simulate``)."""
    n = n_messages
    retrying = semantic != "at-most-once"          # RetryingSender, else FireAndForgetSender
    acking = semantic != "at-most-once"            # ProcessThenAckReceiver / DeduplicatingReceiver
    dedup = semantic == "exactly-once"             # DeduplicatingReceiver
    random_ = random.Random(seed).random
    queue: list[tuple] = []
    push, pop = heappush, heappop
    order = itertools.count()                      # ties in time run in scheduling order
    attempts, deliveries, effects = [0] * n, [0] * n, [0] * n
    acked = [False] * n
    pending = [False] * n
    retries = [0] * n
    timer = [-1] * n
    done = [False] * n
    acks = cancels = fires = 0                     # the sender's on_ack calls, cancel_timer steps, on_timer calls
    now = 0.0
    lossy, sure_loss = 0.0 < loss < 1.0, loss >= 1.0
    ack_lossy, sure_ack_loss = 0.0 < ack_loss < 1.0, ack_loss >= 1.0
    # The application hands messages 0, 1, 2, ... to the sender in order: the first at once, each
    # next one when nothing is left in flight (stop-and-wait: Engine.run's on_idle) or, with an
    # interval, at a SUBMIT event scheduled just before the previous message's own events.
    submitted = 0
    submit = n > 0
    if interval is not None and n > 1:
        queue.append((interval, next(order), SUBMIT, 0))
    while submit:
        i = submitted                              # on_send: send (and set_timer)
        submitted += 1
        attempts[i] = 1
        if not sure_loss and not (lossy and random_() < loss):
            push(queue, (now + delay, next(order), DATA, i))
        if retrying:
            pending[i] = True
            timer[i] = token = next(order)         # a timer's order number is its token too
            push(queue, (now + timeout, token, TIMER, i))
        submit = False
        while queue:
            now, token, kind, i = pop(queue)
            if kind == DATA:                       # the receiver handles a copy
                deliveries[i] += 1
                if not dedup or not done[i]:       # DeduplicatingReceiver: begin; [apply; write]; commit; ack
                    done[i] = True
                    effects[i] += 1
                if acking and not sure_ack_loss and not (ack_lossy and random_() < ack_loss):
                    push(queue, (now + delay, next(order), ACK, i))
            elif kind == ACK:                      # on_ack: forget the message, cancel its timer
                acked[i] = True
                acks += 1
                if pending[i]:
                    pending[i] = False
                    timer[i] = -1
                    cancels += 1
            elif kind == TIMER:
                if timer[i] != token:
                    continue                       # cancelled or replaced
                timer[i] = -1
                fires += 1
                if pending[i]:
                    if retries[i] >= max_retries:  # give up: an indefinite outcome
                        pending[i] = False
                    else:                          # retry: send; set_timer
                        r = retries[i] = retries[i] + 1
                        attempts[i] += 1
                        if not sure_loss and not (lossy and random_() < loss):
                            push(queue, (now + delay, next(order), DATA, i))
                        timer[i] = token = next(order)
                        push(queue, (now + timeout * backoff ** r, token, TIMER, i))
            else:                                  # SUBMIT: schedule the next one, hand this one over
                if submitted + 1 < n:
                    push(queue, (now + interval, next(order), SUBMIT, 0))
                submit = True
                break
        else:                                      # nothing in flight
            submit = interval is None and submitted < n

    # Crash points passed (Report.points), counted as the Node API counts them: 1 for each handler
    # call and 1 after each step. Every scheduled event ran (nothing can exceed the event budget).
    total_attempts = sum(attempts)
    received = sum(deliveries)
    sender_points = 1 + (3 if retrying else 2) * submitted + acks + cancels + fires + 2 * (total_attempts - submitted)
    first = n - effects.count(0)
    receiver_points = 1 + (4 * received + 2 * first if dedup else 3 * received if acking else 2 * received)
    events = next(order)
    lost, once = effects.count(0), effects.count(1)
    n_acked = acked.count(True)
    applied_and_acked = sum(map(bool, itertools.compress(effects, acked)))
    ids = tuple(map("m{}".format, range(1, n + 1)))
    return Report(
        n_messages=n, lost=lost, once=once, duplicated=n - lost - once, effects=sum(effects),
        attempts=total_attempts, acked=n_acked, indefinite=n - n_acked,
        indefinite_applied=n - lost - applied_and_acked, status="ok", problem=None, seed=seed,
        events=events, crashes=0, end_time=now, points={"sender": sender_points, "receiver": receiver_points},
        _per_message=(ids, tuple(map("op {}".format, range(1, n + 1))), tuple(attempts), tuple(deliveries),
                      tuple(deliveries), tuple(effects), tuple(acked)))
