"""A run: the application, two (or more) nodes, the network between them and the faults,
executed on the engine, with the checker counting what happened to every message.

``run(sender, receiver, n_messages=...)`` is the one entry point; ``simulate`` (the facade)
calls it with the reference protocols. Protocol code is untrusted: an exception, a run that
keeps scheduling events forever, or a handler that never returns ends the run with a report
(``Report.status`` and ``Report.problem``) instead of an exception or a hung kernel. The limits
count (events, steps, lines of protocol code), never the run's real time, so a large run of trusted
code takes as long as it needs (see ``budgets``). With ``choices`` an oracle decides every
nondeterministic point (``semantics.sim.choices``).

What a run keeps grows slowly with its size: per message a handful of bytes (``checker.Tally``), no
object; the ids the application gives ("m7") are made when needed and recognised by their form; a
traced run stores its events compactly (``trace``). The short paths (``quick_steps``, ``QuickAtomic``,
the inlined reference protocols) run only where nothing can crash, be traced, budgeted or decided
by an oracle, and give the very report of the general path (tests/test_fast_path.py).
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import traceback
from collections.abc import Callable, Hashable, Sequence
from heapq import heapify, heappop, heappush
from typing import Any

from .budgets import (HALTED, LINE_BUDGET, STEP_BUDGET, Budgets, LineCounter, Runaway, Watchdog, WallClock,
                      protocol_line)
from .budgets import is_protocol_file
from .checker import Flags, Numbered, OUTCOMES_KEPT, Report, RunDetails, Tally, canonical_index, message_id
from .choices import DELAY, DELIVER, DUPLICATE, LATE, LOSE, OUTAGE, Oracle, Replay
from .engine import Engine, EventBudgetExceeded
from .faults import NO_FAULTS, Faults
from .network import DELIVERED, LOST, PARTITIONED, Link
from .nodes import DEAD, Crashed, Durable, Node, Payload, QuickAtomic, QuickDurable, _crashed_step, freeze
from .state import InFlight, NodeState, Snapshot, copied, encode
from .trace import (FATE, KIND, LITERAL, MESSAGE, T_CONTENT, T_CRASH_POINT, T_INCARNATION, T_LITERAL, T_REPR,
                    T_SCHEDULED, T_TEXT, BYTES_PER_EVENT, LabelLog, Trace, Values, _is_immutable, label, show)
from ..validation import check_flag, check_int, check_number, check_sequence, did_you_mean

SENDER, RECEIVER = "sender", "receiver"
DATA, ACK = "data", "ack"
NodeFactory = Callable[[], Node]

# A traced run keeps every event: refused up front when its estimate exceeds what memory allows.
TRACE_BYTES_PER_MESSAGE = 500  # a generous estimate for a retrying protocol (measured: 300-450)
TRACE_MEMORY_LIMIT = 2 * 1024 ** 3

_SEND, _RECEIVE, _DOWN, _EFFECT = KIND["send"], KIND["receive"], KIND["down"], KIND["effect"]


class _Stop(Exception):
    """Ends a run early: protocol code raised."""


class _TraceFull(Exception):
    """Raised between events when a traced run's trace outgrows the memory allowed it."""


class Host:
    """Runs one node: its current incarnation, timers, durable state and crash points."""

    __slots__ = ("run", "engine", "name", "index", "factory", "node", "up", "incarnation", "timers",
                 "durable", "pending_effects", "peer", "points", "strikes", "crash_at", "backlog",
                 "current", "current_logical", "labels", "watch", "at_point", "dice", "mortal", "ledger",
                 "entry_points", "crash_p", "quick_atomic")

    def __init__(self, run: "_Run", name: str, index: int, factory: NodeFactory) -> None:
        self.run = run
        self.engine = run.engine
        self.name = name
        self.index = index          # its number in the trace
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
        faults = run.faults
        self.crash_p = faults.crash_prob if faults.crash_prob and name in faults.nodes else 0.0
        self.crash_at = faults.crash_at.get(name, frozenset())
        self.strikes = bool(self.crash_p or self.crash_at)
        self.backlog: list[int] = []
        self.current: Hashable = None
        self.current_logical: int | None = None  # set when ``current`` is the application's id of that message
        self.labels: LabelLog | None = LabelLog(run.values) if run.trace is not None else None
        self.entry_points = 0  # points when the current handler call started (the step budget)
        # slow path at crash points: faults, labels, a choice oracle or budgets to count
        self.watch = bool(self.strikes or self.labels is not None or run.oracle is not None
                          or run.budgets is not None)
        only_dice = self.crash_p and not (self.crash_at or self.labels is not None or run.oracle is not None
                                          or run.budgets is not None)
        self.at_point = self.random_point if only_dice else self.watch_point
        # only dice, and no cap on crashes: the steps draw inline (see random_point)
        self.dice = bool(only_dice and run.max_random is None)
        self.mortal = self.watch or name in faults.crash_times     # may crash, or is traced
        self.quick_atomic: QuickAtomic | None = None

    # -- crash points ----------------------------------------------------------------------
    def point(self, what: str, key: Any) -> None:
        """Pass a crash point: count it and, if faults or labels are on, see whether to crash."""
        self.points += 1
        if self.watch:
            if self.dice:
                if self.run.random() < self.crash_p:
                    self.strike()
            else:
                self.at_point(what, key)

    def strike(self) -> None:
        """A random crash strikes at the crash point just passed."""
        run = self.run
        run.random_crashes += 1
        run.crash(self, point=self.points - 1)
        raise Crashed()

    def watch_point(self, what: str, key: Any) -> None:
        k = self.points - 1
        run = self.run
        if self.labels is not None:
            self.labels.point(what, key)
        if run.budgets is not None and self.points - self.entry_points > run.budgets.steps:
            run.trip(STEP_BUDGET, None)
        if run.oracle is not None:
            index = run.decisions
            run.decisions = index + 1
            if run.oracle.crash(index, run.engine.now, self.name) and self.up:
                run.crash(self, point=k)
                raise Crashed()
        if self.strikes and (k in self.crash_at or self._random_crash()):
            run.crash(self, point=k)
            raise Crashed()

    def random_point(self, what: str, key: Any) -> None:
        """``watch_point`` when only random crashes can strike here (no label, oracle, budget or
        numbered crash): the same draw, in the same order, at less cost."""
        run = self.run
        if run.max_random is not None and run.random_crashes >= run.max_random:
            return
        if run.random() >= self.crash_p:
            return
        run.random_crashes += 1
        run.crash(self, point=self.points - 1)
        raise Crashed()

    def _random_crash(self) -> bool:
        """Draw a random crash at this point (crash_prob), within the run's max_crashes."""
        run = self.run
        if not self.crash_p:
            return False
        if run.max_random is not None and run.random_crashes >= run.max_random:
            return False
        if run.random() >= self.crash_p:
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
            raise ValueError(f"send(to={to!r}): {run.no_node(to)}")
        logical = body.logical if type(body) is Payload else None
        if logical is not None:
            run.name_message(msg_id, body)  # so that an ack of msg_id, from any node, names its message
        if self is run.submit_host:
            if logical is not None:
                try:
                    run.attempt_counts[logical] += 1
                except ValueError:
                    run.attempts.more(logical)
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
            if self.dice:  # (random_point, inlined: the only test at most crash points of a crashing run)
                if self.run.random() < self.crash_p:
                    self.strike()
            else:
                self.at_point("send", msg_id)

    def ack(self, msg_id: Hashable, to: str | None = None) -> None:
        if not self.up:
            raise Crashed()
        run = self.run
        target = to if to is not None else self.peer
        if target is None:
            raise ValueError("ack(msg_id) outside on_message needs to=<node name>")
        dst = run.hosts.get(target)
        if dst is None:
            raise ValueError(f"ack(to={target!r}): {run.no_node(target, listed=False)}")
        if msg_id is self.current and self.current_logical is not None and not run.explicit:
            logical = self.current_logical  # acking the message being handled, by its application id
        else:
            logical = run.logical_for(msg_id)
        if run.fast:
            p = run.link.ack_loss
            if p == 0.0 or (p < 1.0 and run.random() >= p):
                heappush(run.queue, (self.engine.now + run.delay, next(run.order), run.arrive_ack,
                                     (self.name, dst, msg_id, logical, 0)))
        else:
            if logical is not None and self is not run.submit_host and run.acks_sent is not None:
                run.acks_sent[logical] += 1
            run.transmit(self, dst, ACK, msg_id, None, logical)
        self.points += 1
        if self.watch:
            if self.dice:  # (random_point, inlined: the only test at most crash points of a crashing run)
                if self.run.random() < self.crash_p:
                    self.strike()
            else:
                self.at_point("ack", msg_id)

    def set_timer(self, key: Hashable, after: float) -> None:
        if not self.up:
            raise Crashed()
        if type(after) is not float:
            after = check_number("set_timer(after)", after, low=0.0, low_open=True)
        elif not after > 0 or after == math.inf:
            check_number("set_timer(after)", after, low=0.0, low_open=True)
        run = self.run
        token = next(run.order)  # its event's order number is its token (unique in the run)
        old = self.timers.get(key)
        self.timers[key] = token
        if run.trace is not None:  # which message the timer is about: its key, or the message being handled
            if old is not None:
                run.timer_logical.pop(old, None)
            logical = run.logical_for(key)
            if logical is None and _hashable(self.current):
                logical = run.logical_for(self.current)
            run.timer_logical[token] = logical
        heappush(run.queue, (self.engine.now + after, token, run.fire_timer, (self, key, token)))
        self.points += 1
        if self.watch:
            if self.dice:  # (random_point, inlined: the only test at most crash points of a crashing run)
                if self.run.random() < self.crash_p:
                    self.strike()
            else:
                self.at_point("set_timer", key)

    def cancel_timer(self, key: Hashable) -> None:
        if not self.up:
            raise Crashed()
        token = self.timers.pop(key, None)
        if token is not None and self.run.trace is not None:
            self.run.timer_logical.pop(token, None)
        self.points += 1
        if self.watch:
            if self.dice:  # (random_point, inlined: the only test at most crash points of a crashing run)
                if self.run.random() < self.crash_p:
                    self.strike()
            else:
                self.at_point("cancel_timer", key)

    def apply(self, body: Payload) -> int:
        if not self.up:
            raise Crashed()
        if type(body) is not Payload:
            raise TypeError(f"apply(body) takes the body of a message the application sent "
                            f"(a Payload), got {body!r} of type {type(body).__name__}")
        if self.pending_effects is not None:
            self.pending_effects.append(body)
            receipt = self.ledger + len(self.pending_effects)
        else:
            receipt = self.record_effect(body)
            if self.quick_atomic is not None and self.quick_atomic.depth:
                self.quick_atomic.applied.append(body.logical)
        self.points += 1
        if self.watch:
            if self.dice:  # (random_point, inlined: the only test at most crash points of a crashing run)
                if self.run.random() < self.crash_p:
                    self.strike()
            else:
                self.at_point("apply", body)
        return receipt

    def record_effect(self, body: Payload) -> int:
        """Count one committed effect; its receipt is its position in this node's ledger."""
        run = self.run
        logical = body.logical
        try:
            run.effect_counts[logical] += 1
        except ValueError:
            run.effects.more(logical)
        self.ledger = receipt = self.ledger + 1
        if run.trace is not None:
            values = run.values
            if values._is_body(body):
                text, aux = T_CONTENT, -1
            else:
                text, aux = T_TEXT, values.text(repr(body.content))
            run.trace.add(self.engine.now, self.index, _EFFECT, values.code(self.current), logical, wire=receipt,
                          text=text, aux=aux)
        return receipt

    def undo_effects(self, logicals: list) -> None:
        """Take back effects counted by a write-through atomic block that rolled back."""
        effects = self.run.effects
        for logical in logicals:
            effects.less(logical)
        self.ledger -= len(logicals)

    def rolled_back(self, n_effects: int, exc_type: type) -> None:
        run = self.run
        if run.trace is not None:
            why = "crash" if exc_type is Crashed else exc_type.__name__
            run.record(self, "rollback", text=f"atomic block rolled back ({why}): {n_effects} effect(s) undone")

    def note(self, text: str) -> None:
        run = self.run
        if run.trace is not None:
            run.record(self, "note", text=str(text))


class _Run:
    """The state of one run. Built and executed by ``run``."""

    def __init__(self, nodes: dict[str, NodeFactory], *, submit_to: str, n_messages: int, link: Link,
                 links: dict[frozenset, Link],
                 faults: Faults, seed: int, interval: float | None, contents: Sequence[Any] | None,
                 trace: bool, max_events: int, observe: Callable[[Snapshot], None] | None = None,
                 oracle: Oracle | None = None, budgets: Budgets | None = None,
                 trace_limit: int | None = None) -> None:
        self.engine = Engine(seed, max_events)
        self.observe = observe
        self.oracle = oracle        # decides the nondeterministic points (see ``choices``)
        self.decisions = 0          # decision points so far
        self.budgets = budgets      # counted limits on protocol code (see ``budgets``)
        self.lines = LineCounter(budgets, self.trip) if budgets is not None else None
        self.tripped: tuple | None = None
        self.runaway_call: tuple | None = None  # (host, method, args) of a call the watchdog stopped
        self.trip_trace = 0
        self.calls = 0              # handler calls so far (guarded runs)
        self.calling: tuple | None = None  # the handler call under way: (node, method, args)
        self.outage_until = -1.0
        self.held_copies: dict[int, tuple] = {}
        self.late_copies: list[tuple] = []
        self.link = link
        self.links = links  # per pair of nodes, overriding ``link``
        self.faults = faults
        self.max_random = faults.max_crashes
        self.seed = seed
        self.n = n = n_messages
        self.interval = interval
        self.contents = contents    # None: the default contents "op 1", "op 2"... (made when submitted)
        self.values = Values(contents)
        self.trace: Trace | None = Trace(list(nodes), self.values) if trace else None
        self.trace_limit = trace_limit
        # Per logical message, a byte each (checker.Tally: exact beyond 255).
        self.attempts, self.deliveries, self.handled, self.effects = Tally(n), Tally(n), Tally(n), Tally(n)
        self.attempt_counts, self.effect_counts = self.attempts.small, self.effects.small
        self.acked = Flags(n)
        guarded = oracle is not None or budgets is not None
        self.acks_sent = [0] * n if guarded else None      # acks of each message sent by other nodes
        self.accepted = [False] * n if guarded else None   # on_send returned without a crash
        self.other_attempts = 0  # sends by the application's node whose body is not a Payload
        # Which logical message an id on the wire names (what an ack of it is about): the application's
        # id "m7" names message 7 once it was sent with that message's body (``sent``); any other id
        # names the message whose body it last carried (``explicit``).
        self.sent = bytearray(n)
        self.explicit: dict[Hashable, int] = {}
        self.timer_logical: dict[int, int | None] = {}  # live timer token -> logical message (traced runs)
        self.next_logical = 0
        self.wires = 0
        self.crashes = 0
        self.random_crashes = 0
        self.hosts = {name: Host(self, name, i, factory) for i, (name, factory) in enumerate(nodes.items())}
        if self.trace is not None:
            self.trace.labels = {name: host.labels for name, host in self.hosts.items()}
        self.submit_host = self.hosts[submit_to]
        # the common case (no jitter, partitions, duplication or trace) takes a shorter path
        self.fast = not (link.jitter or link.partitions or link.duplicate or trace or links or oracle or budgets)
        self.delay = link.delay
        self.random = self.engine.rng.random
        self.queue = self.engine.queue
        self.order = self.engine.order
        # One bound method each, made once: the quick loop (run_quick) recognises events by identity.
        self.arrive_data, self.arrive_ack = _Run.arrive_data.__get__(self), _Run.arrive_ack.__get__(self)
        self.fire_timer = _Run.fire_timer.__get__(self)

    # -- which message an id names -----------------------------------------------------------
    def name_message(self, msg_id: Hashable, body: Payload) -> None:
        """``msg_id`` is on the wire with ``body``: an ack of ``msg_id`` is about ``body.logical``."""
        app_id = body._id
        if app_id is not None and (msg_id is app_id or type(msg_id) is str and msg_id == app_id):
            self.sent[body.logical] = 1
            if self.explicit:
                self.explicit.pop(msg_id, None)
        else:
            self.explicit[msg_id] = body.logical

    def logical_for(self, msg_id: Hashable) -> int | None:
        """The logical message ``msg_id`` names (None: none the application sent)."""
        explicit = self.explicit
        if explicit:
            logical = explicit.get(msg_id)
            if logical is not None:
                return logical
        elif not isinstance(msg_id, str):
            hash(msg_id)  # an id must be hashable, as it was when ids were kept in a dict
            return None
        if isinstance(msg_id, str):
            logical = canonical_index(msg_id)
            if logical is not None and logical < self.n and self.sent[logical]:
                return logical
        return None

    def ids_on_the_wire(self) -> dict:
        """Id -> logical message, as one dict (what the state key compares)."""
        sent = self.sent
        mapping = {message_id(i): i for i in range(self.n) if sent[i]}
        mapping.update(self.explicit)
        return mapping

    def no_node(self, name: Any, *, listed: bool = True) -> str:
        nodes = f"; nodes are {', '.join(map(repr, self.hosts))}" if listed else ""
        return f"no node named {name!r}{did_you_mean(name, self.hosts)}{nodes}"

    # -- the trace ---------------------------------------------------------------------------
    def record(self, host: Host, kind: str, *, text: str = "") -> None:
        """An event of ``host`` whose text says it all (a note, an error, a rollback)."""
        self.trace.add(self.engine.now, host.index, KIND[kind], text=T_TEXT, aux=self.values.text(text))

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
                if self.oracle.pause and self.outage_until < engine.now:  # (a new outage)
                    engine.schedule(self.oracle.outage / 2, self.skip_ahead, self.oracle.pause, background=True)
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
                self.trace.add(engine.now, src.index, _SEND, self.values.code(msg_id), logical, dst.index + 1,
                               self.wires, MESSAGE[kind], FATE[fate], engine.now + delay,
                               T_LITERAL if text else 0, LITERAL[text])
            if choice == LATE and not copy and fate is DELIVERED:
                self.keep_late(arrive, args, kind, delay + self.oracle.late)

    def skip_ahead(self, pause: float) -> None:
        """Halfway through an outage (``Oracle.pause``): every pending event, and the outage's end, moves
        ``pause`` later, in place (the run loop holds these very lists)."""
        engine = self.engine
        for events in (engine.queue, engine.background):
            events[:] = [(t + pause, order, fn, arg) for t, order, fn, arg in events]
            heapify(events)
        self.late_copies = [(when + pause, arrive, args) for when, arrive, args in self.late_copies]
        self.outage_until += pause

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
                    self.trace.set_until(at, self.engine.now)

    def keep_late(self, arrive: Callable, args: tuple, kind: str, delay: float) -> None:
        """A LATE copy: the network keeps one more copy and delivers it after everything else."""
        self.wires += 1
        args = args[:-1] + (self.wires,)
        self.late_copies.append((self.engine.now + delay, arrive, args))
        if self.trace is not None:
            src, dst = args[0], args[1]
            self.trace.add(self.engine.now, self.hosts[src].index, _SEND, self.values.code(args[2]), args[-2],
                           dst.index + 1, self.wires, MESSAGE[kind], FATE[DELIVERED], self.engine.now + delay,
                           T_LITERAL, LITERAL["network duplicate, delivered late"])

    def arrive_data(self, arg: tuple) -> None:
        """A data message reaches ``dst``: hand it to ``on_message`` if the node is up."""
        src, dst, msg_id, body, logical, wire = arg
        if self.held_copies:
            self.release_held(src, dst.name)
        if self.trace is not None:
            self.trace.add(self.engine.now, dst.index, _RECEIVE if dst.up else _DOWN, self.values.code(msg_id),
                           logical, self.hosts[src].index + 1, wire, 1)
        if not dst.up:
            return
        counted = logical is not None and dst is not self.submit_host
        if counted:
            try:
                self.deliveries.small[logical] += 1
            except ValueError:
                self.deliveries.more(logical)
        if dst.dice:  # invoke(), inlined for a node that only random crashes can strike
            dst.peer = src
            dst.current = msg_id
            dst.current_logical = logical if logical is not None and msg_id is body._id else None
            dst.points += 1
            try:
                if self.random() < dst.crash_p:  # the crash point on entering the handler
                    dst.strike()
                dst.node.on_message(msg_id, body)
            except Crashed:
                pass
            except (Exception, SystemExit) as exc:  # protocol code is untrusted (sys.exit() too)
                dst.peer = None
                self.fail(dst, "on_message", (msg_id, body), exc)
            dst.peer = None
            handled = dst.up
        elif dst.watch:
            handled = self.invoke(dst, "on_message", (msg_id, body), src,
                                  logical if logical is not None and msg_id is body._id else None)
        else:  # the same as invoke(), inlined: this is the simulator's hottest path
            dst.peer = src
            dst.current = msg_id
            dst.current_logical = logical if logical is not None and msg_id is body._id else None
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
            try:
                self.handled.small[logical] += 1
            except ValueError:
                self.handled.more(logical)

    def arrive_ack(self, arg: tuple) -> None:
        """An acknowledgement reaches ``dst``: hand it to ``on_ack`` if the node is up."""
        src, dst, msg_id, logical, wire = arg
        if self.held_copies:
            self.release_held(src, dst.name)
        if self.trace is not None:
            self.trace.add(self.engine.now, dst.index, _RECEIVE if dst.up else _DOWN, self.values.code(msg_id),
                           logical, self.hosts[src].index + 1, wire, 2)
        if not dst.up:
            return
        if logical is not None and dst is self.submit_host:
            self.acked.small[logical] = 1
        if dst.watch:
            self.invoke(dst, "on_ack", (msg_id,), src)
        else:  # inlined invoke(), as above
            dst.peer = src
            dst.current = msg_id
            dst.current_logical = None
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
        hosts, sent, explicit = self.hosts, self.sent, self.explicit
        attempts, attempt_counts, effects, effect_counts = self.attempts, self.attempt_counts, self.effects, \
            self.effect_counts
        logical_for, name_message = self.logical_for, self.name_message
        loss, ack_loss, delay = self.link.loss, self.link.ack_loss, self.delay
        sure, maybe = loss == 0.0, loss < 1.0              # arrives for sure; may arrive (draw)
        ack_sure, ack_maybe = ack_loss == 0.0, ack_loss < 1.0
        arrive_data, arrive_ack, fire_timer = self.arrive_data, self.arrive_ack, self.fire_timer
        inf = math.inf
        name, timers, submits = host.name, host.timers, host is self.submit_host
        transaction = host.quick_atomic

        def send(to: str, msg_id: Hashable, body: Any) -> None:
            dst = hosts.get(to)
            if dst is None:
                host.send(to, msg_id, body)  # raises the error that names the nodes
            logical = body.logical if type(body) is Payload else None
            if logical is None:
                if submits:
                    run.other_attempts += 1
            else:
                if msg_id is body._id:  # the application's id: no entry to keep
                    sent[logical] = 1
                    if explicit:
                        explicit.pop(msg_id, None)
                else:
                    name_message(msg_id, body)
                if submits:
                    try:
                        attempt_counts[logical] += 1
                    except ValueError:
                        attempts.more(logical)
            if sure or (maybe and random() >= loss):
                heappush(queue, (engine.now + delay, next(order), arrive_data, (name, dst, msg_id, body, logical, 0)))
            host.points += 1

        def ack(msg_id: Hashable, to: str | None = None) -> None:
            dst = hosts.get(to if to is not None else host.peer)
            if dst is None:
                host.ack(msg_id, to)  # raises the error that says what is missing
            if msg_id is host.current and host.current_logical is not None and not explicit:
                logical = host.current_logical  # acking the message being handled, by its application id
            else:
                logical = logical_for(msg_id)
            if ack_sure or (ack_maybe and random() >= ack_loss):
                heappush(queue, (engine.now + delay, next(order), arrive_ack, (name, dst, msg_id, logical, 0)))
            host.points += 1

        def set_timer(key: Hashable, after: float) -> None:
            if type(after) is not float or not 0.0 < after < inf:
                after = check_number("set_timer(after)", after, low=0.0, low_open=True)
            timers[key] = token = next(order)
            heappush(queue, (engine.now + after, token, fire_timer, (host, key, token)))
            host.points += 1

        def cancel_timer(key: Hashable) -> None:
            timers.pop(key, None)
            host.points += 1

        def apply(body: Payload) -> int:
            if type(body) is not Payload or host.pending_effects is not None:
                return host.apply(body)  # the error that says what apply takes; a class's own atomic block
            logical = body.logical
            try:
                effect_counts[logical] += 1
            except ValueError:
                effects.more(logical)
            host.ledger = receipt = host.ledger + 1
            if transaction.depth:
                transaction.applied.append(logical)
            host.points += 1
            return receipt

        return {"send": send, "ack": ack, "set_timer": set_timer, "cancel_timer": cancel_timer, "apply": apply,
                "atomic": itertools.repeat(transaction).__next__}  # atomic() returns the host's block, at C speed

    # -- nodes -----------------------------------------------------------------------------
    def invoke(self, host: Host, method: str, args: tuple, peer: str | None = None,
               logical: int | None = None) -> bool:
        """Call a handler of ``host``'s node; True if it returned without a crash."""
        host.peer = peer
        host.current = args[0] if args else None
        host.current_logical = logical
        host.points += 1
        lines = self.lines
        try:
            if host.watch:
                host.entry_points = host.points
                if host.labels is not None:
                    host.labels.begin(method, args)
                if self.budgets is not None or self.oracle is not None:
                    self.calls += 1
                    self.calling = (host.name, method, args)
                if lines is not None:
                    lines.begin()
                host.at_point("enter", None)
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

    def runaway(self, budget: str, frame: Any, call: Any) -> None:
        """The watchdog (``budgets.Watchdog``) found a handler call over its budget: as ``trip``, and
        the run ends after this call whatever the protocol's code catches (its nodes can do nothing
        more, nothing else is scheduled)."""
        if self.tripped is None:
            self.runaway_call = self._call_of(call)
            for host in self.hosts.values():
                self._disarm(host)
            self.engine.queue.clear()
            self.engine.background.clear()
            self.late_copies = []
            self.next_logical = self.n
        self.trip(budget, frame)

    def _call_of(self, frame: Any) -> tuple:
        """(host, method, args) of the handler call whose frame is ``frame``."""
        code = frame.f_code
        local = frame.f_locals
        node = local.get("self")
        host = getattr(node, "_host", None) if isinstance(node, Node) else None
        if not isinstance(host, Host):
            host = next(iter(self.hosts.values()))
        names = code.co_varnames[1:code.co_argcount]
        return host, code.co_name, tuple(local.get(name) for name in names)

    def halt(self, why: str) -> None:
        """End the run now, from inside a handler call (a grader that has seen enough): as a budget
        does, with the status "halted" and ``why`` as the problem."""
        if self.tripped is None:
            self.tripped = (HALTED, why)
            self.trip_trace = len(self.trace) if self.trace is not None else 0
            for host in self.hosts.values():
                host.up = False
        raise Runaway(HALTED)

    def describe_runaway(self, host: Host, method: str, args: tuple) -> None:
        budget, where = self.tripped
        call = f"{type(host.node).__name__}.{method}({', '.join(map(show, args))}) on node {host.name!r}"
        line = f" (line {where[1]}: {where[2]})" if where and budget != HALTED else ""
        if budget == HALTED:
            what = f"the run was stopped during {call}: {where}"
        elif budget == STEP_BUDGET:
            what = (f"{call} took more than {self.budgets.steps:,} steps without returning{line}: an endless loop "
                    "that sends, acks or writes?")
        elif budget == LINE_BUDGET:
            lines = self.budgets.lines if self.budgets is not None else Budgets().lines
            what = f"{call} ran more than {lines:,} lines of your code without returning{line}: an endless loop?"
        else:
            what = (f"the run executed more than {self.budgets.run_lines:,} lines of your code in all, the last in "
                    f"{call}{line}: a handler that does a lot of work per message?")
        self.status, self.problem = budget, f"{what} (at t={self.engine.now:g})"
        if self.trace is not None:  # the trace ends where the budget ran out
            self.trace.truncate(self.trip_trace)
            self.record(host, "error", text=self.problem)

    def stop_runaway(self, host: Host, method: str, args: tuple) -> None:
        self.describe_runaway(host, method, args)
        raise _Stop()

    def fail(self, host: Host, method: str, args: tuple, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        # Blame the protocol's own line: never a line of this library or of the standard library.
        learner = [f for f in frames if is_protocol_file(f.filename)]
        where = f" (line {learner[-1].lineno}: {learner[-1].line})" if learner else ""
        self.status = "error"
        self.problem = (f"{type(host.node).__name__}.{method}({', '.join(map(show, args))}) on node {host.name!r} "
                        f"raised {type(exc).__name__}: {exc}{where} at t={self.engine.now:g}")
        self.error_trace = "".join(traceback.format_exception(exc))
        if self.trace is not None:
            self.record(host, "error", text=self.problem)
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
            steps = None
            if self.fast and not host.mortal:
                if host.quick_atomic is None:
                    host.quick_atomic = QuickAtomic(host)  # and the host's store becomes a QuickDurable
                steps = self.quick_steps(host)
            for name in _STEPS:
                if getattr(type(node), name) is getattr(Node, name):
                    if steps is not None:
                        node.__dict__[name] = steps[name]
                    elif name != "atomic":
                        node.__dict__[name] = getattr(host, name)
        if self.trace is not None and host.incarnation > 1:
            self.trace.add(self.engine.now, host.index, KIND["restart"], text=T_INCARNATION, aux=host.incarnation)
        if not self.invoke(host, "on_start", ()):
            return
        while host.backlog and host.up:
            self.submit(host.backlog.pop(0))

    def restart(self, host: Host) -> None:
        if not host.up:
            self.start(host)

    def _disarm(self, host: Host) -> None:
        """This incarnation is over: whatever its code caught, it can do nothing more."""
        host.up = False
        node = host.node
        if node is not None:
            node._host = DEAD
            if hasattr(node, "__dict__"):
                for name in _STEPS:
                    if name in node.__dict__:
                        node.__dict__[name] = _crashed_step

    def crash(self, host: Host, *, point: int | None = None, when: float | None = None) -> None:
        """``host`` crashes at crash point ``point``, or at simulated time ``when``."""
        self._disarm(host)
        if self.trace is not None:
            for token in host.timers.values():
                self.timer_logical.pop(token, None)
        host.timers = {}
        self.crashes += 1
        if self.trace is not None:
            if point is not None:
                self.trace.add(self.engine.now, host.index, KIND["crash"], text=T_CRASH_POINT, aux=point)
            else:
                self.trace.add(self.engine.now, host.index, KIND["crash"], until=when, text=T_SCHEDULED)
        if self.faults.restart_after is not None:
            self.engine.schedule(self.faults.restart_after, self.restart, host)

    def crash_at_time(self, arg: tuple) -> None:
        host, when = arg
        if host.up:
            self.crash(host, when=when)

    def run_quick(self) -> None:
        """``Engine.run(on_idle)`` for a run on the fast path (untraced, unobserved, a plain link), with the
        handling of the events of nodes that cannot crash inlined into the loop: what ``arrive_data``,
        ``arrive_ack``, ``fire_timer`` and ``on_idle`` do for them, without a call per event. A node that
        may crash, and any other event, goes through those methods. (tests/test_fast_path.py holds
        the reports to the general path's, field for field.)"""
        engine = self.engine
        queue, background, pop = self.queue, engine.background, heappop
        budget, count = engine.max_events, engine.events
        arrive_data, arrive_ack, fire_timer = self.arrive_data, self.arrive_ack, self.fire_timer
        deliveries, handled, acked = self.deliveries.small, self.handled.small, self.acked.small
        submit_host, n, stop_and_wait = self.submit_host, self.n, self.interval is None
        default_contents = self.contents is None
        fail = self.fail
        try:
            while True:
                while queue:
                    if background and background[0] <= queue[0]:
                        time, _, fn, arg = pop(background)
                    else:
                        time, _, fn, arg = pop(queue)
                    count += 1
                    if count > budget:
                        engine.now = time  # (as Engine.run: the event over the budget sets the clock)
                        raise EventBudgetExceeded(budget)
                    if fn is fire_timer:
                        host, key, token = arg
                        timers = host.timers
                        if timers.get(key) != token:
                            continue  # cancelled, replaced, or set before a crash: the clock stays
                        engine.now = time
                        if host.watch:
                            fn(arg)
                            continue
                        del timers[key]
                        host.peer = None
                        host.current = key
                        host.current_logical = None
                        host.points += 1
                        try:
                            host.node.on_timer(key)
                        except Crashed:
                            pass
                        except (Exception, SystemExit) as exc:  # protocol code is untrusted (sys.exit() too)
                            fail(host, "on_timer", (key,), exc)
                    elif fn is arrive_data:
                        engine.now = time
                        src, dst, msg_id, body, logical, _ = arg
                        if dst.watch or not dst.up:
                            fn(arg)
                            continue
                        if logical is None:
                            counted = False
                            dst.current_logical = None
                        else:
                            counted = dst is not submit_host
                            if counted:
                                try:
                                    deliveries[logical] += 1
                                except ValueError:
                                    self.deliveries.more(logical)
                            dst.current_logical = logical if msg_id is body._id else None
                        dst.peer = src
                        dst.current = msg_id
                        dst.points += 1
                        try:
                            dst.node.on_message(msg_id, body)
                        except Crashed:
                            counted = False
                        except (Exception, SystemExit) as exc:
                            fail(dst, "on_message", (msg_id, body), exc)
                        dst.peer = None
                        if counted:
                            try:
                                handled[logical] += 1
                            except ValueError:
                                self.handled.more(logical)
                    elif fn is arrive_ack:
                        engine.now = time
                        src, dst, msg_id, logical, _ = arg
                        if dst.watch or not dst.up:
                            fn(arg)
                            continue
                        if logical is not None and dst is submit_host:
                            acked[logical] = 1
                        dst.peer = src
                        dst.current = msg_id
                        dst.current_logical = None
                        dst.points += 1
                        try:
                            dst.node.on_ack(msg_id)
                        except Crashed:
                            pass
                        except (Exception, SystemExit) as exc:
                            fail(dst, "on_ack", (msg_id,), exc)
                        dst.peer = None
                    else:
                        engine.now = time
                        fn(arg)
                # nothing in flight: stop-and-wait submits the next message (on_idle)
                logical = self.next_logical
                if not (logical < n and stop_and_wait and default_contents and submit_host.up
                        and not submit_host.watch):
                    engine.events = count
                    if not self.on_idle():
                        return
                    count = engine.events
                    continue
                self.next_logical = logical + 1
                msg_id = "m%d" % (logical + 1)  # submit(), inlined
                body = _new(Payload)
                body.content, body.logical, body._id = "op %d" % (logical + 1), logical, msg_id
                submit_host.peer = None
                submit_host.current = msg_id
                submit_host.current_logical = None
                submit_host.points += 1
                try:
                    submit_host.node.on_send(msg_id, body)
                except Crashed:
                    pass
                except (Exception, SystemExit) as exc:
                    fail(submit_host, "on_send", (msg_id, body), exc)
        finally:
            engine.events = min(count, budget)

    def fire_timer(self, arg: tuple) -> bool | None:
        host, key, token = arg
        timers = host.timers  # a crash empties it; every timer has its own token
        if timers.get(key) != token:
            return False  # cancelled, replaced, or set before a crash: nothing happened (the clock stays)
        del timers[key]
        if host.watch:
            if self.trace is not None:
                values = self.values
                ref = values.code(key) if isinstance(key, str) else -1
                self.trace.add(self.engine.now, host.index, KIND["timer"], ref, self.timer_logical.pop(token, None),
                               text=T_REPR, aux=ref if ref != -1 else values.code(key, as_text=True))
            self.invoke(host, "on_timer", (key,))
            return
        host.peer = None  # inlined invoke(), as in arrive_data
        host.current = key
        host.current_logical = None
        host.points += 1
        try:
            host.node.on_timer(key)
        except Crashed:
            pass
        except (Exception, SystemExit) as exc:  # protocol code is untrusted (sys.exit() too)
            self.fail(host, "on_timer", (key,), exc)

    # -- the application -------------------------------------------------------------------
    def submit(self, logical: int) -> None:
        host = self.submit_host
        if not host.up:
            host.backlog.append(logical)
            return
        msg_id = "m%d" % (logical + 1)
        contents = self.contents
        content = "op %d" % (logical + 1) if contents is None else contents[logical]
        body = _new(Payload)  # (Payload(content, logical, msg_id) without a Python-level __init__)
        body.content, body.logical, body._id = content, logical, msg_id
        if self.trace is not None:
            if contents is None or _is_immutable(content):
                self.trace.add(self.engine.now, host.index, KIND["submit"], self.values.code(msg_id), logical,
                               text=T_CONTENT)
            else:
                self.trace.add(self.engine.now, host.index, KIND["submit"], self.values.code(msg_id), logical,
                               text=T_TEXT, aux=self.values.text(repr(content)))
        if host.watch:
            accepted = self.invoke(host, "on_send", (msg_id, body))
            if self.accepted is not None:
                self.accepted[logical] = accepted
            return
        host.peer = None  # inlined invoke(), as in arrive_data
        host.current = msg_id
        host.current_logical = None
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
        """Stop-and-wait: the next message starts when nothing is left in flight (a cancelled timer is
        not: the clock stays at the last event that did something, see ``Engine``). When nothing is
        left at all, the copies the network kept (LATE) arrive."""
        logical = self.next_logical
        if logical < self.n and self.interval is None:
            self.next_logical = logical + 1
            host = self.submit_host
            if host.watch or self.trace is not None or not host.up or self.contents is not None:
                self.submit(logical)
                return True
            msg_id = "m%d" % (logical + 1)  # submit(), inlined for the common case
            body = _new(Payload)
            body.content, body.logical, body._id = "op %d" % (logical + 1), logical, msg_id
            host.peer = None
            host.current = msg_id
            host.current_logical = None
            host.points += 1
            try:
                host.node.on_send(msg_id, body)
            except Crashed:
                pass
            except (Exception, SystemExit) as exc:  # protocol code is untrusted (sys.exit() too)
                self.fail(host, "on_send", (msg_id, body), exc)
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
            for t in times:
                self.engine.schedule(t, self.crash_at_time, (self.hosts[name], t), background=True)
        hooks = []
        if self.observe is not None:
            observe = self.observe
            hooks.append(lambda: observe(self.snapshot()))
        if self.oracle is not None and self.oracle.boundary is not None:
            boundary = self.oracle.boundary
            hooks.append(lambda: boundary(self))
        if self.trace is not None and self.trace_limit is not None:
            # (the labels of crash points and the values events name take about as much again)
            trace, most = self.trace, self.trace_limit // (2 * BYTES_PER_EVENT)

            def trace_guard() -> None:
                if len(trace) > most:
                    raise _TraceFull()
            hooks.append(trace_guard)
        after_event = hooks[0] if len(hooks) == 1 else (lambda: [hook() for hook in hooks]) if hooks else None
        if self.lines is not None:
            self.lines.start()
        watchdog = Watchdog(self.runaway, lines=Budgets().lines if self.budgets is None else None,
                            blocked=wall_clock)
        with watchdog:
            try:
                for host in self.hosts.values():
                    self.start(host)
                if self.interval is not None and self.n:
                    self.submit_next()
                if self.fast and after_event is None:
                    self.run_quick()
                else:
                    self.engine.run(self.on_idle, after_event)
            except _Stop:
                pass  # status and problem were set by fail() or stop_runaway()
            except Runaway:
                if self.runaway_call is None:
                    raise
            except EventBudgetExceeded:
                self.status = "event budget"
                self.problem = (f"the run stopped after {self.engine.max_events:,} events at t={self.engine.now:g}: "
                                "the protocol keeps scheduling work (a timer that re-arms forever, or "
                                "messages that bounce back and forth?)")
            except WallClock as stopped:
                host, method, args = self._call_of(stopped.frame) if stopped.frame is not None else (
                    self.submit_host, "?", ())
                call = f"{type(host.node).__name__}.{method}({', '.join(map(show, args))}) on node {host.name!r}"
                self.status = "time limit"
                self.problem = (f"{call} did not return within {wall_clock:g} s of real time{stopped.where}: it "
                                "waits or sleeps (time.sleep, input(), a lock, a socket?). A handler must return "
                                f"at once: use set_timer for anything that should happen later (at t={self.engine.now:g})")
            except _TraceFull:
                self.status = "trace limit"
                self.problem = (f"the trace reached {len(self.trace):,} events (about "
                                f"{2 * BYTES_PER_EVENT * len(self.trace) / 1e6:,.0f} MB) at t={self.engine.now:g}, "
                                f"the most a trace may take here ({self.trace_limit / 1e6:,.0f} MB): trace fewer "
                                "messages, or run without trace=True")
            finally:
                if self.lines is not None:
                    self.lines.stop()
        if self.runaway_call is not None and self.status == "ok":
            self.describe_runaway(*self.runaway_call)
        return self.report()

    def report(self) -> Report:
        n = self.n
        effects = self.effects
        lost = effects.count(0)
        once = effects.count(1)
        acked = self.acked.count(True)
        applied_and_acked = _both(effects.small, self.acked.small)
        contents = self.contents
        return Report(
            n_messages=n, lost=lost, once=once, duplicated=n - lost - once,
            effects=effects.total(), attempts=self.attempts.total() + self.other_attempts, acked=acked,
            indefinite=n - acked, indefinite_applied=n - lost - applied_and_acked,
            status=self.status, problem=self.problem, seed=self.seed, events=self.engine.events,
            crashes=self.crashes, end_time=self.engine.now,
            points={name: h.points for name, h in self.hosts.items()},
            trace=self.trace,
            _per_message=(Numbered("m%d", n), Numbered("op %d", n) if contents is None else tuple(contents),
                          self.attempts, self.deliveries, self.handled, effects, self.acked),
            labels={name: h.labels for name, h in self.hosts.items() if h.labels is not None},
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
        parts: list[Any] = [self.engine.now, self.next_logical, list(self.effects), list(self.acked),
                            list(self.handled), self.accepted, self.acks_sent,
                            self.outage_until if self.outage_until > self.engine.now else 0,
                            sorted(self.ids_on_the_wire().items(), key=repr)]
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


_STEPS = ("send", "ack", "set_timer", "cancel_timer", "apply", "atomic")
_NONZERO = bytes([0] + [1] * 255)


def _both(counts: bytearray, flags: bytearray) -> int:
    """How many messages have a nonzero count and the flag (0/1 bytes), in chunks (a few kilobytes at a time)."""
    both = 0
    for start in range(0, len(counts), 4096):
        end = start + 4096
        applied = counts[start:end].translate(_NONZERO)  # 1 where the count is nonzero
        both += (int.from_bytes(applied, "little") & int.from_bytes(flags[start:end], "little")).bit_count()
    return both
_new = object.__new__


def _hashable(key: Any) -> bool:
    try:
        hash(key)
        return True
    except TypeError:
        return False


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


def _check_names(param: str, names: Any, nodes: dict) -> None:
    """Every node ``param`` names is a node of the run (a typo would otherwise silently do nothing)."""
    for name in names:
        if name not in nodes:
            raise ValueError(f"{param} names node {name!r}{did_you_mean(name, nodes)}; the nodes of this run are "
                             f"{', '.join(map(repr, nodes))}")


def _check_contents(contents: Any, n: int) -> list[Any]:
    if isinstance(contents, (str, bytes, bytearray)):
        raise TypeError(f"contents must be a sequence with one body per message, such as ['deposit 10', "
                        f"'withdraw 5'], got the {type(contents).__name__} {contents!r} (a string is not "
                        "split into bodies: wrap it in a list)")
    contents = check_sequence("contents", contents, what="one body per message")
    if len(contents) != n:
        raise ValueError(f"contents must hold one body per message: {n} expected, got {len(contents)}")
    return [freeze(c) for c in contents]


def trace_limit() -> int:
    """The most memory a traced run may take: 2 GB, or half of what this machine has free if less."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not Linux: no figure
        return TRACE_MEMORY_LIMIT
    return max(64 * 1024 ** 2, min(TRACE_MEMORY_LIMIT, free // 2))


def check_trace_size(n_messages: int, bytes_per_message: float, *, limit: int | None = None) -> int:
    """Refuse up front a traced run whose trace would not fit in memory; returns the limit."""
    limit = trace_limit() if limit is None else limit
    estimate = n_messages * bytes_per_message
    if estimate > limit:
        raise ValueError(f"trace=True keeps every event of the run: about {bytes_per_message:,.0f} bytes a message, "
                         f"{estimate / 1e9:,.1f} GB for n_messages={n_messages:,}, more than the {limit / 1e9:,.1f} GB a "
                         f"trace may take here (at most {int(limit // bytes_per_message):,} messages). Trace fewer "
                         "messages (a diagram shows ten), or run without trace=True: the counts need no trace")
    return limit


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
    interval:    None for stop-and-wait (the next message starts when nothing is in flight: at the ack
                 of the last one, not at the deadline of the timer its sender cancelled), or
                 the time between two messages the application submits (several then overlap).
    contents:    the content of each message's body, a sequence (default: "op 1", "op 2", ...).
    trace:       keep the full event trace (for diagrams and counterexamples; slower). A run whose trace
                 would not fit in memory is refused up front with the estimate.
    max_events:  stop a run that processes more events (default: 10,000 + 500 per message).
    wall_clock:  a handler call is stopped by counting: one that runs more than 100,000 lines of protocol
                 code without returning (an endless loop) stops the run, whatever the run's size. This is
                 the last resort for a call that runs no line at all (it sleeps, or waits on I/O): after
                 this many seconds of real time in one call (None: no limit). A run as a whole is never
                 limited by real time.
    observe:     called with a ``Snapshot`` (``semantics.sim.state``) after every event: each node's
                 volatile and durable state and timers, the messages in flight (slower; small runs).
    others:      {name: Node subclass or factory}: more nodes (a broker, a third service...).
    choices:     the adversary's choices (``semantics.sim.choices``): a schedule, ((decision, choice), ...),
                 or an ``Oracle`` that decides every decision point of the run.
    budgets:     counted limits on protocol code (``semantics.sim.budgets.Budgets``), counted from the start
                 of every handler call: steps and lines per handler call, lines per run (slower: what a
                 grader uses, so that a run stops at the same line on any machine).
    """
    n = check_int("n_messages", n_messages, low=0, high=10_000_000)
    seed = check_int("seed", seed, low=0)
    trace = check_flag("trace", trace)
    if observe is not None and not callable(observe):
        raise TypeError(f"observe must be a function taking a Snapshot (or None), got {observe!r}")
    if link is None:
        link = Link()
    elif not isinstance(link, Link):
        raise TypeError(f"link must be a semantics.Link, got {link!r}")
    if links is not None and not isinstance(links, dict):
        raise TypeError(f"links must be a dict {{(node_a, node_b): Link}} (or None), got {links!r}")
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
    if contents is not None:
        contents = _check_contents(contents, n)
    max_events = 10_000 + 500 * n if max_events is None else check_int("max_events", max_events, low=1)
    if choices is not None and not isinstance(choices, Oracle):
        choices = Replay(choices)
    if budgets is not None and not isinstance(budgets, Budgets):
        raise TypeError(f"budgets must be a semantics.sim.budgets.Budgets (or None), got {budgets!r}")
    if wall_clock is not None:
        wall_clock = check_number("wall_clock", wall_clock, low=0.0, low_open=True)
    nodes = {SENDER: _factory("sender", sender), RECEIVER: _factory("receiver", receiver)}
    if others is not None and not isinstance(others, dict):
        raise TypeError(f"others must be a dict {{name: Node subclass}} (or None), got {others!r}")
    for name, factory in (others or {}).items():
        if not isinstance(name, str):
            raise TypeError(f"others must name its nodes with strings, got {name!r}")
        if name in nodes:
            raise ValueError(f"others names node {name!r}, which is already the run's {name}: pass it as the "
                             f"{name} argument, or give the extra node another name")
        nodes[name] = _factory(f"others[{name!r}]", factory)
    for pair in pair_links:
        _check_names("links", sorted(pair), nodes)
    _check_names("faults.crash_at", faults.crash_at, nodes)
    _check_names("faults.crash_times", faults.crash_times, nodes)
    _check_names("faults.nodes", faults.nodes, nodes)
    limit = check_trace_size(n, TRACE_BYTES_PER_MESSAGE) if trace else None
    return _Run(nodes, submit_to=SENDER, n_messages=n, link=link, links=pair_links, faults=faults, seed=seed,
                interval=interval, contents=contents, trace=trace, max_events=max_events, observe=observe,
                oracle=choices, budgets=budgets, trace_limit=limit).execute(wall_clock)
