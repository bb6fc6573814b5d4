"""The state of a run at one moment: each node's volatile and durable state and timers, and the
messages in flight. ``run(..., observe=fn)`` calls ``fn(snapshot)`` after every event, which is
what a trace stepper shows and what a state-space explorer hashes.

Values are copies taken at that moment: later events never change a snapshot. A value that cannot
be copied (a lock, a socket someone kept on a node) is shown by its ``repr``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Hashable


@dataclass(frozen=True, slots=True)
class NodeState:
    """One node: up or crashed, which incarnation, its state and its pending timers."""

    name: str
    up: bool
    incarnation: int
    volatile: dict[str, Any]        # attributes set on the node object (gone after a crash)
    durable: dict[Hashable, Any]    # self.durable, as committed (what a crash would leave)
    timers: dict[Hashable, float]   # timer key -> the time it fires
    ledger: int                     # effects this node has committed so far


@dataclass(frozen=True, slots=True)
class InFlight:
    """A copy on the wire that will arrive (a lost copy is not in flight)."""

    src: str
    dst: str
    message: str                    # "data" or "ack"
    msg_id: Hashable
    logical: int | None
    arrives: float
    wire: int                       # the transmission's number in the trace (0 when untraced)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The run after ``events`` events, at simulated time ``time``; ``trace_length`` is how many
    trace events had been written (traced runs), so a snapshot can be matched to its event."""

    time: float
    events: int
    trace_length: int
    nodes: dict[str, NodeState]
    in_flight: tuple[InFlight, ...]


def copied(value: Any) -> Any:
    """A deep copy of ``value``, or its repr when it cannot be copied."""
    try:
        return copy.deepcopy(value)
    except Exception:  # learner objects may refuse to be copied
        return repr(value)
