"""Widget panels (ipywidgets 8) where a learner moves loss, retries, timeouts and crashes and sees the
outcome change; each is a thin wrapper over a headless call that a test or a notebook can run alone.

Every panel is a ``VBox`` with ``.controls`` (name -> widget), ``.summary`` (an HTML widget showing the
current numbers; ``.text`` is the same, plain) and ``.image`` (the figure as PNG, redrawn in place).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from ..sim.analysis import KEYS
from ..sim.checker import SEMANTICS, Report
from ..facade import simulate
from .plots import (Picture, _check_names, bar_artists, diagram_legend, outcome_bars, sequence_diagram, sweep_artists, sweep_figure,
                    update_outcome_bars, update_sweep_figure)
from ..sim.sweeps import Sweep, sweep
from ..validation import check_int, check_number, check_probability

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


def diagram_text(report: Report, semantic: str) -> str:
    """The run's summary and, for each invariant ``semantic`` requires, whether this run kept it."""
    if not isinstance(report, Report):
        raise TypeError(f"report must be a semantics Report, got {type(report).__name__}")
    verdicts = report.verdicts(semantic)
    broken = {v.invariant: str(v) for v in report.violations(semantic)}
    lines = [report.summary(), f"invariants of {semantic}:"]
    lines += [f"  {name}: {'kept' if held else 'BROKEN (' + broken[name] + ')'}" for name, held in verdicts.items()]
    return "\n".join(lines)


SWEEP_VALUES = {"loss": tuple(np.round(np.linspace(0.0, 0.95, 20), 4)),
                "ack_loss": tuple(np.round(np.linspace(0.0, 0.95, 20), 4)),
                "max_retries": tuple(range(0, 11))}


# -- panels ----------------------------------------------------------------------------------------


def _slider(description: str, value: float, low: float, high: float, step: float, *, continuous: bool,
            fmt: str = ".2f") -> w.FloatSlider:
    return w.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                         continuous_update=continuous, readout_format=fmt, style={"description_width": "7.5em"},
                         layout=w.Layout(width="22em"))


def _int_slider(description: str, value: int, low: int, high: int, step: int = 1, *,
                continuous: bool) -> w.IntSlider:
    return w.IntSlider(value=value, min=low, max=high, step=step, description=description,
                       continuous_update=continuous, style={"description_width": "7.5em"},
                       layout=w.Layout(width="22em"))



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
    return w.BoundedIntText(value=value, min=0, max=1_000_000, description="seed",
                            style={"description_width": "7.5em"}, layout=w.Layout(width="14em"))


class _Panel(w.VBox):
    """Controls, a text summary and a figure; ``refresh`` recomputes both from the controls."""

    dpi = 100  # the figure is shown at its own pixel size (crisp text), shrunk only on a narrow screen

    def __init__(self, controls: dict[str, w.Widget], **kwargs: Any) -> None:
        self.controls = controls
        self.summary = w.HTML(layout=w.Layout(margin="0.3em 0"))
        self.image = w.Image(format="png", layout=_native_size())
        self.figure: Figure | None = None
        self.text = ""
        self._background: Any = None  # the pixels of the figure without its dynamic artists
        self._frame: tuple = ()
        names = list(controls)
        half = (len(names) + 1) // 2
        box = w.HBox([w.VBox([controls[n] for n in names[:half]]), w.VBox([controls[n] for n in names[half:]])])
        super().__init__([box, self.summary, self.image], **kwargs)
        for control in controls.values():
            control.observe(self._changed, names="value")
        self.refresh()

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values (name -> value)."""
        return {name: control.value for name, control in self.controls.items()}

    def _changed(self, change: Mapping[str, Any]) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute from the controls and redraw: new text, new PNG bytes in the same widgets."""
        try:
            text, fig = self.compute(self.values)
        except (ValueError, TypeError) as exc:  # a combination the model refuses: say so, keep the figure
            self._show(f"cannot compute: {exc}")
            return
        self.image.value = self.render(fig)
        self.figure = fig
        self._show(text)

    def render(self, fig: Figure) -> bytes:
        """Draw ``fig`` on its Agg canvas and encode it as PNG. While the frame (axes limits and labels)
        stays put, only the artists ``dynamic(fig)`` names are drawn again, over the kept pixels of the
        rest: ticks, labels and legends are most of matplotlib's time, and they did not change."""
        canvas = fig.canvas
        dynamic = sorted(self.dynamic(fig), key=lambda artist: artist.get_zorder())  # as a full draw layers them
        frame = (id(fig),) + tuple((ax.get_xlim(), ax.get_ylim(), ax.get_xlabel(), ax.get_title())
                                   for ax in fig.axes)
        if dynamic and self._background is not None and frame == self._frame:
            canvas.restore_region(self._background)
        else:
            for artist in dynamic:
                artist.set_animated(True)  # left out of the full draw, drawn over it below
            fig.set_dpi(self.dpi)
            canvas.draw()
            self._background, self._frame = (canvas.copy_from_bbox(fig.bbox), frame) if dynamic else (None, ())
        for artist in dynamic:
            fig.draw_artist(artist)
            artist.set_animated(False)  # so that panel.figure, saved or shown elsewhere, is complete
        return _png(fig)

    def dynamic(self, fig: Figure) -> list[Any]:
        """The artists a recompute changes in place (none: the figure is rebuilt every time)."""
        return []

    def _show(self, text: str) -> None:
        self.text = text
        self.summary.value = f"<pre style='margin:0; font-size:12px; line-height:1.3'>{html.escape(text)}</pre>"

    def compute(self, values: dict[str, Any]) -> tuple[str, Figure]:  # pragma: no cover - abstract
        raise NotImplementedError


class OutcomePanel(_Panel):
    """Stacked lost / once / duplicated bars of the three guarantees under the same faults."""

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
        super().__init__(controls)

    def compute(self, values: dict[str, Any]) -> tuple[str, Figure]:
        reports = compare(**values)
        if self.figure is None:
            fig = outcome_bars(reports, title="same faults, three guarantees")
        else:
            fig = update_outcome_bars(self.figure, reports)  # same bars, new heights
        return compare_text(reports), fig

    def dynamic(self, fig: Figure) -> list[Any]:
        return bar_artists(fig)


class SweepPanel(_Panel):
    """Outcome rates against loss, ack loss or retries (vectorised), with the closed forms."""

    def __init__(self, *, parameter: str = "loss", n_messages: int = 10_000, loss: float = 0.1,
                 ack_loss: float = 0.1, max_retries: int = 3, seed: int = 0,
                 keys: tuple[str, ...] = ("lost", "once", "duplicated", "attempts")) -> None:
        self.rate_keys = _check_names("keys", keys, KEYS)  # fail here, not at the first redraw
        # the vectorised sweep is fast: probabilities update while the slider moves
        controls = {
            "parameter": w.ToggleButtons(options=[("loss", "loss"), ("ack loss", "ack_loss"),
                                                  ("max retries", "max_retries")],
                                         value=parameter if parameter in SWEEP_VALUES else _bad_parameter(parameter),
                                         description="sweep", style={"description_width": "7.5em",
                                                                     "button_width": "6.5em"}),
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
        super().__init__(controls)

    def compute(self, values: dict[str, Any]) -> tuple[str, Figure]:
        parameter = values["parameter"]
        for name in ("loss", "ack_loss", "max_retries"):  # the swept one is on the x axis
            self.controls[name].disabled = name == parameter
        result = sweep(parameter, SWEEP_VALUES[parameter], n_messages=values["n_messages"], loss=values["loss"],
                       ack_loss=values["ack_loss"], max_retries=values["max_retries"], seed=values["seed"])
        self.result = result
        if self.figure is None:
            fig = sweep_figure(result, keys=self.rate_keys)
        else:
            fig = update_sweep_figure(self.figure, result)  # same artists, new data
        return result.table(keys=("lost", "duplicated", "attempts")), fig

    def dynamic(self, fig: Figure) -> list[Any]:
        return sweep_artists(fig)


class DiagramPanel(_Panel):
    """The message-sequence diagram of one short run of one guarantee's reference protocol."""

    dpi = 90

    def __init__(self, *, semantic: str = "at-least-once", n_messages: int = 4, loss: float = 0.3,
                 ack_loss: float = 0.3, duplicate: float = 0.0, jitter: float = 0.0, max_retries: int = 3,
                 timeout: float = 3.0, crash_prob: float = 0.0, seed: int = 0) -> None:
        if semantic not in SEMANTICS:
            raise ValueError(f"semantic must be one of {', '.join(map(repr, SEMANTICS))}; got {semantic!r}")
        controls = {
            "semantic": w.ToggleButtons(options=list(SEMANTICS), value=semantic, description="guarantee",
                                        style={"description_width": "7.5em", "button_width": "8em"}),
            **_fault_sliders(loss=loss, ack_loss=ack_loss, duplicate=duplicate, jitter=jitter,
                             max_retries=max_retries, timeout=timeout, crash_prob=crash_prob,
                             step=0.05, max_retries_high=6, crash_high=0.3, crash_step=0.01),
            "n_messages": _int_slider("messages", check_int("n_messages", n_messages, low=1, high=10), 1, 10,
                                      continuous=False),
            "seed": _seed(check_int("seed", seed, high=1_000_000)),
        }
        self.report: Report | None = None
        super().__init__(controls)
        # The legend never changes: draw it once, beside the diagrams (drawn without one).
        legend = diagram_legend()
        legend.set_dpi(self.dpi)
        legend.canvas.draw()
        self.legend = w.Image(value=_png(legend), format="png", layout=_native_size())
        self.children = (self.children[0], self.summary, w.HBox([self.image, self.legend]))

    def compute(self, values: dict[str, Any]) -> tuple[str, Figure]:
        semantic = values.pop("semantic")
        report = simulate(semantic, trace=True, **values)
        self.report = report
        # One figure per number of messages, its time axis rounded up to a multiple of 10: runs of
        # similar length share a frame (lanes, ticks, title), and only the run itself is redrawn.
        height = min(max(2.5 + 0.8 * report.n_messages, 4.5), 10.0)
        fig = self.figure
        if fig is None or tuple(fig.get_size_inches()) != (DIAGRAM_WIDTH, height):
            fig = Picture(figsize=(DIAGRAM_WIDTH, height))
            FigureCanvasAgg(fig)
            fig.subplots_adjust(left=1.6 / DIAGRAM_WIDTH, right=1 - 1.0 / DIAGRAM_WIDTH, top=1 - 0.75 / height,
                                bottom=0.15 / height)
            fig.add_subplot()
        ax = fig.axes[0]
        for artist in self.dynamic(fig):
            artist.remove()
        sequence_diagram(report, ax=ax, title=semantic, legend=False)
        end, start = ax.get_ylim()
        end = math.ceil((end - 0.8) / 10) * 10 + 0.8
        ax.set_ylim(end, start)
        for lane in (a for a in ax.lines if a.get_gid() == "lane"):
            lane.set_ydata([start, end])  # the lanes run to the bottom of the frame
        return diagram_text(report, semantic), fig

    def dynamic(self, fig: Figure) -> list[Any]:
        ax = fig.axes[0]
        return [a for a in (*ax.lines, *ax.patches, *ax.texts) if a.get_gid()]  # what the run drew


DIAGRAM_WIDTH = 6.2  # inches: two lanes and their labels


def _native_size() -> w.Layout:
    """A box stretches its children to its own width (flex's align-items: stretch), which would
    scale a figure up and blur its text: keep each at its own size, and only ever shrink it to fit."""
    return w.Layout(align_self="flex-start", max_width="100%", height="auto")


def _png(fig: Figure) -> bytes:
    # PIL with light compression: matplotlib's savefig would draw the figure a second time and
    # compress harder, for bytes that only travel to the browser next door
    width, height = fig.canvas.get_width_height()
    buffer = io.BytesIO()
    Image.frombuffer("RGBA", (width, height), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).save(
        buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _bad_parameter(parameter: Any) -> str:
    raise ValueError(f"parameter must be one of {', '.join(map(repr, SWEEP_VALUES))}; got {parameter!r}")


PANELS: dict[str, Callable[..., _Panel]] = {"outcome": OutcomePanel, "sweep": SweepPanel, "diagram": DiagramPanel}
