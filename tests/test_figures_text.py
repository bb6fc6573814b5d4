"""Every figure the lessons draw is readable: no two texts overlap, no label covers an arrow, and
every text is at least 10 px tall at the size it is shown (a notebook column of 900 px: JupyterLab
on a 1280 px screen with its file browser open; a wider image is scaled down to fit it).

The lessons' figures are drawn by the lessons' own code: each lesson's code cells run in-process,
and every figure the course's library made (a ``Picture``, and each panel's figure) is checked.
Figures a lesson composes itself from several diagrams are drawn with ``sequence_diagrams`` (and
bars one figure each), the calls the lessons are to use for them (see the catalog below).

The texts checked are those a draw really put on the canvas (Text.draw recorded), with the window
extents the renderer computed for them."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

import semantics
from semantics import Link, run
from semantics.sim.protocols import ProcessThenAckReceiver, RetryingSender
from semantics.views import plots
from semantics.views.diagram import Picture

from figure_checks import COLUMN_PX, check_readable, draw_texts, overlaps, run_lesson, text_heights_px, texts_on_arrows

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(ROOT.glob("notebooks/0[0-4]-*.ipynb"))
def lesson_figures(path: Path) -> list[tuple[str, Figure]]:
    """Every figure the course's library made in a lesson: those a cell shows, displays or keeps in a panel."""
    found = []
    for where, obj in run_lesson(path):
        fig = obj if isinstance(obj, Figure) else getattr(obj, "figure", None)
        if isinstance(fig, Picture):
            found.append((where, fig))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_figure_a_lesson_draws_is_readable(lesson):
    figures = lesson_figures(lesson)
    assert figures, f"{lesson.name} draws no figure with the course's library"
    for where, fig in figures:
        check_readable(fig, where)


# -- figures the lessons compose from several runs, drawn as the lessons are to draw them ----------


def three_worlds(timeout: float = 3.0):
    worlds = {"message lost": Link(partitions=((0.0, 0.5),)), "ack lost": Link(partitions=((1.0, 1.5),)),
              "slow network": Link(delay=0.75 * timeout)}
    reports = {name: run(lambda: RetryingSender(timeout=timeout, max_retries=1), ProcessThenAckReceiver,
                         n_messages=1, link=link, trace=True) for name, link in worlds.items()}
    return plots.sequence_diagrams(reports, partitions={n: l.partitions for n, l in worlds.items()},
                                   title="the sender's view is the same in the three worlds: retry once")


def backoff():
    reports = {f"outage [0, 20), backoff {b:g}": semantics.simulate(
        "at-least-once", n_messages=1, loss=0.0, partitions=((0.0, 20.0),), max_retries=3, timeout=3.0, backoff=b,
        seed=9, trace=True) for b in (1.0, 2.0)}
    return plots.sequence_diagrams(reports, partitions=((0.0, 20.0),))


def one_message_outages():
    outages = ((0.0, 0.5), (3.5, 4.5))
    reports = {s: semantics.simulate(s, n_messages=1, loss=0.0, max_retries=3, partitions=outages, seed=11,
                                     trace=True) for s in semantics.SEMANTICS}
    return plots.sequence_diagrams(reports, partitions=outages)


def outcome_bars_with_crashes():
    faults = dict(n_messages=4000, loss=0.2, ack_loss=0.2, max_retries=3, seed=11)
    return plots.outcome_bars({s: semantics.simulate(s, crash_prob=0.02, **faults) for s in semantics.SEMANTICS},
                              title="receiver crashes (0.02 per crash point)")


COMPOSED = {"02 three worlds (cell 15), 03 three worlds (cell 15)": three_worlds, "02 backoff (cell 40)": backoff,
            "04 one message, two outages (cell 19)": one_message_outages,
            "04 bars with crashes (cell 16, right)": outcome_bars_with_crashes}


@pytest.mark.parametrize("name", list(COMPOSED))
def test_composed_figures_are_readable(name):
    fig = COMPOSED[name]()
    assert fig.get_figwidth() <= plots.MAX_WIDTH
    check_readable(fig, name)


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(tiny)
    assert [round(px, 1) for _, px in text_heights_px(tiny, draw_texts(tiny), COLUMN_PX)] == [7.3]
