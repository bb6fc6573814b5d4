"""A run: the application, two (or more) nodes, the network between them and the faults,
executed on the engine, with the checker counting what happened to every message.

``run(sender, receiver, n_messages=...)`` is the one entry point; ``simulate`` (the facade)
calls it with the reference protocols. Protocol code is untrusted: an exception, a run that
keeps scheduling events forever, or a handler that never returns ends the run with a report
(``Report.status`` and ``Report.problem``) instead of an exception or a hung kernel. With
``budgets`` the limits are counted (steps and lines of protocol code per handler call), so that a
run stops at the same point on any machine; with ``choices`` an oracle decides every
nondeterministic point (``semantics.sim.choices``). Neither costs anything when absent: the short
paths (``quick_steps``, the inlined reference protocols) run only without them.
"""

from __future__ import annotations

import itertools
import math
from heapq import heappush
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from .budgets import (HALTED, LINE_BUDGET, STEP_BUDGET, Budgets, LineCounter, Runaway, is_protocol_file,
                      protocol_line)
from .checker import Event, Report, RunDetails
from .choices import DELAY, DELIVER, DUPLICATE, LATE, LOSE, OUTAGE, Oracle, Replay
from .engine import Engine, EventBudgetExceeded
from .faults import NO_FAULTS, Faults
from .network import DELIVERED, LOST, PARTITIONED, Link
from .nodes import DEAD, Crashed, Durable, Node, Payload, _crashed_step, freeze
from .state import InFlight, NodeState, Snapshot, copied, encode
from ..validation import check_int, check_number

SENDER, RECEIVER = "sender", "receiver"
DATA, ACK = "data", "ack"
NodeFactory = Callable[[], Node]


class _Stop(Exception):
    """Ends a run early: protocol code raised."""


class _WallClock(BaseException):
    """Raised by the alarm when protocol code runs too long in real time."""




class Host:
    """Runs one node: its current incarnation, timers, durable state and crash points."""

    __slots__ = ("run", "engine", "name", "factory", "node", "up", "incarnation", "timers",
                 "durable", "pending_effects", "peer", "points", "strikes", "crash_at", "backlog",
                 "handler", "current", "point_labels", "watch", "mortal", "ledger", "entry_points")

    def __init__(self, run: "_Run", name: str, factory: NodeFactory) -> None:
        self.run = run
        self.engine = run.engine
        self.name = name
        self.factory = factory
        self.node: Node | None = None
        self.up = False
        self.incarnation = 0
        self.timers: dict = {}
        self.durable = Durable(self)
        self.pending_effects: list | None = None
        self.ledger = 0  # effects this node has committed (its database's ledger: survives crashes)
        self.peer: str | None = None
        self.points = 0
        self.strikes = run.faults.strikes(name)
        self.crash_at = run.faults.crash_at.get(name, frozenset())
        self.backlog: list[int] = []
        self.handler = ""
        self.current: Hashable = None
        self.point_labels: list[str] | None = [] if run.trace is not None else None
        self.entry_points = 0  # points when the current handler call started (the step budget)
        # slow path at crash points: faults, labels, a choice oracle or budgets to count
        self.watch = bool(self.strikes or self.point_labels is not None or run.oracle is not None
                          or run.budgets is not None)
        self.mortal = self.watch or name in run.faults.crash_times     # may crash, or is traced

    # -- crash points ----------------------------------------------------------------------
    def point(self, what: str, key: Any) -> None:
        """Pass a crash point: count it and, if faults or labels are on, see whether to crash."""
        self.points += 1
        if self.watch:
            self.watch_point(what, key)

    def watch_point(self, what: str, key: Any) -> None:
        k = self.points - 1
        run = self.run
        if self.point_labels is not None:
            if type(self.handler) is tuple:  # written out once per handler call, when first needed
                self.handler = _handler(self.handler)
            self.point_labels.append(_label(self.handler, what, key))
        if run.budgets is not None and self.points - self.entry_points > run.budgets.steps:
            run.trip(STEP_BUDGET, None)
        if run.oracle is not None:
            index = run.decisions
            run.decisions = index + 1
            if run.oracle.crash(index, run.engine.now, self.name) and self.up:
                run.crash(self, f"crash point {k}: {_label(self.handler, what, key)}")
                raise Crashed()
        if self.strikes and (k in self.crash_at or self._random_crash()):
            run.crash(self, f"crash point {k}: {_label(self.handler, what, key)}")
            raise Crashed()

    def _random_crash(self) -> bool:
        """Draw a random crash at this point (crash_prob), within the run's max_crashes."""
        run = self.run
        faults = run.faults
        if not (faults.crash_prob and self.name in faults.nodes):
            return False
        if faults.max_crashes is not None and run.random_crashes >= faults.max_crashes:
            return False
        if run.engine.rng.random() >= faults.crash_prob:
            return False
        run.random_crashes += 1
        return True

    def check_awake(self) -> None:
        if not self.up:
            raise Crashed()

    # -- steps (called through Node) -------------------------------------------------------
    def send(self, to: str, msg_id: Hashable, body: Any) -> None:
        if not self.up:
            raise Crashed()
        run = self.run
        dst = run.hosts.get(to)
        if dst is None:
            raise ValueError(f"send(to={to!r}): no node named {to!r}; nodes are {', '.join(map(repr, run.hosts))}")
        logical = body.logical if type(body) is Payload else None
        if logical is not None:
            run.logical_of[msg_id] = logical  # so that an ack of msg_id, from any node, names its message
        if self is run.submit_host:
            if logical is not None:
                run.attempts[logical] += 1
            else:
                run.other_attempts += 1
        if run.fast:
            p = run.link.loss
            if p == 0.0 or (p < 1.0 and run.random() >= p):
                heappush(run.queue, (self.engine.now + run.delay, next(run.order), run.arrive_data,
                                     (self.name, dst, msg_id, body, logical, 0)))
        else:
            run.transmit(self, dst, DATA, msg_id, body, logical)
        self.points += 1
        if self.watch:
            self.watch_point("send", msg_id)

    def ack(self, msg_id: Hashable, to: str | None = None) -> None:
        if not self.up:
            raise Crashed()
        run = self.run
        target = to if to is not None else self.peer
        if target is None:
            raise ValueError("ack(msg_id) outside on_message needs to=<node name>")
        dst = run.hosts.get(target)
        if dst is None:
            raise ValueError(f"ack(to={target!r}): no node named {target!r}")
        if run.fast:
            p = run.link.ack_loss
            if p == 0.0 or (p < 1.0 and run.random() >= p):
                heappush(run.queue, (self.engine.now + run.delay, next(run.order), run.arrive_ack,
                                     (self.name, dst, msg_id, run.logical_of.get(msg_id), 0)))
        else:
            logical = run.logical_of.get(msg_id)
            if logical is not None and self is not run.submit_host:
                run.acks_sent[logical] += 1
            run.transmit(self, dst, ACK, msg_id, None, logical)
        self.points += 1
        if self.watch:
            self.watch_point("ack", msg_id)

    def set_timer(self, key: Hashable, after: float) -> None:
        if not self.up:
            raise Crashed()
        if type(after) is not float:
            after = check_number("set_timer(after)", after, low=0.0, low_open=True)
        elif not after > 0 or after == math.inf:
            check_number("set_timer(after)", after, low=0.0, low_open=True)
        run = self.run
        token = next(run.tokens)
        self.timers[key] = token
        if run.trace is not None:  # which message the timer is about: its key, or the message being handled
            logical_of = run.logical_of
            run.timer_logical[token] = logical_of.get(key, logical_of.get(self.current) if _hashable(self.current)
                                                      else None)
        heappush(run.queue, (self.engine.now + after, next(run.order), run.fire_timer, (self, key, token)))
        self.points += 1
        if self.watch:
            self.watch_point("set_timer", key)

    def cancel_timer(self, key: Hashable) -> None:
        if not self.up:
            raise Crashed()
        self.timers.pop(key, None)
        self.points += 1
        if self.watch:
            self.watch_point("cancel_timer", key)

    def apply(self, body: Payload) -> int:
        if not self.up:
            raise Crashed()
        if type(body) is not Payload:
            raise TypeError(f"apply(body) takes the body of a message the application sent "
                            f"(a Payload), got {body!r} of type {type(body).__name__}")
        if self.pending_effects is not None:
            self.pending_effects.append(body)
            receipt = self.ledger + len(self.pending_effects)
        elif self.run.trace is None:
            self.run.effects[body.logical] += 1
            self.ledger = receipt = self.ledger + 1
        else:
            receipt = self.record_effect(body)
        self.points += 1
        if self.watch:
            self.watch_point("apply", body)
        return receipt

    def record_effect(self, body: Payload) -> int:
        """Count one committed effect; its receipt is its position in this node's ledger."""
        run = self.run
        run.effects[body.logical] += 1
        self.ledger = receipt = self.ledger + 1
        if run.trace is not None:
            run.trace.append(Event(self.engine.now, self.name, "effect", self.current, body.logical,
                                   text=repr(body.content), receipt=receipt))
        return receipt

    def rolled_back(self, n_effects: int, exc_type: type) -> None:
        if self.run.trace is not None:
            why = "crash" if exc_type is Crashed else exc_type.__name__
            self.run.trace.append(Event(self.engine.now, self.name, "rollback",
                                        text=f"atomic block rolled back ({why}): {n_effects} effect(s) undone"))

    def note(self, text: str) -> None:
        if self.run.trace is not None:
            self.run.trace.append(Event(self.engine.now, self.name, "note", text=str(text)))


def _handler(handler: tuple) -> str:
    method, args = handler
    return f"{method}({', '.join(map(_show, args))})"


def _label(handler: Any, what: str, key: Any) -> str:
    if isinstance(handler, tuple):
        handler = _handler(handler)
    if what == "enter":
        return f"on entering {handler}"
    if key is None:
        return f"after {what} in {handler}"
    try:
        return f"after {what}({key!r}) in {handler}"
    except Exception:  # a protocol's key with a broken repr
        return f"after {what}({_show(key)}) in {handler}"


class _Run:
    """The state of one run. Built and executed by ``run``."""

    def __init__(self, nodes: dict[str, NodeFactory], *, submit_to: str, n_messages: int, link: Link,
                 links: dict[frozenset, Link],
                 faults: Faults, seed: int, interval: float | None, contents: Sequence[Any],
                 trace: bool, max_events: int, observe: Callable[[Snapshot], None] | None = None,
                 oracle: Oracle | None = None, budgets: Budgets | None = None) -> None:
        self.engine = Engine(seed, max_events)
        self.observe = observe
        self.oracle = oracle        # decides the nondeterministic points (see ``choices``)
        self.decisions = 0          # decision points so far
        self.budgets = budgets      # counted limits on protocol code (see ``budgets``)
        self.lines = LineCounter(budgets, self.trip) if budgets is not None else None
        self.tripped: tuple | None = None
        self.trip_trace = 0
        self.calls = 0              # handler calls so far (guarded runs)
        self.calling: tuple | None = None  # the handler call under way: (node, method, args)
        self.outage_until = -1.0
        self.held_copies: dict[int, tuple] = {}
        self.late_copies: list[tuple] = []
        self.link = link
        self.links = links  # per pair of nodes, overriding ``link``
        self.faults = faults
        self.seed = seed
        self.n = n_messages
        self.interval = interval
        self.contents = contents
        self.trace: list[Event] | None = [] if trace else None
        self.ids = list(map("m{}".format, range(1, n_messages + 1)))
        self.attempts = [0] * n_messages
        self.deliveries = [0] * n_messages
        self.handled = [0] * n_messages
        self.effects = [0] * n_messages
        self.acked = [False] * n_messages
        self.acks_sent = [0] * n_messages     # acks of each message sent by other nodes than the application's
        self.accepted = [False] * n_messages  # on_send returned without a crash (slow path)
        self.other_attempts = 0  # sends by the application's node whose body is not a Payload
        self.logical_of: dict[Hashable, int] = {}   # message id on the wire -> logical message
        self.timer_logical: dict[int, int | None] = {}  # timer token -> logical message (traced runs)
        self.next_logical = 0
        self.wires = 0
        self.tokens = itertools.count(1)  # every timer set in the run gets its own token
        self.crashes = 0
        self.random_crashes = 0
        self.hosts = {name: Host(self, name, factory) for name, factory in nodes.items()}
        self.submit_host = self.hosts[submit_to]
        # the common case (no jitter, partitions, duplication or trace) takes a shorter path
        self.fast = not (link.jitter or link.partitions or link.duplicate or trace or links or oracle or budgets)
        self.delay = link.delay
        self.random = self.engine.rng.random
        self.queue = self.engine.queue
        self.order = self.engine.order

    # -- the network -----------------------------------------------------------------------
    def transmit(self, src: Host, dst: Host, kind: str, msg_id: Hashable, body: Any, logical: int | None) -> None:
        link = self.links.get(frozenset((src.name, dst.name)), self.link) if self.links else self.link
        engine = self.engine
        rng = engine.rng
        p = link.loss if kind is DATA else link.ack_loss
        choice = DELIVER
        if self.oracle is not None:  # the adversary decides this transmission's fate
            index = self.decisions
            self.decisions = index + 1
            choice = self.oracle.copy(index, engine.now, src.name, dst.name, kind, msg_id, logical)
            if choice == OUTAGE:
                self.outage_until = max(self.outage_until, engine.now + self.oracle.outage)
        copies = 2 if choice == DUPLICATE or (link.duplicate and rng.random() < link.duplicate) else 1
        for copy in range(copies):
            self.wires += 1
            delay = link.delay + (rng.expovariate(1.0 / link.jitter) if link.jitter else 0.0)
            text = "network duplicate" if copy else ""
            if (link.partitions and link.partitioned(engine.now)) or engine.now < self.outage_until:
                fate = PARTITIONED
                if engine.now < self.outage_until:
                    text = "outage"
            elif choice == LOSE or p == 1.0 or (p > 0.0 and rng.random() < p):
                fate = LOST
            else:
                fate = DELIVERED
                arrive = self.arrive_data if kind is DATA else self.arrive_ack
                args = ((src.name, dst, msg_id, body, logical, self.wires) if kind is DATA
                        else (src.name, dst, msg_id, logical, self.wires))
                if choice == DELAY and not copy:
                    delay += self.oracle.hold
                    text = "delayed"
                    self.hold(src.name, dst.name, arrive, args, delay)
                else:
                    engine.schedule(delay, arrive, args)
            if self.trace is not None:
                self.trace.append(Event(engine.now, src.name, "send", msg_id, logical, dst.name, self.wires, kind,
                                        fate, engine.now + delay, text))
            if choice == LATE and not copy and fate is DELIVERED:
                self.keep_late(arrive, args, kind, delay + self.oracle.late)

    # -- copies the adversary holds back -------------------------------------------------------
    def hold(self, src: str, dst: str, arrive: Callable, args: tuple, delay: float) -> None:
        """A DELAYed copy: it arrives at ``now + delay`` at the latest, or right after the next copy
        on the same link (same direction) arrives, whichever comes first."""
        token = next(self.order)
        self.held_copies[token] = (src, dst, arrive, args, len(self.trace) if self.trace is not None else -1)
        self.engine.schedule(delay, self.arrive_held, token)

    def arrive_held(self, token: int) -> None:
        held = self.held_copies.pop(token, None)
        if held is not None:  # not released earlier
            held[2](held[3])

    def release_held(self, src: str, dst: str) -> None:
        """A copy from ``src`` to ``dst`` arrived: the copies held back on that link arrive right after it."""
        for token, (s, d, arrive, args, at) in list(self.held_copies.items()):
            if s == src and d == dst:
                del self.held_copies[token]
                self.engine.schedule(0.0, arrive, args)
                if at >= 0:  # the trace says when it really arrived
                    e = self.trace[at]
                    self.trace[at] = Event(e.time, e.node, e.kind, e.msg_id, e.logical, e.peer, e.wire, e.message,
                                           e.fate, self.engine.now, e.text)

    def keep_late(self, arrive: Callable, args: tuple, kind: str, delay: float) -> None:
        """A LATE copy: the network keeps one more copy and delivers it after everything else."""
        self.wires += 1
        args = args[:-1] + (self.wires,)
        self.late_copies.append((self.engine.now + delay, arrive, args))
        if self.trace is not None:
            src, dst = args[0], args[1]
            self.trace.append(Event(self.engine.now, src, "send", args[2], args[-2], dst.name, self.wires, kind,
                                    DELIVERED, self.engine.now + delay, "network duplicate, delivered late"))

    def arrive_data(self, arg: tuple) -> None:
        """A data message reaches ``dst``: hand it to ``on_message`` if the node is up."""
        src, dst, msg_id, body, logical, wire = arg
        if self.held_copies:
            self.release_held(src, dst.name)
        if self.trace is not None:
            self.trace.append(Event(self.engine.now, dst.name, "receive" if dst.up else "down", msg_id, logical,
                                    src, wire, DATA))
        if not dst.up:
            return
        counted = logical is not None and dst is not self.submit_host
        if counted:
            self.deliveries[logical] += 1
        if dst.watch:
            handled = self.invoke(dst, "on_message", (msg_id, body), src)
        else:  # the same as invoke(), inlined: this is the simulator's hottest path
            dst.peer = src
            dst.current = msg_id
            dst.points += 1
            try:
                dst.node.on_message(msg_id, body)
                handled = True
            except Crashed:
                handled = False
            except (Exception, SystemExit) as exc:  # protocol code is untrusted (sys.exit() too)
                self.fail(dst, "on_message", (msg_id, body), exc)
            dst.peer = None
        if handled and counted:
            self.handled[logical] += 1

    def arrive_ack(self, arg: tuple) -> None:
        """An acknowledgement reaches ``dst``: hand it to ``on_ack`` if the node is up."""
        src, dst, msg_id, logical, wire = arg
        if self.held_copies:
            self.release_held(src, dst.name)
        if self.trace is not None:
            self.trace.append(Event(self.engine.now, dst.name, "receive" if dst.up else "down", msg_id, logical,
                                    src, wire, ACK))
        if not dst.up:
            return
        if logical is not None and dst is self.submit_host:
            self.acked[logical] = True
        if dst.watch:
            self.invoke(dst, "on_ack", (msg_id,), src)
        else:  # inlined invoke(), as above
            dst.peer = src
            dst.current = msg_id
            dst.points += 1
            try:
                dst.node.on_ack(msg_id)
            except Crashed:
                pass
            except (Exception, SystemExit) as exc:  # protocol code is untrusted (sys.exit() too)
                self.fail(dst, "on_ack", (msg_id,), exc)
            dst.peer = None

    def quick_steps(self, host: Host) -> dict[str, Callable]:
        """The steps of ``Host`` for a node that never crashes, on an untraced run over a plain link.

        The same behaviour as the methods of ``Host`` (tests/test_fast_path.py compares whole
        reports), without what cannot happen here: a step of a crashed node, a crash point that
        may strike, a trace to write, jitter, duplication or partitions. Closures over the run's
        state, because a closure variable is the cheapest lookup Python has.
        """
        run, engine, queue, order, random = self, self.engine, self.queue, self.order, self.random
        hosts, logical_of, attempts, effects = self.hosts, self.logical_of, self.attempts, self.effects
        loss, ack_loss, delay = self.link.loss, self.link.ack_loss, self.delay
        arrive_data, arrive_ack, fire_timer, tokens = self.arrive_data, self.arrive_ack, self.fire_timer, self.tokens
        name, timers, submits = host.name, host.timers, host is self.submit_host

        def send(to: str, msg_id: Hashable, body: Any) -> None:
            dst = hosts.get(to)
            if dst is None:
                host.send(to, msg_id, body)  # raises the error that names the nodes
            if type(body) is Payload:
                logical = body.logical
                logical_of[msg_id] = logical
                if submits:
                    attempts[logical] += 1
            else:
                logical = None
                if submits:
                    run.other_attempts += 1
            if loss == 0.0 or (loss < 1.0 and random() >= loss):
                heappush(queue, (engine.now + delay, next(order), arrive_data, (name, dst, msg_id, body, logical, 0)))
            host.points += 1

        def ack(msg_id: Hashable, to: str | None = None) -> None:
            dst = hosts.get(to if to is not None else host.peer)
            if dst is None:
                host.ack(msg_id, to)  # raises the error that says what is missing
            if ack_loss == 0.0 or (ack_loss < 1.0 and random() >= ack_loss):
                heappush(queue, (engine.now + delay, next(order), arrive_ack,
                                 (name, dst, msg_id, logical_of.get(msg_id), 0)))
            host.points += 1

        def set_timer(key: Hashable, after: float) -> None:
            if type(after) is not float or not 0.0 < after < math.inf:
                after = check_number("set_timer(after)", after, low=0.0, low_open=True)
            token = next(tokens)
            timers[key] = token
            heappush(queue, (engine.now + after, next(order), fire_timer, (host, key, token)))
            host.points += 1

        def cancel_timer(key: Hashable) -> None:
            timers.pop(key, None)
            host.points += 1

        def apply(body: Payload) -> int:
            if type(body) is not Payload:
                host.apply(body)  # raises the error that says what apply takes
            if host.pending_effects is not None:
                host.pending_effects.append(body)
                receipt = host.ledger + len(host.pending_effects)
            else:
                effects[body.logical] += 1
                host.ledger = receipt = host.ledger + 1
            host.points += 1
            return receipt

        return {"send": send, "ack": ack, "set_timer": set_timer, "cancel_timer": cancel_timer, "apply": apply}

    # -- nodes -----------------------------------------------------------------------------
    def invoke(self, host: Host, method: str, args: tuple, peer: str | None = None) -> bool:
        """Call a handler of ``host``'s node; True if it returned without a crash."""
        host.peer = peer
        host.current = args[0] if args else None
        host.points += 1
        lines = self.lines
        try:
            if host.watch:
                host.handler = (method, args)  # written out only for a label (traced runs, crashes)
                host.entry_points = host.points
                self.calls += 1
                self.calling = (host.name, method, args)
                if lines is not None:
                    lines.begin()
                host.watch_point("enter", None)
            getattr(host.node, method)(*args)
        except Crashed:
            pass
        except Runaway:
            if self.tripped is None:  # raised by the learner's own code: treat it as any exception
                self.fail(host, method, args, RuntimeError("Runaway raised by protocol code"))
        except (Exception, SystemExit) as exc:  # protocol code is untrusted (sys.exit() included)
            if self.tripped is None:
                host.peer = None
                self.fail(host, method, args, exc)
        finally:
            host.peer = None
            if host.watch:
                self.calling = None
                if lines is not None:
                    lines.end()
        if self.tripped is not None:
            self.stop_runaway(host, method, args)
        return host.up  # False: it crashed, even if its code caught the crash and went on

    def trip(self, budget: str, frame: Any) -> None:
        """A budget is exceeded (see ``budgets``): the run is over. Every node is stopped, so that every
        later step raises again whatever the protocol's code catches, and the trace ends here."""
        if self.tripped is None:
            where = protocol_line(frame if frame is not None else sys._getframe(1))
            self.tripped = (budget, where)
            self.trip_trace = len(self.trace) if self.trace is not None else 0
            for host in self.hosts.values():
                host.up = False
        raise Runaway(budget)

    def halt(self, why: str) -> None:
        """End the run now, from inside a handler call (a grader that has seen enough): as a budget
        does, with the status "halted" and ``why`` as the problem."""
        if self.tripped is None:
            self.tripped = (HALTED, why)
            self.trip_trace = len(self.trace) if self.trace is not None else 0
            for host in self.hosts.values():
                host.up = False
        raise Runaway(HALTED)

    def stop_runaway(self, host: Host, method: str, args: tuple) -> None:
        budget, where = self.tripped
        call = f"{type(host.node).__name__}.{method}({', '.join(map(_show, args))}) on node {host.name!r}"
        line = f" (line {where[1]}: {where[2]})" if where and budget != HALTED else ""
        if budget == HALTED:
            what = f"the run was stopped during {call}: {where}"
        elif budget == STEP_BUDGET:
            what = (f"{call} took more than {self.budgets.steps:,} steps without returning{line}: an endless loop "
                    "that sends, acks or writes?")
        elif budget == LINE_BUDGET:
            what = (f"{call} ran more than {self.budgets.lines:,} lines of your code without returning{line}: "
                    "an endless loop?")
        else:
            what = (f"the run executed more than {self.budgets.run_lines:,} lines of your code in all, the last in "
                    f"{call}{line}: a handler that does a lot of work per message?")
        self.status, self.problem = budget, f"{what} (at t={self.engine.now:g})"
        if self.trace is not None:  # the trace ends where the budget ran out
            del self.trace[self.trip_trace:]
            self.trace.append(Event(self.engine.now, host.name, "error", text=self.problem))
        raise _Stop()

    def fail(self, host: Host, method: str, args: tuple, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        # Blame the protocol's own line: never a line of this library or of the standard library.
        learner = [f for f in frames if is_protocol_file(f.filename)]
        where = f" (line {learner[-1].lineno}: {learner[-1].line})" if learner else ""
        self.status = "error"
        self.problem = (f"{type(host.node).__name__}.{method}({', '.join(map(_show, args))}) on node {host.name!r} "
                        f"raised {type(exc).__name__}: {exc}{where} at t={self.engine.now:g}")
        self.error_trace = "".join(traceback.format_exception(exc))
        if self.trace is not None:
            self.trace.append(Event(self.engine.now, host.name, "error", text=self.problem))
        raise _Stop() from exc

    def start(self, host: Host) -> None:
        host.incarnation += 1
        node = host.factory()
        if not isinstance(node, Node):
            raise TypeError(f"the {host.name} factory must return a semantics.Node, got {node!r}")
        node._host = host
        host.node = node
        host.up = True
        host.timers = {}
        # Speed: let the node call its host's steps directly (one call instead of two), unless
        # the protocol class overrides a step (then its override must run).
        if hasattr(node, "__dict__"):
            steps = self.quick_steps(host) if self.fast and not host.mortal else None
            for name in _STEPS:
                if getattr(type(node), name) is getattr(Node, name):
                    node.__dict__[name] = steps[name] if steps else getattr(host, name)
        if self.trace is not None and host.incarnation > 1:
            self.trace.append(Event(self.engine.now, host.name, "restart", text=f"incarnation {host.incarnation}"))
        if not self.invoke(host, "on_start", ()):
            return
        while host.backlog and host.up:
            self.submit(host.backlog.pop(0))

    def restart(self, host: Host) -> None:
        if not host.up:
            self.start(host)

    def crash(self, host: Host, why: str) -> None:
        host.up = False
        host.timers = {}
        node = host.node
        if node is not None:  # this incarnation is over: whatever its code caught, it can do nothing more
            node._host = DEAD
            if hasattr(node, "__dict__"):
                for name in _STEPS:
                    if name in node.__dict__:
                        node.__dict__[name] = _crashed_step
        self.crashes += 1
        if self.trace is not None:
            self.trace.append(Event(self.engine.now, host.name, "crash", text=why))
        if self.faults.restart_after is not None:
            self.engine.schedule(self.faults.restart_after, self.restart, host)

    def crash_at_time(self, arg: tuple) -> None:
        host, when = arg
        if host.up:
            self.crash(host, f"scheduled crash at t={when:g}")

    def fire_timer(self, arg: tuple) -> None:
        host, key, token = arg
        timers = host.timers  # a crash empties it; every timer has its own token
        if timers.get(key) != token:
            return  # cancelled, replaced, or set before a crash
        del timers[key]
        if self.trace is not None:
            self.trace.append(Event(self.engine.now, host.name, "timer", key if isinstance(key, str) else None,
                                    self.timer_logical.pop(token, None), text=repr(key)))
        self.invoke(host, "on_timer", (key,))

    # -- the application -------------------------------------------------------------------
    def submit(self, logical: int) -> None:
        host = self.submit_host
        if not host.up:
            host.backlog.append(logical)
            return
        msg_id = self.ids[logical]
        body = Payload(self.contents[logical], logical)
        if self.trace is not None:
            self.trace.append(Event(self.engine.now, host.name, "submit", msg_id, logical,
                                    text=repr(self.contents[logical])))
        if host.watch:
            self.accepted[logical] = self.invoke(host, "on_send", (msg_id, body))
            return
        host.peer = None  # inlined invoke(), as in arrive_data
        host.current = msg_id
        host.points += 1
        try:
            host.node.on_send(msg_id, body)
        except Crashed:
            pass
        except (Exception, SystemExit) as exc:  # protocol code is untrusted (sys.exit() too)
            self.fail(host, "on_send", (msg_id, body), exc)

    def submit_next(self, _: Any = None) -> None:
        logical = self.next_logical
        self.next_logical = logical + 1
        if self.interval is not None and self.next_logical < self.n:
            self.engine.schedule(self.interval, self.submit_next)
        self.submit(logical)

    def on_idle(self) -> bool:
        """Stop-and-wait: the next message starts when nothing is left in flight. When nothing is
        left at all, the copies the network kept (LATE) arrive."""
        logical = self.next_logical
        if logical < self.n and self.interval is None:
            self.next_logical = logical + 1
            self.submit(logical)
            return True
        if self.late_copies:
            now = self.engine.now
            for when, arrive, args in self.late_copies:
                self.engine.schedule(max(when, now) - now, arrive, args)
            self.late_copies = []
            return True
        return False

    def snapshot(self) -> Snapshot:
        """The state of the run now (see ``semantics.sim.state``): for ``run(observe=...)``."""
        due: dict[tuple[int, Hashable], float] = {}
        flying = []
        for time, _, fn, arg in sorted(self.queue):
            if fn == self.fire_timer:
                host, key, token = arg
                if _hashable(key) and host.timers.get(key) == token:
                    due[(id(host), key)] = time
            elif fn == self.arrive_data:
                src, dst, msg_id, _, logical, wire = arg
                flying.append(InFlight(src, dst.name, DATA, copied(msg_id), logical, time, wire))
            elif fn == self.arrive_ack:
                src, dst, msg_id, logical, wire = arg
                flying.append(InFlight(src, dst.name, ACK, copied(msg_id), logical, time, wire))
        nodes = {}
        for name, host in self.hosts.items():
            volatile = {}
            if host.up and host.node is not None:
                volatile = {k: copied(v) for k, v in vars(host.node).items()
                            if not k.startswith("_") and k not in _STEPS} if hasattr(host.node, "__dict__") else {}
            timers = {key: due[(id(host), key)] for key in host.timers if _hashable(key) and (id(host), key) in due}
            nodes[name] = NodeState(name, host.up, host.incarnation, volatile, host.durable.committed(), timers,
                                    host.ledger)
        return Snapshot(self.engine.now, self.engine.events, len(self.trace) if self.trace is not None else 0,
                        nodes, tuple(flying))

    def execute(self, wall_clock: float | None) -> Report:
        self.status, self.problem, self.error_trace = "ok", None, None
        for name, times in self.faults.crash_times.items():
            if name not in self.hosts:
                raise ValueError(f"faults.crash_times names node {name!r}; nodes are {', '.join(map(repr, self.hosts))}")
            for t in times:
                self.engine.schedule(t, self.crash_at_time, (self.hosts[name], t), background=True)
        for name in self.faults.crash_at:
            if name not in self.hosts:
                raise ValueError(f"faults.crash_at names node {name!r}; nodes are {', '.join(map(repr, self.hosts))}")
        hooks = []
        if self.observe is not None:
            observe = self.observe
            hooks.append(lambda: observe(self.snapshot()))
        if self.oracle is not None and self.oracle.boundary is not None:
            boundary = self.oracle.boundary
            hooks.append(lambda: boundary(self))
        after_event = hooks[0] if len(hooks) == 1 else (lambda: [hook() for hook in hooks]) if hooks else None
        if self.lines is not None:
            self.lines.start()
        with _alarm(wall_clock):
            try:
                for host in self.hosts.values():
                    self.start(host)
                if self.interval is not None and self.n:
                    self.submit_next()
                self.engine.run(self.on_idle, after_event)
            except _Stop:
                pass  # status and problem were set by fail() or stop_runaway()
            except EventBudgetExceeded:
                self.status = "event budget"
                self.problem = (f"the run stopped after {self.engine.max_events:,} events at t={self.engine.now:g}: "
                                "the protocol keeps scheduling work (a timer that re-arms forever, or "
                                "messages that bounce back and forth?)")
            except _WallClock:
                self.status = "time limit"
                self.problem = (f"protocol code ran for more than {wall_clock:g} s of real time "
                                f"(an endless loop in a handler?) at t={self.engine.now:g}")
            finally:
                if self.lines is not None:
                    self.lines.stop()
        return self.report()

    def report(self) -> Report:
        effects = self.effects
        lost = effects.count(0)
        once = effects.count(1)
        acked = self.acked.count(True)
        applied_and_acked = sum(map(bool, itertools.compress(effects, self.acked)))
        return Report(
            n_messages=self.n, lost=lost, once=once, duplicated=self.n - lost - once,
            effects=sum(effects), attempts=sum(self.attempts) + self.other_attempts, acked=acked,
            indefinite=self.n - acked, indefinite_applied=self.n - lost - applied_and_acked,
            status=self.status, problem=self.problem, seed=self.seed, events=self.engine.events,
            crashes=self.crashes, end_time=self.engine.now,
            points={name: h.points for name, h in self.hosts.items()},
            trace=tuple(self.trace) if self.trace is not None else None,
            _per_message=(tuple(self.ids), tuple(self.contents), tuple(self.attempts), tuple(self.deliveries),
                          tuple(self.handled), tuple(effects), tuple(self.acked)),
            labels={name: tuple(h.point_labels) for name, h in self.hosts.items()
                    if h.point_labels is not None},
            error_trace=self.error_trace,
            warnings=tuple(w for h in self.hosts.values() for w in h.durable.lost_changes()),
            details=self.details())

    def details(self) -> RunDetails | None:
        """What a guarded run (budgets, or a choice oracle) also counts, for graders."""
        if self.budgets is None and self.oracle is None:
            return None
        return RunDetails(acks_sent=tuple(self.acks_sent), accepted=tuple(self.accepted), decisions=self.decisions,
                          lines=self.lines.lines if self.lines is not None else 0,
                          calls=self.calls, ignored=tuple(getattr(self.oracle, "ignored", ())))

    def state_key(self) -> str:
        """The state of the run between two events, as text: two runs with the same key (and no random
        faults left to draw) have the same future. Hashed by a state-space search to skip states it
        has explored already (what DSLabs' model checker does). Time is part of the state (protocols
        may read ``now``); timer tokens and transmission numbers are not (they only name things)."""
        parts: list[Any] = [self.engine.now, self.next_logical, self.effects, self.acked, self.handled,
                            self.accepted, self.acks_sent, self.outage_until if self.outage_until > self.engine.now else 0,
                            sorted(self.logical_of.items(), key=repr)]
        for name, host in self.hosts.items():
            volatile = {}
            if host.up and host.node is not None and hasattr(host.node, "__dict__"):
                volatile = {k: v for k, v in vars(host.node).items()
                            if k != "_host" and not (k in _STEPS and callable(v))}
            parts.append((name, host.up, host.ledger, volatile, host.durable._data, sorted(map(repr, host.timers)),
                          host.backlog))
        queue = []
        for time, _, fn, arg in sorted(self.queue + self.engine.background, key=lambda e: (e[0], e[1])):
            queue.append((time, *self._describe(fn, arg)))
        parts.append(queue)
        parts.append([(when, *self._describe(arrive, args)) for when, arrive, args in self.late_copies])
        return encode(parts, exact=True)

    def _describe(self, fn: Callable, arg: Any) -> tuple:
        if fn == self.arrive_data:
            src, dst, msg_id, body, logical, _ = arg
            return ("data", src, dst.name, msg_id, body, logical)
        if fn == self.arrive_ack:
            src, dst, msg_id, logical, _ = arg
            return ("ack", src, dst.name, msg_id, logical)
        if fn == self.fire_timer:
            host, key, token = arg
            return ("timer", host.name, key, host.timers.get(key) == token)
        if fn == self.arrive_held:
            held = self.held_copies.get(arg)
            return ("held", None) if held is None else ("held", *self._describe(held[2], held[3]))
        if isinstance(arg, Host):
            return (getattr(fn, "__name__", "?"), arg.name)
        if isinstance(arg, tuple) and arg and isinstance(arg[0], Host):
            return (getattr(fn, "__name__", "?"), arg[0].name, *arg[1:])
        return (getattr(fn, "__name__", "?"), arg)


_STEPS = ("send", "ack", "set_timer", "cancel_timer", "apply")


def _show(value: Any) -> str:
    """repr() for a trace or a problem: a protocol's object may have a broken or endless repr."""
    try:
        text = repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    return text if len(text) <= 200 else text[:197] + "..."


def _hashable(key: Any) -> bool:
    try:
        hash(key)
        return True
    except TypeError:
        return False


class _alarm:
    """Raise _WallClock in the main thread after ``seconds`` of real time (POSIX only)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.armed = (seconds is not None and hasattr(signal, "setitimer")
                      and threading.current_thread() is threading.main_thread())

    def __enter__(self) -> None:
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self._ring)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def _ring(self, signum, frame) -> None:
        # Raise only into the protocol's own code: an exception raised into this library, the
        # standard library or a garbage-collector callback would leave them half-way. Elsewhere,
        # look again shortly.
        if frame is not None and is_protocol_file(frame.f_code.co_filename):
            raise _WallClock()
        signal.setitimer(signal.ITIMER_REAL, 0.01)

    def __exit__(self, *exc) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


def _factory(param: str, value: Any) -> NodeFactory:
    if isinstance(value, type):
        if not issubclass(value, Node):
            raise TypeError(f"{param} must be a subclass of semantics.Node (or a function returning "
                            f"a Node), got class {value.__name__}")
        return value
    if callable(value) and not isinstance(value, Node):
        return value
    raise TypeError(f"{param} must be a Node subclass or a function returning a Node, got {value!r} "
                    "(pass the class, not an instance: the simulator builds a fresh one at every restart)")


def run(sender: type[Node] | NodeFactory, receiver: type[Node] | NodeFactory, *, n_messages: int,
        link: Link | None = None, links: dict[tuple[str, str], Link] | None = None,
        faults: Faults | None = None, seed: int = 0,
        interval: float | None = None, contents: Sequence[Any] | None = None, trace: bool = False,
        max_events: int | None = None, wall_clock: float | None = 10.0,
        observe: Callable[[Snapshot], None] | None = None,
        others: dict[str, type[Node] | NodeFactory] | None = None,
        choices: Oracle | Sequence[tuple[int, str]] | None = None, budgets: Budgets | None = None) -> Report:
    """Run ``n_messages`` logical messages from ``sender`` to ``receiver`` and count their effects.

    sender, receiver: Node subclasses (or functions returning a fresh node), built again at every restart.
    link:        the network's fault model (default: a perfect link with delay 1).
    links:       {(node_a, node_b): Link} for pairs whose link differs from ``link`` (both directions).
    faults:      crashes and restarts (default: none).
    interval:    None for stop-and-wait (the next message starts when nothing is in flight), or
                 the time between two messages the application submits (several then overlap).
    contents:    the content of each message's body (default: "op 1", "op 2", ...).
    trace:       keep the full event trace (for diagrams and counterexamples; slower).
    max_events:  stop a run that processes more events (default: 10,000 + 500 per message).
    wall_clock:  stop protocol code that runs longer than this many seconds of real time (None: no limit).
    observe:     called with a ``Snapshot`` (``semantics.sim.state``) after every event: each node's
                 volatile and durable state and timers, the messages in flight (slower; small runs).
    others:      {name: Node subclass or factory}: more nodes (a broker, a third service...).
    choices:     the adversary's choices (``semantics.sim.choices``): a schedule, ((decision, choice), ...),
                 or an ``Oracle`` that decides every decision point of the run.
    budgets:     counted limits on protocol code (``semantics.sim.budgets.Budgets``): steps and lines per
                 handler call, lines per run; a run that exceeds one stops with a report.
    """
    n = check_int("n_messages", n_messages, low=0, high=10_000_000)
    seed = check_int("seed", seed, low=0)
    if observe is not None and not callable(observe):
        raise TypeError(f"observe must be a function taking a Snapshot (or None), got {observe!r}")
    if link is None:
        link = Link()
    elif not isinstance(link, Link):
        raise TypeError(f"link must be a semantics.Link, got {link!r}")
    pair_links: dict[frozenset, Link] = {}
    for pair, pair_link in (links or {}).items():
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            raise TypeError(f"links keys must be (node, node) pairs of names, got {pair!r}")
        if not isinstance(pair_link, Link):
            raise TypeError(f"links[{pair!r}] must be a semantics.Link, got {pair_link!r}")
        pair_links[frozenset(pair)] = pair_link
    if faults is None:
        faults = NO_FAULTS
    elif not isinstance(faults, Faults):
        raise TypeError(f"faults must be a semantics.Faults, got {faults!r}")
    if interval is not None:
        interval = check_number("interval", interval, low=0.0, low_open=True)
    if contents is None:
        contents = list(map("op {}".format, range(1, n + 1)))
    else:
        contents = [freeze(c) for c in contents]
        if len(contents) != n:
            raise ValueError(f"contents must hold one body per message: {n} expected, got {len(contents)}")
    max_events = 10_000 + 500 * n if max_events is None else check_int("max_events", max_events, low=1)
    if choices is not None and not isinstance(choices, Oracle):
        choices = Replay(choices)
    if budgets is not None and not isinstance(budgets, Budgets):
        raise TypeError(f"budgets must be a semantics.sim.budgets.Budgets (or None), got {budgets!r}")
    if wall_clock is not None:
        wall_clock = check_number("wall_clock", wall_clock, low=0.0, low_open=True)
    nodes = {SENDER: _factory("sender", sender), RECEIVER: _factory("receiver", receiver)}
    for name, factory in (others or {}).items():
        nodes[name] = _factory(f"others[{name!r}]", factory)
    for pair in pair_links:
        for name in pair:
            if name not in nodes:
                raise ValueError(f"links names node {name!r}; nodes are {', '.join(map(repr, nodes))}")
    return _Run(nodes, submit_to=SENDER, n_messages=n, link=link, links=pair_links, faults=faults, seed=seed, interval=interval,
                contents=contents, trace=trace, max_events=max_events, observe=observe, oracle=choices,
                budgets=budgets).execute(wall_clock)
