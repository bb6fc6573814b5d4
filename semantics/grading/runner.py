"""One graded run: the exercise's nodes (the learner's classes and the partner classes it gives),
run under counted budgets, measured and watched, and judged by the exercise's invariants.

Budgets, never the wall clock, bound a run (``semantics.sim.budgets``): so the run, and the verdict
built from it, is the same on an idle machine and a busy one.
"""

from __future__ import annotations

import linecache
import random
import traceback
import types
from collections.abc import Callable, Mapping
from typing import Any

from ..sim.budgets import Budgets, Runaway, is_protocol_file
from ..sim.choices import Oracle
from ..sim.harness import _STEPS, run
from ..sim.nodes import Node
from ..sim.state import encode, size
from .invariants import Finding, Trial, first_broken
from .outside import Watch
from .scenarios import Scenario

#: Per handler call: 10,000 steps, 100,000 lines of the protocol's code; per run: 5,000,000 lines.
BUDGETS = Budgets(steps=10_000, lines=100_000, run_lines=5_000_000)


def max_events(scenario: Scenario) -> int:
    """The event budget of a run: enough for every correct protocol of the ladder (an outage of
    1,000 time units retried every 0.5 takes about 2,000 events), not for one that never stops."""
    return (5_000 if scenario.choices or scenario.systematic else 20_000) + 600 * scenario.n_messages


def _volatile(node: Node) -> dict[str, Any]:
    return {k: _held(v, node) for k, v in getattr(node, "__dict__", {}).items()
            if k != "_host" and not (k in _STEPS and callable(v))}


def _held(value: Any, node: Node, active: frozenset = frozenset()) -> Any:
    """What a value on the node holds, including what the canonical text cannot see: the variables a
    closure keeps (``self.check = make_checker()`` over a set) and the local variables of a suspended
    generator or coroutine (``self.tracker = tracker()``). State there is the node's state as much as an
    attribute is, and is measured as such (the node itself, which a closure may keep, is left out)."""
    if id(value) in active:  # a closure that keeps itself (a recursive helper)
        return "..."
    active = active | {id(value)}
    if isinstance(value, types.FunctionType) and value.__closure__:
        held = []
        for cell in value.__closure__:
            try:
                content = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if content is not node:
                held.append(_held(content, node, active))
        return {"closure": tuple(held)}
    frame = getattr(value, "gi_frame", None) or getattr(value, "cr_frame", None) or getattr(value, "ag_frame", None)
    if isinstance(frame, types.FrameType):
        return {"frame": {k: _held(v, node, active) for k, v in frame.f_locals.items() if v is not node}}
    if isinstance(value, types.MethodType) and value.__self__ is not node:
        return {"method of": value.__self__}
    return value


def state_size(node: Node) -> int:
    """The size in bytes of a node's state: its volatile attributes and its durable store, each as
    the canonical text of ``semantics.sim.state.encode`` (``{'seen':{1:2.0,2:4.0}}``), in UTF-8."""
    if not isinstance(node, Node):
        raise TypeError(f"node must be a semantics.Node, got {node!r}")
    host = node.__dict__.get("_host")
    durable = getattr(host, "durable", None)
    return size(_volatile(node)) + (size(durable._data) if durable is not None else 0)


def _detail(node: Node, host: Any) -> str:
    """The largest parts of a node's state, in words."""
    parts = [(size(v), f"volatile self.{k}") for k, v in _volatile(node).items()]
    if host is not None:
        parts += [(size(k) + size(v), f"durable {encode(k)[:40]}") for k, v in host.durable._data.items()]
    parts.sort(reverse=True)
    shown = ", ".join(f"{what} {n:,} bytes" for n, what in parts[:3])
    more = f", and {len(parts) - 3} more entries" if len(parts) > 3 else ""
    return f"{shown}{more}" if parts else "no state"


class _Meter:
    """The largest state a node had after any of its handlers, up to the first time it exceeds the
    bound (from then on the run has broken the invariant: measuring more would only cost time)."""

    def __init__(self, bound: int | None = None) -> None:
        self.largest, self.at, self.detail = 0, 0.0, ""
        self.bound = bound
        self.sizes: dict = {}  # durable key -> (the stored value, its size): a write stores a new value

    def see(self, node: Node, host: Any) -> None:
        if self.bound is not None and self.largest > self.bound:
            return  # (after a crash a handler can end when the run was already halted)
        volatile = size(_volatile(node)) if host.up else 0  # after a crash, nothing volatile is left
        data = host.durable._data
        n = volatile + 2 - (1 if data else 0)  # '{}' around the durable entries, one ',' fewer than entries
        sizes = self.sizes
        for key, value in data.items():
            known = sizes.get(key)
            if known is None or known[0] is not value:
                known = sizes[key] = (value, size(key) + size(value) + 2)  # key, ':' and ','
            n += known[1]
        if len(sizes) > 2 * len(data) + 16:  # forget deleted keys
            self.sizes = {k: v for k, v in sizes.items() if k in data}
        if n > self.largest:
            self.largest, self.at = n, host.engine.now
            self.node, self.host = node, host
            if self.bound is not None and n > self.bound:  # seen enough: the rest of the run changes nothing
                self.finish()
                host.run.halt(f"its state took {n:,} bytes, more than the bound of {self.bound:,}")

    def finish(self) -> None:
        if self.largest and hasattr(self, "node"):
            self.detail = _detail(self.node, self.host)
            del self.node, self.host


def _observed(cls: type[Node], after: Callable[[Node, Any, str], None]) -> type[Node]:
    """A subclass of ``cls`` that calls ``after(node, host, handler name)`` after each of its handlers."""

    def wrap(name: str) -> Callable:
        def handler(self, *args):
            host = self._host
            try:
                return getattr(super(measured, self), name)(*args)
            finally:
                after(self, host, name)
        handler.__name__ = name
        return handler

    names = ("on_start", "on_send", "on_message", "on_ack", "on_timer")
    measured = type(cls.__name__, (cls,), {n: wrap(n) for n in names})
    measured.__qualname__, measured.__module__ = cls.__qualname__, cls.__module__
    return measured


def _problem(exc: BaseException) -> str:
    """An exception raised while building a node, with the protocol's own line."""
    if isinstance(exc, Runaway):
        return ("Runaway: building a node ran more than 100,000 lines of your code (an endless loop in "
                "__init__?)")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if is_protocol_file(f.filename)]
    where = ""
    if frames:
        line = frames[-1].line or linecache.getline(frames[-1].filename, frames[-1].lineno).strip()
        where = f" (line {frames[-1].lineno}: {line})"
    return f"{type(exc).__name__}: {exc}{where}"


class Runner:
    """Runs scenarios of one exercise for one set of node classes, and judges each run."""

    def __init__(self, exercise: Any, classes: Mapping[str, type[Node]]) -> None:
        self.exercise = exercise
        self.classes = {**exercise.others, **classes, **exercise.partners}
        self.nodes: dict[str, Node] = {}
        self.meter = _Meter()
        self.watch = Watch([c for n, c in self.classes.items() if n not in exercise.partners])
        self.current: Scenario | None = None   # the scenario under way (read by the isolation's watchdog)
        self.runs = 0
        self.on_run: Callable[[], None] | None = None  # called as each run starts (the isolation counts them)
        self.factories = {name: self._factory(name, cls) for name, cls in self.classes.items()}

    def _factory(self, name: str, cls: type[Node]) -> Callable[[], Node]:
        measure = self.exercise.state_bound is not None and name == self.exercise.state_node
        watch = self.watch.needed and name not in self.exercise.partners
        if measure or watch:
            def after(node: Node, host: Any, handler: str) -> None:
                if measure:
                    self.meter.see(node, host)
                if watch:
                    self.watch.after_handler(f"{cls.__name__}.{handler} at t={host.engine.now:g}")
            cls = _observed(cls, after)
        nodes = self.nodes

        def build() -> Node:
            node = cls()
            nodes[name] = node
            return node
        return build

    def run(self, scenario: Scenario, oracle: Oracle | None = None, *, trace: bool = False,
            simulator: bool | None = None) -> Trial:
        """One run of ``scenario`` (with the search's ``oracle``, if any), as a Trial. ``simulator``:
        compare the simulator's modules with their fingerprint after this run (see ``outside.Watch``)."""
        self.current = scenario
        self.runs += 1
        if self.on_run is not None:
            self.on_run()
        self.nodes.clear()
        self.meter = _Meter(self.exercise.state_bound)
        kwargs = scenario.kwargs()
        if oracle is not None:
            kwargs["choices"] = oracle
        factories = dict(self.factories)
        sender, receiver = factories.pop("sender"), factories.pop("receiver")
        snapshots: list = []
        if self.exercise.needs_snapshots:
            kwargs["observe"] = snapshots.append
        # A protocol may draw random numbers (a jittered backoff): the module's generator starts every run
        # from the scenario's seed, so that a run, and the verdict, is the same in every process; the caller's
        # generator is left as it was.
        outer = random.getstate()
        random.seed(scenario.seed)
        try:
            report = run(sender, receiver, others=factories or None, trace=trace or self.exercise.needs_trace,
                         max_events=max_events(scenario), wall_clock=None, budgets=BUDGETS, **kwargs)
            problem = None
        except (Exception, SystemExit, Runaway) as exc:  # raised outside a handler: building a node
            report, problem = None, _problem(exc)
        finally:
            random.setstate(outer)
        self.meter.finish()
        halted = "bounded state" if report is not None and report.status == "halted" else None
        return Trial(scenario, report, problem, dict(self.nodes), self.meter.largest, self.meter.at,
                     self.meter.detail, self.watch.changes(simulator=simulator), halted, snapshots)

    def judge(self, trial: Trial) -> Finding | None:
        """The first invariant this run broke, if the exercise's promises held in it."""
        finding = first_broken(self.exercise.invariants, trial)
        if finding is not None and not self.in_contract(trial.scenario, finding):
            return None
        return finding

    def in_contract(self, scenario: Scenario, finding: Finding) -> bool:
        """Exercise 5 promises a horizon: a broken invariant is held against the learner only if
        every copy of the message that broke it arrived within the horizon of its submission (the
        random jitter can exceed it; the systematic search never does). Only that message's copies
        matter: with a window, a late copy can only fool the receiver about its own message."""
        horizon = self.exercise.horizon
        if horizon is None or finding.logical is None or scenario.choices or not scenario.link.jitter:
            return True
        report = self.run(scenario, trace=True).report
        if report is None or report.trace is None:
            return True
        submitted = None
        for e in report.trace:
            if e.logical != finding.logical:
                continue
            if e.kind == "submit":
                submitted = e.time
            elif (e.kind in ("receive", "down") and e.message == "data" and submitted is not None
                  and e.time - submitted > horizon):
                return False
        return True
