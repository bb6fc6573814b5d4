"""``simulate``: the reference protocol of a guarantee over a configurable faulty link."""

from __future__ import annotations

import math

from .sim.analysis import expected
from .sim.checker import OUTCOMES_KEPT, SEMANTICS, Report
from .sim.faults import Faults
from .sim.harness import check_trace_size, run
from .sim.inlined import run_reference
from .sim.network import Link
from .sim.protocols import REFERENCE, RetryingSender
from .sim.trace import BYTES_PER_EVENT
from .validation import check_choice, check_flag, check_int, check_number, check_probability


def simulate(semantic: str, *, n_messages: int, loss: float, ack_loss: float = 0.0, max_retries: int = 3,
             seed: int = 0, duplicate: float = 0.0, delay: float = 1.0, jitter: float = 0.0,
             timeout: float | None = None, backoff: float = 1.0, crash_prob: float = 0.0,
             restart_after: float = 1.0, partitions: tuple = (), interval: float | None = None,
             trace: bool = False, outcomes: bool | None = None) -> Report:
    """Run the reference protocol for ``semantic`` and count what happened to every message.

    semantic:     one of ``SEMANTICS``.
    n_messages:   logical messages the application sends (stop-and-wait, one after the other).
    loss:         probability that the network loses a data message, in [0, 1].
    ack_loss:     probability that it loses an acknowledgement, in [0, 1].
    max_retries:  retries after the first attempt (at-most-once always sends once).
    seed:         the run's seed: same arguments and seed, same result, anywhere.
    duplicate:    probability that the network delivers a message twice, in [0, 0.99].
    delay:        one-way network delay (> 0); ``jitter`` adds an exponential extra delay of that mean.
    timeout:      how long the sender waits for an ack before a retry (default: 3 x delay,
                  longer than any round trip when jitter is 0); ``backoff`` multiplies it per retry.
    crash_prob:   probability that the receiver crashes at each crash point (restarts after
                  ``restart_after``).
    partitions:   (start, end) windows during which the link drops everything.
    interval:     submit a message every ``interval`` time units instead of stop-and-wait.
    trace:        keep the full trace (``report.trace``) for diagrams (a run whose trace would not fit
                  in memory is refused up front, with the estimate).
    outcomes:     keep what happened to each message (``report.messages()``, a few bytes a message);
                  default: for runs of up to 100,000 messages. Without them a run's memory does not grow
                  with ``n_messages``; the counts and ``violations()`` are there either way.

    Returns a ``Report``: ``n_messages``, ``lost``, ``once``, ``duplicated``, ``effects``,
    ``attempts`` (all int) and more (``acked``, ``indefinite``, ``summary()``, ``trace``).
    """
    check_choice("semantic", semantic, SEMANTICS)
    n = check_int("n_messages", n_messages, low=0, high=10_000_000)
    retries = check_int("max_retries", max_retries, low=0, high=1000)
    link = Link(loss=check_probability("loss", loss), ack_loss=check_probability("ack_loss", ack_loss),
                duplicate=duplicate, delay=delay, jitter=jitter, partitions=partitions)
    timeout = 3.0 * link.delay if timeout is None else check_number("timeout", timeout, low=0.0, low_open=True)
    backoff = check_number("backoff", backoff, low=1.0)
    seed = check_int("seed", seed, low=0)
    if interval is not None:
        interval = check_number("interval", interval, low=0.0, low_open=True)
    faults = Faults(crash_prob=check_probability("crash_prob", crash_prob), restart_after=restart_after)
    trace = check_flag("trace", trace)
    outcomes = n <= OUTCOMES_KEPT if outcomes is None else check_flag("outcomes", outcomes)
    if trace:
        check_trace_size(n, _trace_bytes(semantic, link.loss, link.ack_loss, retries, crash_prob))
    # Nothing can crash, nothing is traced, no reordering: the protocols inlined into the event loop
    # give the very report that the Node API gives (tests/test_inlined.py), several times faster.
    if not (trace or faults.crash_prob or link.duplicate or link.jitter or link.partitions) and _timers_finite(
            timeout, backoff, retries):
        return run_reference(semantic, n_messages=n, loss=link.loss, ack_loss=link.ack_loss, delay=link.delay,
                             timeout=timeout, max_retries=retries, backoff=backoff, interval=interval, seed=seed,
                             outcomes=outcomes)
    sender_class, receiver = REFERENCE[semantic]
    if sender_class is RetryingSender:
        def sender() -> RetryingSender:
            return RetryingSender(timeout=timeout, max_retries=retries, backoff=backoff)
    else:
        sender = sender_class
    return run(sender, receiver, n_messages=n, link=link, faults=faults, seed=seed, interval=interval,
               trace=trace, max_events=10_000 + 50 * (retries + 2) * n,
               wall_clock=None)  # trusted reference code: a large run may take as long as it needs


def _trace_bytes(semantic: str, loss: float, ack_loss: float, retries: int, crash_prob: float) -> float:
    """What a traced run of the reference protocol takes per message, from the closed forms: per attempt
    a send, a receive, an effect, an ack sent and received, a timer, and their crash points' labels
    (about twice an event's columns, measured); more when crashes strike."""
    attempts = expected(semantic, loss=loss, ack_loss=ack_loss, max_retries=min(retries, 1000))["attempts"]
    events = 2 + 6 * attempts
    return 2 * BYTES_PER_EVENT * events * (1 + 2 * crash_prob)


def _timers_finite(timeout: float, backoff: float, retries: int) -> bool:
    """Whether every retry timer is a finite number (else RetryingSender's set_timer fails, and
    the run must go through ``harness.run`` to report that error)."""
    try:
        return math.isfinite(timeout * backoff ** retries)
    except OverflowError:
        return False
