"""Throughput of the event-driven simulator (tracing off) for each guarantee, and of the same
link written with SimPy, run side by side in one process."""

from __future__ import annotations

import statistics
import time

import semantics
from simpy_model import at_least_once as simpy_at_least_once

MODEL = dict(loss=0.2, ack_loss=0.1, max_retries=3)
N = 100_000
REPEATS = 5
TARGET_RATIO, AIM_RATIO = 5.0, 10.0


def rate(fn) -> float:
    """Median logical messages per second of CPU time over REPEATS runs."""
    rates = []
    for seed in range(REPEATS):
        start = time.process_time()
        fn(seed)
        rates.append(N / (time.process_time() - start))
    return statistics.median(rates)


def main() -> None:
    print(f"simulator throughput: {N:,} messages, loss {MODEL['loss']}, ack loss {MODEL['ack_loss']}, "
          f"{MODEL['max_retries']} retries, median of {REPEATS}, CPU time")
    ours = {}
    for semantic in semantics.SEMANTICS:
        ours[semantic] = rate(lambda seed: semantics.simulate(semantic, n_messages=N, seed=seed, **MODEL))
        print(f"  {semantic:<14} {ours[semantic]:>12,.0f} messages/s")
    theirs = rate(lambda seed: simpy_at_least_once(N, seed=seed, **MODEL))
    ratio = ours["at-least-once"] / theirs
    print(f"  SimPy model    {theirs:>12,.0f} messages/s (at-least-once)")
    print(f"  ratio at-least-once / SimPy: {ratio:.2f}x (target {TARGET_RATIO:g}x, aim {AIM_RATIO:g}x)")
    started = time.perf_counter()
    for _ in range(20):
        semantics.simulate("at-least-once", n_messages=1000, seed=1, trace=True, **MODEL)
    print(f"  traced at-least-once: {20 * 1000 / (time.perf_counter() - started):,.0f} messages/s")


if __name__ == "__main__":
    main()
