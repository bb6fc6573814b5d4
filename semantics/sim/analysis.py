"""Closed-form expectations for the facade's model, and the exact distributions behind them.

Model: stop-and-wait, one message at a time, independent request loss ``p`` and ack loss ``q``
per transmission, a timeout longer than any round trip, ``N = max_retries + 1`` attempts at most.
An attempt *succeeds* (data and its ack both arrive) with probability ``s = (1-p)(1-q)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .checker import SEMANTICS
from ..validation import check_choice, check_flag, check_int, check_probability

KEYS = ("lost", "once", "duplicated", "effects", "attempts", "acked", "indefinite", "indefinite_applied")


def _check(semantic: str, loss: float, ack_loss: float, max_retries: int) -> tuple[str, float, float, int]:
    return (check_choice("semantic", semantic, SEMANTICS), check_probability("loss", loss),
            check_probability("ack_loss", ack_loss), check_int("max_retries", max_retries, low=0, high=100_000))


def expected(semantic: str, *, loss: float, ack_loss: float = 0.0, max_retries: int = 3) -> dict[str, float]:
    """Per logical message: P(lost), P(once), P(duplicated), E[effects], E[attempts], and
    P(acked), P(indefinite) = P(never acknowledged), P(indefinite_applied) = P(never
    acknowledged, yet took effect)."""
    semantic, p, q, r = _check(semantic, loss, ack_loss, max_retries)
    if semantic == "at-most-once":
        return {"lost": p, "once": 1 - p, "duplicated": 0.0, "effects": 1 - p, "attempts": 1.0,
                "acked": 0.0, "indefinite": 1.0, "indefinite_applied": 1 - p}
    n = r + 1
    s = (1 - p) * (1 - q)
    p_n = p ** n
    unacked = (1 - s) ** n                                    # every attempt failed
    # E[min(geometric(s), N)] = (1 - (1-s)^N) / s, computed without cancellation when s is tiny
    attempts = float(n) if s == 0 else -math.expm1(n * math.log1p(-s)) / s if s < 1 else 1.0
    lost = p_n
    if semantic == "exactly-once":
        once, duplicated, effects = 1 - p_n, 0.0, 1 - p_n
    else:
        once = (1 - q) * (1 - p_n) + n * q * (1 - p) * p ** (n - 1)
        duplicated = max(0.0, 1 - lost - once)
        effects = (1 - p) * attempts                          # every attempt that arrives is processed
    return {"lost": lost, "once": once, "duplicated": duplicated, "effects": effects,
            "attempts": attempts, "acked": 1 - unacked, "indefinite": unacked,
            "indefinite_applied": max(0.0, unacked - p_n)}


@dataclass(frozen=True)
class Outcome:
    """One possible history of a message, with its probability."""

    probability: float
    attempts: int
    deliveries: int
    acked: bool


def outcomes(semantic: str, *, loss: float, ack_loss: float = 0.0, max_retries: int = 3) -> list[Outcome]:
    """The exact distribution of (attempts, deliveries, acked) for one message: a
    dynamic programme over attempts, independent of the closed forms (which tests check it against)."""
    semantic, p, q, r = _check(semantic, loss, ack_loss, max_retries)
    if semantic == "at-most-once":
        return [o for o in (Outcome(p, 1, 0, False), Outcome(1 - p, 1, 1, False)) if o.probability > 0]
    n = r + 1
    going = {0: 1.0}          # deliveries so far -> probability, for histories still retrying
    done: list[Outcome] = []
    for k in range(1, n + 1):
        nxt: dict[int, float] = {}
        for d, w in going.items():
            if p:
                nxt[d] = nxt.get(d, 0.0) + w * p
            if (1 - p) * q:
                nxt[d + 1] = nxt.get(d + 1, 0.0) + w * (1 - p) * q
            if (1 - p) * (1 - q):
                done.append(Outcome(w * (1 - p) * (1 - q), k, d + 1, True))
        going = nxt
    done.extend(Outcome(w, n, d, False) for d, w in going.items())
    return [o for o in done if o.probability > 0]


def _effects(semantic: str, o: Outcome) -> int:
    return min(o.deliveries, 1) if semantic == "exactly-once" else o.deliveries


def moments(semantic: str, *, loss: float, ack_loss: float = 0.0, max_retries: int = 3) -> dict[str, tuple[float, float]]:
    """Per message: key -> (mean, variance), from the exact distribution (for confidence intervals)."""
    dist = outcomes(semantic, loss=loss, ack_loss=ack_loss, max_retries=max_retries)
    values = {
        "lost": lambda o: float(_effects(semantic, o) == 0),
        "once": lambda o: float(_effects(semantic, o) == 1),
        "duplicated": lambda o: float(_effects(semantic, o) >= 2),
        "effects": lambda o: float(_effects(semantic, o)),
        "attempts": lambda o: float(o.attempts),
        "acked": lambda o: float(o.acked),
        "indefinite": lambda o: float(not o.acked),
        "indefinite_applied": lambda o: float(not o.acked and _effects(semantic, o) > 0),
    }
    result = {}
    for key, f in values.items():
        mean = math.fsum(o.probability * f(o) for o in dist)
        var = math.fsum(o.probability * (f(o) - mean) ** 2 for o in dist)
        result[key] = (mean, var)
    return result


def confidence_interval(mean: float, variance: float, n: int, level: float = 0.999) -> tuple[float, float]:
    """Normal-approximation interval for the mean of ``n`` independent messages."""
    z = _z(level)
    half = z * math.sqrt(variance / n) if n else math.inf
    return mean - half, mean + half


def _z(level: float) -> float:
    from statistics import NormalDist
    return NormalDist().inv_cdf(0.5 + level / 2)


@dataclass(frozen=True)
class Agreement:
    """A simulated mean set against its closed form: inside the confidence interval or not."""

    name: str
    closed_form: float
    simulated: float
    low: float
    high: float
    level: float

    @property
    def ok(self) -> bool:
        return self.low - 1e-12 <= self.simulated <= self.high + 1e-12

    def __str__(self) -> str:
        return (f"{self.name:<34} closed form {self.closed_form:.5f}  simulated {self.simulated:.5f}  "
                f"{self.level:.1%} interval [{self.low:.5f}, {self.high:.5f}]  "
                f"{'agrees' if self.ok else 'DISAGREES'}")

    __repr__ = __str__


def agreement(name: str, closed_form: float, simulated: float, variance: float, n: int, *,
              level: float = 0.999, probability: bool = False) -> Agreement:
    """Whether ``simulated`` (a mean over ``n`` independent messages) lies in the ``level``
    confidence interval around ``closed_form`` (per-message variance ``variance``, e.g. from
    ``moments``). Every quantity here is a count or a fraction, so the interval is clipped at 0;
    with ``probability`` it is clipped to [0, 1]."""
    check_int("n", n, low=1)
    check_flag("probability", probability)
    low, high = confidence_interval(closed_form, variance, n, level)
    low = max(low, 0.0)
    if probability:
        high = min(high, 1.0)
    return Agreement(str(name), float(closed_form), float(simulated), low, high, level)


def show_agreement(name: str, closed_form: float, simulated: float, variance: float, n: int, *,
                   level: float = 0.999, probability: bool = False) -> None:
    """Print ``agreement(...)`` as one line: what the lessons print and nbval checks. (Returns
    None, so that a cell ending with it does not show the line twice; use ``agreement`` for the
    verdict itself.)"""
    print(agreement(name, closed_form, simulated, variance, n, level=level, probability=probability))
