"""The closed forms of DESIGN.md against the simulator (99.9% confidence intervals), and against an
independent exact computation, for all three guarantees, edges included."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import semantics

CASES = [  # (loss, ack_loss, max_retries)
    (0.0, 0.0, 3), (1.0, 0.0, 3), (0.0, 1.0, 3), (1.0, 1.0, 2), (0.2, 0.1, 3),
    (0.5, 0.5, 0), (0.3, 0.6, 5), (0.05, 0.3, 1), (0.7, 0.0, 4),
]
KEYS = ("lost", "once", "duplicated", "effects", "attempts", "acked", "indefinite", "indefinite_applied")
N = 20_000


@pytest.mark.parametrize("semantic", semantics.SEMANTICS)
@pytest.mark.parametrize("loss, ack_loss, max_retries", CASES)
def test_simulation_agrees_with_closed_form(semantic, loss, ack_loss, max_retries):
    report = semantics.simulate(semantic, n_messages=N, loss=loss, ack_loss=ack_loss, max_retries=max_retries,
                                seed=7)
    assert report.lost + report.once + report.duplicated == report.n_messages == N
    expected = semantics.expected(semantic, loss=loss, ack_loss=ack_loss, max_retries=max_retries)
    exact = semantics.moments(semantic, loss=loss, ack_loss=ack_loss, max_retries=max_retries)
    for key in KEYS:
        mean, variance = exact[key]
        assert math.isclose(expected[key], mean, rel_tol=1e-9, abs_tol=1e-12), key
        low, high = semantics.sim.analysis.confidence_interval(mean, variance, N, level=0.999)
        observed = getattr(report, key) / N
        assert low - 1e-12 <= observed <= high + 1e-12, (
            f"{semantic} {key}: simulated {observed:.5f}, closed form {mean:.5f}, 99.9% CI [{low:.5f}, {high:.5f}]")


@settings(max_examples=200, deadline=None)
@given(semantic=st.sampled_from(semantics.SEMANTICS), p=st.floats(0, 1), q=st.floats(0, 1),
       r=st.integers(0, 12))
def test_closed_forms_equal_exact_distribution(semantic, p, q, r):
    expected = semantics.expected(semantic, loss=p, ack_loss=q, max_retries=r)
    exact = semantics.moments(semantic, loss=p, ack_loss=q, max_retries=r)
    for key in KEYS:
        assert math.isclose(expected[key], exact[key][0], rel_tol=1e-9, abs_tol=1e-9), key
    assert math.isclose(expected["lost"] + expected["once"] + expected["duplicated"], 1.0, abs_tol=1e-12)
    assert sum(o.probability for o in semantics.outcomes(semantic, loss=p, ack_loss=q, max_retries=r)) \
        == pytest.approx(1.0, abs=1e-12)


def test_design_md_values():
    """Spot values computed by hand from DESIGN.md's formulas."""
    e = semantics.expected("at-least-once", loss=0.2, ack_loss=0.1, max_retries=3)
    s = 0.8 * 0.9
    assert e["attempts"] == pytest.approx((1 - (1 - s) ** 4) / s)
    assert e["lost"] == pytest.approx(0.2 ** 4)
    assert e["once"] == pytest.approx(0.9 * (1 - 0.2 ** 4) + 4 * 0.1 * 0.8 * 0.2 ** 3)
    assert e["indefinite_applied"] == pytest.approx((1 - s) ** 4 - 0.2 ** 4)
    assert semantics.expected("at-most-once", loss=0.25, max_retries=9)["attempts"] == 1.0
    assert semantics.expected("exactly-once", loss=0.5, ack_loss=0.9, max_retries=1)["duplicated"] == 0.0


def test_agreement_verdicts():
    from semantics.sim.analysis import agreement
    inside = agreement("lost", 0.2, 0.201, 0.16, 10_000)
    outside = agreement("lost", 0.2, 0.25, 0.16, 10_000)
    assert inside.ok and not outside.ok
    assert str(inside).endswith("agrees") and str(outside).endswith("DISAGREES")
    assert "99.9% interval" in str(inside)
    above_one = agreement("attempts", 1.38, 1.39, 0.5, 10_000)
    assert above_one.ok and above_one.high > 1.38
    assert agreement("p", 0.999, 0.999, 0.001, 100, probability=True).high == 1.0
    exact = agreement("lost", 1.0, 1.0, 0.0, 50)
    assert exact.ok and (exact.low, exact.high) == (1.0, 1.0)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        agreement("lost", 0.2, 0.2, 0.1, 0)
