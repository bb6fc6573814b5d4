"""Faults that strike nodes: crashes and restarts.

A crash may strike at any *crash point* of a node: when one of its handlers starts, and right
after each of its steps (send, ack, set/cancel a timer, apply, a durable write, the start and the
commit of an atomic block). Points are numbered from 0 in the order they occur in a run, across
restarts, so ``crash_at={"receiver": {5}}`` replays one precise crash and a grader can try every
point in turn. Crashes can also be drawn at random (``crash_prob`` per point) or happen at given
simulated times, between handlers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..validation import check_int, check_number, check_probability


@dataclass(frozen=True)
class Faults:
    """Which nodes crash, when, and how soon they restart.

    crash_prob:    probability of a crash at each crash point of a node in ``nodes``.
    nodes:         the nodes ``crash_prob`` applies to (run() checks they are nodes of the run).
    crash_at:      node -> crash point numbers at which that node crashes.
    crash_times:   node -> simulated times at which that node crashes (if it is up).
    restart_after: time from a crash to the restart; ``None``: a crashed node stays down.
    max_crashes:   at most this many random crashes in a run (``None``: no limit).
    """

    crash_prob: float = 0.0
    nodes: tuple[str, ...] = ("receiver",)
    crash_at: Mapping[str, frozenset[int]] = field(default_factory=dict)
    crash_times: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    restart_after: float | None = 1.0
    max_crashes: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "crash_prob", check_probability("crash_prob", self.crash_prob))
        if isinstance(self.nodes, str):
            object.__setattr__(self, "nodes", (self.nodes,))
        elif isinstance(self.nodes, Mapping) or not isinstance(self.nodes, Iterable):
            raise TypeError(f"nodes must be a node name or a sequence of node names such as ('receiver',), "
                            f"got {self.nodes!r}")
        # (checked against the run's node names by run(): a misspelled node would never crash)
        object.__setattr__(self, "nodes", tuple(_check_name("nodes", n) for n in self.nodes))
        object.__setattr__(self, "crash_at", {
            _check_name("crash_at", node): frozenset(check_int(f"crash_at[{node!r}] point", k)
                                                     for k in _iterable("crash_at", points))
            for node, points in _mapping("crash_at", self.crash_at).items()})
        object.__setattr__(self, "crash_times", {
            _check_name("crash_times", node): tuple(sorted(check_number(f"crash_times[{node!r}]", t, low=0.0)
                                                           for t in _iterable("crash_times", times)))
            for node, times in _mapping("crash_times", self.crash_times).items()})
        if self.restart_after is not None:
            object.__setattr__(self, "restart_after",
                               check_number("restart_after", self.restart_after, low=0.0, low_open=True))
        if self.max_crashes is not None:
            object.__setattr__(self, "max_crashes", check_int("max_crashes", self.max_crashes))

    def strikes(self, node: str) -> bool:
        """Whether any fault can crash ``node`` at a crash point."""
        return (self.crash_prob > 0 and node in self.nodes) or bool(self.crash_at.get(node))


def crash_at_point(node: str, point: int, *, restart_after: float | None = 1.0) -> Faults:
    """Faults that crash ``node`` once, at crash point number ``point``."""
    return Faults(crash_at={node: {point}}, restart_after=restart_after)


def _check_name(param: str, name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{param} must name nodes with strings, got {name!r}")
    return name


def _mapping(param: str, value: object) -> Mapping:
    if not isinstance(value, Mapping):
        raise TypeError(f"{param} must be a mapping from node name to values, got {value!r}")
    return value


def _iterable(param: str, value: object) -> Iterable:
    if isinstance(value, (int, float)):
        return (value,)
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{param} values must be numbers or collections of numbers, got {value!r}")
    return value


NO_FAULTS = Faults()
