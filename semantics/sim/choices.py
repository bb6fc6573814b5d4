"""The adversary's choices: what a run leaves open, decided one point at a time.

A run has nondeterministic points. Random faults (``Link``, ``Faults``) decide them by dice; a
*choice oracle* decides them on purpose, which is how a grader enumerates every small schedule of
faults instead of hoping the dice find the bad one. The decision points of a run are numbered 0, 1,
2... in the order they occur:

- every transmission (a data message or an ack put on the wire): ``DELIVER`` (the default: the
  link's own faults, if any, apply), ``LOSE``, ``DUPLICATE`` (the network delivers it twice),
  ``DELAY`` (held back until a later copy on the same link has overtaken it), ``LATE`` (delivered,
  and a copy the network kept arrives again long after everything else) or ``OUTAGE`` (lost, and
  the network stays down for a long stretch: longer than any finite retry budget or window);
- every crash point of every node (when a handler starts, after each step): ``CRASH`` or not.

A *schedule* is the list of non-default choices, ``((3, "lose"), (11, "crash"))``: replaying it
(``run(..., choices=schedule)``) gives the same run, event for event.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from ..validation import check_int, check_number

DELIVER, LOSE, DUPLICATE, DELAY, LATE, OUTAGE, CRASH = "deliver", "lose", "duplicate", "delay", "late", "outage", "crash"
COPY_CHOICES = (LOSE, DUPLICATE, DELAY, LATE, OUTAGE)
DATA_ONLY = (LATE,)  # a late copy of an ack changes nothing a protocol could get wrong
CHOICES = (*COPY_CHOICES, CRASH)

Schedule = tuple[tuple[int, str], ...]


class Oracle:
    """Decides the decision points of one run. This base class decides nothing (every point takes
    its default); subclasses override ``copy`` and ``crash``, and may define ``boundary(run)``,
    which the harness then calls between events (where a search hashes the run's state).

    hold:   the longest a DELAYed copy waits for a later copy to overtake it;
    outage: how long the network stays down after an OUTAGE;
    late:   how long after it was sent a LATE copy arrives again (after everything else);
    pause:  0, or how much longer an OUTAGE lasts without being simulated event by event: halfway
            through the outage, every pending event (timer, copy, submission, crash) moves ``pause``
            later, as if the nodes had kept failing to get through for that long. A protocol that gives up
            after some time (a deadline of a thousand or a million time units) gives up; one that retries
            without end still retries, without a billion time units of retries to run.
    """

    boundary = None

    def __init__(self, *, hold: float = 20.0, outage: float = 1_000.0, late: float = 10_000.0,
                 pause: float = 0.0) -> None:
        self.hold = check_number("hold", hold, low=0.0, low_open=True)
        self.outage = check_number("outage", outage, low=0.0, low_open=True)
        self.late = check_number("late", late, low=0.0, low_open=True)
        self.pause = check_number("pause", pause, low=0.0)

    def copy(self, index: int, now: float, src: str, dst: str, message: str, msg_id: Hashable,
             logical: int | None) -> str:
        """The fate of transmission ``index`` (sent at time ``now``): one of DELIVER and COPY_CHOICES."""
        return DELIVER

    def crash(self, index: int, now: float, node: str) -> bool:
        """Whether ``node`` crashes at decision point ``index`` (one of its crash points, at ``now``)."""
        return False


class Replay(Oracle):
    """Takes the choices of a schedule and the default everywhere else."""

    def __init__(self, schedule: Iterable[tuple[int, str]], **lengths: float) -> None:
        super().__init__(**lengths)
        self.schedule = check_schedule(schedule)
        self.choices = dict(self.schedule)
        self.ignored: list[tuple[int, str]] = []  # a choice that does not fit its point (the code changed)

    def copy(self, index: int, now: float, src: str, dst: str, message: str, msg_id: Hashable,
             logical: int | None) -> str:
        choice = self.choices.get(index)
        if choice is None:
            return DELIVER
        if choice == CRASH:
            self.ignored.append((index, choice))
            return DELIVER
        return choice

    def crash(self, index: int, now: float, node: str) -> bool:
        choice = self.choices.get(index)
        if choice is not None and choice != CRASH:
            self.ignored.append((index, choice))
        return choice == CRASH


def check_schedule(schedule: Any) -> Schedule:
    """A schedule as a tuple of (decision index, choice) pairs, in index order, each index once."""
    if isinstance(schedule, (str, bytes)) or not isinstance(schedule, Iterable):
        raise TypeError(f"choices must be a sequence of (decision index, choice) pairs, got {schedule!r}")
    pairs = []
    for item in schedule:
        try:
            index, choice = item
        except (TypeError, ValueError):
            raise TypeError(f"choices must hold (decision index, choice) pairs, got {item!r}") from None
        index = check_int("choices: decision index", index)
        if choice not in CHOICES:
            raise ValueError(f"choices: choice must be one of {', '.join(map(repr, CHOICES))}, got {choice!r}")
        pairs.append((index, choice))
    pairs.sort()
    if len({i for i, _ in pairs}) != len(pairs):
        raise ValueError(f"choices: each decision index may appear once, got {pairs!r}")
    return tuple(pairs)
