"""The one fixed contract (DESIGN.md): the facade's names, types and promises."""

import subprocess
import sys

import pytest

import semantics


def test_names():
    assert semantics.SEMANTICS == ("at-most-once", "at-least-once", "exactly-once")
    assert isinstance(semantics.__version__, str) and semantics.__version__.count(".") == 2


@pytest.mark.parametrize("semantic", semantics.SEMANTICS)
def test_simulate_returns_integer_counts(semantic):
    r = semantics.simulate(semantic, n_messages=500, loss=0.3, ack_loss=0.2, max_retries=2, seed=5)
    for key in ("n_messages", "lost", "once", "duplicated", "effects", "attempts"):
        assert type(getattr(r, key)) is int, key
    assert r.n_messages == 500 and r.lost + r.once + r.duplicated == 500
    assert r.effects == sum(m.effects for m in r.messages())
    assert r.attempts <= 500 * 3


def test_at_most_once_always_sends_once():
    for retries in (0, 3, 50):
        r = semantics.simulate("at-most-once", n_messages=300, loss=0.5, ack_loss=0.5, max_retries=retries)
        assert r.attempts == 300 and r.duplicated == 0


def test_expected_keys():
    e = semantics.expected("exactly-once", loss=0.1)
    assert {"lost", "once", "duplicated", "effects", "attempts"} <= set(e)
    assert all(isinstance(v, float) for v in e.values())


def test_zero_messages():
    r = semantics.simulate("exactly-once", n_messages=0, loss=0.5)
    assert (r.lost, r.once, r.duplicated, r.effects, r.attempts) == (0, 0, 0, 0, 0)


def test_import_is_light_and_pictures_load_on_use():
    code = ("import sys, semantics; assert 'matplotlib' not in sys.modules and 'ipywidgets' not in sys.modules; "
            "semantics.sequence_diagram; assert 'matplotlib' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        semantics.simulat
