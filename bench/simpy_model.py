"""The facade's link (stop-and-wait, at-least-once with retries) written with SimPy: the
reference the benchmark compares the course's event-driven simulator against."""

from __future__ import annotations

import random

import simpy


def at_least_once(n_messages: int, *, loss: float, ack_loss: float, max_retries: int, seed: int = 0,
                  delay: float = 1.0, timeout: float = 3.0) -> dict[str, int]:
    env = simpy.Environment()
    rng = random.Random(seed)
    effects = [0] * n_messages
    counts = {"attempts": 0}

    def arrives(p: float) -> bool:
        # draw only when the outcome is uncertain (as the course's network does), so that both
        # models consume the same random numbers and can be compared run for run
        return p == 0.0 or (p < 1.0 and rng.random() >= p)

    def transmission(i: int, acked: simpy.Event):
        yield env.timeout(delay)                 # the data message crosses the network
        effects[i] += 1                          # the receiver applies it, then acks
        if arrives(ack_loss):
            yield env.timeout(delay)             # the ack crosses back
            if not acked.triggered:
                acked.succeed()

    def sender():
        for i in range(n_messages):
            acked = env.event()
            for _ in range(max_retries + 1):
                counts["attempts"] += 1
                if arrives(loss):
                    env.process(transmission(i, acked))
                yield acked | env.timeout(timeout)
                if acked.triggered:
                    break

    env.process(sender())
    env.run()
    lost = effects.count(0)
    once = effects.count(1)
    return {"n_messages": n_messages, "lost": lost, "once": once, "duplicated": n_messages - lost - once,
            "effects": sum(effects), "attempts": counts["attempts"]}
