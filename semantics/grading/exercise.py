"""What an exercise is, for the grader: its guarantee, the invariants it implies, the scope of the
systematic search, the random scenarios, its partner classes and its hints (``Exercise``). Each
exercise of the ladder is one module of ``exercises``, built from this."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..sim.nodes import Node
from .explorer import Scope
from .hints import Hints
from .invariants import Invariant
from .scenarios import Scenario


@dataclass(frozen=True)
class Exercise:
    """One rung of the ladder.

    number, title, goal: what the learner reaches (the goal in words);
    invariants:  what must hold in every run, checked in this order (the first broken is reported);
    scope:       the systematic search (``explorer.Scope``): bases, the adversary's choices, who crashes;
    random:      seeded random scenarios at a larger scope, run after the search;
    hints:       {invariant: {cause or None: text, or a tuple of texts from a nudge to nearly the answer}}:
                 what a failed verdict shows (its first level) and ``hint(n, invariant, cause, level=k)``;
    guide:       the rung's own hints, from a nudge to nearly the answer, before any verdict:
                 ``hint(n)``, ``hint(n, level=2)``...;
    concepts:    the ideas the rung adds to the ladder, in the course's words (the instructor guide's
                 difficulty table, ``scripts/ladder.py``);
    partners:    {node name: class} the exercise gives and grades against, whatever the learner passes
                 (noted when it differs); ``exact_partners``: the names for which the learner must pass
                 that class or None (exercise 5's broker: a consumer is written against it);
    others:      {node name: class} more nodes in every run (``run(others=...)``);
    slots:       the nodes that ``check(n, first, second)``'s two classes play (("sender", "receiver"),
                 or ("c1", "store") for exercise 8, whose workers are given and whose store is written);
    learner:     the node names whose classes the learner writes;
    state_node, state_bound: the node whose state is measured after every handler, and its bound in bytes;
    horizon:     copies arrive within this time of their message's submission (random scenarios whose
                 jitter broke the promise are not held against the learner);
    needs_trace: the invariants read the trace (every run is traced: slower);
    needs_snapshots: the invariants read the run's state after every event (``Trial.snapshots``, a
                 ``semantics.sim.state.Snapshot`` each: each node's volatile and durable state; slower).
    """

    number: int
    title: str
    goal: str
    invariants: tuple[Invariant, ...]
    scope: Scope
    random: Callable[[], list[Scenario]]
    hints: Hints = field(default_factory=dict)
    guide: tuple[str, ...] = ()
    concepts: tuple[str, ...] = ()
    partners: Mapping[str, type[Node]] = field(default_factory=dict)
    exact_partners: tuple[str, ...] = ()
    others: Mapping[str, type[Node]] = field(default_factory=dict)
    slots: tuple[str, str] = ("sender", "receiver")
    learner: tuple[str, ...] = ("sender", "receiver")
    state_node: str = "receiver"
    state_bound: int | None = None
    horizon: float | None = None
    needs_trace: bool = False
    needs_snapshots: bool = False

    @property
    def key(self) -> str:
        return f"ex{self.number}"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.invariants)

    def hint(self, invariant: str) -> str:
        """The default hint of ``invariant`` (its first level, for any cause)."""
        texts = self.hints.get(invariant, {}).get(None, "")
        return texts if isinstance(texts, str) else texts[0]
