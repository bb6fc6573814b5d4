"""semantics: a seeded, deterministic simulator for teaching message-delivery guarantees.

The facade (stable names, relied on by the notebooks and the checks)::

    semantics.SEMANTICS        ("at-most-once", "at-least-once", "exactly-once")
    semantics.simulate(...)    run a reference protocol over a lossy link, count effects
    semantics.expected(...)    closed-form expectations for the same model

To write a protocol, subclass ``semantics.Node`` (see ``semantics.sim.nodes``) and call
``semantics.run(MySender, MyReceiver, n_messages=...)``.
"""

from __future__ import annotations

from .sim.analysis import expected, moments, outcomes
from .sim.checker import INVARIANTS, SEMANTICS, Event, MessageOutcome, Report, Violation
from .facade import simulate
from .sim.faults import Faults, crash_at_point
from .sim.harness import run
from .sim.network import Link
from .sim.nodes import Node, Payload

__version__ = "0.1.0"

# Pictures and panels load matplotlib and ipywidgets: imported on first use, so that
# `import semantics` stays fast and works without a display.
_LAZY = {
    "sequence_diagram": "views.plots", "sequence_diagrams": "views.plots", "outcome_bars": "views.plots",
    "sweep_figure": "views.plots", "sweep": "sim.sweeps", "simulate_fast": "sim.sweeps",
    "OutcomePanel": "views.widgets", "SweepPanel": "views.widgets", "DiagramPanel": "views.widgets",
    "CrashPointPanel": "views.widgets", "LeasePanel": "views.widgets", "step_through": "views.stepper",
}
# (quiz is not re-exported: the name is its module's, so use `from semantics.views.quiz import quiz`)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'semantics' has no attribute {name!r}")

__all__ = [
    "__version__", "SEMANTICS", "simulate", "expected", "moments", "outcomes", "run",
    "Node", "Payload", "Link", "Faults", "crash_at_point", "Report", "Event", "MessageOutcome",
    "Violation", "INVARIANTS", *_LAZY,
]
