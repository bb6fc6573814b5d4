"""Vectorised (numpy) simulation of the facade's model, fast enough to sweep outcome rates against loss,
ack loss or retries while a slider moves, and in agreement with the event-driven simulator.

The model is ``semantics.simulate``'s default: stop-and-wait, a timeout longer than any round trip,
independent request loss and ack loss per transmission, at most ``max_retries + 1`` attempts, no
network duplication, no reordering, no crashes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .analysis import KEYS, expected
from .checker import SEMANTICS
from ..validation import check_choice, check_int, check_probability, check_sequence

PARAMETERS = ("loss", "ack_loss", "max_retries")
MAX_POINTS = 1000
MAX_RETRIES = 1000        # as semantics.simulate allows
MAX_MESSAGES = 10_000_000


@dataclass(frozen=True)
class FastCounts:
    """The counts of one vectorised run of one guarantee: the facade's six integers and more."""

    n_messages: int
    lost: int
    once: int
    duplicated: int
    effects: int
    attempts: int
    acked: int
    indefinite: int
    indefinite_applied: int
    effects_sq: int     # sum over messages of effects**2 (for the standard error of the mean)
    attempts_sq: int    # sum over messages of attempts**2

    def rate(self, key: str) -> float:
        """Per logical message: a fraction (lost, once, ...) or a mean (effects, attempts)."""
        check_choice("key", key, KEYS)
        return getattr(self, key) / self.n_messages if self.n_messages else math.nan

    def stderr(self, key: str) -> float:
        """The standard error of ``rate(key)``: binomial for fractions, the sample's for means."""
        check_choice("key", key, KEYS)
        n = self.n_messages
        if n == 0:
            return math.nan
        mean = getattr(self, key) / n
        if key in ("effects", "attempts"):
            variance = max(getattr(self, key + "_sq") / n - mean * mean, 0.0)
        else:
            variance = mean * (1.0 - mean)
        return math.sqrt(variance / n)


def _check_common(n_messages: Any, loss: Any, ack_loss: Any, max_retries: Any, seed: Any) -> tuple:
    return (check_int("n_messages", n_messages, low=1, high=MAX_MESSAGES), check_probability("loss", loss),
            check_probability("ack_loss", ack_loss), check_int("max_retries", max_retries, low=0, high=MAX_RETRIES),
            check_int("seed", seed, low=0))


def simulate_fast(*, n_messages: int, loss: float, ack_loss: float = 0.0, max_retries: int = 3,
                  seed: int = 0) -> dict[str, FastCounts]:
    """Simulate ``n_messages`` messages for all three guarantees at once, vectorised.

    Returns semantic -> FastCounts. The three guarantees see the same network fates (common random
    numbers): a retrying sender's first attempt meets the fate an at-most-once sender's only attempt
    meets, so the differences between the three bars come from the protocols, not from the dice.
    """
    n, p, q, r, seed = _check_common(n_messages, loss, ack_loss, max_retries, seed)
    return _simulate(np.random.default_rng(seed), n, p, q, r)


def _simulate(rng: np.random.Generator, n: int, p: float, q: float, max_retries: int) -> dict[str, FastCounts]:
    # One uniform number per attempt decides its fate: below p the data message is lost; between
    # p and p + (1-p)q it is delivered and its ack lost; above, data and ack both arrive.
    lost_below = np.float32(p)
    acked_from = np.float32(p + (1.0 - p) * q) if q < 1.0 else np.float32(2.0)  # q == 1: never acked
    u = rng.random(n, dtype=np.float32)                     # every message's first attempt
    deliveries = (u >= lost_below).astype(np.int8 if max_retries < 127 else np.int32)
    first_delivered = int(np.count_nonzero(deliveries))
    waiting = np.flatnonzero(u < acked_from)                # messages still without an ack
    attempts = attempts_sq = n
    for k in range(1, max_retries + 1):
        # only the messages still waiting draw again: after a few attempts that is a small minority
        m = waiting.size
        if m == 0:
            break
        attempts += m
        attempts_sq += (2 * k + 1) * m                      # a**2 = sum of (2k + 1) over the a attempts k < a
        u = rng.random(m, dtype=np.float32)
        deliveries[waiting] += u >= lost_below
        waiting = waiting[u < acked_from]
    unacked = int(waiting.size)
    unacked_delivered = int(np.count_nonzero(deliveries[waiting]))
    per_value = np.bincount(deliveries, minlength=3).astype(np.int64)   # messages with d deliveries
    d = np.arange(per_value.size, dtype=np.int64)
    none, one = int(per_value[0]), int(per_value[1])
    many = n - none - one
    total, total_sq = int(per_value @ d), int(per_value @ (d * d))
    return {
        # at-most-once: one attempt, no ack; the receiver applies what arrives
        "at-most-once": FastCounts(n, n - first_delivered, first_delivered, 0, first_delivered, n, 0, n,
                                   first_delivered, first_delivered, n),
        # at-least-once: every delivery is processed again
        "at-least-once": FastCounts(n, none, one, many, total, attempts, n - unacked, unacked, unacked_delivered,
                                    total_sq, attempts_sq),
        # exactly-once: the same deliveries, deduplicated durably: at most one effect each
        "exactly-once": FastCounts(n, none, one + many, 0, one + many, attempts, n - unacked, unacked,
                                   unacked_delivered, one + many, attempts_sq),
    }


@dataclass(frozen=True)
class Sweep:
    """Outcome rates of the three guarantees at each value of one swept parameter."""

    parameter: str                        # "loss", "ack_loss" or "max_retries"
    values: tuple[float, ...]
    n_messages: int                       # per point
    settings: dict[str, float]            # the parameters held fixed (and the swept one's name absent)
    seed: int
    counts: dict[str, tuple[FastCounts, ...]]   # semantic -> one FastCounts per value

    def rates(self, semantic: str, key: str) -> np.ndarray:
        """Simulated rate of ``key`` for ``semantic`` at each value."""
        check_choice("semantic", semantic, SEMANTICS)
        return np.array([c.rate(key) for c in self.counts[semantic]])

    def errors(self, semantic: str, key: str) -> np.ndarray:
        """Standard error of each simulated rate."""
        check_choice("semantic", semantic, SEMANTICS)
        return np.array([c.stderr(key) for c in self.counts[semantic]])

    def expected(self, semantic: str, key: str, values: Iterable[float] | None = None) -> np.ndarray:
        """The closed form (``semantics.expected``) of ``key`` at each value (or at ``values``)."""
        check_choice("key", key, KEYS)
        return self.closed_forms(semantic, values)[key]

    def closed_forms(self, semantic: str, values: Iterable[float] | None = None) -> dict[str, np.ndarray]:
        """Every closed form (key -> array) at each value (or at ``values``): one call of
        ``semantics.expected`` per value, all keys at once."""
        check_choice("semantic", semantic, SEMANTICS)
        xs = self.values if values is None else check_sequence("values", values, what="numbers")
        rows = []
        for x in xs:
            args = dict(self.settings)
            args[self.parameter] = int(round(x)) if self.parameter == "max_retries" else float(x)
            rows.append(expected(semantic, **args))
        return {k: np.array([row[k] for row in rows]) for k in KEYS}

    def table(self, keys: Iterable[str] = ("lost", "duplicated", "attempts")) -> str:
        """A deterministic text table of the simulated rates per message (what a notebook prints and
        nbval checks): one group of columns per key, one column per guarantee."""
        keys = [check_choice("keys", k, KEYS) for k in check_sequence("keys", keys, what=f"keys ({', '.join(KEYS)})")]
        short = {"at-most-once": "AMO", "at-least-once": "ALO", "exactly-once": "EO"}
        width = 3 * 8 + 2
        groups = " | ".join(f"{k.replace('_', ' '):^{width}}" for k in keys)
        names = " | ".join(" ".join(f"{short[s]:>8}" for s in SEMANTICS) for _ in keys)
        lines = [f"{'':>11} | {groups}", f"{self.parameter:>11} | {names}"]
        lines.append("-" * len(lines[1]))
        for i, x in enumerate(self.values):
            cells = " | ".join(" ".join(f"{self.counts[s][i].rate(k):8.4f}" for s in SEMANTICS) for k in keys)
            lines.append(f"{x:>11g} | {cells}")
        lines.append("AMO at-most-once, ALO at-least-once, EO exactly-once; "
                     f"{self.n_messages:,} messages per point")
        return "\n".join(lines)


def sweep(parameter: str, values: Iterable[float], *, n_messages: int = 10_000, loss: float = 0.1,
          ack_loss: float = 0.1, max_retries: int = 3, seed: int = 0) -> Sweep:
    """Simulate the three guarantees at each value of ``parameter`` (the others held fixed).

    parameter:   "loss", "ack_loss" or "max_retries".
    values:      the values to try (probabilities in [0, 1], or retry counts in [0, 1000]).
    n_messages:  messages per point (and per guarantee).
    seed:        every point gets its own random stream, derived from (seed, point index).
    """
    check_choice("parameter", parameter, PARAMETERS)
    raw = list(np.asarray(values).ravel().tolist()) if isinstance(values, np.ndarray) else \
        check_sequence("values", values, what="numbers")
    if not 1 <= len(raw) <= MAX_POINTS:
        raise ValueError(f"values must hold 1 to {MAX_POINTS} numbers, got {len(raw)}")
    if parameter == "max_retries":
        xs = tuple(check_int(f"values[{i}] (max_retries)", v, low=0, high=MAX_RETRIES) for i, v in enumerate(raw))
    else:
        xs = tuple(check_probability(f"values[{i}] ({parameter})", v) for i, v in enumerate(raw))
    n, p, q, r, seed = _check_common(n_messages, loss, ack_loss, max_retries, seed)
    settings = {"loss": p, "ack_loss": q, "max_retries": r}
    counts: dict[str, list[FastCounts]] = {s: [] for s in SEMANTICS}
    for i, x in enumerate(xs):
        point = dict(settings)
        point[parameter] = x
        result = _simulate(np.random.default_rng([seed, i]), n, point["loss"], point["ack_loss"],
                           point["max_retries"])
        for s in SEMANTICS:
            counts[s].append(result[s])
    del settings[parameter]
    return Sweep(parameter, xs, n, settings, seed, {s: tuple(c) for s, c in counts.items()})
