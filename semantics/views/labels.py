"""Placing a diagram's words so that no label covers another label, an arrow, a lane or a mark.

A ``LabelLayer`` is one matplotlib artist holding every label of an Axes. Each label is a block of
stacked lines tied to an anchor (a point on a lane, or a mark on the wire), with the side it
prefers. The layer places the blocks when it is drawn, in pixels, because only then are the
Axes' final position and size known (a figure with a layout engine moves its Axes at draw time):
each block takes the first free spot among candidates around its anchor, free meaning clear of
the blocks placed before it, of the obstacles (segments and marks) and of the Axes' edges. A block
beside a lane that finds no free spot (blocks of moments closer together than their lines are tall,
each taking the middle of the room the next one needs) makes room: the blocks on that side of
that lane are restacked as one column, in time order, each moved as little as the others need,
with a leader line to any block moved off its anchor (the diagram is made tall enough for such a
column: ``diagram.words_per_time``).
Placements are kept while the geometry stays the same, so a panel that redraws, or a stepper
that shows more of the run, sees every label where it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.path import Path
from matplotlib.text import Text
from matplotlib.transforms import Bbox, IdentityTransform

PAD = 2.0  # pixels kept clear around a label


@dataclass
class Block:
    """Lines written together beside one anchor. ``side`` is +1 (right of the anchor), -1 (left)
    or 0 (anywhere around it: a mark on the wire)."""

    anchor: tuple[float, float]          # data coordinates
    lines: list[Text]
    side: int = 1
    gap: float = 6.0                     # pixels between the anchor and the text
    indices: tuple[int, ...] = ()        # the trace events the block speaks of (for a stepper)
    placed: Bbox | None = field(default=None, repr=False)
    leader: tuple[float, float, float, float] | None = field(default=None, repr=False)  # pixels
    crowded: bool = field(default=False, repr=False)  # no free place was found: placed where it covers least
    fallback: tuple[tuple[float, float], int] | None = None  # (anchor, side) to try when no place is free


class LabelLayer(Artist):
    """Every label of one Axes, placed at draw time (see the module's docstring).

    obstacles: segments ``[(x0, y0, x1, y1), ...]`` and marks ``[(x, y, radius_px), ...]`` in data
    coordinates, which no label may cover.
    """

    zorder = 6

    def __init__(self, ax: Axes, blocks: Sequence[Block], *, segments: Sequence[tuple] = (),
                 marks: Sequence[tuple] = ()) -> None:
        super().__init__()
        self.axes = ax
        self.set_figure(ax.figure)
        self.blocks = list(blocks)
        self.segments = np.asarray(segments, dtype=float).reshape(-1, 4)
        self.marks = np.asarray(marks, dtype=float).reshape(-1, 3)
        self._key: tuple | None = None
        self.set_in_layout(False)  # inside the Axes by construction; a layout engine need not ask
        for block in self.blocks:
            for text in block.lines:
                text.set_transform(IdentityTransform())
                text.set_figure(ax.figure)
                text.set_clip_on(False)

    def get_children(self) -> list[Text]:
        return [text for block in self.blocks for text in block.lines]

    def texts(self) -> list[Text]:
        """The visible label lines."""
        return [t for t in self.get_children() if t.get_visible()]

    def draw(self, renderer: Any) -> None:
        if not self.get_visible():
            return
        self.place(renderer)
        gc = renderer.new_gc()
        gc.set_linewidth(0.7)
        gc.set_foreground("0.45")
        gc.set_antialiased(True)
        for block in self.blocks:
            if block.leader is not None and any(t.get_visible() for t in block.lines):
                x0, y0, x1, y1 = block.leader
                renderer.draw_path(gc, Path([(x0, y0), (x1, y1)]), IdentityTransform())
            for text in block.lines:
                if text.get_visible():
                    text.draw(renderer)
        gc.restore()
        self.stale = False

    # -- placement ---------------------------------------------------------------------------------

    def place(self, renderer: Any) -> None:
        """Place every block (visible or not: a stepper shows them in turn, each at its place)."""
        ax = self.axes
        box = ax.get_window_extent(renderer)
        key = (tuple(np.round(ax.transData.get_matrix().ravel(), 6)), tuple(np.round(box.bounds, 3)),
               renderer.dpi, len(self.blocks))
        if key == self._key:
            return
        self._key = key
        to_px = ax.transData.transform
        segments = np.empty((0, 4))
        if len(self.segments):
            segments = np.hstack([to_px(self.segments[:, :2]), to_px(self.segments[:, 2:])])
        marks = np.empty((0, 4))
        if len(self.marks):
            centres = to_px(self.marks[:, :2])
            r = self.marks[:, 2:3] * renderer.dpi / 72
            marks = np.hstack([centres - r, centres + r])
        bounds = (box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1)
        placed = _Placed(marks, segments, bounds)
        # The most constrained first: words on the wire, between arrows; then the lanes' words in
        # time order; last, the wire's words that found no room there, beside their sender's lane.
        later = []
        for block in [b for b in self.blocks if b.side == 0] + [b for b in self.blocks if b.side != 0]:
            sizes = [_size(text, renderer) for text in block.lines]
            ax_, ay_ = to_px([block.anchor])[0]
            chosen, block.crowded = _first_free(_candidates(ax_, ay_, *_extent(sizes), block.side, block.gap,
                                                            sizes[0][1]), placed.taken(), segments, bounds)
            if block.crowded and block.fallback is not None:
                later.append((block, sizes))
                continue
            if block.crowded:
                chosen = placed.restack(block, sizes, (ax_, ay_), block.side, block.gap, chosen, to_px)
            placed.add(block, sizes, chosen, (ax_, ay_), block.side != 0, to_px)
        for block, sizes in later:
            (fx, fy), side = block.fallback
            fx_, fy_ = to_px([(fx, fy)])[0]
            chosen, block.crowded = _first_free(_candidates(fx_, fy_, *_extent(sizes), side, 15.0, sizes[0][1]),
                                                placed.taken(), segments, bounds)
            if block.crowded:
                chosen = placed.restack(block, sizes, (fx_, fy_), side, 15.0, chosen, to_px)
            placed.add(block, sizes, chosen, (fx_, fy_), True, to_px)


class _Placed:
    """The blocks placed so far, each with the box it took and the anchor it was placed beside; and a
    way to make room for one that finds none: restacking the column of words beside its lane."""

    def __init__(self, marks: np.ndarray, segments: np.ndarray, bounds: tuple) -> None:
        self.marks, self.segments, self.bounds = marks, segments, bounds
        self.blocks: list[Block] = []
        self.sizes: list[list[tuple[float, float]]] = []
        self.anchors: list[tuple[float, float]] = []
        self.beside: list[bool] = []       # placed beside a lane (not on the wire): part of a column
        self.boxes = np.empty((0, 4))

    def taken(self) -> np.ndarray:
        return np.vstack([self.marks, self.boxes])

    def add(self, block: Block, sizes: list, chosen: tuple, anchor: tuple[float, float], beside: bool,
            to_px: Any) -> None:
        self.blocks.append(block)
        self.sizes.append(sizes)
        self.anchors.append(anchor)
        self.beside.append(beside)
        self.boxes = np.vstack([self.boxes, np.array([chosen])])
        _put(block, sizes, chosen, anchor, to_px)

    def restack(self, block: Block, sizes: list, anchor: tuple[float, float], side: int, gap: float,
                chosen: tuple, to_px: Any) -> tuple:
        """Make room for ``block``, which found no free place beside its lane at ``anchor``: the blocks
        already placed on that side of that lane and ``block`` become one column, in the order of
        their anchors (time), each as near as it can be to where it was (``block`` to its anchor),
        none overlapping, inside the Axes. Taken when the column is clear of every arrow, mark and
        other label; the blocks it moved are set at their new places (with a leader line when off
        their anchor). Returns the box for ``block``: its place in the column, or ``chosen`` (the
        place that covers least) when no column is clear."""
        x, y = anchor
        width, height = _extent(sizes)
        x0 = x + gap if side > 0 else x - gap - width
        mine = np.array([x0, y - height / 2, x0 + width, y + height / 2])
        members = [i for i, (beside, (ax_, _)) in enumerate(zip(self.beside, self.anchors))
                   if beside and abs(ax_ - x) < 0.5 and (self.boxes[i, 0] >= x) == (side > 0)]
        boxes = np.vstack([self.boxes[members], mine[None, :]])
        ys = [self.anchors[i][1] for i in members] + [y]
        order = sorted(range(len(boxes)), key=lambda k: (-ys[k], k))  # from the top (earliest) down
        stacked = _stack(boxes[order], self.bounds[1], self.bounds[3])
        if stacked is None:
            return chosen
        boxes[order] = stacked
        others = np.delete(self.boxes, members, axis=0)
        if _clashes(boxes, np.vstack([self.marks, others]), self.segments, self.bounds).any():
            return chosen
        for k, i in enumerate(members):
            if not np.allclose(boxes[k], self.boxes[i]):
                self.boxes[i] = boxes[k]
                _put(self.blocks[i], self.sizes[i], tuple(boxes[k]), self.anchors[i], to_px)
        block.crowded = False
        return tuple(boxes[-1])


_EPS = 1e-3  # pixels: what rounding takes off a box set against another, or against the frame, is given back


def _stack(boxes: np.ndarray, low: float, high: float) -> np.ndarray | None:
    """The boxes (ordered from the top down) moved up or down, as little as can be (least squares),
    so that each lies below the one before it with PAD between them, all between ``low`` and
    ``high``; None when they cannot fit.

    With each box's centre written c_i = v_i - D_i, where D_i adds up the half heights and gaps above
    it, "below the one before" is v_i <= v_(i-1): a decreasing (isotonic) regression of the wanted
    centres shifted by D, solved by pooling adjacent violators, then clipped to the bounds (which
    are the same for every v)."""
    heights = boxes[:, 3] - boxes[:, 1]
    centres = (boxes[:, 1] + boxes[:, 3]) / 2
    gap = PAD + _EPS  # (a box is clear of another PAD away: no more, or the frame may not hold the column)
    offsets = np.concatenate([[0.0], np.cumsum((heights[:-1] + heights[1:]) / 2 + gap)])
    upper = high - _EPS - heights[0] / 2
    lower = low + _EPS + heights[-1] / 2 + offsets[-1]
    if lower > upper:
        return None
    pools: list[list[float]] = []  # [sum, count] of pooled targets, each pool's mean below the last's
    for target in centres + offsets:
        pools.append([target, 1])
        while len(pools) > 1 and pools[-1][0] / pools[-1][1] > pools[-2][0] / pools[-2][1]:
            total, count = pools.pop()
            pools[-1][0] += total
            pools[-1][1] += count
    v = np.concatenate([np.full(count, total / count) for total, count in pools])
    shift = np.clip(v, lower, upper) - offsets - centres
    return boxes + np.column_stack([np.zeros_like(shift), shift, np.zeros_like(shift), shift])


def _extent(sizes: list[tuple[float, float]]) -> tuple[float, float]:
    return max(w for w, _ in sizes), sum(h for _, h in sizes)


def _put(block: Block, sizes: list[tuple[float, float]], chosen: tuple, anchor: tuple[float, float], to_px: Any) -> None:
    """Set the block's lines at the chosen box, with a leader line when it sits off its anchor."""
    x0, y0, x1, y1 = chosen
    width, height = _extent(sizes)
    ax_, ay_ = anchor
    block.placed = Bbox.from_extents(*chosen)
    block.leader = None
    moved = tuple(np.round(anchor, 6)) != tuple(np.round(to_px([block.anchor])[0], 6))
    if not (y0 + 2 <= ay_ <= y1 - 2) and (block.side or moved):
        # pushed off its anchor: a thin line says whose words these are
        edge = x0 if x0 >= ax_ else x1
        toward = 1 if edge >= ax_ else -1
        block.leader = (ax_ + toward * 4, ay_, edge - toward * 1.5, min(max(ay_, y0 + 3), y1 - 3))
    # lines from the top down, aligned on the side of the anchor
    top = y0 + height
    right_aligned = x0 + width <= ax_ + 1e-6
    for text, (w, h) in zip(block.lines, sizes):
        top -= h
        text.set_horizontalalignment("right" if right_aligned else "left")
        text.set_verticalalignment("bottom")
        text.set_position((x0 + width if right_aligned else x0, top))


def _size(text: Text, renderer: Any) -> tuple[float, float]:
    """Width and height of a line in pixels, from the renderer's layout of it (kept per figure: the
    same words come back at every redraw of a panel)."""
    fig = text.figure
    sizes = fig.__dict__.setdefault("_semantics_text_sizes", {})
    key = (text.get_text(), text.get_fontproperties(), renderer.dpi)
    size = sizes.get(key)
    if size is None:
        if len(sizes) > 4096:
            sizes.clear()
        size = sizes[key] = _measure(text, renderer)
    return size


def _measure(text: Text, renderer: Any) -> tuple[float, float]:
    old = text.get_position(), text.get_horizontalalignment(), text.get_verticalalignment(), text.get_visible()
    text.set_position((0.0, 0.0))
    text.set_horizontalalignment("left")
    text.set_verticalalignment("bottom")
    text.set_visible(True)  # a hidden text has no extent; a stepper shows it later, at its place
    extent = text.get_window_extent(renderer)
    text.set_position(old[0])
    text.set_horizontalalignment(old[1])
    text.set_verticalalignment(old[2])
    text.set_visible(old[3])
    return extent.width, extent.height


_STEPS = np.concatenate([[0.0], np.stack([-np.arange(1, 25), np.arange(1, 25)], axis=1).ravel() / 2])
_REACH = np.array([1.0, 2.0, 3.5, 5.0, 7.0])


def _candidates(x: float, y: float, w: float, h: float, side: int, gap: float, line: float) -> np.ndarray:
    """Boxes (x0, y0, x1, y1) to try, best first. Pixels run up, and time runs down the diagram, so a
    label pushed off its anchor goes down first (later), then up."""
    if side:
        dy = _STEPS * line  # 0, -1/2, +1/2, -1, +1, ... lines
        boxes = []
        for s in (side, -side):
            x0 = x + gap if s > 0 else x - gap - w
            y0 = y - h / 2 + dy
            boxes.append(np.column_stack([np.full_like(dy, x0), y0, np.full_like(dy, x0 + w), y0 + h]))
        return np.vstack(boxes)
    # around a mark: beside it, then above or below it, then further out
    g = gap * _REACH[:, None]
    zero = np.zeros_like(g)
    x0 = np.hstack([x + g, x - g - w, x + g / 2, x + g / 2, x - g / 2 - w, x - g / 2 - w, zero + x - w / 2,
                    zero + x - w / 2])
    y0 = np.hstack([zero + y - h / 2, zero + y - h / 2, y - g - h, y + g, y - g - h, y + g, y - g - h, y + g])
    return np.column_stack([x0.ravel(), y0.ravel(), x0.ravel() + w, y0.ravel() + h])


def _first_free(candidates: np.ndarray, taken: np.ndarray, segments: np.ndarray, bounds: tuple
                ) -> tuple[tuple, bool]:
    """The first candidate clear of ``taken`` boxes, ``segments`` and inside ``bounds`` (and False);
    when none is, the one that covers the least (and True)."""
    score = _clashes(candidates, taken, segments, bounds)
    free = np.flatnonzero(score == 0)
    if len(free):
        return tuple(candidates[free[0]]), False
    return tuple(candidates[int(np.argmin(score))]), True


def _clashes(candidates: np.ndarray, taken: np.ndarray, segments: np.ndarray, bounds: tuple) -> np.ndarray:
    """For each candidate box, how many ``taken`` boxes and ``segments`` it covers (with PAD around
    it), and 100 more when it is not inside ``bounds``."""
    padded = candidates + np.array([-PAD, -PAD, PAD, PAD])
    inside = ((candidates[:, 0] >= bounds[0]) & (candidates[:, 1] >= bounds[1])
              & (candidates[:, 2] <= bounds[2]) & (candidates[:, 3] <= bounds[3]))
    clashes = np.zeros(len(candidates))
    if len(taken):
        overlap = ((padded[:, None, 0] < taken[None, :, 2]) & (padded[:, None, 2] > taken[None, :, 0])
                   & (padded[:, None, 1] < taken[None, :, 3]) & (padded[:, None, 3] > taken[None, :, 1]))
        clashes += overlap.sum(axis=1)
    if len(segments):
        clashes += _crossings(padded, segments).sum(axis=1)
    return clashes + 100 * ~inside


def _crossings(boxes: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """boxes x segments: whether each segment passes through each box (separating axes)."""
    bx0, by0, bx1, by1 = (boxes[:, None, k] for k in range(4))
    x0, y0, x1, y1 = (segments[None, :, k] for k in range(4))
    near = ((np.minimum(x0, x1) <= bx1) & (np.maximum(x0, x1) >= bx0)
            & (np.minimum(y0, y1) <= by1) & (np.maximum(y0, y1) >= by0))
    nx, ny = y1 - y0, x0 - x1  # the segment's normal: the box is clear when all corners lie on one side
    sides = [nx * (cx - x0) + ny * (cy - y0) for cx in (bx0, bx1) for cy in (by0, by1)]
    above = sum(s > 0 for s in sides)
    below = sum(s < 0 for s in sides)
    return near & (above > 0) & (below > 0)


def text_boxes(fig: Any, renderer: Any = None) -> list[tuple[Text, Bbox]]:
    """Every visible, non-empty text of ``fig`` with its drawn extent in pixels (after a draw)."""
    if renderer is None:
        renderer = fig.canvas.get_renderer()
    found = []
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip() and _drawn(text):
            found.append((text, text.get_window_extent(renderer)))
    return found


def _drawn(artist: Any) -> bool:
    """Whether the artist and every parent it hangs from are visible (a hidden legend's texts aren't)."""
    while artist is not None:
        if not artist.get_visible():
            return False
        artist = getattr(artist, "_semantics_parent", None)
    return True
