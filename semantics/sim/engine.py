"""The simulation engine: one event queue, one simulated clock, one seeded random source.

Nothing here knows about messages or nodes; the harness schedules callbacks and the engine
runs them in time order. Ties are broken by scheduling order, so a run is a pure function of
its inputs and seed, in any process and under any PYTHONHASHSEED.
"""

from __future__ import annotations

import heapq
import itertools
import random
from typing import Any, Callable


class EventBudgetExceeded(Exception):
    """Raised inside the engine when a run processes more events than it is allowed."""


class Engine:
    """A discrete-event loop (after SimPy's core, without processes).

    ``schedule(delay, fn, arg)`` queues ``fn(arg)`` at ``now + delay``; ``run`` pops events in
    (time, order) and calls them, calling ``on_idle`` whenever no foreground event is left (it may
    schedule more work), and stops after ``max_events``. An event whose ``fn`` returns False did
    nothing (a timer cancelled after it was queued): the clock goes back to the last event that did
    something, so "nothing left to do" happens when the last real event happened, not at the
    deadline of a timer that no longer exists. Background events (``background=True``,
    e.g. a crash planned for t=50) run in time order too, but do not keep the run busy: the
    application does not wait for them, and they are dropped once nothing else is left to do.
    """

    __slots__ = ("now", "rng", "events", "max_events", "queue", "background", "order")

    def __init__(self, seed: int, max_events: int) -> None:
        self.now = 0.0
        self.rng = random.Random(seed)
        self.events = 0
        self.max_events = max_events
        self.queue: list[tuple[float, int, Callable[[Any], None], Any]] = []
        self.background: list[tuple[float, int, Callable[[Any], None], Any]] = []
        self.order = itertools.count()  # ties in time run in scheduling order

    def schedule(self, delay: float, fn: Callable[[Any], None], arg: Any = None, *, background: bool = False) -> None:
        heapq.heappush(self.background if background else self.queue, (self.now + delay, next(self.order), fn, arg))

    def run(self, on_idle: Callable[[], bool] | None = None,
            after_event: Callable[[], None] | None = None) -> None:
        if after_event is not None:
            return self._run_observed(on_idle, after_event)
        queue = self.queue
        background = self.background
        pop = heapq.heappop
        budget = self.max_events
        count = self.events
        try:
            while True:
                while queue:
                    if background and background[0] <= queue[0]:
                        time, _, fn, arg = pop(background)
                    else:
                        time, _, fn, arg = pop(queue)
                    before, self.now = self.now, time
                    count += 1
                    if count > budget:
                        raise EventBudgetExceeded(budget)
                    if fn(arg) is False:
                        self.now = before  # it did nothing: the clock stays
                if on_idle is None or not on_idle():
                    return
        finally:
            self.events = min(count, budget)

    def _run_observed(self, on_idle: Callable[[], bool] | None, after_event: Callable[[], None]) -> None:
        """``run``, calling ``after_event()`` after every event and every ``on_idle`` that started
        work (a separate loop, so that unobserved runs pay nothing for it)."""
        queue = self.queue
        background = self.background
        pop = heapq.heappop
        try:
            while True:
                while queue:
                    if background and background[0] <= queue[0]:
                        time, _, fn, arg = pop(background)
                    else:
                        time, _, fn, arg = pop(queue)
                    before, self.now = self.now, time
                    self.events += 1
                    if self.events > self.max_events:
                        raise EventBudgetExceeded(self.max_events)
                    if fn(arg) is False:
                        self.now = before  # it did nothing: the clock stays, and nothing to observe
                    else:
                        after_event()
                if on_idle is None or not on_idle():
                    return
                after_event()
        finally:
            self.events = min(self.events, self.max_events)
