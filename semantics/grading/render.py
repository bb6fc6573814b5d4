"""A verdict in words and pictures: its text (wrapped at word boundaries), its HTML, the trace of the
counterexample around the violation, and the sequence diagram, shrunk to fit.

The text holds no timing, so that it is the same on any machine.
"""

from __future__ import annotations

import html as _html
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..sim.checker import Event, Report
from ..validation import check_int

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

# A Verdict and a Counterexample (semantics.grading.verdict) are what this module draws; it takes them
# as they come (``Any``), so that verdict can call it without an import cycle.
Verdict = Counterexample = Any

WIDTH = 100          # characters per line of prose
TRACE_LINES = 40     # events shown around the violation
DIAGRAM_EVENTS = 40  # events drawn at most (a readable picture, drawn in well under 150 ms)
QUIET = 12.0         # a stretch of simulated time with nothing happening, longer than this, is shortened
SPAN = 24.0          # simulated time a diagram shows at most (after shortening): a figure that stays small

HEADS = {"passed": "PASSED", "failed": "NOT PASSED", "not implemented": "NOT IMPLEMENTED YET"}


def wrap(text: str, width: int = WIDTH) -> str:
    """Wrap each line of ``text`` at word boundaries (never inside a word or at a hyphen); a
    continuation is indented under the line's label."""
    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        out.append(textwrap.fill(line, width, subsequent_indent="    ", break_long_words=False,
                                 break_on_hyphens=False))
    return "\n".join(out)


def text(verdict: Verdict) -> str:
    lines = [f"Exercise {verdict.exercise} ({verdict.title}): {HEADS.get(verdict.status, verdict.status.upper())}",
             wrap(verdict.explanation)]
    for note in verdict.notes:
        lines.append(wrap(f"Note: {note}"))
    if verdict.hint:
        lines.append(wrap(f"Hint: {verdict.hint}" + (f" {verdict.more}" if verdict.more else "")))
    cx = verdict.counterexample
    trace = cx.trace_text() if cx is not None else ""
    if trace:
        lines.append(trace)
    return "\n".join(lines)


def html(verdict: Verdict) -> str:
    color = "#1a7f37" if verdict.passed else "#b42318"
    head, _, body = text(verdict).partition("\n")
    return (f'<div style="border-left:4px solid {color};padding:4px 10px">'
            f'<b style="color:{color}">{_html.escape(head)}</b>'
            f'<pre style="white-space:pre-wrap;overflow-wrap:normal">{_html.escape(body)}</pre></div>')


# -- the trace in words ------------------------------------------------------------------------------


def _name(ids: Sequence, e: Event) -> str:
    wire = repr(e.msg_id)
    if e.logical is not None and e.logical < len(ids) and ids[e.logical] != e.msg_id:
        return f"{wire} ({ids[e.logical]})"
    return wire


def event_line(e: Event, ids: Sequence = ()) -> str:
    """One event of a trace, in words."""
    t = f"t={e.time:8.2f}  {e.node:<8} "
    if e.kind == "submit":
        return t + f"the application sends {e.msg_id} ({e.text})"
    if e.kind == "send":
        if e.fate == "delivered":
            fate = f"arrives at t={e.until:.2f}"
        elif e.fate == "lost":
            fate = "LOST by the network"
        else:
            fate = "dropped: the network is down" if e.text == "outage" else "dropped: link partitioned"
        extra = {"network duplicate": ", a network duplicate", "delayed": ", held back by the network",
                 "network duplicate, delivered late": ", a copy the network kept and delivers late"}.get(e.text, "")
        return t + f"-> {e.peer}: {e.message} {_name(ids, e)} ({fate}{extra})"
    if e.kind == "receive":
        return t + f"<- {e.peer}: {e.message} {_name(ids, e)}"
    if e.kind == "down":
        return t + f"is down: {e.message} {_name(ids, e)} from {e.peer} is lost"
    if e.kind == "effect":
        receipt = f" (receipt {e.receipt})" if e.receipt is not None else ""
        return t + f"EFFECT of {_name(ids, e)}: {e.text}{receipt}"
    if e.kind == "timer":
        return t + f"timer {e.text} fires"
    if e.kind == "crash":
        return t + f"CRASH ({e.text}): volatile state lost"
    if e.kind == "restart":
        return t + f"restarts ({e.text}); durable state kept"
    if e.kind == "rollback":
        return t + e.text
    return t + f"{e.kind}: {e.text}"


def format_trace(report: Report, *, limit: int = 60) -> str:
    """The trace of a run in words, one event a line (at most ``limit`` lines)."""
    if not isinstance(report, Report):
        raise TypeError(f"report must be a semantics Report, got {type(report).__name__}")
    if report.trace is None:
        raise ValueError("report has no trace: run it with trace=True")
    limit = check_int("limit", limit, low=1)
    ids = [m.msg_id for m in report.messages()] if report.n_messages else []
    lines = [event_line(e, ids) for e in report.trace[:limit]]
    if len(report.trace) > limit:
        lines.append(f"... {len(report.trace) - limit} more events (see .counterexample.report.trace)")
    return "\n".join(lines)


def focus(report: Report, invariant: str, logical: int | None) -> int:
    """The index of the trace event where the violation shows."""
    trace = report.trace or ()
    if not trace:
        return 0
    if logical is not None:
        mine = [i for i, e in enumerate(trace) if e.logical == logical]
        if invariant == "no duplicate effects":
            effects = [i for i in mine if trace[i].kind == "effect"]
            if len(effects) > 1:
                return effects[1]
        if invariant == "ack means effect":
            acks = [i for i in mine if trace[i].kind == "receive" and trace[i].message == "ack"]
            if acks:
                return acks[0]
        if mine:
            return mine[-1]
    return len(trace) - 1


def window(report: Report, invariant: str, logical: int | None, limit: int) -> tuple[int, int]:
    """[start, end) of the events to show: ``limit`` of them, the violation two thirds down."""
    n = len(report.trace or ())
    if n <= limit:
        return 0, n
    at = focus(report, invariant, logical)
    start = max(0, min(at - (2 * limit) // 3, n - limit))
    return start, start + limit


def trace_window(cx: Counterexample, *, limit: int = TRACE_LINES) -> str:
    report = cx.report
    if report is None or report.trace is None:
        return ""
    messages = report.messages() if report.n_messages else []
    ids = [m.msg_id for m in messages]
    logical = _logical(cx, ids)
    start, end = window(report, cx.invariant, logical, limit)
    n = len(report.trace)
    which = f"all {n} events" if (start, end) == (0, n) else f"events {start + 1} to {end} of {n}"
    totals = ""
    if logical is not None and logical < len(messages):
        m = messages[logical]
        totals = (f"; in this run {m.msg_id!r} was sent {_times(m.attempts)}, delivered {_times(m.deliveries)}, "
                  f"took effect {_times(m.effects)}, and was {'acknowledged' if m.acked else 'never acknowledged'}")
    lines = [wrap(f"Trace of the counterexample ({which}{totals}):")]
    if start:
        lines.append(f"... {start} earlier events")
    lines += [event_line(e, ids) for e in report.trace[start:end]]
    if end < n:
        lines.append(f"... {n - end} later events (all of them: verdict.counterexample.report.trace)")
    return "\n".join(lines)


def _times(n: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(n, f"{n} times")


def _logical(cx: Counterexample, ids: Sequence) -> int | None:
    if cx.msg_id is None:
        return None
    for i, msg_id in enumerate(ids):
        if msg_id == cx.msg_id:
            return i
    return None


# -- the diagram ---------------------------------------------------------------------------------------


def fitted(report: Report, start: int, end: int) -> tuple[Report, bool]:
    """The report cut to trace events [start, end), with every quiet stretch longer than ``QUIET``
    shortened to it (a late copy 10,000 time units on would squash the rest into one line)."""
    events = list(report.trace[start:end])
    times = sorted({t for e in events for t in (e.time, e.until) if t is not None})
    shift: dict[float, float] = {}
    removed, previous, shortened = 0.0, None, False
    for t in times:
        if previous is not None and t - previous > QUIET:
            removed += t - previous - QUIET
            shortened = True
        shift[t] = t - removed
        previous = t
    events = [replace(e, time=shift[e.time], until=shift[e.until] if e.until is not None else None) for e in events]
    return replace(report, trace=tuple(events)), shortened


def _span(report: Report) -> float:
    times = [t for e in report.trace for t in (e.time, e.until) if t is not None]
    return max(times) - min(times) if times else 0.0


def diagram(cx: Counterexample) -> Figure | None:
    try:
        from ..views.plots import sequence_diagram
    except ImportError:  # the pictures are optional for grading
        return None
    report = cx.report
    if report is None or report.trace is None or not report.trace:
        return None
    ids = [m.msg_id for m in report.messages()] if report.n_messages else []
    logical = _logical(cx, ids)
    n = len(report.trace)
    start, end = (0, n) if n <= DIAGRAM_EVENTS * 3 // 2 else window(report, cx.invariant, logical, DIAGRAM_EVENTS)
    shown, shortened = fitted(report, start, end)
    span, scale = _span(shown), 1.0
    if span > SPAN:  # a busy stretch (retries through an outage): the whole picture, time scaled to fit
        scale = SPAN / span
        base = min(e.time for e in shown.trace)
        shown = replace(shown, trace=tuple(replace(e, time=base + (e.time - base) * scale,
                                                   until=None if e.until is None else base + (e.until - base) * scale)
                                           for e in shown.trace))
    around = None
    if report.n_messages > 6:  # the messages the shown events are about, around the culprit
        present = sorted({e.logical for e in shown.trace if e.logical is not None})
        if logical is not None:
            present.sort(key=lambda i: (abs(i - logical), i))
        around = [ids[i] for i in sorted(present[:6])] or None
    which = f" ({cx.msg_id!r})" if cx.msg_id is not None else ""
    title = f"counterexample: {cx.invariant}{which}"
    notes = []
    if (start, end) != (0, len(report.trace)):
        notes.append(f"events {start + 1}-{end} of {len(report.trace)}"
                     + ("; retries numbered from the first shown" if start else ""))
    if shortened:
        notes.append(f"quiet stretches over {QUIET:g} time units shortened")
    if scale < 1.0:
        notes.append(f"time drawn {1 / scale:.1f}x shorter")
    if notes:
        title += "\n(" + "; ".join(notes) + ")"
    return sequence_diagram(shown, title=title, messages=around)


# -- explanations --------------------------------------------------------------------------------------


def numbered(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def covered(outcome: Any, exercise: Any) -> str:
    """What the grading covered, in words."""
    c = outcome.coverage
    scope = exercise.scope
    bases = "; ".join(f"{b.describe()}, up to {numbered(b.faults, 'fault')}" for b in scope.bases)
    text = (f"all {numbered(c.schedules, 'schedule')} of the systematic search ({bases}; faults: "
            f"{scope.describe()})")
    if c.pruned:
        text += f", and {c.pruned:,} more skipped as repeats of states already explored"
    if outcome.random_runs:
        text += f"; then {numbered(outcome.random_runs, 'seeded random scenario')}"
    return text
