"""The exercises of the ladder, one module each, each readable as the statement of its exercise:
the guarantee, the invariants it implies, the scope of the systematic search and its faults, the
random scenarios, the partner classes the learner is graded against, and the hints.

    1  retry until acknowledged          request loss, an outage            -> at-least-once
    2  stable ids and deduplication      ack loss, duplicates, reordering, late copies
    3  durable, atomic deduplication     the receiver crashes at every crash point
    4  commit discipline of a consumer   a crash between processing and commit; redelivery
    5  bounded deduplication state       copies within a stated horizon; state in bytes
    6  capstone: outbox and inbox        the sender crashes too, at every crash point

To add a rung: write ``exN.py`` with an ``EXERCISE`` built from ``semantics.grading.exercise.Exercise``
and add it below.
"""

from __future__ import annotations

from ..exercise import Exercise
from . import ex1, ex2, ex3, ex4, ex5, ex6

EXERCISES: dict[int, Exercise] = {m.EXERCISE.number: m.EXERCISE for m in (ex1, ex2, ex3, ex4, ex5, ex6)}

__all__ = ["EXERCISES", "Exercise"]
