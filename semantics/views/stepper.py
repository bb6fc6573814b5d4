"""Step through a run event by event: the sequence diagram up to that event, each node's volatile and
durable state, its timers, and the messages in flight. A crash visibly wipes the volatile state
(shown struck through) and keeps the durable one.

The core is headless: ``record(sender, receiver, **run_kwargs)`` runs the protocol with
``run(..., trace=True, observe=...)`` and returns a ``Recording`` whose ``steps`` pair every
engine event that wrote to the trace with the state after it (``semantics.sim.state.Snapshot``).
``StepperView`` is the thin ipywidgets view (a slider and previous/next buttons).

Entry points::

    step_through(Sender, Receiver, n_messages=3, link=..., faults=..., seed=...)   # any run
    step_through(Sender, Receiver, report=report, **the same run kwargs)           # check it is that run
    step_through_simulation("exactly-once", n_messages=4, loss=0.3, crash_prob=0.1, seed=3)
    step_through_counterexample(verdict.counterexample)                            # the grader's
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..sim.checker import SEMANTICS, Event, Report
from ..sim.faults import Faults
from ..sim.harness import run
from ..sim.network import Link
from ..sim.protocols import REFERENCE, RetryingSender
from ..sim.state import Snapshot
from ..validation import check_choice, check_int
from .diagram import Diagram, diagram_of, sequence_diagram
from .story import Annotation, short, story

MAX_STEPS = 2000  # a run longer than this is no run to step through by hand


@dataclass(frozen=True)
class Step:
    """One engine event that wrote to the trace, and the state of the run after it."""

    number: int                         # 0, 1, 2, ...
    time: float
    first: int                          # its first trace event (index into report.trace)
    last: int                           # its last trace event (inclusive)
    events: tuple[Event, ...]
    words: tuple[str, ...]              # what the diagram writes about these events
    snapshot: Snapshot
    wiped: Mapping[str, Mapping[str, Any]]  # node -> the volatile state a crash in this step wiped
    # nodes whose crash struck inside a handler of this step: their wiped state is shown as it was
    # before the step (a snapshot is taken between events, never inside a handler)
    mid_handler: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Recording:
    """A traced run with the state after each of its steps (see ``record``)."""

    report: Report
    steps: tuple[Step, ...]
    partitions: tuple[tuple[float, float], ...] = ()

    def state(self, k: int) -> Step:
        """Step ``k`` (0-based; negative counts from the end)."""
        n = len(self.steps)
        k = check_int("k", k, low=-n, high=n - 1) if n else check_int("k", k, low=0, high=-1)
        return self.steps[k]

    def describe(self, k: int) -> str:
        """Step ``k`` in words: what happened, then each node's state and what is in flight."""
        step = self.state(k)
        lines = [f"step {step.number + 1} of {len(self.steps)}, t={step.time:g}:"]
        lines += [f"  {event_text(e)}" for e in step.events]
        lines += [f"  -> {w}" for w in step.words]
        for name, node in step.snapshot.nodes.items():
            status = f"up (incarnation {node.incarnation})" if node.up else "DOWN (crashed)"
            lines.append(f"{name}: {status}, {node.ledger} effect(s) committed")
            if name in step.wiped:
                when = " before this step" if name in step.mid_handler else ""
                lines.append(f"  volatile: wiped by the crash (was {_brief(step.wiped[name])}{when})")
            else:
                lines.append(f"  volatile: {_brief(node.volatile) if node.up else '-'}")
            lines.append(f"  durable:  {_brief(node.durable)}")
            if node.timers:
                lines.append("  timers:   " + ", ".join(f"{short(k)} at t={t:g}" for k, t in node.timers.items()))
        flying = step.snapshot.in_flight
        lines.append("in flight: " + (", ".join(_flight(f) for f in flying) if flying else "nothing"))
        return "\n".join(lines)


def event_text(e: Event) -> str:
    """One trace event as a line a learner reads."""
    what = short(e.msg_id) if e.msg_id is not None else ""
    if e.kind == "send":
        kind = "ack" if e.message == "ack" else "message"
        fate = {"lost": ", lost by the network", "partitioned": ", lost (partition)"}.get(e.fate or "", "")
        copy = " (network duplicate)" if "duplicate" in e.text else ""
        return f"t={e.time:g} {e.node} sends {kind} {what} to {e.peer}{copy}{fate}"
    if e.kind in ("receive", "down"):
        kind = "ack" if e.message == "ack" else "message"
        state = "" if e.kind == "receive" else ", but the node is down: dropped"
        return f"t={e.time:g} {kind} {what} arrives at {e.node} from {e.peer}{state}"
    if e.kind == "effect":
        return f"t={e.time:g} {e.node} applies {what} (receipt {e.receipt})"
    if e.kind == "submit":
        return f"t={e.time:g} the application asks {e.node} to send {what}"
    if e.kind == "timer":
        return f"t={e.time:g} timer {what or e.text} fires at {e.node}"
    if e.kind == "crash":
        return f"t={e.time:g} {e.node} crashes ({e.text})"
    if e.kind == "restart":
        return f"t={e.time:g} {e.node} restarts ({e.text})"
    return f"t={e.time:g} {e.node}: {e.kind} {e.text}".rstrip()


def _brief(mapping: Mapping[Any, Any], limit: int = 160) -> str:
    if not mapping:
        return "{}"
    text = "{" + ", ".join(f"{_value(k)}: {_value(v)}" for k, v in mapping.items()) + "}"
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _value(value: Any) -> str:
    if isinstance(value, (frozenset, set)):
        return "{" + ", ".join(sorted(map(_value, value))) + "}" if value else "set()"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_value(k)}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_value, value)) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_value, value)) + ("," if len(value) == 1 else "") + ")"
    if type(value).__name__ == "Payload":
        return repr(value.content)
    return repr(value)


def _flight(f: Any) -> str:
    kind = "ack " if f.message == "ack" else ""
    return f"{kind}{short(f.msg_id)} {f.src}->{f.dst} (arrives t={f.arrives:g})"


# -- recording ------------------------------------------------------------------------------------


def record(sender: Any, receiver: Any, *, report: Report | None = None, **run_kwargs: Any) -> Recording:
    """Run ``sender`` and ``receiver`` (as ``semantics.run`` does, traced) and keep the state after
    every step. With ``report``, check that the recording is that very run (same trace), so a
    learner steps through the run they were shown; a ValueError says where they part."""
    if report is not None and not isinstance(report, Report):
        raise TypeError(f"report must be a semantics Report (or None), got {type(report).__name__}")
    for reserved in ("trace", "observe"):
        if reserved in run_kwargs:
            raise TypeError(f"{reserved} is set by the stepper; pass the other run() arguments only")
    snapshots: list[Snapshot] = []
    result = run(sender, receiver, trace=True, observe=snapshots.append, **run_kwargs)
    if report is not None and report.trace is not None:
        shown, replayed = tuple(map(_plain, report.trace)), tuple(map(_plain, result.trace))
        halted = report.status == "halted"  # a grader stopped that run at a violation: the first part of this one
        if halted:  # ... up to the event that says why it was stopped
            cut = len(shown) - 1 if shown and report.trace[-1].kind == "error" else len(shown)
            shown, replayed = shown[:cut], replayed[:cut]
        if shown != replayed:
            where = next((i for i, (a, b) in enumerate(zip(shown, replayed)) if a != b),
                         min(len(shown), len(replayed)))
            raise ValueError(f"report: the replay differs from this report at trace event {where} (pass the same "
                             f"sender, receiver and run arguments, seed included, as the run that made it)")
        if halted:
            snapshots = [s for s in snapshots if s.trace_length <= len(shown)]
            result = report
    link = run_kwargs.get("link")
    partitions = link.partitions if isinstance(link, Link) else ()
    return Recording(result, _steps(result, snapshots), partitions)


def _plain(event: Event) -> tuple:
    """An event as plain values: an id that is an object (lesson 05's ``Leased``) by its repr, as the
    grader's isolated process sends it back."""
    return tuple(v if v is None or isinstance(v, (str, int, float)) else repr(v)
                 for v in (getattr(event, f.name) for f in fields(event)))


def _steps(report: Report, snapshots: list[Snapshot]) -> tuple[Step, ...]:
    trace = report.trace
    words: dict[int, list[Annotation]] = {}
    for a in story(trace):
        words.setdefault(a.index, []).append(a)
    steps: list[Step] = []
    written = 0
    previous: Snapshot | None = None
    chosen = [s for s in snapshots if s.trace_length > 0]
    if chosen and chosen[-1].trace_length < len(trace):  # the run stopped inside an event (an error)
        last = chosen[-1]
        chosen.append(Snapshot(last.time, last.events, len(trace), last.nodes, last.in_flight))
    for snapshot in chosen:
        if snapshot.trace_length <= written:
            previous = snapshot
            continue  # nothing written: a cancelled timer, a stale one
        if len(steps) >= MAX_STEPS:
            raise ValueError(f"the run has more than {MAX_STEPS} steps: too long to step through (record a "
                             f"shorter run: fewer messages)")
        events = tuple(trace[written:snapshot.trace_length])
        wiped, inside = {}, set()
        for j, e in enumerate(events):
            if e.kind == "crash" and previous is not None and e.node in previous.nodes:
                before = previous.nodes[e.node]
                wiped[e.node] = before.volatile if before.up else {}
                if any(x.node == e.node for x in events[:j]):
                    inside.add(e.node)
        said = tuple(a.text for i in range(written, snapshot.trace_length) for a in words.get(i, ()))
        steps.append(Step(len(steps), snapshot.time, written, snapshot.trace_length - 1, events, said, snapshot, wiped,
                          frozenset(inside)))
        written = snapshot.trace_length
        previous = snapshot
    return tuple(steps)


def reference_run(semantic: str, *, n_messages: int, loss: float, ack_loss: float = 0.0, max_retries: int = 3,
                  seed: int = 0, duplicate: float = 0.0, delay: float = 1.0, jitter: float = 0.0,
                  timeout: float | None = None, backoff: float = 1.0, crash_prob: float = 0.0,
                  restart_after: float = 1.0, partitions: tuple = (), interval: float | None = None
                  ) -> tuple[Any, Any, dict[str, Any]]:
    """(sender, receiver, run kwargs) of ``semantics.simulate(semantic, ...)``'s run, for
    ``record`` (tests check that the traces agree)."""
    check_choice("semantic", semantic, SEMANTICS)
    sender_class, receiver = REFERENCE[semantic]
    link = Link(loss=loss, ack_loss=ack_loss, duplicate=duplicate, delay=delay, jitter=jitter, partitions=partitions)
    timeout = 3.0 * link.delay if timeout is None else timeout
    if sender_class is RetryingSender:
        def sender() -> RetryingSender:
            return RetryingSender(timeout=timeout, max_retries=max_retries, backoff=backoff)
    else:
        sender = sender_class
    kwargs = dict(n_messages=n_messages, link=link, faults=Faults(crash_prob=crash_prob, restart_after=restart_after),
                  seed=seed, interval=interval, max_events=10_000 + 50 * (max_retries + 2) * n_messages,
                  wall_clock=None)
    return sender, receiver, kwargs


def record_simulation(semantic: str, **settings: Any) -> Recording:
    """``record`` of the run ``semantics.simulate(semantic, **settings)`` makes."""
    sender, receiver, kwargs = reference_run(semantic, **settings)
    return record(sender, receiver, **kwargs)


# -- the view ---------------------------------------------------------------------------------------


def step_through(sender: Any, receiver: Any, *, report: Report | None = None, **run_kwargs: Any) -> "StepperView":
    """A stepper over the run of ``sender`` and ``receiver`` with ``run_kwargs`` (see ``record``)."""
    return StepperView(record(sender, receiver, report=report, **run_kwargs))


def step_through_simulation(semantic: str, **settings: Any) -> "StepperView":
    """A stepper over ``semantics.simulate(semantic, **settings)``'s run."""
    return StepperView(record_simulation(semantic, **settings))


def step_through_counterexample(counterexample: Any) -> "StepperView":
    """A stepper over a grader's counterexample (anything with ``sender``, ``receiver``, ``scenario``
    whose ``kwargs()`` are run's arguments, and the ``report`` it was shown with)."""
    try:
        sender, receiver, kwargs = counterexample.sender, counterexample.receiver, counterexample.scenario.kwargs()
    except AttributeError:
        raise TypeError("counterexample must have sender, receiver and a scenario with kwargs() (a grader "
                        f"Counterexample), got {type(counterexample).__name__}") from None
    others = getattr(counterexample, "others", None)
    if others:  # the exercise's partner nodes (a broker, a service...)
        kwargs["others"] = dict(others)
    return StepperView(record(sender, receiver, report=getattr(counterexample, "report", None), **kwargs))


class StepperView:
    """A slider and previous/next buttons over a Recording: the diagram so far, each node's state,
    what is in flight. ``.widget`` is the ipywidgets box (a cell that returns the view shows it)."""

    def __init__(self, recording: Recording) -> None:
        import ipywidgets as w

        from .render import Blitter

        if not isinstance(recording, Recording):
            raise TypeError(f"recording must be a Recording (from record(...)), got {type(recording).__name__}")
        if not recording.steps:
            raise ValueError("the run has no step to show (no message was sent)")
        self.recording = recording
        n = len(recording.steps)
        self.slider = w.IntSlider(value=1, min=1, max=n, description="step", continuous_update=True,
                                  style={"description_width": "4em"}, layout=w.Layout(width="34em"))
        self.previous_button = w.Button(description="◀ previous", layout=w.Layout(width="8em"))
        self.next_button = w.Button(description="next ▶", layout=w.Layout(width="8em"))
        self.image = w.Image(format="png", layout=w.Layout(align_self="flex-start", max_width="100%", height="auto"))
        self.happened = w.HTML()
        self.state_html = w.HTML()
        self.controls = {"step": self.slider, "previous": self.previous_button, "next": self.next_button}
        self.text = ""
        self.figure = sequence_diagram(recording.report, partitions=recording.partitions or None, max_height=7.0)
        self.diagram: Diagram = diagram_of(self.figure)
        self._blitter = Blitter()
        # what happened and the state side by side above the diagram: they change at every step
        self.happened.layout = w.Layout(width="50%")
        self.state_html.layout = w.Layout(width="50%")
        self.widget = w.VBox([w.HBox([self.previous_button, self.next_button, self.slider]),
                              w.HBox([self.happened, self.state_html]), self.image])
        self.previous_button.on_click(lambda _: self.previous())
        self.next_button.on_click(lambda _: self.next())
        self.slider.observe(lambda change: self.show(change["new"] - 1), names="value")  # shown from 1
        self.show(0)

    @property
    def step(self) -> Step:
        return self.recording.steps[self.slider.value - 1]

    def next(self) -> None:
        self.slider.value = min(self.slider.value + 1, self.slider.max)

    def previous(self) -> None:
        self.slider.value = max(self.slider.value - 1, self.slider.min)

    def show(self, k: int) -> None:
        step = self.recording.state(k)
        self.diagram.show_until(step.last, now=step.time)
        self.image.value = self._blitter.png(self.figure, [*self.diagram.artists])
        self.previous_button.disabled = k == 0
        self.next_button.disabled = k == len(self.recording.steps) - 1
        events = "".join(f"<li>{html.escape(event_text(e))}</li>" for e in step.events)
        words = "".join(f"<li><b>{html.escape(w)}</b></li>" for w in step.words)
        self.happened.value = (f"<div style='font-size:13px'><b>step {k + 1} of {len(self.recording.steps)}, "
                               f"t={step.time:g}</b><ul style='margin:0.2em 0'>{events}{words}</ul></div>")
        self.state_html.value = state_html(step, self.recording.steps[k - 1] if k else None)
        self.text = self.recording.describe(k)

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)


def state_html(step: Step, before: Step | None) -> str:
    """Each node's state after ``step`` as an HTML table: volatile (struck through when a crash wiped
    it), durable (what changed in bold), timers, effects committed; then what is in flight."""
    rows = []
    for name, node in step.snapshot.nodes.items():
        old = before.snapshot.nodes.get(name) if before is not None else None
        if node.up:
            status = f"<span style='color:#00684A'>up</span>, incarnation {node.incarnation}"
        else:
            status = "<span style='color:#B34700; font-weight:bold'>DOWN (crashed)</span>"
        if name in step.wiped:
            when = " (as it was before this step)" if name in step.mid_handler else ""
            volatile = (f"<span style='color:#B34700'>wiped by the crash{when}:</span> "
                        f"<s style='color:#888'>{html.escape(_brief(step.wiped[name]))}</s>")
        elif not node.up:
            volatile = "<span style='color:#888'>none (down)</span>"
        else:
            volatile = html.escape(_brief(node.volatile))
        durable = ", ".join(
            (f"<b>{html.escape(_value(k))}: {html.escape(_value(v))}</b>"
             if old is None or old.durable.get(k, _MISSING) != v else f"{html.escape(_value(k))}: {html.escape(_value(v))}")
            for k, v in node.durable.items())
        kept = " <span style='color:#00684A'>(kept through the crash)</span>" if name in step.wiped and node.durable else ""
        timers = ", ".join(f"{html.escape(short(k))} at t={t:g}" for k, t in node.timers.items()) or "none"
        rows.append(f"<tr><th style='text-align:left; padding-right:0.8em'>{html.escape(name)}</th><td>{status}; "
                    f"{node.ledger} effect(s) committed</td></tr>"
                    f"<tr><td style='padding-left:1em'>volatile</td><td>{volatile}</td></tr>"
                    f"<tr><td style='padding-left:1em'>durable</td><td>{{{durable}}}{kept}</td></tr>"
                    f"<tr><td style='padding-left:1em'>timers</td><td>{timers}</td></tr>")
    flying = ", ".join(html.escape(_flight(f)) for f in step.snapshot.in_flight) or "nothing"
    rows.append(f"<tr><th style='text-align:left'>in flight</th><td>{flying}</td></tr>")
    return ("<table style='font-size:12.5px; border-collapse:collapse; margin-left:0.5em'>"
            + "".join(rows) + "</table>")


_MISSING = object()
