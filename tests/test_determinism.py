"""Same inputs and seed: the same trace, in this process and in others, under any PYTHONHASHSEED."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import semantics

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import hashlib, semantics
r = semantics.simulate("exactly-once", n_messages=60, loss=0.3, ack_loss=0.2, duplicate=0.1, jitter=1.5,
                       crash_prob=0.05, seed=11, trace=True)
print(hashlib.sha256(repr(r.trace).encode()).hexdigest())
"""


def digest(report):
    return hashlib.sha256(repr(report.trace).encode()).hexdigest()


def traced(seed):
    return semantics.simulate("exactly-once", n_messages=60, loss=0.3, ack_loss=0.2, duplicate=0.1, jitter=1.5,
                              crash_prob=0.05, seed=seed, trace=True)


def test_same_seed_same_trace():
    a, b = traced(11), traced(11)
    assert a.trace == b.trace and len(a.trace) > 100
    assert a == b


def test_different_seeds_differ():
    assert traced(11).trace != traced(12).trace


def test_same_trace_in_other_processes_and_hash_seeds():
    expected = digest(traced(11))
    for hash_seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


def test_tracing_does_not_change_the_outcome():
    args = dict(n_messages=500, loss=0.2, ack_loss=0.2, seed=4)
    for semantic in semantics.SEMANTICS:
        fast = semantics.simulate(semantic, **args)
        traced_run = semantics.simulate(semantic, trace=True, **args)
        assert (fast.lost, fast.once, fast.duplicated, fast.effects, fast.attempts) == \
               (traced_run.lost, traced_run.once, traced_run.duplicated, traced_run.effects, traced_run.attempts)
