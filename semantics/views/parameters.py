"""Lesson parameters, checked in the cell right after a lesson's ``parameters`` cell.

papermill (and a learner) can set any value there; ``parameter`` refuses a value the lesson cannot
use, at once, with an error that names the parameter, the value, what is allowed and why, instead of
a ZeroDivisionError or a StopIteration twenty cells later::

    LOSS = parameter("LOSS", LOSS, "probability")
    LEASE = parameter("LEASE", LEASE, "number", low=4.0, low_open=True,
                      why="a lease must outlast the four network hops of one delivery")
    CRASH_MESSAGE = parameter("CRASH_MESSAGE", CRASH_MESSAGE, "choice", choices=("m1", "m2", "m3"))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..validation import check_choice, check_int, check_number, check_probability

__all__ = ["parameter", "ParameterError"]

KINDS = ("int", "number", "probability", "choice")


class ParameterError(ValueError):
    """A lesson parameter the lesson cannot use (a ValueError, so that ``except ValueError`` sees it)."""


def parameter(name: str, value: Any, kind: str, *, low: float | None = None, high: float | None = None,
              low_open: bool = False, choices: Sequence[str] = (), why: str = "") -> Any:
    """Return ``value`` if the lesson can use it as parameter ``name``; else raise ``ParameterError``.

    kind:      "int" (an integer in [low, high]), "number" (a real number in the range), "probability"
               (a real number in [0, 1], narrowed by ``low``/``high`` if given) or "choice" (one of ``choices``).
    why:       the reason for the limits, added to the message (what the lesson needs the value for).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"name must be the parameter's name, got {name!r}")
    check_choice("kind", kind, KINDS)
    try:
        if kind == "int":
            checked = check_int(name, value, low=0 if low is None else int(low),
                                high=None if high is None else int(high))
        elif kind == "number":
            checked = check_number(name, value, low=low, high=high, low_open=low_open)
        elif kind == "probability":
            checked = check_probability(name, value)
            if low is not None or high is not None:
                checked = check_number(name, checked, low=low, high=high, low_open=low_open)
        else:
            checked = check_choice(name, value, tuple(choices))
    except (TypeError, ValueError) as exc:
        because = f" ({why})" if why else ""
        raise ParameterError(f"parameter {name} = {value!r} cannot be used: {exc}{because}. "
                             f"Change it in the parameters cell and run the notebook again.") from None
    return checked
