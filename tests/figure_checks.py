"""Checks of drawn figures shared by the tests: which texts a draw put on the canvas, with their
window extents as the renderer computed them, whether any two overlap or a text covers an arrow,
and how tall each text is in pixels at the size the figure is shown."""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from semantics.views.diagram import Diagram


@dataclass
class Drawn:
    text: Text
    box: Bbox          # pixels, as the renderer placed it

    def __repr__(self) -> str:
        return f"{self.text.get_text()!r} at {tuple(round(v) for v in self.box.extents)}"


@contextlib.contextmanager
def recording() -> Iterator[list[Drawn]]:
    """Record every Text drawn while the block runs (what a draw really put on the canvas)."""
    drawn: list[Drawn] = []
    original = Text.draw

    def draw(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn.append(Drawn(self, self.get_window_extent(renderer).frozen()))

    Text.draw = draw
    try:
        yield drawn
    finally:
        Text.draw = original


def draw_texts(fig: Figure) -> list[Drawn]:
    """Draw ``fig`` at its own dpi and return the texts drawn."""
    with recording() as drawn:
        fig.canvas.draw()
    return drawn


def overlaps(drawn: list[Drawn], pad: float = 0.0) -> list[tuple[Drawn, Drawn]]:
    """Pairs of drawn texts whose boxes overlap (by more than ``pad`` pixels)."""
    found = []
    for i, a in enumerate(drawn):
        for b in drawn[i + 1:]:
            if (min(a.box.x1, b.box.x1) - max(a.box.x0, b.box.x0) > pad
                    and min(a.box.y1, b.box.y1) - max(a.box.y0, b.box.y0) > pad):
                found.append((a, b))
    return found


def arrow_segments(fig: Figure) -> list[tuple[float, float, float, float]]:
    """Every arrow of every diagram in ``fig`` as a pixel segment (after a draw)."""
    segments = []
    for ax in fig.axes:
        diagram = getattr(ax, "semantics_diagram", None)
        if not isinstance(diagram, Diagram):
            continue
        for _, artist, _ in diagram.arrows:
            if not artist.get_visible():
                continue
            if isinstance(artist, FancyArrowPatch):
                (x0, y0), (x1, y1) = artist._posA_posB
            else:
                (x0, x1), (y0, y1) = artist.get_xdata(), artist.get_ydata()
            (px0, py0), (px1, py1) = ax.transData.transform([(x0, y0), (x1, y1)])
            segments.append((px0, py0, px1, py1))
    return segments


def crosses(box: Bbox, segment: tuple[float, float, float, float]) -> bool:
    """Whether a segment passes through a box (separating axes)."""
    x0, y0, x1, y1 = segment
    if max(x0, x1) < box.x0 or min(x0, x1) > box.x1 or max(y0, y1) < box.y0 or min(y0, y1) > box.y1:
        return False
    nx, ny = y1 - y0, x0 - x1
    sides = [nx * (cx - x0) + ny * (cy - y0) for cx in (box.x0, box.x1) for cy in (box.y0, box.y1)]
    return any(s > 0 for s in sides) and any(s < 0 for s in sides)


def texts_on_arrows(fig: Figure, drawn: list[Drawn]) -> list[tuple[Drawn, tuple]]:
    segments = arrow_segments(fig)
    return [(d, s) for d in drawn for s in segments if crosses(d.box, s)]


def text_heights_px(fig: Figure, drawn: list[Drawn], column_px: float) -> list[tuple[Drawn, float]]:
    """Each text's font size in pixels as shown: points at the figure's dpi, scaled down when the
    figure is wider than the notebook column that shows it."""
    width_px = fig.get_figwidth() * fig.dpi
    scale = min(1.0, column_px / width_px)
    return [(d, d.text.get_fontsize() * fig.dpi / 72 * scale) for d in drawn]


@functools.lru_cache(maxsize=None)  # one run per lesson per test session: the figure and panel tests share it
def run_lesson(path: Path) -> list[tuple[str, object]]:
    """Run a lesson's code cells in-process, as Run All would (magics aside), and return what each
    cell shows: (where, object) for every object a cell displays or ends with."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    shown: list = []
    namespace: dict = {"display": lambda *objects, **_: shown.extend(objects)}
    found: list[tuple[str, object]] = []
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        for i, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            source = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.startswith("%"))
            tree = ast.parse(source)
            last = ast.Expression(tree.body.pop().value) if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            shown.clear()
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(tree, f"{path.stem} cell {i}", "exec"), namespace)
                value = eval(compile(last, f"{path.stem} cell {i}", "eval"), namespace) if last else None
            found += [(f"{path.stem} cell {i} ({type(obj).__name__})", obj) for obj in [*shown, value] if obj is not None]
    finally:
        os.chdir(here)
    return found


COLUMN_PX = 900   # a notebook column: JupyterLab on a 1280 px screen with its file browser open
MIN_PX = 10.0     # the smallest text a learner should have to read, as shown


def check_readable(fig: Figure, where: str) -> None:
    """No two texts overlap, no label covers an arrow, every text is MIN_PX tall or more as shown."""
    drawn = draw_texts(fig)
    assert drawn, f"{where}: no text drawn"
    clashes = overlaps(drawn)
    assert not clashes, f"{where}: texts overlap: {clashes[:5]}"
    covered = texts_on_arrows(fig, drawn)
    assert not covered, f"{where}: labels on arrows: {[d for d, _ in covered][:5]}"
    small = [(d, round(px, 1)) for d, px in text_heights_px(fig, drawn, COLUMN_PX) if px < MIN_PX]
    assert not small, f"{where}: text under {MIN_PX:g} px as shown in a {COLUMN_PX} px column: {small[:5]}"
