"""Argument checks shared by every public function: each failure names the parameter,
the value given and what is allowed, so a learner can fix the call without reading our code."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, allow_inf: bool = False) -> float:
    """Return ``value`` as a float, or raise naming ``name`` and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_show(value)} of type {type(value).__name__}")
    x = float(value)
    if math.isnan(x):
        raise ValueError(f"{name} must be a number, got NaN")
    if math.isinf(x) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {_show(value)}")
    lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
    hi = "" if high is None else f"{high:g}]"
    allowed = f"{lo or '(-inf'}, {hi or 'inf)'}"
    if low is not None and (x < low or (low_open and x == low)):
        raise ValueError(f"{name} must be in {allowed}, got {_show(value)}")
    if high is not None and x > high:
        raise ValueError(f"{name} must be in {allowed}, got {_show(value)}")
    return x


def check_probability(name: str, value: Any) -> float:
    """A probability: a real number in [0, 1]."""
    return check_number(name, value, low=0.0, high=1.0)


def check_int(name: str, value: Any, *, low: int = 0, high: int | None = None) -> int:
    """An integer (bool and float are refused) in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_show(value)} of type {type(value).__name__}")
    n = int(value)
    if n < low or (high is not None and n > high):
        allowed = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {allowed}, got {n}")
    return n


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, choices))}; "
                        f"got {_show(value)} of type {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {_show(value)}"
                         f"{did_you_mean(value, choices)}")
    return value


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for a near miss of one of ``choices`` (a typo, a wrong case), else ''."""
    if not isinstance(value, str):
        return ""
    by_folded = {c.lower().replace("_", "-"): c for c in choices}
    folded = value.strip().lower().replace("_", "-").replace(" ", "-")
    close = [by_folded[folded]] if folded in by_folded else difflib.get_close_matches(folded, list(by_folded), n=1,
                                                                                       cutoff=0.75)
    return f" (did you mean {by_folded.get(close[0], close[0])!r}?)" if close else ""


def check_flag(name: str, value: Any) -> bool:
    """A yes/no switch: True or False only (a string such as "no" would otherwise read as true)."""
    if type(value) is not bool:
        hint = ""
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("no", "false", "off", "0", "n"):
                hint = " (did you mean False?)"
            elif word in ("yes", "true", "on", "1", "y"):
                hint = " (did you mean True?)"
        elif isinstance(value, numbers.Integral) and value in (0, 1):
            hint = f" (did you mean {bool(value)}?)"
        raise TypeError(f"{name} must be True or False, got {_show(value)} of type {type(value).__name__}{hint}")
    return value


def check_sequence(name: str, value: Any, *, what: str = "values") -> list:
    """An ordered collection (list, tuple, range...) as a list; a string, a set (no order), a mapping
    or a single value is refused with a TypeError that says what was expected."""
    if isinstance(value, (str, bytes, bytearray)):
        raise TypeError(f"{name} must be a sequence of {what} (a list or tuple), got the string {_show(value)}")
    if isinstance(value, (set, frozenset)):
        raise TypeError(f"{name} must be a sequence of {what} in order (a list or tuple), got a "
                        f"{type(value).__name__}, which has no order: {_show(value)}")
    if isinstance(value, Mapping):
        raise TypeError(f"{name} must be a sequence of {what} (a list or tuple), got a mapping {_show(value)}")
    if not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a sequence of {what} (a list or tuple), got {_show(value)} of type "
                        f"{type(value).__name__}")
    return list(value)
