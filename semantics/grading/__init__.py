"""The autograder of the exercise ladder: runs a learner's protocol under every small schedule of
faults, then seeded random ones, and explains the first broken invariant with the smallest
counterexample found.

``check(exercise, Sender, Receiver)`` returns a ``Verdict``; in a notebook it shows its text, and
the counterexample's trace and sequence diagram. The learner's classes run in a child process
(``isolation``): an exception, an endless loop, a handler that sleeps, ``os._exit``, threads, a
flood of prints or a monkeypatch end with a verdict, never with a hung or changed kernel. Runs are
bounded by counted budgets, never by time, so the verdict is the same on any machine.

The package, one concept per module:

    exercises/   one specification per exercise: scope, faults, invariants, hints, partner classes
    invariants   what must hold, in words, and how to see it did not
    explorer     the systematic search (every schedule within a scope, fewest faults first)
    scenarios    one run written down (random scenarios too), in words and as a replay call
    runner       one graded run: budgets, measured state, what the nodes touched outside themselves
    outside      state outside the nodes, threads, monkeypatches
    shrinking    a random counterexample made small
    grade        the pipeline: search, random scenarios, counterexample
    isolation    the child process, its limits and guards
    session      check(): arguments, isolation, verdict
    verdict      Verdict and Counterexample;  render: their text, HTML, trace and diagram
    hints        hints chosen by invariant and cause, with levels (``hint(n)``: the rung's own, before any
                 verdict);  partners: the nodes exercises give
"""

from __future__ import annotations

from .exercises import EXERCISES, Exercise
from .explorer import Base, Coverage, Scope
from .hints import CAUSES
from .invariants import (ACK_MEANS_EFFECT, BOUNDED_STATE, EVERY_COPY_ACKED, EVERY_EFFECT, NO_DUPLICATES,
                         NO_SILENT_LOSS, NODE_ISOLATION, RUN_COMPLETES, Finding, Invariant, Trial)
from .exercises.ex5 import ALL_COMMITTED
from .exercises.ex7 import ANSWERED, FIRST_RECEIPT
from .exercises.ex8 import FENCED, SETTLED, SETTLED_MEANS_EFFECT
from .exercises.ex9 import PAID_BY_SERVICE, PAID_OR_REPORTED
from .invariants import IN_FLIGHT
from .partners import (ApplyAndAckReceiver, Broker, Fenced, LeaseQueue, Leased, NumberedSender, Payments,
                       PipelinedClient, Producer, Reply, SequenceSender, Worker)
from .render import format_trace
from .runner import state_size
from .scenarios import REPEATED, Scenario
from .session import check, hint
from .verdict import Counterexample, Verdict

#: Invariant name -> what it demands (every invariant of every exercise).
INVARIANTS: dict[str, str] = {}
for _ex in EXERCISES.values():
    for _i in _ex.invariants:
        INVARIANTS.setdefault(_i.name, _i.statement)
del _ex, _i

__all__ = ["check", "hint", "Verdict", "Counterexample", "Scenario", "Exercise", "EXERCISES", "INVARIANTS",
           "Broker", "NumberedSender", "ApplyAndAckReceiver", "SequenceSender", "PipelinedClient", "Producer",
           "LeaseQueue", "Worker", "Payments", "Fenced", "Leased", "Reply", "format_trace", "state_size", "Base", "Scope",
           "Coverage", "Finding", "Invariant", "Trial", "CAUSES", "REPEATED", "NODE_ISOLATION", "RUN_COMPLETES",
           "NO_DUPLICATES", "ACK_MEANS_EFFECT", "NO_SILENT_LOSS", "EVERY_EFFECT", "ALL_COMMITTED",
           "EVERY_COPY_ACKED", "BOUNDED_STATE", "IN_FLIGHT", "FIRST_RECEIPT", "ANSWERED", "FENCED", "SETTLED",
           "SETTLED_MEANS_EFFECT", "PAID_BY_SERVICE", "PAID_OR_REPORTED"]
