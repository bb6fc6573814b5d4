"""Pictures of runs: message-sequence (Lamport) diagrams of traced runs, outcome bars that compare the
guarantees, and sweeps of outcome rates with their closed forms overlaid (matplotlib, without pyplot).

Each drawn element carries a ``gid`` naming what it shows ("arrow", "drop", "effect", ...), so that
tests can check a picture against the run it shows.
"""

from __future__ import annotations

import io
import math
from statistics import NormalDist
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch

from ..sim.analysis import KEYS
from ..sim.checker import SEMANTICS, Event, Report
from ..sim.sweeps import Sweep
from ..validation import check_choice, check_int, check_number

# Okabe-Ito: distinguishable with every common form of colour blindness. Each element also
# differs by line style or marker shape, so a grey-scale print still tells them apart.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
COLORS = {
    "data": OKABE_ITO["blue"], "ack": OKABE_ITO["orange"], "drop": OKABE_ITO["vermillion"],
    "partition": OKABE_ITO["purple"], "timer": OKABE_ITO["sky"], "effect": OKABE_ITO["green"],
    "lost": OKABE_ITO["vermillion"], "once": OKABE_ITO["green"], "duplicated": OKABE_ITO["orange"],
}
SEMANTIC_COLORS = {"at-most-once": OKABE_ITO["vermillion"], "at-least-once": OKABE_ITO["orange"],
                   "exactly-once": OKABE_ITO["blue"]}
OUTCOMES = ("lost", "once", "duplicated")
HATCHES = {"lost": "//", "once": "", "duplicated": "xx"}
MAX_DIAGRAM_MESSAGES = 10  # beyond this a diagram stops being readable: show the first ten
_LINESTYLE = {"data": "-", "ack": (0, (5, 3))}
_NODE_EVENTS = ("crash", "restart", "rollback", "note", "error")


class Picture(Figure):
    """A matplotlib Figure that shows itself as PNG when a notebook cell returns it, whether or not
    pyplot (and with it the inline backend's formatter) was ever imported."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


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
    fig = Picture(figsize=size)
    FigureCanvasAgg(fig)  # headless by default; a notebook's inline backend renders it too
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height, bottom=bottom / height)
    return fig, fig.add_subplot()


# -- the sequence diagram --------------------------------------------------------------------------


def _select_messages(report: Report, messages: Any) -> tuple[set[int], str]:
    """The logical messages to draw, and a note for the title when some are left out."""
    n = report.n_messages
    ids = {m.msg_id: m.logical for m in report.messages()}
    if messages is None:
        if n <= MAX_DIAGRAM_MESSAGES:
            return set(range(n)), ""
        return set(range(MAX_DIAGRAM_MESSAGES)), f" (first {MAX_DIAGRAM_MESSAGES} of {n} messages)"
    if isinstance(messages, (str, int)) or not isinstance(messages, Iterable):
        raise TypeError(f"messages must be a collection of message ids (such as 'm1') or logical indices "
                        f"(0 to {n - 1}), got {messages!r}")
    chosen = set()
    for m in messages:
        if isinstance(m, bool):
            raise TypeError(f"messages must hold message ids or logical indices, got {m!r}")
        if isinstance(m, int):
            if not 0 <= m < n:
                raise ValueError(f"messages: logical index {m} is out of range; allowed 0 to {n - 1}")
            chosen.add(m)
        elif m in ids:
            chosen.add(ids[m])
        else:
            shown = ", ".join(map(repr, list(ids)[:5])) + (", ..." if n > 5 else "")
            raise ValueError(f"messages: no message {m!r} in this run; its ids are {shown}")
    if len(chosen) > 3 * MAX_DIAGRAM_MESSAGES:
        raise ValueError(f"messages: at most {3 * MAX_DIAGRAM_MESSAGES} messages fit in one diagram "
                         f"(about {MAX_DIAGRAM_MESSAGES} stay readable), got {len(chosen)}")
    return chosen, ""


def diagram_events(report: Report, messages: Any = None) -> list[Event]:
    """The trace events a diagram of ``messages`` shows: every event of those messages, and the
    node events (crashes, restarts, notes, rollbacks, errors, timers without a message) that fall
    within their time span."""
    _check_report(report)
    if report.trace is None:
        raise ValueError("report has no trace: run it with trace=True (semantics.run(..., trace=True) or "
                         "semantics.simulate(..., trace=True)) to draw a sequence diagram")
    chosen, _ = _select_messages(report, messages)
    return _diagram_events(report.trace, chosen, len(chosen) == report.n_messages)


def _diagram_events(trace: Sequence[Event], chosen: set[int], everything: bool = False) -> list[Event]:
    if everything:  # every message is drawn: so is every node event, even after the last message
        return list(trace)
    mine = [e for e in trace if e.logical is not None and e.logical in chosen]
    if not mine:
        return []
    start = min(e.time for e in mine)
    end = max(max(e.time, e.until or e.time) for e in mine)
    return [e for e in trace
            if (e.logical is not None and e.logical in chosen)
            or (e.logical is None and e.kind != "send" and start <= e.time <= end)]


def _lanes(trace: Sequence[Event], nodes: Any) -> list[str]:
    if nodes is None:
        seen = {"sender": None, "receiver": None}
        for e in trace:
            seen.setdefault(e.node, None)
            if e.peer is not None:
                seen.setdefault(e.peer, None)
        return list(seen)
    if isinstance(nodes, str) or not isinstance(nodes, Iterable):
        raise TypeError(f"nodes must be a sequence of node names such as ['sender', 'receiver'], got {nodes!r}")
    lanes = list(nodes)
    if not lanes:
        raise ValueError("nodes must name at least one node, got an empty sequence")
    for name in lanes:
        if not isinstance(name, str):
            raise TypeError(f"nodes must hold node names (strings), got {name!r}")
    if len(set(lanes)) != len(lanes):
        raise ValueError(f"nodes must not repeat a name, got {lanes!r}")
    return lanes


def _short(msg_id: Any) -> str:
    text = msg_id if isinstance(msg_id, str) else repr(msg_id)
    return text if len(text) <= 12 else text[:11] + "…"


def sequence_diagram(report: Report, *, ax: Axes | None = None, title: str | None = None,
                     messages: Iterable[str | int] | None = None, nodes: Sequence[str] | None = None,
                     legend: bool = True) -> Figure:
    """Draw the message-sequence (Lamport) diagram of a traced run: one lane per node, time down.

    report:   a Report from ``run(..., trace=True)`` or ``simulate(..., trace=True)``.
    ax:       draw into this Axes (default: a new Figure sized to the run).
    title:    the title (default: the run's counts).
    messages: which logical messages to draw, by id ("m1") or logical index (0-based); default all
              of them, or the first ten when there are more (the title says so).
    nodes:    the lanes, left to right (default: sender, receiver, then any other node in the trace).
    legend:   draw the legend of what the diagram shows (False: see ``diagram_legend()``).

    Data messages are solid blue arrows, acks dashed orange ones, network duplicates dotted. A send
    the network dropped stops half-way at an X; one sent into a partition stops at a square; a
    message that reached a crashed node ends on a hollow circle. Diamonds are timeouts, stars
    effects (labelled with the message id), bars crashes, triangles restarts.
    """
    _check_report(report)
    _check_ax(ax)
    _check_title(title)
    if not isinstance(legend, bool):
        raise TypeError(f"legend must be True or False, got {legend!r}")
    if report.trace is None:
        raise ValueError("report has no trace: run it with trace=True (semantics.run(..., trace=True) or "
                         "semantics.simulate(..., trace=True)) to draw a sequence diagram")
    chosen, left_out = _select_messages(report, messages)
    events = _diagram_events(report.trace, chosen, len(chosen) == report.n_messages)
    lanes = _lanes(events, nodes)
    x = {name: float(i) for i, name in enumerate(lanes)}
    times = [t for e in events for t in (e.time, e.until) if t is not None]
    t0, t1 = (min(times), max(times)) if times else (0.0, 1.0)
    span = max(t1 - t0, 1.0)
    own = ax is None  # our own figure has room for the legend on the right; a given Axes may not
    right = 2.3 if legend else 0.9
    fig, ax = _new_axes(ax, (2.3 * len(lanes) + 1.1 + right, min(max(3.5, 1.6 + 0.22 * span), 14.0)),
                        (1.6, right, 0.75, 0.15))

    used: set[str] = set()  # legend entries actually drawn
    # A label goes on the outer side of a lane, away from the arrows between lanes.
    side = {name: (-1 if i == 0 and len(lanes) > 1 else 1) for i, name in enumerate(lanes)}
    dx = 0.05

    # Labels beside one lane at (nearly) the same time would print over each other: stack them
    # downwards, one text line apart (a line is about 0.14 inch; convert to time units).
    lane_inches = ax.get_position().height * fig.get_figheight()
    gap = 0.14 * (span + 1.6) / max(lane_inches, 0.5)
    last_label: dict[str, float] = {}

    def label(name: str, t: float, text: str, gid: str, **style: Any) -> None:
        y = max(t, last_label.get(name, -float("inf")) + gap)
        last_label[name] = y
        ax.text(x[name] + side[name] * dx * 1.6, y, text, ha="right" if side[name] < 0 else "left",
                va="center", fontsize=7.5, gid=gid + "-label", **style)

    # Marks of one kind share one Line2D (one artist per kind, not per mark: faster to build and draw).
    points: dict[str, tuple[list[float], list[float]]] = {}

    def mark(name: str, t: float, gid: str, xm: float | None = None) -> None:
        xs, ys = points.setdefault(gid, ([], []))
        xs.append(x[name] if xm is None else xm)
        ys.append(t)
        used.add(gid)

    # Lanes, with the time a node spent down shaded.
    down_since: dict[str, float] = {}
    for name in lanes:
        ax.plot([x[name], x[name]], [t0 - 0.6, t1 + 0.6], color="0.55", lw=1.2, zorder=0, gid="lane")
    attempt = Counter()
    for e in events:
        if e.node not in x:
            continue
        if e.kind == "send":
            if e.peer not in x:
                continue
            kind = e.message if e.message in _LINESTYLE else "data"
            duplicate = "duplicate" in e.text
            if e.message == "data" and not duplicate:
                attempt[(e.node, e.msg_id)] += 1
            n = attempt[(e.node, e.msg_id)]
            text = _short(e.msg_id) if kind == "data" else f"ack {_short(e.msg_id)}"
            if kind == "data" and n > 1:
                text += f" retry {n - 1}"
            if duplicate:
                text += " (dup)"
            x0, x1, y0 = x[e.node], x[e.peer], e.time
            y1 = e.until if e.until is not None else e.time + 1.0
            if e.fate in ("lost", "partitioned"):
                # stop half-way: the message left, and never arrived
                xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
                ax.plot([x0, xm], [y0, ym], color=COLORS[kind], lw=1.4, zorder=2,
                        linestyle=":" if duplicate else _LINESTYLE[kind], gid="arrow")
                mark(e.node, ym, "drop" if e.fate == "lost" else "partition", xm)
                # the label starts just off the sender's lane, clear of the lane and of the mark
                step = 0.07 / max(abs(x1 - x0), 1e-9)
                tx, ty, ha = x0 + (x1 - x0) * step, y0 + (y1 - y0) * step, "left" if x1 >= x0 else "right"
            else:
                ax.add_artist(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=11,
                                             color=COLORS[kind], lw=1.4, zorder=2, shrinkA=0, shrinkB=1,
                                             linestyle=":" if duplicate else _LINESTYLE[kind], gid="arrow"))
                share = 0.3 if duplicate else 0.5  # a network duplicate's label clear of its twin's
                tx, ty, ha = x0 + (x1 - x0) * share, y0 + (y1 - y0) * share, "center"
            used.add(kind)
            if duplicate:
                used.add("duplicate")
            ax.text(tx, ty, text, fontsize=7, color=COLORS[kind], ha=ha, va="bottom", rotation=0,
                    gid="arrow-label", zorder=3,
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))
        elif e.kind == "down":
            mark(e.node, e.time, "down")
        elif e.kind == "timer":
            mark(e.node, e.time, "timer")
            label(e.node, e.time, f"timeout {_short(e.msg_id) if e.msg_id is not None else e.text}", "timer")
        elif e.kind == "effect":
            mark(e.node, e.time, "effect")
            label(e.node, e.time, f"effect {_short(e.msg_id) if e.msg_id is not None else ''}", "effect",
                  color=COLORS["effect"], fontweight="bold")
        elif e.kind == "submit":
            mark(e.node, e.time, "submit")
            label(e.node, e.time, f"app sends {_short(e.msg_id)}", "submit", color="0.3")
        elif e.kind == "crash":
            mark(e.node, e.time, "crash")
            label(e.node, e.time, "crash", "crash", fontweight="bold")
            down_since[e.node] = e.time
        elif e.kind == "restart":
            mark(e.node, e.time, "restart")
            label(e.node, e.time, "restart", "restart")
            start = down_since.pop(e.node, t0 - 0.6)
            ax.add_patch(_down_band(x[e.node], start, e.time))
        elif e.kind == "rollback":
            mark(e.node, e.time, "rollback")
            label(e.node, e.time, "rolled back", "rollback")
        elif e.kind == "note":
            label(e.node, e.time, e.text, "note", style="italic", color="0.15",
                  bbox=dict(boxstyle="round,pad=0.2", fc="#FFF9D6", ec="0.6", lw=0.6))
        elif e.kind == "error":
            label(e.node, e.time, _error_label(e.text), "error", color=COLORS["drop"], fontweight="bold")
    for gid, (xs, ys) in points.items():
        ax.plot(xs, ys, linestyle="none", gid=gid, zorder=5 if gid in ("drop", "partition") else 4, **_MARKS[gid])
    for name, start in down_since.items():  # still down at the end of the run
        ax.add_patch(_down_band(x[name], start, t1 + 0.6))
        used.add("down-band")
    if down_since or any(e.kind == "restart" for e in events if e.node in x):
        used.add("down-band")

    ax.set_xlim(-0.95 if len(lanes) > 1 else -0.8, len(lanes) - 1 + 0.95)
    ax.set_ylim(t1 + 0.8, t0 - 0.8)  # time runs down
    ax.set_xticks([x[n] for n in lanes], lanes, fontsize=10, fontweight="bold")
    ax.xaxis.tick_top()
    ax.tick_params(axis="x", length=0)
    ax.set_ylabel("simulated time", fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    for spine in ("right", "bottom", "top"):
        ax.spines[spine].set_visible(False)
    if title is None:
        title = (f"{report.n_messages} message{'s' if report.n_messages != 1 else ''}: lost {report.lost}, "
                 f"once {report.once}, duplicated {report.duplicated}; {report.attempts} attempts") + left_out
        if not report.ok:
            title += f"\nrun stopped ({report.status})"
    elif left_out:
        title += left_out
    ax.set_title(title, fontsize=10, pad=22, y=1.0)  # a fixed y: auto-placement measures every tick label
    handles = [h for key, h in _legend_handles().items() if key in used] if legend else []
    if handles and own:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False,
                  borderaxespad=0.0)
    elif handles:  # below the lanes, inside the Axes' own column
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=7,
                  frameon=False, borderaxespad=0.3)
    return fig


def diagram_legend(*, columns: int = 1) -> Figure:
    """Every mark a sequence diagram can show, in a small figure of its own (a panel draws it once
    and its diagrams without a legend)."""
    columns = check_int("columns", columns, low=1, high=13)
    handles = list(_legend_handles().values())
    rows = math.ceil(len(handles) / columns)
    fig = Picture(figsize=(2.5 * columns, 0.26 * rows + 0.3))
    FigureCanvasAgg(fig)
    fig.legend(handles=handles, loc="center", ncol=columns, fontsize=8, frameon=False, labelspacing=0.7)
    return fig


def _error_label(problem: str) -> str:
    """'Recv.on_message('m2', ...) on node 'receiver' raised KeyError: 'x' (line 5: ...) at t=4' ->
    "error in Recv.on_message:\nKeyError: 'x'": the handler and the exception, short enough to read."""
    if " raised " not in problem:
        return "error: " + problem[:60]
    where = problem.split(" on node ")[0].split("(")[0]
    what = problem.split(" raised ", 1)[1].split(" (line ")[0].split(" at t=")[0]
    return f"error in {where}:\n{what[:60]}"


def _down_band(x: float, start: float, end: float) -> Patch:
    from matplotlib.patches import Rectangle
    return Rectangle((x - 0.045, start), 0.09, end - start, facecolor="0.85", edgecolor="0.5", hatch="////",
                     lw=0.5, zorder=1, gid="down-band")


def _legend_handles() -> dict[str, Any]:
    handles: dict[str, Any] = {
        "data": Line2D([], [], color=COLORS["data"], lw=1.5, linestyle=_LINESTYLE["data"], label="data message"),
        "ack": Line2D([], [], color=COLORS["ack"], lw=1.5, linestyle=_LINESTYLE["ack"], label="ack"),
        "duplicate": Line2D([], [], color="0.3", lw=1.5, linestyle=":", label="network duplicate"),
    }
    for gid, style in _MARKS.items():
        handles[gid] = Line2D([], [], linestyle="none", label=_MARK_LABELS[gid], **style)
    handles["down-band"] = Patch(facecolor="0.85", edgecolor="0.5", hatch="////", label="node down")
    return handles


_MARKS: dict[str, dict[str, Any]] = {
    "drop": dict(marker="X", markersize=10, color=COLORS["drop"], markeredgecolor="white"),
    "partition": dict(marker="s", markersize=8, color=COLORS["partition"], markeredgecolor="black"),
    "down": dict(marker="o", markersize=8, markerfacecolor="white", markeredgecolor="black", markeredgewidth=1.5),
    "submit": dict(marker=">", markersize=6, color="0.3"),
    "timer": dict(marker="D", markersize=6, color=COLORS["timer"], markeredgecolor="black"),
    "effect": dict(marker="*", markersize=14, color=COLORS["effect"], markeredgecolor="black"),
    "rollback": dict(marker="o", markersize=7, color=OKABE_ITO["yellow"], markeredgecolor="black"),
    "crash": dict(marker="_", markersize=22, markeredgewidth=3.5, color="black"),
    "restart": dict(marker="^", markersize=8, markerfacecolor="white", markeredgecolor="black", markeredgewidth=1.5),
}
_MARK_LABELS = {
    "drop": "lost by the network", "partition": "sent into a partition", "down": "arrived at a crashed node",
    "submit": "application sends", "timer": "timeout (retry or give up)", "effect": "effect applied",
    "rollback": "atomic block rolled back", "crash": "crash", "restart": "restart (volatile state lost)",
}


# -- outcome bars ----------------------------------------------------------------------------------


def outcome_bars(reports: Mapping[str, Report], *, ax: Axes | None = None, title: str | None = None,
                 normalize: bool = False) -> Figure:
    """Stacked bars of lost / once / duplicated messages, one bar per labelled report, with the
    attempts per message written above each bar.

    reports:   label -> Report, e.g. {semantic: semantics.simulate(semantic, ...)}; drawn in order.
    ax:        draw into this Axes (default: a new Figure).
    title:     the title (default: none).
    normalize: plot fractions of each run's messages instead of counts (runs of different sizes).
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
    fig, ax = _new_axes(ax, (1.9 * len(labels) + 3.2, 4.2), (0.9, 1.5, 0.45, 0.4))
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
                i, 0, "", ha="center", va="center", fontsize=7.5, fontweight="bold", gid="bar-label",
                color="white" if outcome != "duplicated" else "black",
                bbox=dict(boxstyle="round,pad=0.15", fc=COLORS[outcome], ec="none"))
            layout.beside[outcome, label] = ax.text(i + 0.32, 0, "", ha="left", va="center", fontsize=7,
                                                    color="black", gid="bar-label")
    for i, label in enumerate(labels):
        layout.attempts[label] = ax.text(i, 0, "", ha="center", va="bottom", fontsize=8, gid=f"attempts:{label}")
    ax.set_xticks(positions, labels, fontsize=9)
    ax.set_ylabel("fraction of messages" if normalize else "messages", fontsize=9)
    for spine in ("right", "top"):
        ax.spines[spine].set_visible(False)
    if own:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False,
                  title="effects per message", title_fontsize=8)
    else:  # inside, top right, where the headroom above the bars leaves space
        ax.legend(loc="upper right", ncol=3, fontsize=7, frameon=False, handlelength=1.2, columnspacing=0.8)
    if title is not None:
        ax.set_title(title, fontsize=10)
    ax.semantics_bars = layout
    update_outcome_bars(ax, reports)
    return fig


class _BarsLayout:
    """The artists of an outcome_bars Axes, so ``update_outcome_bars`` can refill them in place."""

    def __init__(self, labels: list[str], normalize: bool) -> None:
        self.labels, self.normalize = labels, normalize
        self.bars: dict[tuple[str, str], Any] = {}
        self.inside: dict[tuple[str, str], Any] = {}
        self.beside: dict[tuple[str, str], Any] = {}
        self.attempts: dict[str, Any] = {}

    def artists(self) -> list[Any]:
        return [*self.bars.values(), *self.inside.values(), *self.beside.values(), *self.attempts.values()]


def update_outcome_bars(fig_or_ax: Figure | Axes, reports: Mapping[str, Report]) -> Figure:
    """Refill bars made by ``outcome_bars`` with new reports under the same labels, in place (a widget
    redraws without rebuilding the figure)."""
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
            share = f"{count / n:.1%}"
            fits = count / n >= 0.06
            inside, beside = layout.inside[outcome, label], layout.beside[outcome, label]
            inside.set_visible(fits)
            beside.set_visible(bool(count) and not fits)
            inside.set_y(bottoms[i] + h / 2)
            inside.set_text(f"{count}\n({share})")
            beside.set_y(bottoms[i] + h / 2)
            beside.set_text(f"{outcome} {count} ({share})")
            bottoms[i] += h
    top = max(bottoms) or 1.0
    for i, label in enumerate(layout.labels):
        r = reports[label]
        per = r.attempts / r.n_messages if r.n_messages else 0.0
        layout.attempts[label].set_y(bottoms[i] + 0.02 * top)
        layout.attempts[label].set_text(f"{per:.2f} attempts/msg")
    ax.set_ylim(0, top * 1.15)
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


def count_marks(fig_or_ax: Figure | Axes) -> Counter:
    """Count the drawn elements of a diagram by kind ("arrow", "drop", "effect", ...): each mark
    drawn in a shared Line2D counts once per point."""
    ax = _first_axes(fig_or_ax)
    counts: Counter = Counter()
    for artist in (*ax.lines, *ax.patches, *ax.texts, *ax.artists):
        gid = artist.get_gid()
        if gid:
            counts[gid] += len(artist.get_xdata()) if gid in _MARKS else 1
    return counts


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
        width, height = 4.0 * cols + 2.2, 2.9 * rows + 0.6
        fig = Picture(figsize=(width, height))
        FigureCanvasAgg(fig)
        grid = fig.subplots(rows, cols, squeeze=False, gridspec_kw=dict(
            left=0.7 / width, right=1 - 1.95 / width, bottom=0.5 / height, top=1 - 0.55 / height,
            wspace=0.25, hspace=0.45))
        axes = list(grid.ravel())
        for extra in axes[len(keys):]:
            extra.remove()
        axes = axes[:len(keys)]

    for key, panel in zip(keys, axes):
        for semantic in chosen:
            colour, marker = SEMANTIC_COLORS[semantic], _SEMANTIC_MARKERS[semantic]
            panel.plot([], [], color=colour, lw=1.6, alpha=0.85, zorder=2, gid=f"curve:{semantic}:{key}")
            panel.add_collection(LineCollection([], colors=colour, linewidths=1.0, zorder=3,
                                                gid=f"errorbars:{semantic}:{key}"))
            panel.plot([], [], linestyle="none", marker=marker, color=colour, markersize=4.5,
                       markeredgecolor="black", markeredgewidth=0.5, zorder=4, gid=f"points:{semantic}:{key}")
        panel.set_title(_KEY_LABELS[key], fontsize=9)
        panel.tick_params(labelsize=8)
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
                   fontsize=8, frameon=False)
    else:
        ax.legend(handles=handles, fontsize=7, frameon=False)
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
            else:
                most = 1.04 * (1 + result.settings["max_retries"])
            panel.set_ylim(0.0, most)
        else:
            panel.set_ylim(-0.03, 1.03)
        panel.set_xlabel(_AXIS_LABELS[result.parameter], fontsize=8.5)
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
