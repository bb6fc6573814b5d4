"""The vectorised sweeps against the event-driven simulator and the closed forms, and the sweep
figure against the sweep it draws."""

import math
from statistics import NormalDist

import numpy as np
import pytest

import semantics
from semantics.views import plots
from semantics.sim.analysis import KEYS
from semantics.sim.sweeps import FastCounts, Sweep, simulate_fast, sweep

Z = NormalDist().inv_cdf(0.9995)  # two-sided 99.9%


@pytest.mark.parametrize("loss, ack_loss, max_retries", [(0.2, 0.1, 3), (0.5, 0.5, 1), (0.05, 0.4, 5), (0.7, 0.0, 2)])
def test_vectorised_agrees_with_the_event_driven_simulator(loss, ack_loss, max_retries):
    """Two-sample z tests at 99.9%, per guarantee and per count, with the exact per-message variance."""
    n_event, n_fast = 15_000, 200_000
    fast = simulate_fast(n_messages=n_fast, loss=loss, ack_loss=ack_loss, max_retries=max_retries, seed=11)
    for s in semantics.SEMANTICS:
        event = semantics.simulate(s, n_messages=n_event, loss=loss, ack_loss=ack_loss, max_retries=max_retries,
                                   seed=11)
        exact = semantics.moments(s, loss=loss, ack_loss=ack_loss, max_retries=max_retries)
        for key in KEYS:
            variance = exact[key][1]
            a, b = getattr(event, key) / n_event, fast[s].rate(key)
            spread = Z * math.sqrt(variance / n_event + variance / n_fast) + 1e-12
            assert abs(a - b) <= spread, f"{s} {key}: event-driven {a:.5f}, vectorised {b:.5f}, allowed ±{spread:.5f}"


@pytest.mark.parametrize("loss", [0.0, 0.1, 0.35, 0.6, 0.9, 1.0])
@pytest.mark.parametrize("ack_loss", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("max_retries", [0, 2, 6])
def test_vectorised_agrees_with_the_closed_forms(loss, ack_loss, max_retries):
    n = 50_000
    fast = simulate_fast(n_messages=n, loss=loss, ack_loss=ack_loss, max_retries=max_retries, seed=3)
    for s in semantics.SEMANTICS:
        exact = semantics.moments(s, loss=loss, ack_loss=ack_loss, max_retries=max_retries)
        counts = fast[s]
        assert counts.lost + counts.once + counts.duplicated == counts.n_messages == n
        for key in KEYS:
            mean, variance = exact[key]
            half = Z * math.sqrt(variance / n) + 1e-12
            assert abs(counts.rate(key) - mean) <= half, f"{s} {key}: {counts.rate(key):.5f} vs {mean:.5f}"
            # the reported standard error estimates the true one
            if variance > 1e-3:
                assert counts.stderr(key) == pytest.approx(math.sqrt(variance / n), rel=0.1), (s, key)


@pytest.mark.parametrize("loss, ack_loss", [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
def test_deterministic_edges_equal_the_simulator_exactly(loss, ack_loss):
    n, r = 500, 3
    fast = simulate_fast(n_messages=n, loss=loss, ack_loss=ack_loss, max_retries=r, seed=0)
    for s in semantics.SEMANTICS:
        event = semantics.simulate(s, n_messages=n, loss=loss, ack_loss=ack_loss, max_retries=r, seed=0)
        for key in KEYS:
            assert getattr(fast[s], key) == getattr(event, key), (s, key)


def test_common_random_numbers_make_the_three_guarantees_comparable():
    fast = simulate_fast(n_messages=20_000, loss=0.3, ack_loss=0.3, max_retries=2, seed=5)
    alo, eo, amo = fast["at-least-once"], fast["exactly-once"], fast["at-most-once"]
    # same sender, same network fates: only deduplication differs
    assert (alo.lost, alo.attempts, alo.acked) == (eo.lost, eo.attempts, eo.acked)
    assert eo.once == alo.once + alo.duplicated and eo.duplicated == 0
    assert alo.duplicated > 0 and amo.lost > alo.lost


def test_same_seed_same_numbers_other_seed_other_numbers():
    a = sweep("loss", [0.1, 0.4], n_messages=3000, seed=9)
    b = sweep("loss", [0.1, 0.4], n_messages=3000, seed=9)
    c = sweep("loss", [0.1, 0.4], n_messages=3000, seed=10)
    assert a == b
    assert a.counts != c.counts


def test_sweep_over_each_parameter():
    by_loss = sweep("loss", np.linspace(0, 0.9, 4), n_messages=20_000, ack_loss=0.2, max_retries=2)
    assert by_loss.values == (0.0, 0.3, 0.6, 0.9) and by_loss.settings == {"ack_loss": 0.2, "max_retries": 2}
    by_ack = sweep("ack_loss", [0.0, 0.5], n_messages=20_000, loss=0.2)
    by_retries = sweep("max_retries", range(0, 6), n_messages=20_000, loss=0.4, ack_loss=0.2)
    for result in (by_loss, by_ack, by_retries):
        for s in semantics.SEMANTICS:
            for key in ("lost", "once", "duplicated", "attempts"):
                rates, errors, closed = result.rates(s, key), result.errors(s, key), result.expected(s, key)
                assert rates.shape == errors.shape == closed.shape == (len(result.values),)
                assert np.all(np.abs(rates - closed) <= Z * errors + 1e-9), (result.parameter, s, key)
    # more retries: fewer losses for the retrying guarantees, none for at-most-once's sake
    assert np.all(np.diff(by_retries.rates("exactly-once", "lost")) <= 0.01)
    assert len(set(by_retries.rates("at-most-once", "attempts"))) == 1


def test_table_is_deterministic_text():
    result = sweep("max_retries", [0, 3], n_messages=1000, loss=0.3, ack_loss=0.3, seed=1)
    text = result.table()
    assert text == sweep("max_retries", [0, 3], n_messages=1000, loss=0.3, ack_loss=0.3, seed=1).table()
    lines = text.splitlines()
    assert lines[1].split("|")[0].strip() == "max_retries" and len(lines) == 6
    assert lines[0].split("|")[2].strip() == "duplicated" and lines[1].split("|")[2].split() == ["AMO", "ALO", "EO"]
    row = lines[4].split("|")
    assert row[0].strip() == "3"
    assert row[2].split() == [f"{result.counts[s][1].rate('duplicated'):.4f}" for s in semantics.SEMANTICS]


def test_argument_errors_name_the_parameter_and_the_range():
    with pytest.raises(ValueError, match="parameter must be one of 'loss', 'ack_loss', 'max_retries'"):
        sweep("delay", [1.0])
    with pytest.raises(ValueError, match=r"values\[1\] \(loss\) must be in \[0, 1\], got 1.5"):
        sweep("loss", [0.5, 1.5])
    with pytest.raises(TypeError, match=r"values\[0\] \(max_retries\) must be an integer"):
        sweep("max_retries", [1.5])
    with pytest.raises(ValueError, match="values must hold 1 to 1000 numbers, got 0"):
        sweep("loss", [])
    with pytest.raises(TypeError, match="values must be a sequence of numbers"):
        sweep("loss", 0.5)
    with pytest.raises(ValueError, match=r"n_messages must be an integer \[1, 10000000\], got 0"):
        simulate_fast(n_messages=0, loss=0.1)
    with pytest.raises(ValueError, match=r"ack_loss must be in \[0, 1\], got -0.1"):
        simulate_fast(n_messages=10, loss=0.1, ack_loss=-0.1)
    with pytest.raises(ValueError, match=r"max_retries must be an integer \[0, 1000\], got 1001"):
        simulate_fast(n_messages=10, loss=0.1, max_retries=1001)
    with pytest.raises(ValueError, match="key must be one of"):
        FastCounts(1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1).rate("latency")


# -- the sweep figure ------------------------------------------------------------------------------


def artists(fig):
    found = {}
    for ax in fig.axes:
        for a in (*ax.lines, *ax.collections):
            if a.get_gid():
                found[a.get_gid()] = a
    return found


@pytest.mark.parametrize("parameter, values", [("loss", np.linspace(0, 0.95, 20)), ("max_retries", range(0, 8)),
                                               ("ack_loss", [0.0, 0.25, 0.5])])
def test_sweep_figure_draws_the_sweep_and_the_closed_forms(parameter, values):
    result = sweep(parameter, values, n_messages=4000, loss=0.3, ack_loss=0.2, seed=2)
    keys = ("lost", "once", "duplicated", "attempts")
    fig = plots.sweep_figure(result, keys=keys, confidence=0.95)
    fig.canvas.draw()
    assert len(fig.axes) == 4
    drawn = artists(fig)
    z = NormalDist().inv_cdf(0.975)
    for s in semantics.SEMANTICS:
        for key in keys:
            points, bars, curve = (drawn[f"{kind}:{s}:{key}"] for kind in ("points", "errorbars", "curve"))
            assert np.array_equal(points.get_ydata(), result.rates(s, key))
            assert np.allclose(points.get_xdata(), result.values, atol=0.2)  # dodged a little
            half = np.array([(seg[1][1] - seg[0][1]) / 2 for seg in bars.get_segments()])
            assert np.allclose(half, z * result.errors(s, key))
            cx = curve.get_xdata()
            assert set(result.values) <= set(cx.tolist())  # the curve passes through every simulated x
            assert np.allclose(curve.get_ydata(), [semantics.expected(
                s, **{**result.settings, parameter: (int(x) if parameter == "max_retries" else x)})[key] for x in cx])


def test_update_sweep_figure_refills_the_same_artists():
    first = sweep("loss", [0.1, 0.5], n_messages=2000, seed=1)
    fig = plots.sweep_figure(first, keys=["lost"])
    before = artists(fig)
    second = sweep("loss", [0.2, 0.4, 0.8], n_messages=2000, seed=2, ack_loss=0.5)
    assert plots.update_sweep_figure(fig, second) is fig
    after = artists(fig)
    assert all(after[g] is before[g] for g in before)  # no artist rebuilt: no flicker, no leak
    assert np.array_equal(after["points:exactly-once:lost"].get_ydata(), second.rates("exactly-once", "lost"))
    assert "ack loss 0.5" in fig.texts[0].get_text()  # the suptitle says what was held fixed


def test_sweep_figure_into_a_given_axes_and_errors():
    from matplotlib.figure import Figure

    result = sweep("loss", [0.1, 0.5], n_messages=500)
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.sweep_figure(result, keys=["duplicated"], ax=ax, title="dups") is fig
    assert ax.get_title() == "dups"
    with pytest.raises(ValueError, match="ax can hold one panel"):
        plots.sweep_figure(result, ax=ax)
    with pytest.raises(TypeError, match="result must be a Sweep"):
        plots.sweep_figure({"loss": [0.1]})
    with pytest.raises(ValueError, match="keys must be one of"):
        plots.sweep_figure(result, keys=["latency"])
    with pytest.raises(ValueError, match="semantics must be one of"):
        plots.sweep_figure(result, semantics=["best-effort"])
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        plots.sweep_figure(result, confidence=1.0)
    with pytest.raises(ValueError, match="made by sweep_figure"):
        plots.update_sweep_figure(Figure(), result)
    assert isinstance(result, Sweep)
