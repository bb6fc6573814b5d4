"""Widget panels (ipywidgets 8) where a learner moves loss, retries, timeouts and crashes and sees the
outcome change; each is a thin wrapper over a headless call that a test or a notebook can run alone.

Every panel is a ``VBox``: its controls, a line saying which controls do not apply (and why), the
figure, a line echoing the parameters it ran with, the numbers, and (for the sweep) its table,
collapsed. ``.controls`` maps names to widgets, ``.text`` is the headless call's text, ``.echo``
the parameters line, ``.numbers`` every number shown (what changes when a control moves),
``.image`` the figure as PNG, redrawn in place.

Every control changes the figure or the numbers, or is disabled with its reason (``.reasons``):
at-most-once sends once and waits for no ack, so ack loss, retries and timeouts do not apply to
it; the swept parameter is on the x axis; a seed means nothing where nothing is random.

The panels: ``OutcomePanel`` (the three guarantees under the same faults), ``SweepPanel`` (rates
against loss, ack loss or retries, with the closed forms), ``DiagramPanel`` (one short run of one
guarantee, and the rates of many), ``CrashPointPanel`` (a receiver crashed at one crash point,
lesson 03), ``LeasePanel`` (a lease against the work it covers, and what fencing refuses, lesson 05).
A panel keeps its last results (``Memo``) and redraws only what a run changes over a kept frame
(``KeptDiagram``, ``render.Blitter``).
"""

from __future__ import annotations

import html
import math
import random
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as w
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..facade import simulate
from ..sim.analysis import KEYS, expected
from ..sim.checker import SEMANTICS, Report
from ..sim.faults import Faults
from ..sim.harness import run
from ..sim.protocols import RetryingSender
from ..sim.sweeps import Sweep, sweep
from ..validation import check_int, check_number, check_probability
from .diagram import FONT, diagram_of, diagram_size, legend_handles, new_figure, plot_height, sequence_diagram
from .plots import (_check_names, _percent, bar_artists, outcome_bars, share_text, sweep_artists, sweep_figure,
                    update_outcome_bars, update_sweep_figure)
from .render import Blitter

# -- headless calls (what each panel shows, without widgets) ---------------------------------------


def compare(*, n_messages: int = 1000, loss: float = 0.1, ack_loss: float = 0.1, duplicate: float = 0.0,
            jitter: float = 0.0, max_retries: int = 3, timeout: float = 3.0, crash_prob: float = 0.0,
            seed: int = 0) -> dict[str, Report]:
    """Run the reference protocol of each guarantee with the same settings and seed (the event-driven
    simulator, so duplication, delay spread, timeouts and crashes all count). Delay is 1."""
    check_int("n_messages", n_messages, low=1, high=1_000_000)
    return {s: simulate(s, n_messages=n_messages, loss=loss, ack_loss=ack_loss, duplicate=duplicate,
                        jitter=jitter, max_retries=max_retries, timeout=timeout, crash_prob=crash_prob,
                        seed=seed) for s in SEMANTICS}


def compare_text(reports: Mapping[str, Report]) -> str:
    """One line per labelled report: the counts a learner reads off the bars, and the attempts."""
    if not isinstance(reports, Mapping) or not reports or not all(isinstance(r, Report) for r in reports.values()):
        raise TypeError(f"reports must be a non-empty mapping from label to Report, got {reports!r}")
    lines = []
    width = max(len(label) for label in reports)
    for label, r in reports.items():
        n = r.n_messages or 1
        lines.append(f"{label:<{width}}  lost {r.lost:>6} ({r.lost / n:6.1%})  once {r.once:>6} ({r.once / n:6.1%})  "
                     f"duplicated {r.duplicated:>6} ({r.duplicated / n:6.1%})  attempts/msg {r.attempts / n:.2f}")
    return "\n".join(lines)


def compare_times(reports: Mapping[str, Report]) -> str:
    """How long each run took per message, in simulated time: what timeouts, retries and delays cost."""
    if not isinstance(reports, Mapping) or not reports or not all(isinstance(r, Report) for r in reports.values()):
        raise TypeError(f"reports must be a non-empty mapping from label to Report, got {reports!r}")
    return "time per message: " + ", ".join(f"{label} {r.end_time / max(r.n_messages, 1):.3f}"
                                            for label, r in reports.items())


def closed_form_text(semantics: tuple[str, ...] = SEMANTICS, *, loss: float, ack_loss: float, max_retries: int,
                     **others: Any) -> str:
    """What the closed forms (``semantics.expected``) predict per message for these settings; they
    model loss, ack loss and retries only, and the line says so when other faults are on."""
    lines = []
    for semantic in semantics:
        e = expected(semantic, loss=loss, ack_loss=ack_loss, max_retries=max_retries)
        part = f"{semantic} lost {_percent(e['lost'])}"
        if semantic != "at-most-once":
            part += f", duplicated {_percent(e['duplicated'])}, {e['attempts']:.3f} attempts"
        lines.append(part)
    besides = [_LABELS[k] for k in ("duplicate", "jitter", "crash_prob") if others.get(k)]
    note = f" (it leaves out {', '.join(besides)})" if besides else ""
    return "closed form per message" + note + ": " + "; ".join(lines)


def diagram_text(report: Report, semantic: str) -> str:
    """The run's summary and, for each invariant ``semantic`` requires, whether this run kept it."""
    if not isinstance(report, Report):
        raise TypeError(f"report must be a semantics Report, got {type(report).__name__}")
    verdicts = report.verdicts(semantic)
    broken = {v.invariant: str(v) for v in report.violations(semantic)}
    lines = [report.summary(), f"invariants of {semantic}:"]
    lines += [f"  {name}: {'kept' if held else 'BROKEN (' + broken[name] + ')'}" for name, held in verdicts.items()]
    return "\n".join(lines)


def diagram_run(semantic: str, **settings: Any) -> Report:
    """The traced run a diagram panel draws: ``simulate(semantic, trace=True, **settings)``, with
    at-most-once paced at one message per time unit (fire and forget waits for nothing, so a lost
    message and the next one would leave at the same instant and their arrows coincide; the pace
    changes the times, never the outcome)."""
    if semantic == "at-most-once":
        settings.setdefault("interval", 1.0)
    return simulate(semantic, trace=True, **settings)


STATS_MESSAGES = 500  # enough for rates within a few percent; few enough to rerun at every slider move


def diagram_stats(semantic: str, *, n_messages: int = STATS_MESSAGES, **settings: Any) -> str:
    """The same guarantee and settings over ``n_messages`` messages: the rates one short run samples."""
    r = simulate(semantic, n_messages=n_messages, **settings)
    n = r.n_messages or 1
    return (f"the same settings over {n:,} messages: lost {share_text(r.lost, n)}, once {share_text(r.once, n)}, "
            f"duplicated {share_text(r.duplicated, n)}; {r.attempts / n:.2f} attempts and "
            f"{r.end_time / n:.2f} time units per message")


def showcase_seed(semantic: str, *, start: int = 0, tries: int = 200, **settings: Any) -> int:
    """The first seed from ``start`` on whose short run shows what ``semantic`` is about (``start``
    when none of ``tries`` does): a message lost (at-most-once), a duplicate effect or a retry
    (at-least-once), a duplicate delivery that deduplication ignored (exactly-once)."""
    def shows(r: Report) -> bool:
        ms = r.messages()
        if semantic == "at-most-once":
            return r.lost > 0
        if semantic == "at-least-once":
            return r.duplicated > 0 or (r.attempts > r.n_messages and r.lost == 0)
        return any(m.deliveries > 1 and m.effects == 1 for m in ms)
    start = check_int("start", start, high=1_000_000)
    for seed in range(start, start + check_int("tries", tries, low=1)):
        if shows(diagram_run(semantic, seed=seed, **settings)):
            return seed
    return start


SWEEP_VALUES = {"loss": tuple(np.round(np.linspace(0.0, 0.95, 20), 4)),
                "ack_loss": tuple(np.round(np.linspace(0.0, 0.95, 20), 4)),
                "max_retries": tuple(range(0, 11))}

# Which controls do not apply, and why.
_AT_MOST_ONCE = "at-most-once sends each message once and waits for no ack"
NOT_FOR_AT_MOST_ONCE = {"ack_loss": _AT_MOST_ONCE + ": no ack to lose", "max_retries": _AT_MOST_ONCE + ": no retry",
                        "timeout": _AT_MOST_ONCE + ": no timer"}
_DETERMINISTIC = "nothing in these settings is random (no loss, duplication, delay spread or crashes): every seed gives the same run"


def _random(values: Mapping[str, Any], semantic: str | None = None) -> bool:
    acks = semantic != "at-most-once"
    return bool(values.get("loss") or (acks and values.get("ack_loss")) or values.get("duplicate")
                or values.get("jitter") or values.get("crash_prob"))


# -- panels ----------------------------------------------------------------------------------------


_LABEL_WIDTH = "8em"  # the longest description, "messages/point", whole at JupyterLab's font
_STYLE = {"description_width": _LABEL_WIDTH}


def _slider(description: str, value: float, low: float, high: float, step: float, *, continuous: bool,
            fmt: str = ".2f") -> w.FloatSlider:
    return w.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                         continuous_update=continuous, readout_format=fmt, style=_STYLE,
                         layout=w.Layout(width="22em"))


def _int_slider(description: str, value: int, low: int, high: int, step: int = 1, *,
                continuous: bool) -> w.IntSlider:
    return w.IntSlider(value=value, min=low, max=high, step=step, description=description,
                       continuous_update=continuous, style=_STYLE, layout=w.Layout(width="22em"))


def _fault_sliders(*, loss: float, ack_loss: float, duplicate: float, jitter: float, max_retries: int,
                   timeout: float, crash_prob: float, step: float, max_retries_high: int, crash_high: float,
                   crash_step: float) -> dict[str, w.Widget]:
    """The network and crash sliders of the event-driven panels, each start value checked against
    its slider's range. They update on release: each change re-runs the event-driven simulator."""
    return {
        "loss": _slider("loss", check_probability("loss", loss), 0.0, 1.0, step, continuous=False),
        "ack_loss": _slider("ack loss", check_probability("ack_loss", ack_loss), 0.0, 1.0, step, continuous=False),
        "duplicate": _slider("duplication", check_number("duplicate", duplicate, low=0.0, high=0.5),
                             0.0, 0.5, step, continuous=False),
        "jitter": _slider("delay spread", check_number("jitter", jitter, low=0.0, high=3.0), 0.0, 3.0, 0.1,
                          continuous=False, fmt=".1f"),
        "max_retries": _int_slider("max retries", check_int("max_retries", max_retries, high=max_retries_high),
                                   0, max_retries_high, continuous=False),
        "timeout": _slider("timeout", check_number("timeout", timeout, low=0.5, high=10.0), 0.5, 10.0, 0.5,
                           continuous=False, fmt=".1f"),
        "crash_prob": _slider("crash prob.", check_number("crash_prob", crash_prob, low=0.0, high=crash_high),
                              0.0, crash_high, crash_step, continuous=False,
                              fmt=".3f" if crash_step < 0.01 else ".2f"),
    }


def _seed(value: int) -> w.BoundedIntText:
    return w.BoundedIntText(value=value, min=0, max=1_000_000, description="seed", style=_STYLE,
                            layout=w.Layout(width="14em"))


_LABELS = {"semantic": "guarantee", "parameter": "sweep", "loss": "loss", "ack_loss": "ack loss",
           "duplicate": "duplication", "jitter": "delay spread", "max_retries": "max retries", "timeout": "timeout",
           "crash_prob": "crash prob.", "n_messages": "messages", "seed": "seed", "receiver": "receiver",
           "point": "crash point", "fencing": "store", "lease": "lease", "c1_work": "c1 works", "c2_work": "c2 works",
           "mean_work": "mean work"}
_VALUE_ONLY = ("semantic", "fencing")  # echoed by their value alone: "at-least-once", "no fencing"


def echo_text(values: Mapping[str, Any], skip: Mapping[str, str] = {}) -> str:
    """'ran with: ...': the values a panel ran with, in the controls' words (not those that do not apply)."""
    parts = []
    for name, value in values.items():
        if name in skip:
            continue
        label = _LABELS.get(name, name.replace("_", " "))
        if isinstance(value, float):
            shown = f"{value:.3f}" if name == "crash_prob" and value and value < 0.01 else f"{value:g}"
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
            shown = f"{value:,}"
        else:
            shown = str(value).replace("_", " ")
        parts.append(f"{label} {shown}" if name not in (*_VALUE_ONLY, "parameter") else
                     (shown if name in _VALUE_ONLY else f"sweep over {shown}"))
    return "ran with: " + ", ".join(parts)


class Memo:
    """The last ``size`` results of a pure, seeded call, by its arguments: a slider moved back to a
    value it had a moment ago shows its numbers without running the simulation again."""

    def __init__(self, call: Callable[..., Any], size: int = 32) -> None:
        self.call, self.size = call, size
        self.results: OrderedDict[tuple, Any] = OrderedDict()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = (args, tuple(sorted(kwargs.items())))
        if key in self.results:
            self.results.move_to_end(key)
            return self.results[key]
        result = self.results[key] = self.call(*args, **kwargs)
        while len(self.results) > self.size:
            self.results.popitem(last=False)
        return result


class _Panel(w.VBox):
    """Controls, the reasons some do not apply, the figure, the echo, the numbers and (collapsed)
    details; ``refresh`` recomputes everything from the controls."""

    dpi = 100  # the figure is shown at its own pixel size (crisp text), shrunk only on a narrow screen

    def __init__(self, controls: dict[str, w.Widget], *, details: str | None = None) -> None:
        self.controls = controls
        self.reasons: dict[str, str] = {}
        self.notes = w.HTML(layout=w.Layout(margin="0.2em 0"))
        self.image = w.Image(format="png", layout=_native_size())
        self.echo_line = w.HTML(layout=w.Layout(margin="0.1em 0"))
        self.summary = w.HTML(layout=w.Layout(margin="0.2em 0"))
        self.details = w.HTML()
        self.figure: Figure | None = None
        self.text = self.echo = self.stats = self.table = ""
        self._blitter = Blitter()
        names = list(controls)
        half = (len(names) + 1) // 2
        box = w.HBox([w.VBox([controls[n] for n in names[:half]]), w.VBox([controls[n] for n in names[half:]])])
        parts = [box, self.notes, self.image, self.echo_line, self.summary]
        if details is not None:  # long tables stay out of the way, below the figure, until asked for
            self.accordion = w.Accordion(children=[self.details], titles=(details,), selected_index=None)
            parts.append(self.accordion)
        super().__init__(parts)
        for control in controls.values():
            control.observe(self._changed, names="value")
        self.refresh()

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values (name -> value)."""
        return {name: control.value for name, control in self.controls.items()}

    @property
    def numbers(self) -> str:
        """Every number the panel shows besides the figure (what a control that applies changes)."""
        return "\n".join(part for part in (self.text, self.stats, self.table) if part)

    def _changed(self, change: Mapping[str, Any]) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute from the controls and redraw: new text, new PNG bytes in the same widgets."""
        values = self.values
        self.reasons = self.not_applicable(values)
        try:
            fig = self.compute(values)
        except (ValueError, TypeError) as exc:  # a combination the model refuses: say so, keep the figure
            self._applies()
            self._show(f"cannot compute: {exc}", "")
            return
        # The figure goes to the browser first: a change of guarantee also enables or disables several
        # controls, and each of those is a message the browser would otherwise handle before the image.
        self.image.value = self._blitter.png(fig, self.dynamic(fig), self.stamps(fig))
        self.figure = fig
        self._applies()
        self.echo = echo_text(values, self.reasons)
        self.echo_line.value = f"<div style='font-size:12px; color:#444'>{html.escape(self.echo)}</div>"
        self._show(self.text, self.stats)
        if self.table:
            self.details.value = _pre(self.table)

    def _applies(self) -> None:
        """Disable each control that does not apply, with its reason as tooltip and in the notes."""
        for name, control in self.controls.items():
            reason = self.reasons.get(name)
            with control.hold_sync():  # disabled and tooltip in one message
                control.disabled = reason is not None
                control.tooltip = reason
        self.notes.value = "".join(
            f"<div style='font-size:12px; color:#555'>{html.escape(_LABELS.get(name, name))} does not apply: "
            f"{html.escape(reason)}</div>" for name, reason in self.reasons.items())

    def render(self, fig: Figure) -> bytes:
        """The PNG of ``fig``, redrawing only its dynamic artists over the kept frame."""
        return self._blitter.png(fig, self.dynamic(fig), self.stamps(fig))

    def stamps(self, fig: Figure) -> list[tuple[Any, Any]]:
        """Artists drawn once per key and pasted afterwards (see ``Blitter.png``)."""
        return []

    def not_applicable(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Control name -> why it does not apply to these values (its control is then disabled)."""
        return {}

    def dynamic(self, fig: Figure) -> list[Any]:
        """The artists a recompute changes in place (none: the figure is redrawn whole)."""
        return []

    def _show(self, text: str, stats: str) -> None:
        self.summary.value = _pre(text + ("\n" + stats if stats else ""))

    def compute(self, values: dict[str, Any]) -> Figure:  # pragma: no cover - abstract
        raise NotImplementedError


def _pre(text: str) -> str:
    return f"<pre style='margin:0; font-size:12px; line-height:1.3'>{html.escape(text)}</pre>"


class OutcomePanel(_Panel):
    """Stacked lost / once / duplicated bars of the three guarantees under the same faults, as
    shares of the messages sent (so the scale stays put when the number of messages changes)."""

    def __init__(self, *, n_messages: int = 1000, loss: float = 0.1, ack_loss: float = 0.1,
                 duplicate: float = 0.0, jitter: float = 0.0, max_retries: int = 3, timeout: float = 3.0,
                 crash_prob: float = 0.0, seed: int = 0) -> None:
        check_int("n_messages", n_messages, low=100, high=20_000)
        # every change re-runs the event-driven simulator three times: update on release only
        controls = {
            **_fault_sliders(loss=loss, ack_loss=ack_loss, duplicate=duplicate, jitter=jitter,
                             max_retries=max_retries, timeout=timeout, crash_prob=crash_prob,
                             step=0.01, max_retries_high=10, crash_high=0.2, crash_step=0.005),
            "n_messages": _int_slider("messages", n_messages, 100, 20_000, 100, continuous=False),
            "seed": _seed(check_int("seed", seed, high=1_000_000)),
        }
        self.reports: dict[str, Report] = {}
        self._runs = Memo(compare)
        super().__init__(controls)

    def not_applicable(self, values: Mapping[str, Any]) -> dict[str, str]:
        return {} if _random(values) else {"seed": _DETERMINISTIC}

    def compute(self, values: dict[str, Any]) -> Figure:
        reports = self._runs(**values)
        self.reports = reports
        self.text = compare_text(reports)
        self.stats = compare_times(reports) + "\n" + closed_form_text(**values)
        closed = {s: expected(s, loss=values["loss"], ack_loss=values["ack_loss"], max_retries=values["max_retries"])
                  for s in SEMANTICS}
        if self.figure is None:
            return outcome_bars(reports, title="same faults, three guarantees", normalize=True, expected=closed)
        return update_outcome_bars(self.figure, reports, closed)  # same bars, new heights

    def dynamic(self, fig: Figure) -> list[Any]:
        return bar_artists(fig)


class SweepPanel(_Panel):
    """Outcome rates against loss, ack loss or retries (vectorised), with the closed forms."""

    def __init__(self, *, parameter: str = "loss", n_messages: int = 10_000, loss: float = 0.1,
                 ack_loss: float = 0.1, max_retries: int = 3, seed: int = 0,
                 keys: tuple[str, ...] = ("lost", "once", "duplicated", "attempts")) -> None:
        self.rate_keys = _check_names("keys", keys, KEYS)  # fail here, not at the first redraw
        if parameter not in SWEEP_VALUES:
            raise ValueError(f"parameter must be one of {', '.join(map(repr, SWEEP_VALUES))}; got {parameter!r}")
        # the vectorised sweep is fast: probabilities update while the slider moves
        controls = {
            "parameter": w.ToggleButtons(options=[("loss", "loss"), ("ack loss", "ack_loss"),
                                                  ("max retries", "max_retries")],
                                         value=parameter, description="sweep",
                                         style={"description_width": _LABEL_WIDTH, "button_width": "7.5em"}),
            "loss": _slider("loss", check_probability("loss", loss), 0.0, 1.0, 0.01, continuous=True),
            "ack_loss": _slider("ack loss", check_probability("ack_loss", ack_loss), 0.0, 1.0, 0.01, continuous=True),
            "max_retries": _int_slider("max retries", check_int("max_retries", max_retries, high=10), 0, 10,
                                       continuous=True),
            "n_messages": _int_slider("messages/point", check_int("n_messages", n_messages, low=1000,
                                                                  high=200_000), 1000, 200_000, 1000,
                                      continuous=False),
            "seed": _seed(check_int("seed", seed, high=1_000_000)),
        }
        self.result: Sweep | None = None
        super().__init__(controls, details="table of the simulated rates")
        self._prepare_frames()

    def _prepare_frames(self) -> None:
        """Draw the frame (axes, ticks, labels) of each other swept parameter once now, so that the
        learner's first click on it redraws only the data over kept pixels."""
        values, shown = self.values, self.result
        for parameter in SWEEP_VALUES:
            if parameter != values["parameter"]:
                fig = self.compute({**values, "parameter": parameter})
                self._blitter.png(fig, self.dynamic(fig))
        self.compute(values)
        self.result = shown

    def not_applicable(self, values: Mapping[str, Any]) -> dict[str, str]:
        name = values["parameter"]
        return {name: f"{_LABELS[name]} is on the x axis: the sweep runs every value of it"}

    def compute(self, values: dict[str, Any]) -> Figure:
        parameter = values["parameter"]
        result = sweep(parameter, SWEEP_VALUES[parameter], n_messages=values["n_messages"], loss=values["loss"],
                       ack_loss=values["ack_loss"], max_retries=values["max_retries"], seed=values["seed"])
        self.result = result
        self.text = self.table = result.table(keys=("lost", "duplicated", "attempts"))
        if self.figure is None:
            return sweep_figure(result, keys=self.rate_keys)
        return update_sweep_figure(self.figure, result)  # same artists, new data

    def _show(self, text: str, stats: str) -> None:
        if self.result is None or text != self.text:  # an error message
            self.summary.value = _pre(text)
            return
        self.summary.value = _pre(f"{len(self.result.values)} values of {_LABELS[self.result.parameter]} x "
                                  f"{self.result.n_messages:,} messages x 3 guarantees: the rates are in the table "
                                  f"below the figure")

    def dynamic(self, fig: Figure) -> list[Any]:
        return sweep_artists(fig)


class KeptDiagram:
    """The one figure a diagram panel draws run after run: the diagram of the latest run over a kept
    frame, the legend of the symbols that run uses, and a footer of text under it.

    The plot takes one of a few heights, and the runs drawn at one height share a frame (and so its
    kept pixels: a redraw paints the diagram and its time axis only); the time axis ends at the next
    multiple of 5 time units.
    """

    def __init__(self, n_lanes: int, footer_lines: int = 3) -> None:
        self.width = diagram_size(n_lanes, 1.0)[0]  # lanes and their labels
        # under the plot: the legend (three rows at most) and the footer's lines
        self.bottom = 0.75 + 0.25 * check_int("footer_lines", footer_lines, high=6)
        self.figure: Figure | None = None
        self.footer: Any = None
        self.legend_used: tuple[str, ...] | None = None
        self.legends: OrderedDict[tuple[str, ...], Any] = OrderedDict()  # by symbols: runs come back to a few

    def draw(self, report: Report, *, title: str, plot: float, footer: str = "", nodes: Any = None,
             partitions: Any = None) -> Figure:
        """Draw ``report`` (a traced run) in a plot ``plot`` inches tall, in place of the last run."""
        height = round(plot + 0.8 + self.bottom, 2)  # plot, title, legend and footer
        fig = self.figure
        if fig is None or tuple(fig.get_size_inches()) != (self.width, height):
            if fig is None:
                fig = self.figure = new_figure((self.width, height))
                time_axis = fig.add_subplot().yaxis
                time_axis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # whole time units
            fig.set_size_inches(self.width, height)
            fig.subplots_adjust(left=0.6 / self.width, right=1 - 0.1 / self.width, top=1 - 0.8 / height,
                                bottom=self.bottom / height)
            if self.footer is None:  # many runs like this one, and the closed form: what the sample is of
                self.footer = fig.text(0.5, 0.08 / height, "", ha="center", va="bottom", fontsize=FONT,
                                       color="0.2", gid="footer")
            self.footer.set_y(0.08 / height)
        ax = fig.axes[0]
        old = getattr(ax, "semantics_diagram", None)
        spare: dict[tuple[str, str], list] = {}
        if old is not None:
            for artist in old.artists:
                artist.remove()
            for text in old.layer.get_children() if old.layer is not None else ():
                spare.setdefault((text.get_text(), text.get_gid()), []).append(text)
        self.footer.set_text(_wrap(footer))
        ax.semantics_spare_words = spare  # (the words of the last run, written again where the new one has them)
        try:
            sequence_diagram(report, ax=ax, title=title, legend=False, nodes=nodes, partitions=partitions)
        finally:
            ax.semantics_spare_words = None
        used = tuple(diagram_of(ax).plan.used)
        if used != self.legend_used:  # the symbols this run shows, and only those
            legend = self.legends.pop(used, None)
            if legend is None:  # (building a legend costs more than drawing it: each is kept)
                legend = ax.legend(handles=legend_handles(used), loc="upper center", bbox_to_anchor=(0.5, 0.0),
                                   ncol=3, fontsize=FONT, frameon=False, borderaxespad=0.4, handlelength=1.8,
                                   columnspacing=1.2)
            ax.legend_ = legend
            self.legends[used] = legend
            while len(self.legends) > 32:
                self.legends.popitem(last=False)
            self.legend_used = used
        end, start = ax.get_ylim()
        end = 5 * -(-(end - 0.8) // 5) + 0.8
        ax.set_ylim(end, start)
        # the axis label at a fixed place left of the tick labels: the time axis is redrawn with every
        # run, and placing its label by measuring the tick labels would cost more than drawing them
        ax.yaxis.set_label_coords(-0.42 / (ax.get_position().width * self.width), 0.5)
        for artist in diagram_of(ax).artists:
            if artist.get_gid() == "lane":
                artist.set_ydata([start, end])  # the lanes run to the bottom of the frame
        return fig

    def dynamic(self) -> list[Any]:
        """The artists a new run replaces, drawn over the kept frame."""
        ax = self.figure.axes[0]
        return [*diagram_of(ax).artists, ax.title, self.footer]

    def stamps(self) -> list[tuple[Any, Any]]:
        """The legend, pasted from its pixels for the same symbols, and the time axis, for the same
        span of time (a few spans come back run after run): outside the frame, so that runs of
        every length share the frame of their figure's height."""
        ax = self.figure.axes[0]
        label = ax.yaxis.label
        found = [(ax.yaxis, ("time axis", ax.get_ylim(), label.get_text(), tuple(label.get_position())))]
        legend = ax.get_legend()
        return [(legend, self.legend_used), *found] if legend is not None else found


def plot_inches(report: Report, nodes: Any = None, sizes: tuple[float, ...] = (3.5, 5.0, 7.0, 9.5, 12.0)) -> float:
    """The smallest of ``sizes`` in which ``report``'s diagram, its time axis rounded up to a
    multiple of 5 (as KeptDiagram draws it), keeps its words beside their moments."""
    from .diagram import _drawn, _plan, words_per_time

    trace, indices, lanes = _drawn(report, set(range(report.n_messages)), nodes)
    plan = _plan(trace, indices, lanes, (), True)
    per_time = words_per_time(plan, lanes)
    span = 5 * -(-(plan.hi - plan.lo) // 5)
    needed = plot_height(span - 1.2, per_time)
    return next((size for size in sizes if size >= needed), sizes[-1])


DIAGRAM_WIDTH = diagram_size(2, 1.0)[0]  # inches: two lanes and their labels


class _DiagramPanel(_Panel):
    """A panel whose figure is one sequence diagram drawn over a kept frame (``self.kept``, a
    ``KeptDiagram``): only the run's artists are redrawn, the frame's are pasted."""

    kept: KeptDiagram

    def dynamic(self, fig: Figure) -> list[Any]:
        return self.kept.dynamic()

    def stamps(self, fig: Figure) -> list[tuple[Any, Any]]:
        return self.kept.stamps()


class _RatesUnderDiagram(_DiagramPanel):
    """A diagram panel that draws its many-run rates in the figure, under the diagram."""

    def _show(self, text: str, stats: str) -> None:
        self.summary.value = _pre(text)


class DiagramPanel(_RatesUnderDiagram):
    """The message-sequence diagram of one short run of one guarantee's reference protocol, and
    the rates of many such runs (one short run is a sample; the rates say what it is a sample of).

    seed: None picks the first seed whose run shows the point of the chosen guarantee (a loss for
    at-most-once, a duplicate or a recovered loss for at-least-once, a duplicate ignored for
    exactly-once: ``showcase_seed``).
    """

    def __init__(self, *, semantic: str = "at-least-once", n_messages: int = 4, loss: float = 0.3,
                 ack_loss: float = 0.3, duplicate: float = 0.0, jitter: float = 0.0, max_retries: int = 3,
                 timeout: float = 3.0, crash_prob: float = 0.0, seed: int | None = None) -> None:
        if semantic not in SEMANTICS:
            raise ValueError(f"semantic must be one of {', '.join(map(repr, SEMANTICS))}; got {semantic!r}")
        controls = {
            "semantic": w.ToggleButtons(options=list(SEMANTICS), value=semantic, description="guarantee",
                                        style={"description_width": _LABEL_WIDTH, "button_width": "9em"}),
            **_fault_sliders(loss=loss, ack_loss=ack_loss, duplicate=duplicate, jitter=jitter,
                             max_retries=max_retries, timeout=timeout, crash_prob=crash_prob,
                             step=0.05, max_retries_high=6, crash_high=0.3, crash_step=0.01),
            "n_messages": _int_slider("messages", check_int("n_messages", n_messages, low=1, high=10), 1, 10,
                                      continuous=False),
        }
        if seed is None:
            settings = {k: c.value for k, c in controls.items() if k != "semantic"}
            seed = showcase_seed(semantic, **settings)
        controls["seed"] = _seed(check_int("seed", seed, high=1_000_000))
        self.report: Report | None = None
        self.kept = KeptDiagram(2)
        self._many_runs = Memo(lambda semantic, **settings: diagram_stats(semantic, **settings) + "\n"
                           + closed_form_text((semantic,), **settings))
        super().__init__(controls)
        self._prepare_guarantees()

    def _prepare_guarantees(self) -> None:
        """Draw the other guarantees' runs once now (their rates, their words, their legends), so that
        the learner's first click on one draws only what a run changes."""
        values = self.values
        for semantic in SEMANTICS:
            if semantic != values["semantic"]:
                fig = self.compute({**values, "semantic": semantic})
                self._blitter.png(fig, self.dynamic(fig), self.stamps(fig))
        self.compute(values)  # the run shown, again (its image is the one on screen)

    def not_applicable(self, values: Mapping[str, Any]) -> dict[str, str]:
        semantic = values["semantic"]
        reasons = dict(NOT_FOR_AT_MOST_ONCE) if semantic == "at-most-once" else {}
        if not _random(values, semantic):
            reasons["seed"] = _DETERMINISTIC
        return reasons

    def compute(self, values: dict[str, Any]) -> Figure:
        values = dict(values)
        semantic = values.pop("semantic")
        report = diagram_run(semantic, **values)
        self.report = report
        self.text = diagram_text(report, semantic)
        settings = {k: v for k, v in values.items() if k != "n_messages"}
        self.stats = self._many_runs(semantic, **settings)  # (the same for every number of messages drawn)
        n = report.n_messages
        # three sizes, so that a few more or fewer messages keep the figure (and its frame) as it was
        plot = 3.5 if n <= 3 else 5.0 if n <= 6 else 7.0
        title = (f"{semantic}: lost {report.lost}, once {report.once}, duplicated {report.duplicated}"
                 f"{'' if report.ok else f'  (run stopped: {report.status})'}")
        return self.kept.draw(report, title=title, plot=plot, footer=self.stats)



# -- one crash point at a time (lesson 03) -----------------------------------------------------------


def crash_point_story(sender: Any, receiver: Any, point: int, *, name: str | None = None, n_messages: int = 2,
                      node: str = "receiver", seed: int = 0, semantic: str = "exactly-once") -> tuple[str, Report]:
    """Crash ``node`` once, at its crash point number ``point`` (it restarts one time unit later), over a
    perfect link: (what happened in words, the traced run). The words name the crash point and every
    invariant of ``semantic`` the run broke ("exactly-once held" when none). A point past the last one
    of the run crashes nothing, and the words say so."""
    if semantic not in SEMANTICS:
        raise ValueError(f"semantic must be one of {', '.join(map(repr, SEMANTICS))}; got {semantic!r}")
    point = check_int("point", point)
    labels = crash_point_labels(sender, receiver, n_messages=n_messages, node=node, seed=seed)
    where = labels[point] if point < len(labels) else f"none (the run has {len(labels)} crash points)"
    report = run(sender, receiver, n_messages=n_messages, faults=Faults(crash_at={node: {point}}), trace=True,
                 seed=seed)
    broken = "; ".join(str(v) for v in report.violations(semantic)) or f"{semantic} held"
    label = name if name is not None else getattr(receiver, "__name__", "receiver")
    return f"{label}, crash point {point}: {where}\n{broken}", report


def crash_point_labels(sender: Any, receiver: Any, *, n_messages: int = 2, node: str = "receiver",
                       seed: int = 0) -> tuple[str, ...]:
    """The crash points of ``node`` in the run without a crash, in the order the run passes them."""
    clean = run(sender, receiver, n_messages=n_messages, trace=True, seed=seed)
    if node not in clean.labels:
        raise ValueError(f"node must be a node of the run ({', '.join(map(repr, clean.labels))}); got {node!r}")
    return tuple(clean.labels[node])


def _crash_variants() -> dict[str, Any]:
    from ..sim.protocols import (DeduplicatingReceiver, InMemoryDedupReceiver, MarkThenProcessReceiver,
                                 ProcessThenMarkReceiver)
    return {"dedup in memory": InMemoryDedupReceiver, "mark, then process": MarkThenProcessReceiver,
            "process, then mark": ProcessThenMarkReceiver, "durable + atomic (reference)": DeduplicatingReceiver}


class CrashPointPanel(_DiagramPanel):
    """Pick a receiver and a crash point: the receiver crashes exactly there (it restarts one time unit
    later) and the diagram shows what follows; the text names the point and the invariants broken.
    Its headless equivalent is ``crash_point_story``.

    receivers: name -> receiver class (or factory), offered in a dropdown (default: lesson 03's
               tempting variants and the reference).
    sender:    the sender class or factory (it needs a retry, or no crash can be repaired).
    """

    def __init__(self, receivers: Mapping[str, Any] | None = None, *, sender: Any = RetryingSender,
                 receiver: str | None = None, point: int = 0, n_messages: int = 2, seed: int = 0,
                 semantic: str = "exactly-once") -> None:
        receivers = _crash_variants() if receivers is None else receivers
        if not isinstance(receivers, Mapping) or not receivers or not all(isinstance(k, str) for k in receivers):
            raise TypeError(f"receivers must be a non-empty mapping from name to receiver class, got {receivers!r}")
        receiver = next(iter(receivers)) if receiver is None else receiver
        if receiver not in receivers:
            raise ValueError(f"receiver must be one of {', '.join(map(repr, receivers))}; got {receiver!r}")
        if semantic not in SEMANTICS:
            raise ValueError(f"semantic must be one of {', '.join(map(repr, SEMANTICS))}; got {semantic!r}")
        self.receivers, self.sender, self.semantic = dict(receivers), sender, semantic
        self.n_messages = check_int("n_messages", n_messages, low=1, high=5)
        self.seed = check_int("seed", seed, high=1_000_000)
        self.labels = {name: crash_point_labels(sender, factory, n_messages=self.n_messages, seed=self.seed)
                       for name, factory in self.receivers.items()}
        most = len(self.labels[receiver]) - 1
        controls = {
            "receiver": w.Dropdown(options=list(receivers), value=receiver, description="receiver", style=_STYLE,
                                   layout=w.Layout(width="22em")),
            "point": _int_slider("crash point", check_int("point", point, high=most), 0, most, continuous=False),
        }
        self.report: Report | None = None
        self.kept = KeptDiagram(2, footer_lines=0)
        self._adjusting = False
        super().__init__(controls)

    def _changed(self, change: Mapping[str, Any]) -> None:
        if self._adjusting:
            return
        slider = self.controls["point"]
        most = len(self.labels[self.controls["receiver"].value]) - 1
        if slider.max != most:  # each receiver has its own crash points
            self._adjusting = True
            try:
                slider.max = most
            finally:
                self._adjusting = False
        self.refresh()

    def compute(self, values: dict[str, Any]) -> Figure:
        name, point = values["receiver"], values["point"]
        self.text, report = crash_point_story(self.sender, self.receivers[name], point, name=name,
                                              n_messages=self.n_messages, seed=self.seed, semantic=self.semantic)
        self.report = report
        return self.kept.draw(report, title=f"{name}: crash at point {point}", plot=plot_inches(report))



# -- leases and fencing (lesson 05) -------------------------------------------------------------------

FENCING = {"no fencing": dict(fenced=False), "fencing": dict(fenced=True),
           "token at start": dict(fenced=True, register=True)}
_LEASE_HOPS = 4.0  # lease granted -> consumer -> store -> consumer -> ack at the broker: four hops of 1


def lease_run(*, lease: float = 8.0, c1_work: float = 10.0, c2_work: float = 1.0, fencing: str = "fencing",
              seed: int = 0) -> Report:
    """One message from a producer to a ``LeaseBroker`` ("receiver"), which lends it to ``c1`` and, when
    that lease runs out, to ``c2``, under a lease of ``lease``; two ``SlowConsumer``s that work
    ``c1_work`` and ``c2_work`` and write to a ``FencingStore``; ``fencing`` is one of FENCING. A perfect
    network, one time unit per hop. Traced (lesson 05, section 3)."""
    return _leased(lease, (c1_work, c2_work), fencing, 1, seed, True)[0]


def _leased(lease: float, work: tuple, fencing: str, n_messages: int, seed: int, trace: bool) -> tuple[Report, Any]:
    """The run of ``lease_run`` (``work``: c1's and c2's work times, numbers or msg_id -> time
    functions) over ``n_messages`` messages, and the broker's last incarnation."""
    from ..sim.patterns import FencingStore, LeaseBroker, SlowConsumer
    from ..sim.patterns.reply_cache import keep

    if fencing not in FENCING:
        raise ValueError(f"fencing must be one of {', '.join(map(repr, FENCING))}; got {fencing!r}")
    lease = check_number("lease", lease, low=_LEASE_HOPS, low_open=True)
    options = FENCING[fencing]
    first, second = (value if callable(value) else check_number(name, value, low=0.0, low_open=True)
                     for name, value in zip(("c1_work", "c2_work"), work))
    brokers: list = []
    report = run(lambda: RetryingSender(timeout=3.0, max_retries=3), keep(brokers, lambda: LeaseBroker(lease=lease)),
                 n_messages=n_messages, seed=seed, trace=trace,
                 others={"c1": lambda: SlowConsumer(first, **options), "c2": lambda: SlowConsumer(second, **options),
                         "store": lambda: FencingStore(fence=options["fenced"])})
    return report, brokers[-1]


@dataclass(frozen=True)
class Hold:
    """One lease of the message: who held it, when it arrived, when the work ended (None: never)."""

    token: int
    holder: str
    start: float
    done: float | None


def lease_holds(report: Report) -> list[Hold]:
    """The leases of a traced ``lease_run``, in token order."""
    if not isinstance(report, Report) or report.trace is None:
        raise TypeError("report must be a traced Report of lease_run(...)")
    trace, holds = report.trace, []
    for i, e in enumerate(trace):
        if e.kind == "receive" and e.node in ("c1", "c2") and e.message == "data":
            done = next((x.time for x in trace[i + 1:] if x.kind == "send" and x.node == e.node
                         and x.peer == "store" and getattr(x.msg_id, "lease", None) == e.msg_id), None)
            holds.append(Hold(e.msg_id.token, e.node, e.time, done))
    return sorted(holds, key=lambda hold: hold.token)


def working_at_once(report: Report) -> list[tuple[float, float]]:
    """The spans of time during which two holders or more worked on the message at once."""
    changes = sorted(change for hold in lease_holds(report)
                     for change in ((hold.start, 1), (hold.done if hold.done is not None else report.end_time, -1)))
    spans, working, since = [], 0, 0.0
    for time, step in changes:  # (at one moment, an end comes before a start: sorted by step)
        if working >= 2 and working + step < 2 and time > since:
            spans.append((since, time))
        if working < 2 <= working + step:
            since = time
        working += step
    return spans


def lease_text(report: Report) -> str:
    """What happened to one leased message, in words: each lease (who held it, from when to when, and
    how it ended), each write and the store's verdict, and when two consumers worked on it at once."""
    holds = lease_holds(report)
    trace = report.trace
    expired = {e.text.split()[1]: e.time for e in trace if e.kind == "note" and e.text.startswith("lease ")}
    lines = []
    for hold in holds:
        end = f"expired at t={expired[str(hold.token)]:g}" if str(hold.token) in expired else "not expired"
        work = f"works until t={hold.done:g}" if hold.done is not None else "never finishes"
        lines.append(f"lease {hold.token}: {hold.holder} holds the message from t={hold.start:g} and {work}; "
                     f"lease {end}")
    for i, e in enumerate(trace):
        writes = e.kind == "receive" and e.node == "store" and e.message == "data"
        if writes and not getattr(e.msg_id, "register", False):  # (a registration writes nothing)
            after = trace[i + 1] if i + 1 < len(trace) else None
            verdict = ("applied" if after is not None and after.kind == "effect" and after.node == "store"
                       else f"refused ({after.text})" if after is not None and after.kind == "note" else "not answered")
            lines.append(f"store, t={e.time:g}: {e.peer}'s write ({e.msg_id!r}) {verdict}")
    both = "; ".join(f"t={a:g} to {b:g}" for a, b in working_at_once(report))
    lines.append(f"effects {report.effects}; two holders working at once: {both or 'never'}")
    return "\n".join(lines)


@dataclass(frozen=True)
class LeaseStats:
    """Many messages under one lease: how many were lent twice or more, took effect twice or more,
    and how many writes the store refused."""

    n_messages: int
    leased_twice: int
    duplicated: int
    refused: int
    lease: float
    mean_work: float

    @property
    def closed_form(self) -> float:
        """P(a message is lent twice or more) = P(work + 4 hops > lease) = e^(-(lease - 4)/mean work)."""
        return math.exp(-(self.lease - _LEASE_HOPS) / self.mean_work)

    def text(self) -> str:
        n = self.n_messages
        return (f"the same lease and store over {n:,} messages, work times exponential with mean {self.mean_work:g}:\n"
                f"leased twice or more {share_text(self.leased_twice, n)} (closed form e^(-(lease - 4)/mean work) = "
                f"{_percent(self.closed_form)})\nduplicated {share_text(self.duplicated, n)}; "
                f"writes refused {share_text(self.refused, n)} ({self.refused} writes)")


LEASE_STATS_MESSAGES = 300  # rates within a few percent, rerun in a few ms at every move


def lease_stats(*, lease: float = 8.0, mean_work: float = 2.0, fencing: str = "fencing",
                n_messages: int = LEASE_STATS_MESSAGES, seed: int = 0) -> LeaseStats:
    """``lease_run`` over ``n_messages`` messages whose work times are drawn at random (exponential,
    mean ``mean_work``, from ``random.Random(seed)``: c1's times, then c2's). Every lease ends in a
    write, so the writes refused are the leases granted less the effects."""
    mean_work = check_number("mean_work", mean_work, low=0.0, low_open=True)
    n_messages = check_int("n_messages", n_messages, low=1, high=1_000_000)
    rng = random.Random(check_int("seed", seed))
    work = [{f"m{i}": rng.expovariate(1 / mean_work) for i in range(1, n_messages + 1)} for _ in ("c1", "c2")]
    report, broker = _leased(lease, (work[0].get, work[1].get), fencing, n_messages, seed, False)
    leases = [v for k, v in broker.durable.items() if isinstance(k, tuple) and k[0] == "leases"]
    return LeaseStats(n_messages, sum(v > 1 for v in leases), report.duplicated, sum(leases) - report.effects,
                      lease, mean_work)


class LeasePanel(_RatesUnderDiagram):
    """A lease against the work it covers (lesson 05): one message lent to ``c1``, which works
    ``c1 works`` time units, then, when the lease runs out first, to ``c2``; both write to a store
    that fences or not. The diagram shows the two live holders and what the store refuses; under it,
    the same lease over many messages with random work times, and the closed form of a second lease.
    Its headless equivalents are ``lease_run``/``lease_text`` and ``lease_stats``."""

    def __init__(self, *, lease: float = 8.0, c1_work: float = 10.0, c2_work: float = 1.0, mean_work: float = 2.0,
                 fencing: str = "fencing", seed: int = 0) -> None:
        if fencing not in FENCING:
            raise ValueError(f"fencing must be one of {', '.join(map(repr, FENCING))}; got {fencing!r}")
        controls = {
            "fencing": w.ToggleButtons(options=list(FENCING), value=fencing, description="store",
                                       style={"description_width": _LABEL_WIDTH, "button_width": "9em"}),
            "lease": _slider("lease", check_number("lease", lease, low=4.5, high=20.0), 4.5, 20.0, 0.5,
                             continuous=False, fmt=".1f"),
            "c1_work": _slider("c1 works", check_number("c1_work", c1_work, low=0.5, high=20.0), 0.5, 20.0, 0.5,
                               continuous=False, fmt=".1f"),
            "c2_work": _slider("c2 works", check_number("c2_work", c2_work, low=0.5, high=10.0), 0.5, 10.0, 0.5,
                               continuous=False, fmt=".1f"),
            "mean_work": _slider("mean work", check_number("mean_work", mean_work, low=0.5, high=10.0), 0.5, 10.0,
                                 0.5, continuous=False, fmt=".1f"),
            "seed": _seed(check_int("seed", seed, high=1_000_000)),
        }
        self.report: Report | None = None
        self.result: LeaseStats | None = None
        self.kept = KeptDiagram(4)
        self._many_runs = Memo(lease_stats)
        super().__init__(controls)

    def not_applicable(self, values: Mapping[str, Any]) -> dict[str, str]:
        if values["c1_work"] + _LEASE_HOPS < values["lease"]:
            return {"c2_work": "c2 never holds the message: c1's ack (its work and four hops) arrives within the lease"}
        return {}

    def compute(self, values: dict[str, Any]) -> Figure:
        report = lease_run(lease=values["lease"], c1_work=values["c1_work"], c2_work=values["c2_work"],
                           fencing=values["fencing"])
        self.report = report
        self.text = lease_text(report)
        # (c1's and c2's work times change the drawn message only)
        self.result = self._many_runs(lease=values["lease"], mean_work=values["mean_work"], fencing=values["fencing"],
                                  seed=values["seed"])
        self.stats = self.result.text()
        holders = len(lease_holds(report))
        refused = sum(e.kind == "note" and e.node == "store" for e in report.trace)
        title = (f"lease {values['lease']:g}, c1 works {values['c1_work']:g}: "
                 + ("one lease" if holders == 1 else f"{holders} leases"
                    + (", two working at once" if working_at_once(report) else ""))
                 + f", {report.effects} effect{'s' if report.effects != 1 else ''}"
                 + (f", {refused} write{'s' if refused != 1 else ''} refused" if refused else ""))
        return self.kept.draw(report, title=title, plot=5.0, footer=self.stats, nodes=["receiver", "c1", "c2", "store"])



def _wrap(text: str, width: int = 100) -> str:
    """Lines of at most about ``width`` characters, broken after a comma or a semicolon."""
    lines = []
    for line in text.splitlines():
        while len(line) > width:
            cut = max(line.rfind("; ", 0, width), line.rfind(", ", 0, width))
            cut = cut + 1 if cut > 0 else width
            lines.append(line[:cut].rstrip())
            line = "  " + line[cut:].lstrip()
        lines.append(line)
    return "\n".join(lines)


def _native_size() -> w.Layout:
    """A box stretches its children to its own width (flex's align-items: stretch), which would
    scale a figure up and blur its text: keep each at its own size, and only ever shrink it to fit."""
    return w.Layout(align_self="flex-start", max_width="100%", height="auto")


PANELS: dict[str, Callable[..., _Panel]] = {"outcome": OutcomePanel, "sweep": SweepPanel, "diagram": DiagramPanel,
                                            "crash point": CrashPointPanel, "lease": LeasePanel}
