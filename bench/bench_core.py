"""Throughput of the event-driven simulator (tracing off) for each guarantee, and of the same
link written with SimPy, run side by side in one process.

``simulate`` runs the reference protocols inlined into its event loop when nothing can crash
(semantics/inlined.py); any other protocol runs through the Node API (``semantics.run``), which is
measured too, with the very classes of semantics.sim.protocols, so that both figures are on record.
"""

from __future__ import annotations

import statistics
import time

import semantics
from semantics import Link, run
from semantics.sim.protocols import REFERENCE, RetryingSender
from simpy_model import at_least_once as simpy_at_least_once

MODEL = dict(loss=0.2, ack_loss=0.1, max_retries=3)
N = 100_000
REPEATS = 5
TARGET_RATIO, AIM_RATIO = 5.0, 10.0


def node_api(semantic: str, seed: int):
    """The reference protocol of ``semantic`` as any learner's protocol runs: through the Node API."""
    sender, receiver = REFERENCE[semantic]
    if sender is RetryingSender:
        def sender():
            return RetryingSender(timeout=3.0, max_retries=MODEL["max_retries"])
    return run(sender, receiver, n_messages=N, link=Link(loss=MODEL["loss"], ack_loss=MODEL["ack_loss"]),
               seed=seed, max_events=10**8, wall_clock=None)


def cpu_seconds(fn, seed: int) -> float:
    start = time.process_time()
    fn(seed)
    return time.process_time() - start


def main() -> None:
    print(f"simulator throughput: {N:,} messages, loss {MODEL['loss']}, ack loss {MODEL['ack_loss']}, "
          f"{MODEL['max_retries']} retries, median of {REPEATS}, CPU time")
    contenders = {f"simulate {s}": (lambda seed, s=s: semantics.simulate(s, n_messages=N, seed=seed, **MODEL))
                  for s in semantics.SEMANTICS}
    contenders.update({f"Node API {s}": (lambda seed, s=s: node_api(s, seed)) for s in semantics.SEMANTICS})
    contenders["SimPy model"] = lambda seed: simpy_at_least_once(N, seed=seed, **MODEL)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for seed in range(REPEATS):  # interleaved, so that a slow spell of the machine hits every contender
        for name, fn in contenders.items():
            times[name].append(cpu_seconds(fn, seed))
    rate = {name: N / statistics.median(t) for name, t in times.items()}
    simpy = rate["SimPy model"]
    for name, r in rate.items():
        print(f"  {name:<26} {r:>10,.0f} messages/s   {r / simpy:5.2f}x SimPy")
    ratio = rate["simulate at-least-once"] / simpy
    general = rate["Node API at-least-once"] / simpy
    print(f"  ratio at-least-once / SimPy: simulate {ratio:.2f}x, Node API {general:.2f}x "
          f"(target {TARGET_RATIO:g}x, aim {AIM_RATIO:g}x)")
    started = time.perf_counter()
    for _ in range(20):
        semantics.simulate("at-least-once", n_messages=1000, seed=1, trace=True, **MODEL)
    print(f"  traced at-least-once: {20 * 1000 / (time.perf_counter() - started):,.0f} messages/s")


if __name__ == "__main__":
    main()
