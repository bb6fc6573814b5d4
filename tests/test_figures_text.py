"""Every figure the lessons draw is readable: no two texts overlap, no label covers an arrow, and
every text is at least 10 px tall at the size it is shown (a notebook column of 900 px: JupyterLab
on a 1280 px screen with its file browser open; a wider image is scaled down to fit it, and its text
blurred: no lesson figure is wider).

The lessons' figures are drawn by the lessons' own code: each lesson's code cells run in-process,
and every figure a cell shows is checked: those the course's library made (a ``Picture``, each
panel's and stepper's figure), and those a lesson draws with matplotlib itself. Figures a lesson
composes from several runs are drawn with ``sequence_diagrams``, bars one figure each.

The texts checked are those a draw really put on the canvas (Text.draw recorded), with the window
extents the renderer computed for them."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import semantics
from semantics.views import plots
from semantics.views.diagram import Picture

from figure_checks import COLUMN_PX, check_readable, draw_texts, overlaps, run_lesson, text_heights_px, texts_on_arrows

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p for p in ROOT.glob("notebooks/[0-9][0-9]-*.ipynb") if "-lab-" not in p.name)


def lesson_figures(path: Path) -> list[tuple[str, Figure]]:
    """Every figure a lesson shows: those a cell returns or displays, and those a panel or a stepper
    keeps (a figure drawn with matplotlib alone gets an Agg canvas, as the inline backend draws it)."""
    found = []
    for where, obj in run_lesson(path):
        fig = obj if isinstance(obj, Figure) else getattr(obj, "figure", None)
        if isinstance(fig, Figure):
            if not isinstance(fig.canvas, FigureCanvasAgg):
                FigureCanvasAgg(fig)
            found.append((where, fig))
    return found


def test_the_lessons_are_found():
    assert [p.name[:2] for p in LESSONS] == ["00", "01", "02", "03", "04", "05"]


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_figure_a_lesson_draws_is_readable(lesson):
    figures = lesson_figures(lesson)
    assert any(isinstance(fig, Picture) for _, fig in figures), f"{lesson.name} draws no figure with the library"
    for where, fig in figures:
        width = fig.get_figwidth() * fig.dpi
        assert width <= COLUMN_PX, f"{where}: {width:.0f} px wide, shown scaled down to {COLUMN_PX} px: blurred text"
        check_readable(fig, where)


# -- any moderate run -------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(semantic=st.sampled_from(semantics.SEMANTICS), loss=st.sampled_from([0.0, 0.2, 0.5]),
       ack_loss=st.sampled_from([0.0, 0.3, 0.6]), duplicate=st.sampled_from([0.0, 0.3]),
       jitter=st.sampled_from([0.0, 0.5]), crash_prob=st.sampled_from([0.0, 0.05, 0.15]),
       timeout=st.sampled_from([2.5, 3.0, 5.0]), n=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_any_moderate_run_draws_a_readable_diagram(semantic, loss, ack_loss, duplicate, jitter, crash_prob, timeout,
                                                   n, seed):
    report = semantics.simulate(semantic, n_messages=n, loss=loss, ack_loss=ack_loss, duplicate=duplicate,
                                jitter=jitter, crash_prob=crash_prob, timeout=timeout, seed=seed, trace=True)
    check_readable(plots.sequence_diagram(report), f"{semantic} seed {seed}")


def test_a_crowded_at_most_once_run_with_duplicates_draws_a_readable_diagram():
    # issue 15, found by a randomized run: three-line blocks at receiver arrivals one time unit apart
    # (26 px), the last near the frame's foot: no free place near its arrival until the column restacks
    report = semantics.simulate("at-most-once", n_messages=5, loss=0.0, ack_loss=0.0, duplicate=0.3, jitter=0.0,
                                crash_prob=0.0, timeout=2.5, seed=464, trace=True)
    check_readable(plots.sequence_diagram(report), "at-most-once seed 464")


def test_a_column_restacked_down_to_the_frames_foot_draws_a_readable_diagram():
    # the crowded column's last block set exactly on the frame's lower edge (rounding put it a hair
    # outside, and the column was refused): effects of m7 and m8 one time unit apart, m8 duplicated
    report = semantics.simulate("at-most-once", n_messages=8, loss=0.2, ack_loss=0.3, duplicate=0.3, jitter=0.0,
                                crash_prob=0.05, timeout=2.5, seed=1818, trace=True)
    check_readable(plots.sequence_diagram(report), "at-most-once seed 1818")


def test_the_overlap_check_sees_an_overlap_and_a_label_on_an_arrow():
    # the checks themselves can fail: two texts drawn at one place, a label across an arrow
    report = semantics.simulate("at-least-once", n_messages=2, loss=0.5, ack_loss=0.5, seed=1, trace=True)
    fig = plots.sequence_diagram(report)
    ax = fig.axes[0]
    _, _, (x0, y0, x1, y1) = plots.diagram_of(fig).arrows[0]
    ax.text((x0 + x1) / 2, (y0 + y1) / 2, "over the arrow", fontsize=9, ha="center", va="center")
    ax.text((x0 + x1) / 2, (y0 + y1) / 2, "twice", fontsize=9)
    drawn = draw_texts(fig)
    assert overlaps(drawn) and texts_on_arrows(fig, drawn)
    tiny = Figure(figsize=(12, 3))
    tiny.text(0.1, 0.5, "small", fontsize=7)
    FigureCanvasAgg(tiny)
    assert [round(px, 1) for _, px in text_heights_px(tiny, draw_texts(tiny), COLUMN_PX)] == [7.3]
