"""The course's simulator and an independent SimPy model of the same link give identical counts
for the same seed: both draw the same random numbers in the same order, so any difference in
protocol logic or event ordering would show."""

import sys
from pathlib import Path

import pytest

import semantics

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
simpy_model = pytest.importorskip("simpy_model")


@pytest.mark.parametrize("loss, ack_loss, max_retries, seed",
                         [(0.2, 0.1, 3, 0), (0.5, 0.5, 2, 1), (0.0, 0.9, 5, 2), (0.9, 0.0, 1, 3), (0.3, 0.3, 0, 4)])
def test_identical_counts(loss, ack_loss, max_retries, seed):
    ours = semantics.simulate("at-least-once", n_messages=3000, loss=loss, ack_loss=ack_loss,
                              max_retries=max_retries, seed=seed)
    theirs = simpy_model.at_least_once(3000, loss=loss, ack_loss=ack_loss, max_retries=max_retries, seed=seed)
    assert {k: getattr(ours, k) for k in theirs} == theirs
