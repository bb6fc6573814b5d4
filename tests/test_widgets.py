"""The widget panels, built and driven headless: set a control's value, and the text and the figure
show the numbers of the headless call with the new settings; every control of every panel the
lessons show changes the figure or the numbers, or is disabled with its reason; the figure comes
before the numbers, and long tables are collapsed below it."""

from pathlib import Path

import ipywidgets as w
import numpy as np
import pytest

import semantics
from semantics.views import plots, widgets
from semantics.sim.sweeps import sweep

from figure_checks import check_readable, run_lesson

PNG = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p for p in ROOT.glob("notebooks/[0-9][0-9]-*.ipynb") if "-lab-" not in p.name)


def output(panel):
    """What a learner sees change: the figure's pixels and every number (the echo line aside)."""
    return bytes(panel.image.value), panel.numbers


def one_move(control):
    """The value one key press (or click) gives ``control``: a slider's step (down at the top of its
    range), a toggle's or a dropdown's next option, the next seed."""
    if isinstance(control, (w.ToggleButtons, w.Dropdown)):
        options = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return options[(options.index(control.value) + 1) % len(options)]
    if isinstance(control, w.BoundedIntText):
        return control.value + 1
    up = control.value + control.step
    value = up if up <= control.max else control.value - control.step
    return int(value) if isinstance(control, w.IntSlider) else round(value, 6)


def assert_every_control_responds(panel, where):
    for name, control in panel.controls.items():
        if control.disabled:
            reason = panel.reasons.get(name)
            assert reason and control.tooltip == reason, f"{where}: {name} is disabled without a reason"
            assert reason in panel.notes.value.replace("&#x27;", "'"), f"{where}: the reason is not shown"
            continue
        before, echo = output(panel), panel.echo
        control.value = one_move(control)
        after = output(panel)
        assert panel.echo != echo, f"{where}: the echo does not follow {name}"
        assert after != before or control.disabled, (
            f"{where}: moving {name} to {control.value!r} changed neither the figure nor the numbers")


@pytest.mark.parametrize("kind", list(widgets.PANELS))
def test_every_control_of_each_panel_at_its_defaults_changes_the_output_or_is_disabled(kind):
    panel = widgets.PANELS[kind]()
    assert repr(panel).startswith(type(panel).__name__)  # what a notebook shows as text (ipywidgets walks the traits)
    assert_every_control_responds(panel, f"{kind} panel at its defaults")


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_every_control_of_every_panel_in_a_lesson_changes_the_output_or_is_disabled(lesson):
    assert len(LESSONS) == 6, [p.name for p in LESSONS]   # 00 to 05: every lesson has a panel
    panels = [(where, obj) for where, obj in run_lesson(lesson) if isinstance(obj, widgets._Panel)]
    assert panels, f"{lesson.name} shows no panel"
    for where, panel in panels:
        assert_every_control_responds(panel, where)
        check_readable(panel.figure, f"{where}, after every control moved")  # a learner's state, still legible


def test_the_check_catches_a_control_that_changes_nothing():
    panel = widgets.OutcomePanel(n_messages=300)
    compute = panel.compute
    panel.compute = lambda values: compute({**values, "seed": 0})  # the seed no longer reaches the run
    with pytest.raises(AssertionError, match="moving seed to 1 changed neither the figure nor the numbers"):
        assert_every_control_responds(panel, "outcome panel")


def test_controls_that_do_not_apply_to_at_most_once_are_disabled_with_the_reason():
    panel = widgets.DiagramPanel(semantic="at-least-once", n_messages=3)
    assert not any(c.disabled for c in panel.controls.values())
    panel.controls["semantic"].value = "at-most-once"
    assert {n for n, c in panel.controls.items() if c.disabled} == {"ack_loss", "max_retries", "timeout"}
    assert "waits for no ack" in panel.controls["timeout"].tooltip
    assert "ack loss does not apply" in panel.notes.value and "max retries" not in panel.echo
    panel.controls["semantic"].value = "exactly-once"
    assert not any(c.disabled for c in panel.controls.values()) and panel.notes.value == ""
    # nothing random: every seed gives the same run
    clean = widgets.DiagramPanel(n_messages=2, loss=0.0, ack_loss=0.0)
    assert clean.controls["seed"].disabled and "every seed gives the same run" in clean.reasons["seed"]
    clean.controls["loss"].value = 0.05
    assert not clean.controls["seed"].disabled


def test_the_panels_echo_the_parameters_they_ran_with():
    panel = widgets.DiagramPanel(semantic="at-least-once", n_messages=4, loss=0.3, ack_loss=0.2, seed=5)
    assert panel.echo == ("ran with: at-least-once, loss 0.3, ack loss 0.2, duplication 0, delay spread 0, "
                          "max retries 3, timeout 3, crash prob. 0, messages 4, seed 5")
    assert panel.echo in panel.echo_line.value
    panel.controls["loss"].value = 0.5
    assert "loss 0.5," in panel.echo
    sweeper = widgets.SweepPanel(parameter="ack_loss", n_messages=2000)
    assert sweeper.echo == "ran with: sweep over ack loss, loss 0.1, max retries 3, messages 2000, seed 0"


def test_the_figure_comes_first_and_the_sweep_table_is_collapsed_below_it():
    for panel in (widgets.OutcomePanel(n_messages=200), widgets.DiagramPanel(n_messages=2),
                  widgets.SweepPanel(n_messages=1000)):
        children = list(panel.children)
        assert children.index(panel.image) < children.index(panel.summary)
        assert children.index(panel.image) == 2  # the controls, the reasons line, then the figure
    sweeper = panel
    assert sweeper.accordion.selected_index is None  # collapsed until asked for
    assert sweeper.table in sweeper.details.value.replace("&#x27;", "'") or "|" in sweeper.details.value
    assert len(sweeper.summary.value.splitlines()) == 1


def test_a_diagram_panel_without_a_seed_opens_on_a_run_that_shows_the_point():
    amo = widgets.DiagramPanel(semantic="at-most-once", n_messages=4, loss=0.3)
    assert amo.report.lost >= 1
    alo = widgets.DiagramPanel(semantic="at-least-once", n_messages=4, loss=0.3, ack_loss=0.3)
    assert alo.report.duplicated >= 1 or alo.report.attempts > alo.report.n_messages
    eo = widgets.DiagramPanel(semantic="exactly-once", n_messages=4, loss=0.3, ack_loss=0.3)
    assert any(m.deliveries > 1 and m.effects == 1 for m in eo.report.messages())
    assert eo.controls["seed"].value == widgets.showcase_seed("exactly-once", n_messages=4, loss=0.3, ack_loss=0.3,
                                                              duplicate=0.0, jitter=0.0, max_retries=3,
                                                              timeout=3.0, crash_prob=0.0)


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
    assert panel.stats == widgets.compare_times(reports) + "\n" + widgets.closed_form_text(**panel.values)
    assert bytes(panel.image.value) != before_image and bytes(panel.image.value).startswith(PNG)
    heights = plots.bar_heights(panel.figure)
    for s, r in reports.items():  # shares of the messages sent, so the scale stays put
        assert heights[s] == pytest.approx({k: getattr(r, k) / r.n_messages for k in ("lost", "once", "duplicated")})
    # the numbers are visible text (what a browser test reads), not only a picture
    assert f"lost {reports['at-most-once'].lost:>6}" in panel.summary.value
    # redrawn in place: the same figure, and the pixels a full draw of these numbers gives
    fresh = widgets.OutcomePanel(n_messages=300, loss=0.6, ack_loss=0.2)
    assert bytes(fresh.image.value) == bytes(panel.image.value)
    figure = panel.figure
    panel.controls["n_messages"].value = 500
    assert panel.figure is figure and plots.bar_heights(figure)["exactly-once"]["once"] == pytest.approx(
        widgets.compare(**panel.values)["exactly-once"].once / 500)
    assert bytes(widgets.OutcomePanel(n_messages=500, loss=0.6, ack_loss=0.2).image.value) == bytes(panel.image.value)


def test_outcome_panel_crashes_timeouts_and_delays_change_the_outcome_or_its_time():
    panel = widgets.OutcomePanel(n_messages=300, loss=0.0, ack_loss=0.0)
    assert "duplicated      0" in panel.text.splitlines()[1]  # a perfect link: nothing to retry
    panel.controls["timeout"].value = 0.5  # shorter than the round trip (2): every message is retried
    assert panel.text.splitlines()[1].split("duplicated")[1].split()[0] != "0"
    panel.controls["timeout"].value = 3.0
    before = panel.stats
    panel.controls["jitter"].value = 0.1  # too little spread to cause a retry, but the trips take longer
    assert panel.stats != before and panel.text == widgets.compare_text(widgets.compare(**panel.values))
    panel.controls["crash_prob"].value = 0.05
    assert panel.text == widgets.compare_text(widgets.compare(**panel.values))


def test_sweep_panel_follows_its_controls_and_blits_the_same_pixels():
    panel = widgets.SweepPanel(n_messages=2000, ack_loss=0.2)
    assert panel.controls["loss"].disabled and not panel.controls["ack_loss"].disabled
    assert "on the x axis" in panel.reasons["loss"]
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
    # back to a frame drawn before: its kept pixels, the very pixels of a full draw
    panel.controls["parameter"].value = "loss"
    assert bytes(panel.image.value) == bytes(widgets.SweepPanel(n_messages=2000, ack_loss=0.5).image.value)


def test_diagram_panel_draws_the_run_it_reports():
    panel = widgets.DiagramPanel(semantic="at-least-once", n_messages=4, loss=0.3, ack_loss=0.3, seed=1)
    report = panel.report
    assert panel.text == widgets.diagram_text(report, "at-least-once")
    assert plots.count_marks(panel.figure)["arrow"] == sum(e.kind == "send" for e in report.trace)
    same = semantics.simulate("at-least-once", n_messages=4, loss=0.3, ack_loss=0.3, seed=1, trace=True)
    assert report.trace == same.trace  # the panel is the headless call, nothing more
    settings = dict(loss=0.3, ack_loss=0.3, duplicate=0.0, jitter=0.0, max_retries=3, timeout=3.0, crash_prob=0.0)
    assert panel.stats == (widgets.diagram_stats("at-least-once", seed=1, **settings) + "\n"
                           + widgets.closed_form_text(("at-least-once",), **settings))
    assert "closed form per message: at-least-once lost 0.8%, duplicated 27.5%, 1.903 attempts" in panel.stats
    legend = [t.get_text() for t in panel.figure.axes[0].get_legend().get_texts()]
    assert legend == [t.get_text() for t in plots.sequence_diagram(report).axes[0].get_legend().get_texts()]

    before = bytes(panel.image.value)
    panel.controls["semantic"].value = "at-most-once"
    assert panel.text.endswith("invariants of at-most-once:\n  no duplicate effects: kept")
    assert panel.report.trace == widgets.diagram_run("at-most-once", n_messages=4, loss=0.3, ack_loss=0.3,
                                                     max_retries=3, seed=1).trace
    assert bytes(panel.image.value) != before
    panel.controls["n_messages"].value = 7
    assert panel.report.n_messages == 7
    assert plots.count_marks(panel.figure)["submit"] == 7
    # the diagram of the next run is drawn over a kept frame: the very pixels of a full draw
    figure = panel.figure
    for seed in range(2, 30):
        panel.controls["seed"].value = seed
        fresh = widgets.DiagramPanel(semantic="at-most-once", n_messages=7, loss=0.3, ack_loss=0.3, seed=seed)
        assert fresh.text == panel.text and bytes(fresh.image.value) == bytes(panel.image.value)
        if seed > 5:
            break
    assert panel.figure is figure
    marks = plots.count_marks(panel.figure)
    assert marks["arrow"] == sum(e.kind == "send" for e in panel.report.trace) and marks["lane"] == 2


def test_diagram_text_gives_the_verdict_of_each_invariant():
    panel = widgets.DiagramPanel(semantic="exactly-once", n_messages=5, loss=0.3, ack_loss=0.3, crash_prob=0.1,
                                 seed=2)
    lines = panel.text.splitlines()
    verdicts = panel.report.verdicts("exactly-once")
    assert lines[-4] == "invariants of exactly-once:"
    assert lines[-3:] == [f"  {name}: kept" for name in verdicts] and all(verdicts.values())
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


def test_share_text_never_says_zero_of_something():
    assert plots.share_text(2, 10_000) == "0.02%"
    assert plots.share_text(1, 2_000_000) == "<0.01%"
    assert plots.share_text(0, 100) == "0.0%" and plots.share_text(5, 100) == "5.0%"


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
    with pytest.raises(TypeError, match="reports must be a non-empty mapping"):
        widgets.compare_times({})
    with pytest.raises(TypeError, match="report must be a semantics Report"):
        widgets.diagram_text("m1", "exactly-once")
    with pytest.raises(ValueError, match="semantic must be one of"):
        widgets.diagram_text(semantics.simulate("at-most-once", n_messages=1, loss=0.0), "twice")


# -- a diagram panel opens on a run that shows its point -----------------------------------------------


def test_showcase_seed_starts_where_it_is_told_and_keeps_a_seed_that_already_shows_the_point():
    settings = dict(n_messages=4, loss=0.3, ack_loss=0.3)
    first = widgets.showcase_seed("exactly-once", **settings)
    assert widgets.showcase_seed("exactly-once", start=first, **settings) == first
    later = widgets.showcase_seed("exactly-once", start=first + 1, **settings)
    run = widgets.diagram_run("exactly-once", seed=later, **settings)
    assert later > first and any(m.deliveries > 1 and m.effects == 1 for m in run.messages())
    # nothing to show (no loss, no ack loss): the start seed itself
    assert widgets.showcase_seed("exactly-once", start=42, tries=5, n_messages=2, loss=0.0, ack_loss=0.0) == 42
    with pytest.raises(ValueError, match="tries must be an integer"):
        widgets.showcase_seed("exactly-once", tries=0, **settings)


# -- the crash point panel (lesson 03) -----------------------------------------------------------------


def test_crash_point_panel_shows_the_story_of_each_crash_point_and_follows_the_receiver():
    from semantics.sim.protocols import InMemoryDedupReceiver, ProcessThenMarkReceiver, RetryingSender
    panel = widgets.CrashPointPanel(point=2)
    assert list(panel.controls["receiver"].options) == ["dedup in memory", "mark, then process", "process, then mark",
                                                        "durable + atomic (reference)"]
    text, report = widgets.crash_point_story(RetryingSender, InMemoryDedupReceiver, 2, name="dedup in memory")
    assert panel.text == text and panel.report.trace == report.trace
    assert text.startswith("dedup in memory, crash point 2: after apply(") and "no duplicate effects" in text
    assert plots.count_marks(panel.figure)["crash"] == 1 and plots.count_marks(panel.figure)["duplicate-effect"] == 1
    # each receiver has its own number of crash points: the slider follows
    for name, receiver in panel.receivers.items():
        panel.controls["receiver"].value = name
        labels = widgets.crash_point_labels(RetryingSender, receiver)
        assert panel.controls["point"].max == len(labels) - 1
        assert panel.text == widgets.crash_point_story(RetryingSender, receiver, panel.controls["point"].value,
                                                       name=name)[0]
    panel.controls["receiver"].value = "process, then mark"
    panel.controls["point"].value = 2   # between the effect and the durable mark
    assert "after apply(" in panel.text and "no duplicate effects" in panel.text
    past = widgets.crash_point_story(RetryingSender, ProcessThenMarkReceiver, 99)[0]
    assert "crash point 99: none (the run has" in past and past.endswith("exactly-once held")


def test_crash_point_arguments_are_checked():
    with pytest.raises(TypeError, match="receivers must be a non-empty mapping"):
        widgets.CrashPointPanel({})
    with pytest.raises(ValueError, match="receiver must be one of"):
        widgets.CrashPointPanel(receiver="nobody")
    with pytest.raises(ValueError, match=r"point must be an integer \[0, 6\], got 7"):
        widgets.CrashPointPanel(receiver="dedup in memory", point=7)
    from semantics.sim.protocols import DeduplicatingReceiver, RetryingSender
    with pytest.raises(ValueError, match="node must be a node of the run"):
        widgets.crash_point_labels(RetryingSender, DeduplicatingReceiver, node="broker")


# -- the lease panel (lesson 05) -----------------------------------------------------------------------


def holders_and_refusals(report):
    holders = len({e.node for e in report.trace if e.kind == "receive" and e.node in ("c1", "c2")})
    return holders, sum(e.kind == "note" and e.node == "store" for e in report.trace)


@pytest.mark.parametrize("lease", [5.5, 7.0, 8.5, 9.5, 10.0, 11.0, 13.5, 14.5, 18.0])
def test_one_leased_message_has_two_holders_exactly_when_the_work_outlasts_the_lease(lease):
    # c1 works 10, c2 works 1: a second holder below 10 + 4 (the work and four hops), both at work at
    # once below 10; c1's write refused below 10 - 1 (fencing), below 10 (the token shown at the start);
    # without fencing, every holder's write lands
    for fencing, refused_below in [("no fencing", 0.0), ("fencing", 9.0), ("token at start", 10.0)]:
        report = widgets.lease_run(lease=lease, c1_work=10.0, c2_work=1.0, fencing=fencing)
        holders, refused = holders_and_refusals(report)
        assert holders == len(widgets.lease_holds(report)) == (2 if lease < 14.0 else 1), (lease, fencing)
        assert bool(widgets.working_at_once(report)) == (lease < 10.0), (lease, fencing)
        assert refused == (1 if lease < refused_below else 0), (lease, fencing)
        assert report.effects == holders - refused, (lease, fencing)
        text = widgets.lease_text(report)
        assert text.endswith("working at once: never") == (lease >= 10.0)
        assert text.count("refused (token") == refused


def test_lease_text_says_who_held_the_message_when():
    text = widgets.lease_text(widgets.lease_run(lease=8.0, c1_work=10.0, c2_work=1.0))
    assert text.splitlines() == [
        "lease 1: c1 holds the message from t=2 and works until t=12; lease expired at t=9",
        "lease 2: c2 holds the message from t=10 and works until t=11; lease not expired",
        "store, t=12: c2's write (m1 token 2) applied",
        "store, t=13: c1's write (m1 token 1) refused (token 1 < 2: rejected)",
        "effects 1; two holders working at once: t=10 to 11"]
    # leases that go round: a third one to c1 while it still works on the first; every overlap is said
    text = widgets.lease_text(widgets.lease_run(lease=4.5, c1_work=10.0, c2_work=1.0))
    assert text.splitlines()[-1] == ("effects 3; two holders working at once: t=6.5 to 7.5; t=11 to 12; "
                                     "t=15.5 to 16.5; t=20 to 21")


def test_lease_stats_agree_with_the_closed_form_of_a_second_lease():
    from semantics.sim.analysis import agreement
    for lease, mean in [(8.0, 2.0), (6.0, 5.0), (12.0, 3.0)]:
        stats = widgets.lease_stats(lease=lease, mean_work=mean, fencing="no fencing", n_messages=3000, seed=1)
        p = stats.closed_form
        assert p == pytest.approx(np.exp(-(lease - 4) / mean))
        assert agreement("leased twice", p, stats.leased_twice / 3000, p * (1 - p), 3000, level=1 - 1e-6).ok
        assert stats.duplicated == stats.leased_twice and stats.refused == 0   # without fencing every holder writes
    fenced = widgets.lease_stats(lease=8.0, mean_work=2.0, fencing="fencing", n_messages=3000, seed=1)
    assert fenced.refused > 0 and fenced.duplicated < fenced.leased_twice   # fencing refuses some, not all


def test_lease_panel_shows_the_headless_numbers_and_disables_c2_when_c1_keeps_its_lease():
    panel = widgets.LeasePanel(lease=8.0, seed=3)
    assert panel.text == widgets.lease_text(widgets.lease_run(lease=8.0, c1_work=10.0, c2_work=1.0))
    assert panel.result == widgets.lease_stats(lease=8.0, mean_work=2.0, fencing="fencing", seed=3)
    assert panel.stats == panel.result.text() and "closed form e^(-(lease - 4)/mean work) = 13.5%" in panel.stats
    assert panel.echo == "ran with: fencing, lease 8, c1 works 10, c2 works 1, mean work 2, seed 3"
    assert not panel.controls["c2_work"].disabled
    panel.controls["lease"].value = 15.0   # c1's ack (10 + 4) arrives within the lease
    assert panel.controls["c2_work"].disabled and "c2 never holds the message" in panel.reasons["c2_work"]
    assert "c2 works" not in panel.echo and panel.text.endswith("working at once: never")
    fresh = widgets.LeasePanel(lease=15.0, seed=3)
    assert fresh.text == panel.text and bytes(fresh.image.value) == bytes(panel.image.value)  # drawn in place


def test_lease_panel_arguments_are_checked():
    with pytest.raises(ValueError, match=r"lease must be in \[4.5, 20\], got 3"):
        widgets.LeasePanel(lease=3.0)
    with pytest.raises(ValueError, match="fencing must be one of"):
        widgets.LeasePanel(fencing="maybe")
    with pytest.raises(ValueError, match=r"lease must be in \(4, inf\), got 4.0"):
        widgets.lease_run(lease=4.0)
    with pytest.raises(ValueError, match="mean_work must be"):
        widgets.lease_stats(mean_work=0.0)


def test_the_views_are_exported_lazily_from_semantics():
    import subprocess
    import sys
    from semantics.views import stepper
    assert semantics.sequence_diagrams is plots.sequence_diagrams and semantics.step_through is stepper.step_through
    assert semantics.LeasePanel is widgets.LeasePanel and semantics.CrashPointPanel is widgets.CrashPointPanel
    code = "import sys, semantics; print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    assert loaded == ["False", "False"]
