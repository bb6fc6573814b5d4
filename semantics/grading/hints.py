"""Hints: what to look at, chosen by the invariant that broke and the cause seen in the counterexample.

An exercise writes its hints as ``{invariant: {cause: text}}``; the cause ``None`` is the hint for
any other cause. A text may also be a tuple of texts, from a nudge to nearly the answer: the
*levels* of the hint (``hint(exercise, invariant, cause, level=2)``; the verdict shows level 1).

The causes are read from the counterexample itself, most telling first: state kept outside the
nodes; a durable value changed in place; a crash; an outage; a late copy; a network duplicate; a
copy overtaken by a later one; a lost ack; a lost message; two messages with equal bodies; and last
what the code did (it raised, or ran away: because a copy was never acknowledged, or otherwise), so
that a hint about the fault that made it raise wins.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..sim.checker import Report

EXCEPTION, RUNAWAY, OUTSIDE, IN_PLACE = "exception", "runaway", "state outside the nodes", "changed in place"
CRASH, OUTAGE, LATE_COPY, DUPLICATE = "crash", "outage", "late copy", "network duplicate"
DELAYED, LOST_ACK, LOST_MESSAGE, EQUAL_BODIES = "delayed copy", "lost ack", "lost message", "equal bodies"
UNACKED = "a copy never acknowledged"
CAUSES = (OUTSIDE, IN_PLACE, CRASH, OUTAGE, LATE_COPY, DUPLICATE, DELAYED, LOST_ACK, LOST_MESSAGE, EQUAL_BODIES,
          EXCEPTION, UNACKED, RUNAWAY)

Hints = Mapping[str, Mapping[str | None, "str | tuple[str, ...]"]]


def causes(report: Report | None, *, outside: bool = False, problem: str | None = None) -> tuple[str, ...]:
    """The causes seen in a counterexample's traced run, most telling first."""
    found = []
    if report is None:
        return (EXCEPTION,) if problem else ()
    if outside:
        found.append(OUTSIDE)
    if report.warnings:
        found.append(IN_PLACE)
    trace = report.trace or ()
    kinds = {e.kind for e in trace}
    if "crash" in kinds:
        found.append(CRASH)
    sends = [e for e in trace if e.kind == "send"]
    if any(e.text == "outage" for e in sends):
        found.append(OUTAGE)
    if any("late" in e.text for e in sends):
        found.append(LATE_COPY)
    if any(e.text == "network duplicate" for e in sends):
        found.append(DUPLICATE)
    if any(e.text == "delayed" for e in sends):
        found.append(DELAYED)
    lost = [e for e in sends if e.fate in ("lost", "partitioned") and e.text != "outage"]
    if any(e.message == "ack" for e in lost):
        found.append(LOST_ACK)
    if any(e.message == "data" for e in lost):
        found.append(LOST_MESSAGE)
    contents = [m.content for m in report.messages()] if report.n_messages else []
    if len(contents) != len(set(map(repr, contents))):
        found.append(EQUAL_BODIES)
    if report.status == "error":
        found.append(EXCEPTION)
    elif report.status != "ok":
        details = report.details
        if report.status == "event budget" and details is not None and any(
                details.acks_sent[m.logical] < m.handled for m in report.messages()):
            found.append(UNACKED)  # a run that never ends because a copy was never acknowledged
        found.append(RUNAWAY)
    return tuple(found)


def levels(hints: Hints, invariant: str, seen: tuple[str, ...]) -> tuple[str, ...]:
    """The hint (all its levels) for ``invariant`` and the first cause in ``seen`` that has one."""
    return chosen(hints, invariant, seen)[1]


def chosen(hints: Hints, invariant: str, seen: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """(the cause whose hint was chosen, None for the general one; the hint's levels) for
    ``invariant`` and the causes ``seen`` in a counterexample, most telling first."""
    table = hints.get(invariant, {})
    for cause in (*seen, None):
        text = table.get(cause)
        if text:
            return cause, ((text,) if isinstance(text, str) else tuple(text))
    return None, ()
