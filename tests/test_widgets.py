"""The widget panels, built and driven headless: set a control's value, and the text and the figure
show the numbers of the headless call with the new settings."""

import numpy as np
import pytest

import semantics
from semantics.views import plots, widgets
from semantics.sim.sweeps import sweep

PNG = b"\x89PNG\r\n\x1a\n"


def test_outcome_panel_shows_the_headless_numbers_and_follows_a_slider():
    panel = widgets.OutcomePanel(n_messages=300, loss=0.2, ack_loss=0.2)
    assert {"loss", "ack_loss", "duplicate", "jitter", "max_retries", "timeout", "crash_prob", "n_messages",
            "seed"} <= set(panel.controls)
    before_text, before_image = panel.text, bytes(panel.image.value)
    assert before_image.startswith(PNG)
    assert before_text == widgets.compare_text(widgets.compare(**panel.values))

    panel.controls["loss"].value = 0.6
    reports = widgets.compare(**{**panel.values})
    assert panel.values["loss"] == 0.6
    assert panel.text == widgets.compare_text(reports) != before_text
    assert bytes(panel.image.value) != before_image and bytes(panel.image.value).startswith(PNG)
    heights = plots.bar_heights(panel.figure)
    for s, r in reports.items():
        assert heights[s] == {"lost": r.lost, "once": r.once, "duplicated": r.duplicated}
    # the numbers are visible text (what a browser test reads), not only a picture
    assert f"lost {reports['at-most-once'].lost:>6}" in panel.summary.value
    # redrawn in place: the same figure, and the pixels a full draw of these numbers gives
    fresh = widgets.OutcomePanel(n_messages=300, loss=0.6, ack_loss=0.2)
    assert bytes(fresh.image.value) == bytes(panel.image.value)
    figure = panel.figure
    panel.controls["n_messages"].value = 500  # a new scale: the full draw path
    assert panel.figure is figure and plots.bar_heights(figure)["exactly-once"]["once"] == \
        widgets.compare(**panel.values)["exactly-once"].once
    assert bytes(widgets.OutcomePanel(n_messages=500, loss=0.6, ack_loss=0.2).image.value) == bytes(panel.image.value)


def test_outcome_panel_crashes_and_timeouts_change_the_outcome():
    panel = widgets.OutcomePanel(n_messages=300, loss=0.0, ack_loss=0.0)
    assert "duplicated      0" in panel.text.splitlines()[1]  # a perfect link: nothing to retry
    panel.controls["timeout"].value = 0.5  # shorter than the round trip (2): every message is retried
    assert panel.text.splitlines()[1].split("duplicated")[1].split()[0] != "0"
    panel.controls["timeout"].value = 3.0
    panel.controls["crash_prob"].value = 0.05
    assert panel.text == widgets.compare_text(widgets.compare(**panel.values))


def test_sweep_panel_follows_its_controls_and_blits_the_same_pixels():
    panel = widgets.SweepPanel(n_messages=2000, ack_loss=0.2)
    assert panel.controls["loss"].disabled and not panel.controls["ack_loss"].disabled
    expected = sweep("loss", widgets.SWEEP_VALUES["loss"], n_messages=2000, loss=panel.values["loss"],
                     ack_loss=0.2, max_retries=3, seed=0)
    assert panel.text == expected.table(keys=("lost", "duplicated", "attempts"))
    first_image, first_figure = bytes(panel.image.value), panel.figure

    panel.controls["ack_loss"].value = 0.5
    assert panel.figure is first_figure  # updated in place, not rebuilt
    assert panel.result.settings["ack_loss"] == 0.5
    assert bytes(panel.image.value) != first_image
    points = {a.get_gid(): a for ax in panel.figure.axes for a in ax.lines}
    assert np.array_equal(points["points:at-least-once:duplicated"].get_ydata(),
                          panel.result.rates("at-least-once", "duplicated"))
    # the fast path (background kept, data redrawn) gives the very pixels of a full draw
    fresh = widgets.SweepPanel(n_messages=2000, ack_loss=0.5)
    assert fresh.text == panel.text
    assert bytes(fresh.image.value) == bytes(panel.image.value)

    panel.controls["parameter"].value = "max_retries"
    assert panel.controls["max_retries"].disabled and not panel.controls["loss"].disabled
    assert panel.result.values == tuple(range(11))
    assert panel.text.splitlines()[1].split("|")[0].strip() == "max_retries"


def test_diagram_panel_draws_the_run_it_reports():
    panel = widgets.DiagramPanel(semantic="at-least-once", n_messages=4, loss=0.3, ack_loss=0.3, seed=1)
    report = panel.report
    assert panel.text == widgets.diagram_text(report, "at-least-once")
    assert plots.count_marks(panel.figure)["arrow"] == sum(e.kind == "send" for e in report.trace)
    same = semantics.simulate("at-least-once", n_messages=4, loss=0.3, ack_loss=0.3, seed=1, trace=True)
    assert report.trace == same.trace  # the panel is the headless call, nothing more

    before = bytes(panel.image.value)
    panel.controls["semantic"].value = "at-most-once"
    assert panel.text.endswith("invariants of at-most-once:\n  no duplicate effects: kept")
    assert bytes(panel.image.value) != before
    panel.controls["n_messages"].value = 7
    assert panel.report.n_messages == 7
    assert plots.count_marks(panel.figure)["submit"] == 7
    # the diagram of the next run is drawn over the kept frame: the very pixels of a full draw
    figure, background = panel.figure, panel._background
    for seed in range(2, 30):  # a run of similar length: same frame, so the fast path
        panel.controls["seed"].value = seed
        if panel._background is background:
            break
    else:
        pytest.fail("no run of 7 messages in seeds 2..29 kept the frame")
    assert panel.figure is figure
    marks = plots.count_marks(panel.figure)
    assert marks["arrow"] == sum(e.kind == "send" for e in panel.report.trace) and marks["lane"] == 2
    fresh = widgets.DiagramPanel(semantic="at-most-once", n_messages=7, loss=0.3, ack_loss=0.3, seed=seed)
    assert fresh.text == panel.text and bytes(fresh.image.value) == bytes(panel.image.value)


def test_diagram_text_gives_the_verdict_of_each_invariant():
    panel = widgets.DiagramPanel(semantic="exactly-once", n_messages=5, loss=0.3, ack_loss=0.3, crash_prob=0.1,
                                 seed=2)
    lines = panel.text.splitlines()
    verdicts = panel.report.verdicts("exactly-once")
    assert lines[-4] == "invariants of exactly-once:"
    assert lines[-3:] == [f"  {name}: kept" for name in verdicts] and all(verdicts.values())
    # the same words for a run that broke one (a receiver that forgets its dedup record in a crash)
    from semantics.sim.protocols import InMemoryDedupReceiver, RetryingSender
    for seed in range(50):
        report = semantics.run(RetryingSender, InMemoryDedupReceiver, n_messages=5, seed=seed, trace=True,
                               link=semantics.Link(ack_loss=0.4), faults=semantics.Faults(crash_prob=0.1))
        if report.violations("exactly-once"):
            break
    else:
        pytest.fail("no seed in 0..49 breaks exactly-once with a volatile dedup set")
    text = widgets.diagram_text(report, "exactly-once")
    assert "  no duplicate effects: BROKEN (no duplicate effects: message" in text


def test_costly_controls_update_on_release():
    outcome, diagram, sweeper = widgets.OutcomePanel(n_messages=100), widgets.DiagramPanel(n_messages=1), \
        widgets.SweepPanel(n_messages=1000)
    for panel in (outcome, diagram):
        for name, control in panel.controls.items():
            if hasattr(control, "continuous_update"):
                assert control.continuous_update is False, name
    assert sweeper.controls["n_messages"].continuous_update is False
    assert sweeper.controls["loss"].continuous_update is True  # the vectorised sweep keeps up


def test_panel_arguments_are_checked():
    with pytest.raises(ValueError, match=r"n_messages must be an integer \[100, 20000\], got 5"):
        widgets.OutcomePanel(n_messages=5)
    with pytest.raises(ValueError, match=r"loss must be in \[0, 1\], got 2"):
        widgets.SweepPanel(loss=2)
    with pytest.raises(ValueError, match="parameter must be one of 'loss', 'ack_loss', 'max_retries'; got 'delay'"):
        widgets.SweepPanel(parameter="delay")
    with pytest.raises(ValueError, match="semantic must be one of"):
        widgets.DiagramPanel(semantic="maybe-once")
    with pytest.raises(TypeError, match="keys must be a sequence of names"):
        widgets.SweepPanel(keys="lost")
    with pytest.raises(ValueError, match=r"n_messages must be an integer \[1, 10\], got 11"):
        widgets.DiagramPanel(n_messages=11)
    with pytest.raises(ValueError, match=r"n_messages must be an integer \[1, 1000000\], got 0"):
        widgets.compare(n_messages=0)
    with pytest.raises(TypeError, match="reports must be a non-empty mapping"):
        widgets.compare_text({})
    with pytest.raises(TypeError, match="report must be a semantics Report"):
        widgets.diagram_text("m1", "exactly-once")
    with pytest.raises(ValueError, match="semantic must be one of"):
        widgets.diagram_text(semantics.simulate("at-most-once", n_messages=1, loss=0.0), "twice")
