"""Pictures of runs: outcome bars that compare the guarantees, and sweeps of outcome rates with their
closed forms overlaid (matplotlib, without pyplot); the message-sequence diagrams of traced runs
(``diagram``) are re-exported from here.

Each drawn element carries a ``gid`` naming what it shows ("bar:lost:at-most-once", "points:...",
"arrow", "drop", "effect", ...), so that tests can check a picture against the run it shows.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from ..sim.analysis import KEYS
from ..sim.checker import SEMANTICS, Report
from ..sim.sweeps import Sweep
from ..validation import check_choice, check_number
# The sequence diagrams live in .diagram; their names are re-exported here, where the lessons and
# the grader have always found them.
from .diagram import (COLORS, DPI, FONT, MARKS, MAX_DIAGRAM_MESSAGES, MAX_WIDTH, OKABE_ITO, Diagram, Picture,
                      count_marks, diagram_events, diagram_legend, diagram_of, diagram_words, new_figure,
                      sequence_diagram, sequence_diagrams)

__all__ = ["COLORS", "DPI", "FONT", "MARKS", "MAX_DIAGRAM_MESSAGES", "MAX_WIDTH", "OKABE_ITO", "Diagram", "Picture",
           "count_marks", "diagram_events", "diagram_legend", "diagram_of", "diagram_words", "new_figure",
           "sequence_diagram", "sequence_diagrams", "SEMANTIC_COLORS", "OUTCOMES", "HATCHES", "share_text",
           "outcome_bars", "update_outcome_bars", "bar_artists", "bar_heights", "sweep_figure",
           "update_sweep_figure", "sweep_artists"]

SEMANTIC_COLORS = {"at-most-once": OKABE_ITO["vermillion"], "at-least-once": OKABE_ITO["orange"],
                   "exactly-once": OKABE_ITO["blue"]}
OUTCOMES = ("lost", "once", "duplicated")
HATCHES = {"lost": "//", "once": "", "duplicated": "xx"}


# -- argument checks -------------------------------------------------------------------------------


def _check_report(report: Any, param: str = "report") -> Report:
    if not isinstance(report, Report):
        raise TypeError(f"{param} must be a semantics Report (from semantics.run or semantics.simulate), "
                        f"got {type(report).__name__}")
    return report


def _check_ax(ax: Any) -> Axes | None:
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax


def _check_title(title: Any) -> str | None:
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None, got {type(title).__name__}")
    return title


def _new_axes(ax: Axes | None, size: tuple[float, float], margins: tuple[float, float, float, float]
              ) -> tuple[Figure, Axes]:
    """A new Figure with one Axes, margins (left, right, top, bottom) in inches. Fixed margins rather
    than a layout engine: constrained layout costs more than drawing, and panels redraw often."""
    if ax is not None:
        return ax.figure, ax
    width, height = size
    left, right, top, bottom = margins
    fig = new_figure(size)  # headless; a notebook's inline backend renders it too
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height)
    return fig, fig.add_subplot()


# -- outcome bars ----------------------------------------------------------------------------------


def _percent(p: float) -> str:
    """A probability as a percentage that never reads 0.0% for one that is not zero."""
    if 0 < p < 0.001:
        return f"{100 * p:.2g}%"
    return f"{100 * p:.1f}%"


def share_text(count: int, n: int) -> str:
    """``count`` of ``n`` as a percentage that never reads 0.0% for a count that is not zero."""
    if not n:
        return "0%"
    share = 100 * count / n
    if count and share < 0.1:
        return f"{share:.2g}%" if share >= 0.01 else "<0.01%"
    return f"{share:.1f}%"


def outcome_bars(reports: Mapping[str, Report], *, ax: Axes | None = None, title: str | None = None,
                 normalize: bool = False, expected: Mapping[str, Mapping[str, float]] | None = None) -> Figure:
    """Stacked bars of lost / once / duplicated messages, one bar per labelled report, with the
    attempts per message written above each bar.

    reports:   label -> Report, e.g. {semantic: semantics.simulate(semantic, ...)}; drawn in order.
    ax:        draw into this Axes (default: a new Figure).
    title:     the title (default: none).
    normalize: plot fractions of each run's messages instead of counts (runs of different sizes).
    expected:  label -> the closed form's shares per message ("lost", "duplicated", from
               ``semantics.expected``), written under each bar beside the sample above it.
    """
    _check_ax(ax)
    _check_title(title)
    if not isinstance(reports, Mapping):
        raise TypeError(f"reports must be a mapping from label to Report, got {type(reports).__name__}")
    if not reports:
        raise ValueError("reports must hold at least one labelled Report, got an empty mapping")
    for label, report in reports.items():
        if not isinstance(label, str):
            raise TypeError(f"reports labels must be strings, got {label!r}")
        _check_report(report, f"reports[{label!r}]")
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be True or False, got {normalize!r}")

    labels = list(reports)
    own = ax is None  # our own figure has room for the legend on the right; a given Axes may not
    bottom = 0.4 if expected is None else 0.85  # room for the closed forms under the bars
    fig, ax = _new_axes(ax, (min(1.9 * len(labels) + 3.3, MAX_WIDTH), 3.8 + bottom), (0.9, 1.75, 0.45, bottom))
    positions = list(range(len(labels)))
    layout = _BarsLayout(labels, normalize)
    for outcome in OUTCOMES:
        bars = ax.bar(positions, [0.0] * len(labels), width=0.6, color=COLORS[outcome], hatch=HATCHES[outcome],
                      edgecolor="black", lw=0.6, label=outcome)
        for i, (bar, label) in enumerate(zip(bars, labels)):
            bar.set_gid(f"bar:{outcome}:{label}")
            layout.bars[outcome, label] = bar
            # the count inside its segment where it fits, beside the bar where it does not (a few
            # lost messages still matter)
            layout.inside[outcome, label] = ax.text(
                i, 0, "", ha="center", va="center", fontsize=FONT, fontweight="bold", gid="bar-label",
                color="white" if outcome != "duplicated" else "black",
                bbox=dict(boxstyle="round,pad=0.15", fc=COLORS[outcome], ec="none"))
            layout.beside[outcome, label] = ax.text(i + 0.32, 0, "", ha="left", va="center", fontsize=FONT,
                                                    color="black", gid="bar-label")
    for i, label in enumerate(labels):
        layout.attempts[label] = ax.text(i, 0, "", ha="center", va="bottom", fontsize=FONT, gid=f"attempts:{label}")
        if expected is not None:
            layout.expected[label] = ax.text(i, -0.09, "", ha="center", va="top", fontsize=FONT, color="0.25",
                                             transform=ax.get_xaxis_transform(), gid=f"expected:{label}")
    ax.set_xticks(positions, labels, fontsize=9)
    ax.tick_params(axis="y", labelsize=FONT)
    if normalize:  # the headroom above 1 holds the attempts: no tick there
        ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.set_ylabel("fraction of messages" if normalize else "messages", fontsize=9)
    for spine in ("right", "top"):
        ax.spines[spine].set_visible(False)
    if own:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=FONT, frameon=False,
                  title="effects per message", title_fontsize=FONT)
    else:  # inside, top right, where the headroom above the bars leaves space
        ax.legend(loc="upper right", ncol=3, fontsize=FONT, frameon=False, handlelength=1.2, columnspacing=0.8)
    if title is not None:
        ax.set_title(title, fontsize=10)
    ax.semantics_bars = layout
    update_outcome_bars(ax, reports, expected)
    return fig


class _BarsLayout:
    """The artists of an outcome_bars Axes, so ``update_outcome_bars`` can refill them in place."""

    def __init__(self, labels: list[str], normalize: bool) -> None:
        self.labels, self.normalize = labels, normalize
        self.bars: dict[tuple[str, str], Any] = {}
        self.inside: dict[tuple[str, str], Any] = {}
        self.beside: dict[tuple[str, str], Any] = {}
        self.attempts: dict[str, Any] = {}
        self.expected: dict[str, Any] = {}

    def artists(self) -> list[Any]:
        return [*self.bars.values(), *self.inside.values(), *self.beside.values(), *self.attempts.values(),
                *self.expected.values()]


def update_outcome_bars(fig_or_ax: Figure | Axes, reports: Mapping[str, Report],
                        expected: Mapping[str, Mapping[str, float]] | None = None) -> Figure:
    """Refill bars made by ``outcome_bars`` with new reports (and closed forms) under the same labels,
    in place (a widget redraws without rebuilding the figure)."""
    ax = fig_or_ax.axes[0] if isinstance(fig_or_ax, Figure) and fig_or_ax.axes else fig_or_ax
    layout = getattr(ax, "semantics_bars", None)
    if not isinstance(layout, _BarsLayout):
        raise ValueError("update_outcome_bars needs a Figure or Axes made by outcome_bars(...)")
    if not isinstance(reports, Mapping) or list(reports) != layout.labels:
        raise ValueError(f"reports must have the labels {layout.labels!r}, in that order")
    for label, report in reports.items():
        _check_report(report, f"reports[{label!r}]")
    bottoms = [0.0] * len(layout.labels)
    for outcome in OUTCOMES:
        for i, label in enumerate(layout.labels):
            r = reports[label]
            n = max(r.n_messages, 1)
            count = getattr(r, outcome)
            h = count / n if layout.normalize else float(count)
            bar = layout.bars[outcome, label]
            bar.set_y(bottoms[i])
            bar.set_height(h)
            share = share_text(count, n)
            fits = count / n >= 0.06
            inside, beside = layout.inside[outcome, label], layout.beside[outcome, label]
            inside.set_visible(fits)
            beside.set_visible(bool(count) and not fits)
            inside.set_y(bottoms[i] + h / 2)
            inside.set_text(f"{count}\n({share})")
            beside.set_y(bottoms[i] + h / 2)
            # two short lines fit in the gap to the next bar
            beside.set_text(f"{count} {'dup.' if outcome == 'duplicated' else outcome}\n({share})")
            bottoms[i] += h
    top = max(bottoms) or 1.0
    for i, label in enumerate(layout.labels):
        r = reports[label]
        per = r.attempts / r.n_messages if r.n_messages else 0.0
        layout.attempts[label].set_y(bottoms[i] + 0.02 * top)
        # three decimals: one more attempt in a thousand messages shows; and what the retries cost in time
        layout.attempts[label].set_text(f"{per:.3f} attempts/msg\n{r.end_time / max(r.n_messages, 1):.2f} time/msg")
    for label, text in layout.expected.items():
        shares = (expected or {}).get(label)
        text.set_text("" if shares is None else
                      f"closed form: lost {_percent(shares['lost'])}\nduplicated {_percent(shares['duplicated'])}")
    ax.set_ylim(0, top * 1.22)
    ax.figure.stale = True
    return ax.figure


def bar_artists(fig_or_ax: Figure | Axes) -> list[Any]:
    """The artists ``update_outcome_bars`` changes, for a panel that redraws only them."""
    ax = fig_or_ax.axes[0] if isinstance(fig_or_ax, Figure) and fig_or_ax.axes else fig_or_ax
    layout = getattr(ax, "semantics_bars", None)
    if not isinstance(layout, _BarsLayout):
        raise ValueError("bar_artists needs a Figure or Axes made by outcome_bars(...)")
    return layout.artists()


def _first_axes(fig_or_ax: Any) -> Axes:
    if isinstance(fig_or_ax, Axes):
        return fig_or_ax
    if isinstance(fig_or_ax, Figure) and fig_or_ax.axes:
        return fig_or_ax.axes[0]
    raise TypeError(f"fig_or_ax must be a matplotlib Figure with an Axes, or an Axes; got {fig_or_ax!r}")


def bar_heights(fig_or_ax: Figure | Axes) -> dict[str, dict[str, float]]:
    """Read back the drawn bar heights: label -> outcome -> height (what tests and graders compare)."""
    ax = _first_axes(fig_or_ax)
    found: dict[str, dict[str, float]] = {}
    for patch in ax.patches:
        gid = patch.get_gid() or ""
        if gid.startswith("bar:"):
            _, outcome, label = gid.split(":", 2)
            found.setdefault(label, {})[outcome] = patch.get_height()
    return found


# -- sweeps ----------------------------------------------------------------------------------------

_SEMANTIC_MARKERS = {"at-most-once": "o", "at-least-once": "s", "exactly-once": "^"}
_AXIS_LABELS = {"loss": "request loss p", "ack_loss": "ack loss q", "max_retries": "max retries"}
_KEY_LABELS = {
    "lost": "P(lost): no effect", "once": "P(once): exactly one effect", "duplicated": "P(duplicated): 2+ effects",
    "effects": "effects per message", "attempts": "attempts per message", "acked": "P(acknowledged)",
    "indefinite": "P(indefinite): never acked", "indefinite_applied": "P(never acked, yet applied)",
}


def sweep_figure(result: Sweep, *, keys: Sequence[str] = ("lost", "once", "duplicated", "attempts"),
                 semantics: Sequence[str] = SEMANTICS, ax: Axes | None = None, title: str | None = None,
                 confidence: float = 0.95) -> Figure:
    """Plot a sweep (``semantics.sim.sweeps.sweep``): simulated rates with error bars, one panel per key,
    one colour and marker per guarantee, and the closed form (``semantics.expected``) as a line.

    result:     a ``Sweep`` (rates against loss, ack loss or max retries).
    keys:       the rates to plot, one panel each (from lost, once, duplicated, effects, attempts,
                acked, indefinite, indefinite_applied).
    semantics:  which guarantees to plot.
    ax:         draw into this Axes (only with a single key).
    confidence: the error bars' confidence level, in (0, 1) (normal approximation).
    """
    if not isinstance(result, Sweep):
        raise TypeError(f"result must be a Sweep from semantics.sim.sweeps.sweep(...), got {type(result).__name__}")
    keys = _check_names("keys", keys, KEYS)
    chosen = _check_names("semantics", semantics, SEMANTICS)
    _check_ax(ax)
    _check_title(title)
    level = check_number("confidence", confidence, low=0.0, high=1.0, low_open=True)
    if level >= 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if ax is not None and len(keys) != 1:
        raise ValueError(f"ax can hold one panel: pass a single key with ax, got keys={list(keys)!r}")
    z = NormalDist().inv_cdf(0.5 + level / 2)

    if ax is not None:
        fig, axes = ax.figure, [ax]
    else:
        cols = 1 if len(keys) == 1 else 2
        rows = math.ceil(len(keys) / cols)
        # Fixed margins, no layout engine: constrained layout costs ten times the drawing here,
        # and a panel that redraws on every slider move cannot afford it.
        width, height = 3.3 * cols + 2.3, 2.9 * rows + 0.6
        fig = new_figure((width, height))
        grid = fig.subplots(rows, cols, squeeze=False, gridspec_kw=dict(
            left=0.6 / width, right=1 - 2.0 / width, bottom=0.5 / height, top=1 - 0.55 / height,
            wspace=0.3, hspace=0.5))
        axes = list(grid.ravel())
        for extra in axes[len(keys):]:
            extra.remove()
        axes = axes[:len(keys)]

    for key, panel in zip(keys, axes):
        for semantic in chosen:
            colour, marker = SEMANTIC_COLORS[semantic], _SEMANTIC_MARKERS[semantic]
            panel.plot([], [], color=colour, lw=1.6, alpha=0.85, zorder=2, gid=f"curve:{semantic}:{key}")
            # the confidence bars over the markers, in black: a marker must not hide its bar
            panel.add_collection(LineCollection([], colors="black", linewidths=1.1, zorder=5,
                                                gid=f"errorbars:{semantic}:{key}"))
            panel.plot([], [], linestyle="none", marker=marker, color=colour, markersize=4.5,
                       markeredgecolor="black", markeredgewidth=0.5, zorder=4, gid=f"points:{semantic}:{key}")
        panel.set_title(_KEY_LABELS[key], fontsize=9)
        panel.tick_params(labelsize=FONT)
        panel.grid(alpha=0.3, lw=0.5)
        for spine in ("right", "top"):
            panel.spines[spine].set_visible(False)
    handles = [Line2D([], [], color=SEMANTIC_COLORS[s], marker=_SEMANTIC_MARKERS[s], markeredgecolor="black",
                      markeredgewidth=0.5, lw=1.6, label=s) for s in chosen]
    handles += [Line2D([], [], color="0.3", marker="o", linestyle="none", markersize=4.5,
                       label=f"simulated ({level:.0%} CI)"),
                Line2D([], [], color="0.3", lw=1.6, label="closed form")]
    if ax is None:
        fig.legend(handles=handles, loc="upper right", bbox_to_anchor=(1.0, 1 - 0.5 / fig.get_figheight()),
                   fontsize=FONT, frameon=False)
    else:
        ax.legend(handles=handles, fontsize=FONT, frameon=False)
    heading = fig.suptitle("", fontsize=10) if ax is None else (ax.title if title is not None else None)
    fig.semantics_sweep = _SweepLayout(list(zip(keys, axes)), chosen, z, title, heading)
    return update_sweep_figure(fig, result)


class _SweepLayout:
    """What ``update_sweep_figure`` needs to refill a figure that ``sweep_figure`` built."""

    def __init__(self, panels: list[tuple[str, Axes]], semantics: list[str], z: float, title: str | None,
                 heading: Any) -> None:
        self.panels, self.semantics, self.z, self.title, self.heading = panels, semantics, z, title, heading


def update_sweep_figure(fig: Figure, result: Sweep) -> Figure:
    """Refill a figure made by ``sweep_figure`` with a new sweep, in place: the same artists get new
    data, so a widget redraws without building a figure again (and without flicker)."""
    if not isinstance(fig, Figure) or not isinstance(getattr(fig, "semantics_sweep", None), _SweepLayout):
        raise ValueError("fig must be a Figure made by sweep_figure(...)")
    if not isinstance(result, Sweep):
        raise TypeError(f"result must be a Sweep from semantics.sim.sweeps.sweep(...), got {type(result).__name__}")
    layout: _SweepLayout = fig.semantics_sweep
    xs = np.asarray(result.values, dtype=float)
    lo, hi = float(xs.min()), float(xs.max())
    if result.parameter == "max_retries":
        curve_x = np.arange(int(lo), int(hi) + 1, dtype=float)
        dodge, pad = 0.12, 0.5
    else:
        curve_x = np.union1d(np.linspace(lo, hi, 41), xs) if hi > lo else xs  # smooth enough
        dodge, pad = 0.006 * (hi - lo), max(0.03 * (hi - lo), 0.02)
    curves = {s: result.closed_forms(s, curve_x) for s in layout.semantics}
    for key, panel in layout.panels:
        artists = {a.get_gid(): a for a in (*panel.lines, *panel.collections)}
        for j, semantic in enumerate(layout.semantics):
            rates = result.rates(semantic, key)
            half = layout.z * result.errors(semantic, key)
            px = xs + (j - (len(layout.semantics) - 1) / 2) * dodge  # overlapping points side by side
            artists[f"curve:{semantic}:{key}"].set_data(curve_x, curves[semantic][key])
            artists[f"points:{semantic}:{key}"].set_data(px, rates)
            artists[f"errorbars:{semantic}:{key}"].set_segments(
                [((x, r - h), (x, r + h)) for x, r, h in zip(px, rates, half)])
        panel.set_xlim(lo - pad, hi + pad)
        if key in ("effects", "attempts"):  # means, not probabilities
            # bounded by the attempts allowed: a fixed scale lets the eye compare sweeps (and lets a
            # panel redraw only the data while the slider moves)
            if result.parameter == "max_retries":  # the bound grows with x: fit the data, in steps of 0.5
                shown = [a.get_ydata() for a in panel.lines if (a.get_gid() or "").split(":")[0] in ("curve", "points")]
                most = math.ceil(1.08 * max(float(np.nanmax(y)) for y in shown) / 0.5) * 0.5
            else:  # the attempts allowed, rounded up to a few levels: a panel keeps its frame
                bound = 1 + result.settings["max_retries"]
                most = 1.04 * next((level for level in (2, 4, 6, 8, 11) if bound <= level), bound)
            panel.set_ylim(0.0, most)
        else:
            panel.set_ylim(-0.03, 1.03)
        panel.set_xlabel(_AXIS_LABELS[result.parameter], fontsize=9)
    fixed = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in result.settings.items())
    title = layout.title if layout.title is not None else f"{result.n_messages:,} messages per point; {fixed}"
    if layout.heading is not None:
        layout.heading.set_text(title)
    fig.stale = True
    return fig


def sweep_artists(fig: Figure) -> list[Any]:
    """The artists ``update_sweep_figure`` changes (data and heading), for a panel that redraws only them."""
    if not isinstance(fig, Figure) or not isinstance(getattr(fig, "semantics_sweep", None), _SweepLayout):
        raise ValueError("fig must be a Figure made by sweep_figure(...)")
    layout: _SweepLayout = fig.semantics_sweep
    found = [a for _, panel in layout.panels for a in (*panel.lines, *panel.collections)
             if (a.get_gid() or "").split(":")[0] in ("curve", "points", "errorbars")]
    return found + ([layout.heading] if layout.heading is not None else [])


def _check_names(param: str, names: Any, allowed: Sequence[str]) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise TypeError(f"{param} must be a sequence of names from {', '.join(map(repr, allowed))}, got {names!r}")
    chosen = [check_choice(param, n, tuple(allowed)) for n in names]
    if not chosen:
        raise ValueError(f"{param} must name at least one of {', '.join(map(repr, allowed))}")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"{param} must not repeat a name, got {chosen!r}")
    return chosen
