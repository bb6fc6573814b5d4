"""The story a trace tells, in words: which send was lost, which ack, which timeout led to a retry,
which delivery was a duplicate, which effect was the second one, which duplicate was ignored and
acknowledged again, where a crash wiped volatile state, where the sender gave up.

``story(trace)`` reads a run's trace (``semantics.sim.checker.Event``) and returns one
``Annotation`` per fact worth writing on a sequence diagram, in trace order. It is pure: the
diagrams draw these words, the trace stepper prints them, and tests check them against the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from ..sim.checker import Event

#: what each kind of annotation says, and where it goes ("lane": beside the node's lane;
#: "wire": at the mark where a message was lost)
KINDS = {
    "submit": "lane", "retry": "lane", "timeout": "lane", "gave-up": "lane", "effect": "lane",
    "duplicate-delivered": "lane", "duplicate-effect": "lane", "duplicate-ignored": "lane",
    "acked-not-applied": "lane", "ignored": "lane", "down": "lane", "crash": "lane", "restart": "lane",
    "rollback": "lane", "note": "lane", "error": "lane", "lost": "wire", "ack-lost": "wire",
}

# A handler's events follow the event that started it, on the same node at the same time.
_OPENINGS = ("submit", "receive", "down", "timer", "restart")


@dataclass(frozen=True, slots=True)
class Annotation:
    """One fact of a run, in words, tied to the trace event it is about."""

    index: int                  # position of that event in the trace
    node: str | None            # the lane it is written beside (for "wire": the sender of the lost copy)
    time: float
    kind: str                   # a key of KINDS
    text: str
    logical: int | None = None  # the logical message it concerns, if any

    @property
    def on_wire(self) -> bool:
        return KINDS[self.kind] == "wire"


def short(msg_id: Hashable) -> str:
    """A message id as the diagram writes it (long ids cut to 12 characters)."""
    text = msg_id if isinstance(msg_id, str) else repr(msg_id)
    return text if len(text) <= 12 else text[:11] + "…"


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def story(trace: Sequence[Event]) -> list[Annotation]:
    """The annotations of ``trace``, in trace order (see the module's docstring)."""
    trace = list(trace)
    groups = _handler_groups(trace)
    duplicates_sent = {e.wire for e in trace if e.kind == "send" and "network duplicate" in e.text}
    acked_at: dict[str, set[int]] = {}       # node -> logical messages it saw acknowledged
    later_sends: dict[tuple[str, int], int] = {}  # (node, logical) -> index of its last data send
    for i, e in enumerate(trace):
        if e.kind == "receive" and e.message == "ack" and e.logical is not None:
            acked_at.setdefault(e.node, set()).add(e.logical)
        if e.kind == "send" and e.message == "data" and e.logical is not None:
            later_sends[(e.node, e.logical)] = i

    appliers = {e.node for e in trace if e.kind == "effect"}  # the nodes that apply effects at all
    notes: list[Annotation] = []
    attempts: Counter = Counter()     # (node, peer, logical or id) -> data transmissions so far
    by_id: Counter = Counter()        # (node, peer, id) -> data transmissions so far
    deliveries: Counter = Counter()   # (node, logical or id) -> live data deliveries so far
    effects: Counter = Counter()      # logical -> effects so far

    def add(i: int, kind: str, text: str, node: str | None = None) -> None:
        e = trace[i]
        notes.append(Annotation(i, e.node if node is None else node, e.time, kind, text, e.logical))

    for start, members in groups:
        e = trace[start]
        # what opened the handler
        if e.kind == "submit":
            add(start, "submit", f"app sends {short(e.msg_id)}")
        elif e.kind == "timer":
            add(start, "timeout", f"timeout {short(e.msg_id) if e.msg_id is not None else e.text}")
        elif e.kind == "restart":
            add(start, "restart", "restart")
        elif e.kind == "down":
            what = short(e.msg_id) if e.message == "data" else f"ack {short(e.msg_id)}"
            add(start, "down", f"{what} arrives, node down")
        elif e.kind == "receive" and e.message == "data":
            key = (e.node, e.logical if e.logical is not None else e.msg_id)
            if deliveries[key]:
                copy = "network copy of" if e.wire in duplicates_sent else "duplicate"
                add(start, "duplicate-delivered", f"{copy} {short(e.msg_id)} delivered")
            deliveries[key] += 1
        # what the handler did
        applied = acked = crashed = resent = gave_up = False
        for i in members:
            m = trace[i]
            if m.kind == "send":
                if m.message == "data" and "network duplicate" not in m.text:
                    # A retry sends again what was sent before: the same id, or, on a timeout, the
                    # same logical message under a new id (a sender that renames its retries). A message
                    # sent again after giving up (a user who presses "pay" once more), or a copy
                    # forwarded under an id not forwarded before, is no retry.
                    by_id[(m.node, m.peer, m.msg_id)] += 1
                    logical = m.logical if m.logical is not None else m.msg_id
                    attempts[(m.node, m.peer, logical)] += 1
                    renamed = e.kind == "timer" and m.msg_id != e.msg_id and not gave_up
                    count = attempts[(m.node, m.peer, logical)] if renamed else by_id[(m.node, m.peer, m.msg_id)]
                    if count > 1:
                        resent = True
                        n = count - 1
                        # after "timeout m1" on the line above, "retry 1" says enough
                        add(i, "retry", f"retry {n}" if e.kind == "timer" and m.msg_id == e.msg_id
                            else f"retry {n} of {short(m.msg_id)}")
                if m.message == "ack" and e.kind == "receive" and m.msg_id == e.msg_id:
                    acked = True
                if m.fate in ("lost", "partitioned"):
                    what = short(m.msg_id) if m.message == "data" else f"ack {short(m.msg_id)}"
                    why = " (partition)" if m.fate == "partitioned" else ""
                    add(i, "lost" if m.message == "data" else "ack-lost", f"{what} lost{why}")
            elif m.kind == "effect":
                applied = True
                key = m.logical if m.logical is not None else m.msg_id
                effects[key] += 1
                if effects[key] == 1:
                    add(i, "effect", f"effect {short(m.msg_id)}")
                elif notes and notes[-1].index == start and notes[-1].kind == "duplicate-delivered":
                    add(i, "duplicate-effect", f"{ordinal(effects[key])} effect: duplicate")  # the line above names it
                else:
                    add(i, "duplicate-effect", f"{ordinal(effects[key])} effect of {short(m.msg_id)}: duplicate")
            elif m.kind == "crash":
                crashed = True
                add(i, "crash", "crash: volatile state lost")
            elif m.kind == "rollback":
                undone = m.text.rsplit(": ", 1)[-1] if ": " in m.text else ""
                add(i, "rollback", f"rolled back{': ' + undone if undone else ''}")
            elif m.kind == "note":
                add(i, "gave-up" if m.text.startswith("gave up") else "note", _cut(m.text, 40))
                gave_up = gave_up or m.text.startswith("gave up")
            elif m.kind == "error":
                add(i, "error", _error_label(m.text))
        forwarded = any(trace[i].kind == "send" and trace[i].message == "data" for i in members)
        if e.kind == "receive" and e.message == "data" and not applied and not crashed and not forwarded:
            key = e.logical if e.logical is not None else e.msg_id
            if acked and effects[key]:
                add(start, "duplicate-ignored", "ignored, acked again")
            elif acked and e.node in appliers:  # (a broker acks and forwards: it applies nothing, ever)
                add(start, "acked-not-applied", f"{short(e.msg_id)} acked, not applied")
            elif deliveries[(e.node, key)] > 1:
                add(start, "ignored", "ignored, not acked")
        if (e.kind == "timer" and e.logical is not None and not resent and not crashed
                and not any(trace[i].kind == "note" for i in members)
                and e.logical not in acked_at.get(e.node, set())
                and later_sends.get((e.node, e.logical), -1) < start):
            add(start, "gave-up", f"gave up on {short(e.msg_id)}")  # no retry, ever: the sender stopped
    notes.sort(key=lambda a: a.index)
    return notes


def _handler_groups(trace: list[Event]) -> list[tuple[int, list[int]]]:
    """(index of the event that started each handler, indices of the events it wrote). Events that
    start no handler (a crash between handlers) form groups of their own."""
    groups: list[tuple[int, list[int]]] = []
    for i, e in enumerate(trace):
        if groups and e.kind not in _OPENINGS:
            start, members = groups[-1]
            opener = trace[start]
            if opener.node == e.node and opener.time == e.time:
                members.append(i)
                continue
        groups.append((i, [] if e.kind in _OPENINGS else [i]))
    return groups


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _error_label(problem: str) -> str:
    """'Recv.on_message('m2', ...) on node 'receiver' raised KeyError: 'x' (line 5: ...) at t=4' ->
    "error in Recv.on_message: KeyError: 'x'": the handler and the exception, short enough to read."""
    if " raised " not in problem:
        return "error: " + _cut(problem, 50)
    where = problem.split(" on node ")[0].split("(")[0]
    what = problem.split(" raised ", 1)[1].split(" (line ")[0].split(" at t=")[0]
    return f"error in {where}:\n{_cut(what, 50)}"
