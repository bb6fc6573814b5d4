"""The exercises of the ladder, one module each, each readable as the statement of its exercise:
the guarantee, the invariants it implies, the scope of the systematic search and its faults, the
random scenarios, the partner classes the learner is graded against, and the hints.

     1  retry until acknowledged           request loss, an outage            -> at-least-once
     2  stable ids and deduplication       ack loss, duplicates, reordering, late copies
     3  durable deduplication, one number  the receiver crashes at every crash point; bounded state
     4  several messages in flight         reordering; a window of 4; deduplication without order
     5  commit discipline of a consumer    a crash between processing and commit; redelivery
     6  a window and the retry horizon     a sender that gives up: gaps that never fill
     7  a reply cache, pipelined           lost replies; the original reply for every retry
     8  leases and fencing tokens          workers slower than their lease; a store that fences
     9  an effect no transaction can undo  an idempotency key that expires; a long outage
    10  capstone: outbox and inbox         the sender crashes too; exercise 4's window and bound

To add a rung: write ``exN.py`` with an ``EXERCISE`` built from ``semantics.grading.exercise.Exercise``
and add it below.
"""

from __future__ import annotations

from ..exercise import Exercise
from . import ex1, ex2, ex3, ex4, ex5, ex6, ex7, ex8, ex9, ex10

EXERCISES: dict[int, Exercise] = {m.EXERCISE.number: m.EXERCISE
                                  for m in (ex1, ex2, ex3, ex4, ex5, ex6, ex7, ex8, ex9, ex10)}

__all__ = ["EXERCISES", "Exercise"]
