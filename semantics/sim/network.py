"""The network between nodes: what may happen to a message on the wire.

A ``Link`` says how a message crossing it is treated: lost (``loss`` for data messages,
``ack_loss`` for acknowledgements), duplicated by the network (``duplicate``), delayed by
``delay`` plus an exponential extra delay of mean ``jitter`` (so messages can overtake each
other), and dropped whenever it is sent during a partition window ``(start, end)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..validation import check_number, check_probability


@dataclass(frozen=True)
class Link:
    """Fault model of the link between two nodes (both directions)."""

    loss: float = 0.0
    ack_loss: float = 0.0
    duplicate: float = 0.0
    delay: float = 1.0
    jitter: float = 0.0
    partitions: tuple[tuple[float, float], ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "loss", check_probability("loss", self.loss))
        object.__setattr__(self, "ack_loss", check_probability("ack_loss", self.ack_loss))
        object.__setattr__(self, "duplicate", check_number("duplicate", self.duplicate, low=0.0, high=0.99))
        object.__setattr__(self, "delay", check_number("delay", self.delay, low=0.0, low_open=True))
        object.__setattr__(self, "jitter", check_number("jitter", self.jitter, low=0.0))
        object.__setattr__(self, "partitions", _check_partitions(self.partitions))

    def partitioned(self, time: float) -> bool:
        return any(start <= time < end for start, end in self.partitions)


def _check_partitions(value: Iterable) -> tuple[tuple[float, float], ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"partitions must be a sequence of (start, end) windows, got {value!r}")
    windows = []
    for i, window in enumerate(value):
        try:
            start, end = window
        except (TypeError, ValueError):
            raise TypeError(f"partitions[{i}] must be a (start, end) pair, got {window!r}") from None
        start = check_number(f"partitions[{i}] start", start, low=0.0)
        end = check_number(f"partitions[{i}] end", end, low=0.0, allow_inf=True)
        if end <= start:
            raise ValueError(f"partitions[{i}] must end after it starts, got ({start:g}, {end:g})")
        windows.append((start, end))
    return tuple(windows)


# Fates of one transmission, in the words the trace and the diagrams use.
DELIVERED = "delivered"
LOST = "lost"                # the network dropped it (loss or ack_loss)
PARTITIONED = "partitioned"  # sent while the link was partitioned
