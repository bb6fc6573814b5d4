"""Hints every exercise shares: the rules of the game (state outside the nodes, code that raises or
runs away) and the durable store's copy semantics."""

from __future__ import annotations

from ..hints import EXCEPTION, IN_PLACE, RUNAWAY
from ..invariants import NODE_ISOLATION, RUN_COMPLETES

RUNAWAY_HINT = ("A handler that never returns, or a run that never ends: the problem above names the handler and "
                "your line. An endless loop in a handler (does its condition ever change?), or work scheduled "
                "forever: a timer re-armed after its message was acknowledged, or a sender that never hears an "
                "ack for a duplicate.")
EXCEPTION_HINT = ("Your code raised: the problem above names the handler, the arguments, your line and the "
                  "simulated time. Replay the counterexample (verdict.counterexample.replay()) and read the "
                  "trace up to that point.")
IN_PLACE_HINT = ("self.durable behaves like a real store: reading a value gives you a copy, and changing that copy "
                 "(.add, .append, item assignment) changes nothing durable. Write the new value back with "
                 "self.durable[key] = value, inside the atomic block with the effect.")

RULES = {
    NODE_ISOLATION: {
        None: ("Keep each node's state on the node: attributes set in on_start are volatile (a crash loses "
               "them), self.durable survives crashes. A class attribute (seen = set() in the class body) or a "
               "global variable is shared by every node and every run, and survives crashes for free, which no "
               "real process can do."),
    },
    RUN_COMPLETES: {EXCEPTION: EXCEPTION_HINT, RUNAWAY: RUNAWAY_HINT, None: RUNAWAY_HINT},
}


def with_rules(hints: dict) -> dict:
    """An exercise's hints, with the shared ones for what it does not say itself; a durable value
    changed in place gets the store's hint whatever broke."""
    out = {name: dict(table) for name, table in RULES.items()}
    for name, table in hints.items():
        out.setdefault(name, {}).update(table)
    for name, table in out.items():
        if name not in (NODE_ISOLATION, RUN_COMPLETES):
            table.setdefault(IN_PLACE, IN_PLACE_HINT)
    return out
