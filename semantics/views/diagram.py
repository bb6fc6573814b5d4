"""Message-sequence (Lamport) diagrams of traced runs, annotated with the story in words.

One lane per node, time running down; an arrow per transmission (a lost one stops half-way at a
mark); marks for submits, timeouts, effects, crashes and restarts; shading where a node was down and
where the network was partitioned; and the key facts written beside them ("m2 lost", "ack m1 lost",
"timeout m1", "retry 1", "duplicate m1 delivered", "2nd effect: duplicate", "ignored, acked again",
"m2 acked, not applied", "crash: volatile state lost", "restart", "gave up on m3"; the words come
from ``story``), placed so that no label covers another label, an arrow or a mark (``labels``).

Every drawn element carries a ``gid`` naming what it shows ("arrow", "drop", "effect", ...), and
each is tied to the trace event it shows, so tests check a picture against its run and a stepper
shows the run event by event (``Diagram.show_until``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle
from matplotlib.text import Text

from ..sim.checker import Event, Report
from ..validation import check_int, check_number, did_you_mean
from .labels import Block, LabelLayer
from .story import Annotation, story

OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
COLORS = {
    "data": OKABE_ITO["blue"], "ack": OKABE_ITO["orange"], "drop": OKABE_ITO["vermillion"],
    "partition": OKABE_ITO["purple"], "timer": OKABE_ITO["sky"], "effect": OKABE_ITO["green"],
    "lost": OKABE_ITO["vermillion"], "once": OKABE_ITO["green"], "duplicated": OKABE_ITO["orange"],
}
MAX_DIAGRAM_MESSAGES = 10  # beyond this a diagram stops being readable: show the first ten
DPI = 100                  # figures are drawn (and shown) at 100 dpi: 1 pt = 1.39 px
FONT = 8.5                 # points: 11.8 px at 100 dpi, above the 10 px a label needs to be read
_LINESTYLE = {"data": "-", "ack": (0, (5, 3))}

# Darker shades of the palette for text on white (the marks keep the bright ones).
_TEXT_STYLE: dict[str, dict[str, Any]] = {
    "submit": dict(color="0.25"), "timeout": dict(color="#005A8C"), "retry": dict(color="#005A8C"),
    "gave-up": dict(color="#8C2D00", fontweight="bold"), "effect": dict(color="#00684A", fontweight="bold"),
    "duplicate-effect": dict(color="#B34700", fontweight="bold"),
    "duplicate-delivered": dict(color="#8A5A00"), "duplicate-ignored": dict(color="#00684A"),
    "acked-not-applied": dict(color="#B34700", fontweight="bold"), "ignored": dict(color="0.25"),
    "down": dict(color="0.25"), "crash": dict(color="black", fontweight="bold"), "restart": dict(color="black"),
    "rollback": dict(color="0.25", style="italic"), "note": dict(color="0.15", style="italic"),
    "error": dict(color="#B34700", fontweight="bold"), "lost": dict(color="#B34700", fontweight="bold"),
    "ack-lost": dict(color="#B34700", fontweight="bold"),
}

MARKS: dict[str, dict[str, Any]] = {
    "drop": dict(marker="X", markersize=10, color=COLORS["drop"], markeredgecolor="white"),
    "partition": dict(marker="s", markersize=8, color=COLORS["partition"], markeredgecolor="black"),
    "down": dict(marker="o", markersize=8, markerfacecolor="white", markeredgecolor="black", markeredgewidth=1.5),
    "submit": dict(marker=">", markersize=6, color="0.3"),
    "timer": dict(marker="D", markersize=6, color=COLORS["timer"], markeredgecolor="black"),
    "effect": dict(marker="*", markersize=14, color=COLORS["effect"], markeredgecolor="black"),
    "duplicate-effect": dict(marker="*", markersize=14, color=OKABE_ITO["vermillion"], markeredgecolor="black"),
    "duplicate-ignored": dict(marker="*", markersize=12, markerfacecolor="white", markeredgecolor=COLORS["effect"],
                              markeredgewidth=1.5),
    "rollback": dict(marker="o", markersize=7, color=OKABE_ITO["yellow"], markeredgecolor="black"),
    "crash": dict(marker="_", markersize=16, markeredgewidth=3.5, color="black"),
    "restart": dict(marker="^", markersize=8, markerfacecolor="white", markeredgecolor="black", markeredgewidth=1.5),
}
_MARK_LABELS = {
    "drop": "lost by the network", "partition": "sent into a partition", "down": "arrived at a crashed node",
    "submit": "application sends", "timer": "timeout (retry or give up)", "effect": "effect applied",
    "duplicate-effect": "effect applied again (duplicate)", "duplicate-ignored": "duplicate ignored",
    "rollback": "atomic block rolled back", "crash": "crash (volatile state lost)",
    "restart": "restart (durable state kept)",
}
_NODE_EVENTS = ("crash", "restart", "rollback", "note", "error")
_LABEL_GAP = 15.0  # pixels from a lane to its labels: clear of the widest mark (the crash bar) and its padding


LEGEND_ORDER = ("data", "ack", "duplicate", *MARKS, "down-band", "outage")


def legend_handles(used: Sequence[str] = LEGEND_ORDER) -> list[Any]:
    """Legend entries for the symbols in ``used``, in the legend's order."""
    handles = _legend_handles()
    return [handles[key] for key in LEGEND_ORDER if key in used]


def _legend_handles() -> dict[str, Any]:
    handles: dict[str, Any] = {
        "data": Line2D([], [], color=COLORS["data"], lw=1.5, linestyle=_LINESTYLE["data"], label="data message"),
        "ack": Line2D([], [], color=COLORS["ack"], lw=1.5, linestyle=_LINESTYLE["ack"], label="ack"),
        "duplicate": Line2D([], [], color="0.3", lw=1.5, linestyle=":", label="network duplicate"),
    }
    for gid, style in MARKS.items():
        handles[gid] = Line2D([], [], linestyle="none", label=_MARK_LABELS[gid], **style)
    handles["down-band"] = Patch(facecolor="0.85", edgecolor="0.5", hatch="////", label="node down")
    handles["outage"] = Patch(facecolor=_OUTAGE, edgecolor="none", label="network partitioned")
    return handles


_OUTAGE = "#EBD5E2"  # the partition colour, pale: a background the arrows and words stay readable on


# -- argument checks -------------------------------------------------------------------------------


def _check_report(report: Any, param: str = "report") -> Report:
    if not isinstance(report, Report):
        raise TypeError(f"{param} must be a semantics Report (from semantics.run or semantics.simulate), "
                        f"got {type(report).__name__}")
    return report


def _check_traced(report: Report) -> None:
    if report.trace is None:
        raise ValueError("report has no trace: run it with trace=True (semantics.run(..., trace=True) or "
                         "semantics.simulate(..., trace=True)) to draw a sequence diagram")


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


def _check_partitions(partitions: Any) -> tuple[tuple, ...]:
    """(start, end) windows, or (start, end, (node, node)) for a partition of one link only."""
    if partitions is None:
        return ()
    if isinstance(partitions, (str, bytes)) or not isinstance(partitions, Iterable):
        raise TypeError(f"partitions must be a sequence of (start, end) windows, got {partitions!r}")
    windows = []
    for i, window in enumerate(partitions):
        try:
            start, end, *link = window
            start, end = float(start), float(end)
        except (TypeError, ValueError):
            raise TypeError(f"partitions[{i}] must be a (start, end) pair of numbers, or (start, end, (node, node)) "
                            f"for one link, got {window!r}") from None
        if not (0 <= start < end):
            raise ValueError(f"partitions[{i}] must satisfy 0 <= start < end, got ({start:g}, {end:g})")
        if link:
            pair = link[0]
            if (len(link) != 1 or isinstance(pair, str) or not isinstance(pair, Iterable)
                    or len(tuple(pair)) != 2 or not all(isinstance(n, str) for n in pair)):
                raise TypeError(f"partitions[{i}]: the third item names the link, a pair of node names such as "
                                f"('receiver', 'service'); got {window!r}")
            windows.append((start, end, tuple(pair)))
        else:
            windows.append((start, end))
    return tuple(windows)


def _clip(windows: Sequence[tuple], t0: float, t1: float) -> tuple[tuple, ...]:
    """The windows that overlap [t0, t1], cut to it (a link's name kept)."""
    return tuple((max(w[0], t0), min(w[1], t1), *w[2:]) for w in windows if w[0] < t1 and w[1] > t0)


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


# -- which events ---------------------------------------------------------------------------------


def diagram_events(report: Report, messages: Any = None) -> list[Event]:
    """The trace events a diagram of ``messages`` shows: every event of those messages, and the
    node events (crashes, restarts, notes, rollbacks, errors, timers without a message) that fall
    within their time span."""
    _check_report(report)
    _check_traced(report)
    chosen, _ = _select_messages(report, messages)
    return [report.trace[i] for i in _drawn_indices(report.trace, chosen, len(chosen) == report.n_messages)]


def _drawn_indices(trace: Sequence[Event], chosen: set[int], everything: bool = False) -> list[int]:
    if everything:  # every message is drawn: so is every node event, even after the last message
        return list(range(len(trace)))
    mine = [e for e in trace if e.logical is not None and e.logical in chosen]
    if not mine:
        return []
    start = min(e.time for e in mine)
    end = max(max(e.time, e.until or e.time) for e in mine)
    return [i for i, e in enumerate(trace)
            if (e.logical is not None and e.logical in chosen)
            or (e.logical is None and e.kind != "send" and start <= e.time <= end)]


def _drawn(report: Report, chosen: set[int], nodes: Any) -> tuple[list[Event], list[int], list[str]]:
    """The run's events (read once: a trace makes each event when read), the indices of those drawn
    (the ``chosen`` messages') and the lanes they are drawn on."""
    trace = list(report.trace)
    indices = _drawn_indices(trace, chosen, len(chosen) == report.n_messages)
    return trace, indices, _lanes([trace[i] for i in indices], nodes)


# -- the figure -----------------------------------------------------------------------------------


class Picture(Figure):
    """A matplotlib Figure that shows itself as PNG when a notebook cell returns it, whether or not
    pyplot (and with it the inline backend's formatter) was ever imported."""

    def _repr_png_(self) -> bytes:
        from .render import png_of
        return png_of(self)


def new_figure(size: tuple[float, float]) -> Picture:
    """A Picture at the course's resolution, on a canvas that keeps its rendered text."""
    from .render import FastCanvas
    fig = Picture(figsize=size, dpi=DPI)
    FastCanvas(fig)
    return fig


# Geometry of a diagram, in inches.
_COLUMN = 2.1       # beside each outer lane: its labels
_GAP = 2.5          # between two lanes: the arrows (and the words of a lost message)
_LEFT = 0.6         # the time axis
_PER_TIME = 0.28    # per unit of simulated time (a line of labels is 0.16)
_TOP, _LEGEND_ROW = 0.8, 0.2
MAX_WIDTH = 9.0     # inches: 900 px at 100 dpi, shown unscaled in a notebook column of 900 px
                    # (JupyterLab on a 1280 px screen, file browser open); a wider image is scaled down


def _gap(n_lanes: int) -> float:
    """Inches between two lanes: 2.5, less when more lanes must fit in MAX_WIDTH."""
    if n_lanes < 2:
        return _GAP
    return min(_GAP, (MAX_WIDTH - _LEFT - 0.1 - 2 * _COLUMN) / (n_lanes - 1))


def legend_columns(inches: float) -> int:
    """Legend columns that fit under a plot ``inches`` wide (an entry takes up to 2.2 inches)."""
    return max(1, min(3, int((inches + 0.3) // 2.2)))


def _plot_width(n_lanes: int) -> float:
    return 2 * _COLUMN + _gap(n_lanes) * max(n_lanes - 1, 0)


def diagram_size(n_lanes: int, span: float, legend_rows: int = 0, title_lines: int = 1,
                 per_time: float = _PER_TIME) -> tuple[float, float]:
    """The (width, height) in inches of a diagram of ``n_lanes`` lanes over ``span`` time units,
    ``per_time`` inches per time unit."""
    width = _LEFT + _plot_width(n_lanes) + 0.1
    plot = plot_height(span, per_time)
    legend = legend_rows * _LEGEND_ROW + (0.3 if legend_rows else 0.1)
    return round(width, 2), round(_TOP + 0.18 * (title_lines - 1) + plot + legend, 2)


def plot_height(span: float, per_time: float = _PER_TIME) -> float:
    """Inches for the lanes: ``per_time`` per time unit (and some air), at least 2."""
    return round(min(max(per_time * (span + 1.2), 2.0), _TALLEST), 2)


_TALLEST = 16.0   # inches: a run that needs more is too dense to read in one picture anyway
_LINE = 14.5 / DPI  # inches per line of labels


def words_per_time(plan: "_Plan", lanes: Sequence[str], most: int = 3) -> float:
    """Inches per time unit at which the words beside each lane fit: stacking each lane's blocks
    in time order, none is pushed more than ``most`` lines away from its moment (the label layout
    then finds every block a free place near its anchor). Also widens ``plan``'s time span so that
    the first and last blocks fit inside the frame."""
    columns: dict[tuple[str, int], dict[float, int]] = {}
    first = lanes[0] if len(lanes) > 1 else None
    for a in plan.annotations:  # (the words of a lost message may have to go beside its sender too)
        side = -1 if a.node == first else 1
        column = columns.setdefault((a.node, side), {})
        moment = round(a.time, 9)
        column[moment] = column.get(moment, 0) + a.text.count("\n") + 1
    per_time = _PER_TIME
    while per_time * (plan.t1 - plan.t0 + 1.2) < _TALLEST:
        if all(_stack(sorted(column.items()), per_time)[0] <= most * _LINE for column in columns.values()):
            break
        per_time *= 1.2
    for column in columns.values():  # the frame holds the stacks' ends
        _, top, bottom = _stack(sorted(column.items()), per_time)
        plan.lo = min(plan.lo, top / per_time - 0.15)
        plan.hi = max(plan.hi, bottom / per_time + 0.15)
    return per_time


def _stack(blocks: list[tuple[float, int]], per_time: float) -> tuple[float, float, float]:
    """Stack blocks of lines at their times (inches down the lane): how far the worst one is pushed
    off its time, and where the stack starts and ends."""
    worst, bottom, start = 0.0, -math.inf, math.inf
    for time, lines in blocks:
        height = lines * _LINE
        top = max(time * per_time - height / 2, bottom)
        worst = max(worst, top - (time * per_time - height / 2))
        start = min(start, top)
        bottom = top + height
    return worst, start, bottom


def sequence_diagram(report: Report, *, ax: Axes | None = None, title: str | None = None,
                     messages: Iterable[str | int] | None = None, nodes: Sequence[str] | None = None,
                     legend: bool = True, partitions: Sequence[tuple] | None = None,
                     annotate: bool = True, max_height: float | None = None) -> Figure:
    """Draw the message-sequence (Lamport) diagram of a traced run: one lane per node, time down.

    report:     a Report from ``run(..., trace=True)`` or ``simulate(..., trace=True)``.
    ax:         draw into this Axes (default: a new Figure sized to the run).
    title:      the title (default: the run's counts).
    messages:   which logical messages to draw, by id ("m1") or logical index (0-based); default all
                of them, or the first ten when there are more (the title says so).
    nodes:      the lanes, left to right (default: sender, receiver, then any other node in the trace).
    legend:     draw the legend of the symbols this diagram uses (False: see ``diagram_legend()``).
    partitions: the (start, end) windows during which the network was partitioned, to shade
                (the run's Link knows them; a Report does not); (start, end, (node, node)) shades
                one link's partition, between those two lanes.
    annotate:   write the key events in words beside the marks (lost, timeout, retry, duplicate,
                crash, restart, gave up...).
    max_height: at most this many inches tall (default: as tall as the run needs, up to 11).

    Data messages are solid blue arrows, acks dashed orange ones, network duplicates dotted. A send
    the network dropped stops half-way at an X; one sent into a partition stops at a square; a
    message that reached a crashed node ends on a hollow circle. Diamonds are timeouts, stars
    effects (an orange star a duplicate effect, a hollow one a duplicate ignored), bars crashes,
    triangles restarts.
    """
    _check_report(report)
    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None, got {type(title).__name__}")
    for name, value in (("legend", legend), ("annotate", annotate)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    _check_traced(report)
    windows = _check_partitions(partitions)
    chosen, left_out = _select_messages(report, messages)
    trace, indices, lanes = _drawn(report, chosen, nodes)
    if nodes is not None:  # a lane for a node the run does not have would stay empty: say so
        present = list(dict.fromkeys([*_lanes(trace, None), *(report.points or {})]))  # a node that did nothing included
        for name in lanes:
            if name not in present:
                raise ValueError(f"nodes names node {name!r}{did_you_mean(name, present)}, which is not a node of "
                                 f"this run; its nodes are {', '.join(map(repr, present))}")
    if title is None:
        title = (f"{report.n_messages} message{'s' if report.n_messages != 1 else ''}: lost {report.lost}, "
                 f"once {report.once}, duplicated {report.duplicated}; {report.attempts} attempts") + left_out
        if not report.ok:
            title += f"\nrun stopped ({report.status})"
    elif left_out:
        title += left_out
    plan = _plan(trace, indices, lanes, windows, annotate)
    if ax is None:
        rows = math.ceil(len(plan.used) / legend_columns(_plot_width(len(lanes)))) if legend else 0
        per_time = words_per_time(plan, lanes)
        width, height = diagram_size(len(lanes), plan.hi - plan.lo - 1.2, rows, title.count("\n") + 1, per_time)
        if max_height is not None:
            height = min(height, check_number("max_height", max_height, low=3.0, high=20.0))
        fig = new_figure((width, height))
        width, height = fig.get_size_inches()
        bottom = rows * _LEGEND_ROW + (0.3 if rows else 0.1)
        fig.subplots_adjust(left=_LEFT / width, right=1 - 0.1 / width,
                            top=1 - (_TOP + 0.18 * title.count("\n")) / height, bottom=bottom / height)
        ax = fig.add_subplot()
    diagram = Diagram(ax, report, plan, lanes)
    diagram.draw(title=title, legend=legend)
    return ax.figure


@dataclass
class _Plan:
    """What to draw, decided from the trace before any artist exists."""

    events: list[tuple[int, Event]]
    annotations: list[Annotation]
    windows: tuple[tuple[float, float], ...]
    t0: float
    t1: float
    used: list[str] = field(default_factory=list)
    lo: float = math.inf    # the frame's first and last moments (the run, and the words beside it)
    hi: float = -math.inf
    trace: Sequence[Event] = field(default=(), repr=False)  # the run's events, read once

    def __post_init__(self) -> None:
        self.lo = min(self.lo, self.t0 - 0.6)
        self.hi = max(self.hi, self.t1 + 0.6)


def _plan(trace: list[Event], indices: list[int], lanes: list[str], windows: tuple, annotate: bool) -> _Plan:
    drawn = set(indices)
    on_lanes = set(lanes)
    events = [(i, e) for i, e in ((i, trace[i]) for i in indices) if e.node in on_lanes]
    annotations = [a for a in story(trace) if a.index in drawn and a.node in on_lanes
                   and (not a.on_wire or trace[a.index].peer in on_lanes)] if annotate else []
    times = [t for _, e in events for t in (e.time, e.until) if t is not None]
    t0, t1 = (min(times), max(times)) if times else (0.0, 1.0)
    shown = _clip(windows, t0, t1)
    kinds = Counter()
    kind_of_effect = {a.index: a.kind for a in annotations}
    for i, e in events:
        if e.kind == "send" and e.peer in on_lanes:
            kinds["data" if e.message != "ack" else "ack"] += 1
            if "duplicate" in e.text:
                kinds["duplicate"] += 1
            if e.fate == "lost":
                kinds["drop"] += 1
            elif e.fate == "partitioned":
                kinds["partition"] += 1
        elif e.kind == "effect":
            kinds["duplicate-effect" if kind_of_effect.get(i) == "duplicate-effect" else "effect"] += 1
        elif e.kind in ("down", "submit", "crash", "restart", "rollback"):
            kinds[e.kind] += 1
            if e.kind in ("crash", "restart"):
                kinds["down-band"] += 1
        elif e.kind == "timer":
            kinds["timer"] += 1
    if any(a.kind == "duplicate-ignored" for a in annotations):
        kinds["duplicate-ignored"] += 1
    if shown:
        kinds["outage"] += 1
    return _Plan(events, annotations, shown, t0, t1, [k for k in LEGEND_ORDER if kinds[k]], trace=trace)


def _line(ax: Axes, xs: Sequence[float], ys: Sequence[float], **style: Any) -> Line2D:
    """``ax.plot(xs, ys, **style)[0]`` without plot's parsing of its arguments and without updating the
    Axes' data limits, which cost more than the line (a panel draws a few dozen lines at every move of
    a slider; a diagram sets its limits itself). Every line of a diagram has its colour, or markers
    coloured on their own: none takes the next colour of the Axes' cycle."""
    return ax.add_artist(Line2D(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), **style))


class Diagram:
    """The artists of one drawn diagram, each tied to the trace event it shows."""

    def __init__(self, ax: Axes, report: Report, plan: _Plan, lanes: list[str]) -> None:
        self.ax, self.report, self.plan, self.lanes = ax, report, plan, lanes
        self.trace = plan.trace
        self.x = {name: float(i) for i, name in enumerate(lanes)}
        self.arrows: list[tuple[int, Any, tuple[float, float, float, float]]] = []  # (index, artist, geometry)
        self.marks: dict[str, Line2D] = {}
        self.mark_points: dict[str, list[tuple[float, float, int]]] = {}
        self.bands: list[tuple[int, int | None, Rectangle]] = []  # (crash index, restart index, band)
        self.layer: LabelLayer | None = None
        self.now: Rectangle | None = None
        self.artists: list[Any] = []  # every artist this diagram added (not the Axes' frame)

    # -- drawing ---------------------------------------------------------------------------------

    def draw(self, *, title: str, legend: bool) -> None:
        ax, plan, x = self.ax, self.plan, self.x
        lo, hi = plan.lo, plan.hi
        for name in self.lanes:
            self._add(_line(ax, [x[name], x[name]], [lo, hi], color="0.55", lw=1.2, zorder=1, gid="lane"))
        left, right = min(x.values()), max(x.values())
        for start, end, *link in plan.windows:  # the partition, across the wires (of one link, if named)
            if link and not set(link[0]) <= set(x):
                continue  # a link between lanes not drawn
            a, b = sorted(x[n] for n in link[0]) if link else (left, right)
            self._add(ax.add_artist(Rectangle((a, start), max(b - a, 0.5), end - start, facecolor=_OUTAGE,
                                              edgecolor="none", zorder=0, gid="outage")))
        segments: list[tuple] = [(x[n], lo, x[n], hi) for n in self.lanes]
        heads: list[tuple] = []
        down_since: dict[str, tuple[int, float]] = {}
        kind_at = {a.index: a.kind for a in plan.annotations}
        ignored_at = {a.index for a in plan.annotations if a.kind == "duplicate-ignored"}
        for i, e in plan.events:
            if e.kind == "send":
                if e.peer not in x:
                    continue
                kind = "ack" if e.message == "ack" else "data"
                duplicate = "duplicate" in e.text
                x0, x1, y0 = x[e.node], x[e.peer], e.time
                y1 = e.until if e.until is not None else e.time + 1.0
                style = dict(color=COLORS[kind], lw=1.4, zorder=2, linestyle=":" if duplicate else _LINESTYLE[kind],
                             gid="arrow")
                if e.fate in ("lost", "partitioned"):
                    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2  # stopped half-way: it left, and never arrived
                    artist = _line(ax, [x0, xm], [y0, ym], **style)
                    self._mark("drop" if e.fate == "lost" else "partition", xm, ym, i)
                    geometry = (x0, y0, xm, ym)
                else:
                    # add_artist, not add_patch: the limits are set below, and updating them from
                    # each arrow's path costs more than drawing it
                    artist = ax.add_artist(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=11,
                                                           shrinkA=0, shrinkB=0, **style))
                    geometry = (x0, y0, x1, y1)
                    heads.append((x1, y1, 4.0))
                self._add(artist)
                self.arrows.append((i, artist, geometry))
                segments.append(geometry)
            elif e.kind == "effect":
                self._mark("duplicate-effect" if kind_at.get(i) == "duplicate-effect" else "effect", x[e.node], e.time, i)
            elif e.kind == "receive" and i in ignored_at:
                self._mark("duplicate-ignored", x[e.node], e.time, i)
            elif e.kind in ("down", "submit", "rollback"):
                self._mark(e.kind, x[e.node], e.time, i)
            elif e.kind == "timer":
                self._mark("timer", x[e.node], e.time, i)
            elif e.kind == "crash":
                self._mark("crash", x[e.node], e.time, i)
                down_since.setdefault(e.node, (i, e.time))
            elif e.kind == "restart":
                self._mark("restart", x[e.node], e.time, i)
                crash = down_since.pop(e.node, None)
                self._band(x[e.node], crash[1] if crash else lo, e.time, crash[0] if crash else i, i)
        for name, (i, start) in down_since.items():  # still down at the end of the run
            self._band(x[name], start, hi, i, None)
        for gid, points in self.mark_points.items():
            line = _line(ax, [p[0] for p in points], [p[1] for p in points], linestyle="none", gid=gid,
                         zorder=5 if gid in ("drop", "partition") else 4, **MARKS[gid])
            self.marks[gid] = self._add(line)
        marks = [(px, py, MARKS[gid]["markersize"] / 2) for gid, points in self.mark_points.items()
                 for px, py, _ in points] + heads
        self.layer = self._add(LabelLayer(ax, self._blocks(), segments=segments, marks=marks))
        ax.add_artist(self.layer)

        n = len(self.lanes)
        margin = _COLUMN / _gap(n)  # the label columns, in lane gaps
        ax.set_xlim(-margin - 0.02, n - 1 + margin + 0.02)
        ax.set_ylim(hi + 0.2, lo - 0.2)  # time runs down; the axis fits the run
        last = getattr(ax, "semantics_diagram", None)
        if not (isinstance(last, Diagram) and last.lanes == self.lanes):  # (a panel's next run keeps the frame)
            ax.set_xticks([x[name] for name in self.lanes], self.lanes, fontsize=10, fontweight="bold")
            ax.xaxis.tick_top()
            ax.tick_params(axis="x", length=0, pad=4)
            ax.set_ylabel("simulated time", fontsize=FONT)
            ax.tick_params(axis="y", labelsize=FONT)
            for spine in ("right", "bottom", "top"):
                ax.spines[spine].set_visible(False)
        ax.set_title(title, fontsize=10, pad=20, y=1.0)  # a fixed y: auto-placement measures every tick label
        if legend and self.plan.used:
            handles = legend_handles(self.plan.used)
            inches = ax.get_position().width * ax.figure.get_figwidth()  # an Axes someone else sized may be narrow
            self._add(ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                                ncol=legend_columns(inches),
                                fontsize=FONT, frameon=False, borderaxespad=0.4, handlelength=1.8,
                                columnspacing=1.2))
        ax.semantics_diagram = self

    def _add(self, artist: Any) -> Any:
        self.artists.append(artist)
        return artist

    def _mark(self, gid: str, xm: float, ym: float, index: int) -> None:
        self.mark_points.setdefault(gid, []).append((xm, ym, index))

    def _band(self, xl: float, start: float, end: float, crash: int, restart: int | None) -> None:
        band = Rectangle((xl - 0.03, start), 0.06, end - start, facecolor="0.85", edgecolor="0.5", hatch="////",
                         lw=0.5, zorder=1, gid="down-band")
        self.ax.add_artist(band)
        self._add(band)
        self.bands.append((crash, restart, band))

    def _blocks(self) -> list[Block]:
        """One block per wire annotation; lane annotations of one node at one time stacked together."""
        blocks: list[Block] = []
        beside: dict[tuple[str, float], Block] = {}
        on_wire: dict[tuple[float, float], Block] = {}
        trace, x = self.trace, self.x
        first = self.lanes[0]
        # a panel that draws run after run in one Axes leaves the words of its last run here, by
        # (words, gid), to be written again: the same words in the same style, without making them anew
        spare = getattr(self.ax, "semantics_spare_words", None) or {}
        for a in self.plan.annotations:
            gid = f"{a.kind}-label"
            kept = spare.get((a.text, gid))
            if kept:
                text = kept.pop()
                text.set_visible(True)
            else:
                text = Text(0, 0, a.text, fontsize=FONT, gid=gid, **_TEXT_STYLE[a.kind])
            text.semantics_index = a.index
            if a.on_wire:
                e = trace[a.index]
                anchor = ((x[e.node] + x[e.peer]) / 2, (e.time + (e.until if e.until is not None else e.time + 1)) / 2)
                block = on_wire.get(anchor)
                if block is not None:  # copies lost at one spot (a message and its network duplicate)
                    block.lines.append(text)
                    block.indices += (a.index,)
                else:
                    side = -1 if e.node == first and len(self.lanes) > 1 else 1
                    block = on_wire[anchor] = Block(anchor, [text], side=0, gap=8.0, indices=(a.index,),
                                                    fallback=((x[e.node], e.time), side))
                    blocks.append(block)
                continue
            side = -1 if a.node == first and len(self.lanes) > 1 else 1
            moment = (a.node, round(a.time, 9))  # (times computed two ways differ in the last bits)
            block = beside.get(moment)
            if block is not None:  # what one node did at one moment reads as one block
                block.lines.append(text)
                block.indices += (a.index,)
            else:
                block = beside[moment] = Block((x[a.node], a.time), [text], side=side, gap=_LABEL_GAP,
                                               indices=(a.index,))
                blocks.append(block)
        return blocks

    # -- a prefix of the run (the stepper) -------------------------------------------------------

    def show_until(self, last: int | None, now: float | None = None) -> None:
        """Show only what happened up to trace event ``last`` (None: everything), at time ``now``:
        messages still in flight are drawn up to where they are."""
        if last is None:
            last, now = len(self.trace), math.inf
        elif now is None:
            now = self.trace[last].time if 0 <= last < len(self.trace) else -math.inf
        for i, artist, (x0, y0, x1, y1) in self.arrows:
            artist.set_visible(i <= last)
            if i > last:
                continue
            share = 1.0 if y1 <= now or y1 == y0 else max(0.0, (now - y0) / (y1 - y0))
            end = (x0 + (x1 - x0) * share, y0 + (y1 - y0) * share)
            if isinstance(artist, FancyArrowPatch):
                artist.set_positions((x0, y0), end)
            else:
                artist.set_data([x0, end[0]], [y0, end[1]])
        for gid, line in self.marks.items():
            points = [(px, py) for px, py, i in self.mark_points[gid] if i <= last and py <= now]
            line.set_data([p[0] for p in points], [p[1] for p in points])
        for crash, restart, band in self.bands:
            band.set_visible(crash <= last)
            if crash <= last:
                start = band.get_y()
                end = self._band_end(restart, band) if restart is not None and restart <= last else max(now, start)
                band.set_height(min(end, self.ax.get_ylim()[0]) - start)
        if self.layer is not None:
            for text in self.layer.get_children():
                text.set_visible(text.semantics_index <= last)
        if self.now is None:  # a highlight behind everything: words stay readable across it
            self.now = self.ax.axhspan(0.0, 0.0, color="#FFE98A", lw=0, zorder=0.2, gid="now")
            self._add(self.now)
        self.now.set_visible(math.isfinite(now))
        if math.isfinite(now):
            half = 0.012 * abs(self.ax.get_ylim()[0] - self.ax.get_ylim()[1])
            self.now.set_y(now - half)
            self.now.set_height(2 * half)
        self.ax.figure.stale = True

    def _band_end(self, restart: int, band: Rectangle) -> float:
        return self.trace[restart].time


def diagram_of(fig_or_ax: Figure | Axes) -> Diagram:
    """The Diagram drawn in a Figure (its first Axes) or an Axes by ``sequence_diagram``."""
    ax = fig_or_ax.axes[0] if isinstance(fig_or_ax, Figure) and fig_or_ax.axes else fig_or_ax
    diagram = getattr(ax, "semantics_diagram", None)
    if not isinstance(diagram, Diagram):
        raise ValueError("fig_or_ax must be a Figure or Axes drawn by sequence_diagram(...)")
    return diagram


def sequence_diagrams(reports: Mapping[str, Report], *, partitions: Any = None, columns: int | None = None,
                      messages: Mapping[str, Any] | None = None, title: str | None = None,
                      nodes: Any = None, same_time: bool = False) -> Figure:
    """Several runs in one figure, each titled by its label, one under the other (or in rows of
    ``columns`` when they fit in ``MAX_WIDTH``), every label at its readable size, and one legend of
    the symbols they use.

    reports:    label -> traced Report, drawn in order.
    partitions: the windows to shade: one sequence for every run, or label -> windows.
    columns:    diagrams per row (default: as many as fit in MAX_WIDTH inches).
    messages:   label -> which messages to draw of that run (see ``sequence_diagram``).
    title:      a title over all of them.
    nodes:      the lanes, left to right: one sequence for every run, or label -> lanes (default:
                sender, receiver, then any other node in the trace).
    same_time:  draw every run on the same time axis, so that the eye compares when things happened
                (and an outage is shaded as long as it lasted, not only while a run lasted).
    """
    if not isinstance(same_time, bool):
        raise TypeError(f"same_time must be True or False, got {same_time!r}")
    if not isinstance(reports, Mapping) or not reports:
        raise TypeError(f"reports must be a non-empty mapping from label to traced Report, got {reports!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None, got {type(title).__name__}")
    for label, report in reports.items():
        if not isinstance(label, str):
            raise TypeError(f"reports labels must be strings, got {label!r}")
        _check_report(report, f"reports[{label!r}]")
        _check_traced(report)
    if messages is not None and not isinstance(messages, Mapping):
        raise TypeError(f"messages must be a mapping from label to the messages to draw, got {messages!r}")
    plans, lanes_of, windows_of = {}, {}, {}
    for label, report in reports.items():
        windows = windows_of[label] = _check_partitions(partitions.get(label) if isinstance(partitions, Mapping)
                                                        else partitions)
        chosen, _ = _select_messages(report, (messages or {}).get(label))
        trace, indices, lanes_of[label] = _drawn(report, chosen,
                                                 nodes.get(label) if isinstance(nodes, Mapping) else nodes)
        plans[label] = _plan(trace, indices, lanes_of[label], windows, True)
    n = len(reports)
    widest = max(_plot_width(len(lanes)) for lanes in lanes_of.values())
    fits = max(1, int((MAX_WIDTH - 0.1) // (_LEFT + widest)))
    columns = min(n, fits) if columns is None else check_int("columns", columns, low=1, high=n)
    rows = math.ceil(n / columns)
    per_time = {label: words_per_time(p, lanes_of[label]) for label, p in plans.items()}  # (widens p.lo, p.hi)
    if same_time:
        lo, hi = min(p.lo for p in plans.values()), max(p.hi for p in plans.values())
        t0, t1 = min(p.t0 for p in plans.values()), max(p.t1 for p in plans.values())
        for label, p in plans.items():
            p.lo, p.hi = lo, hi
            p.windows = _clip(windows_of[label], t0, t1)
            if p.windows and "outage" not in p.used:
                p.used = [k for k in LEGEND_ORDER if k in p.used or k == "outage"]
    used = {k for p in plans.values() for k in p.used}
    legend_rows = math.ceil(len(used) / 3)
    plot = max(plot_height(p.hi - p.lo - 1.2, per_time[label]) for label, p in plans.items())
    head = 0.75  # a diagram's title and lane names
    width = columns * (_LEFT + widest) + 0.1  # (as wide as one sequence_diagram of the widest run)
    height = (0.4 if title else 0.0) + rows * (head + plot) + (rows - 1) * 0.1 + legend_rows * _LEGEND_ROW + 0.35
    fig = new_figure((round(width, 2), round(height, 2)))
    grid = fig.subplots(rows, columns, squeeze=False, gridspec_kw=dict(
        left=_LEFT / width, right=1 - 0.1 / width, bottom=(legend_rows * _LEGEND_ROW + 0.35) / height,
        top=1 - ((0.4 if title else 0.0) + head) / height, wspace=_LEFT / widest, hspace=(head + 0.1) / plot))
    axes = list(grid.ravel())
    for extra in axes[n:]:
        extra.remove()
    for ax, (label, report) in zip(axes, reports.items()):
        Diagram(ax, report, plans[label], lanes_of[label]).draw(title=label, legend=False)
    if title:
        fig.suptitle(title, fontsize=10.5, y=1 - 0.1 / height, va="top")
    handles = legend_handles(used)
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=FONT, frameon=False,
                   bbox_to_anchor=(0.5, 0.1 / height), handlelength=1.8, columnspacing=1.2)
    return fig


def diagram_legend(*, columns: int = 1) -> Figure:
    """Every symbol a sequence diagram can show, in a small figure of its own."""
    columns = check_int("columns", columns, low=1, high=14)
    handles = legend_handles()
    rows = math.ceil(len(handles) / columns)
    fig = new_figure((2.9 * columns, 0.26 * rows + 0.3))
    fig.legend(handles=handles, loc="center", ncol=columns, fontsize=FONT, frameon=False, labelspacing=0.7)
    return fig


def count_marks(fig_or_ax: Figure | Axes) -> Counter:
    """Count the drawn elements of a diagram by kind ("arrow", "drop", "effect", ...): each mark
    drawn in a shared Line2D counts once per point; labels count once per line."""
    if isinstance(fig_or_ax, Axes):
        ax = fig_or_ax
    elif isinstance(fig_or_ax, Figure) and fig_or_ax.axes:
        ax = fig_or_ax.axes[0]
    else:
        raise TypeError(f"fig_or_ax must be a matplotlib Figure with an Axes, or an Axes; got {fig_or_ax!r}")
    counts: Counter = Counter()
    texts = [t for a in ax.artists if isinstance(a, LabelLayer) for t in a.texts()]
    for artist in (*ax.lines, *ax.patches, *ax.texts, *texts):
        gid = artist.get_gid()
        if gid and artist.get_visible():
            counts[gid] += len(artist.get_xdata()) if gid in MARKS else 1
    return counts


def diagram_words(fig_or_ax: Figure | Axes) -> list[str]:
    """Every line of words written on a diagram (visible labels), in the order they were laid out."""
    ax = fig_or_ax.axes[0] if isinstance(fig_or_ax, Figure) and fig_or_ax.axes else fig_or_ax
    return [t.get_text() for a in ax.artists if isinstance(a, LabelLayer) for t in a.texts()]
