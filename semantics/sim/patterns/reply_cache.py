"""Reply caches: what a server answers to a request it has already executed.

A client sends a request and waits for the *reply*, which carries the effect's receipt (what
``apply`` returned: an order number, a new balance). A lost reply makes the client retry with the
same request id. The server can then

- execute the request again (``ExecutingServer``): a second effect, and a reply with a new receipt;
- recognise the retry and stay silent (``SilentDedupServer``): one effect, but the client never
  learns the result and gives up: an indefinite outcome for a request that took effect;
- answer the retry with the reply it sent the first time. ``LastReplyServer`` does it in the shape
  of DSLabs' at-most-once layer and of MIT 6.5840's key/value server: it keeps the *last* reply per
  client, which is enough while a client has one request outstanding at a time, and forgets it when
  the client's next request shows that the reply arrived.

Replies travel as data messages (``send``) named after the request and the receipt they carry
(``"reply m1 #1"``; a replay from the cache is ``"cache m1 #1"``), so that a diagram shows which
execution a reply reports. The checker's ``acked`` does not see replies, so ``request_outcomes``
reads what the client accepted from its durable state.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Callable

from ..checker import Report
from ..nodes import Node, Payload
from ...validation import check_int, check_number

__all__ = ["Reply", "RequestClient", "ExecutingServer", "SilentDedupServer", "LastReplyServer",
           "RequestOutcomes", "request_outcomes", "sequence_number"]

SERVER = "receiver"


@dataclass(frozen=True)
class Reply:
    """The server's answer to one request. ``receipt`` is the receipt of the execution the reply
    reports (None when the server has no result to give); ``status`` says where it came from:
    "executed" (just now), "cached" (the saved reply of an earlier execution) or "expired" (the
    server recognised the request but no longer holds its reply)."""

    request: Hashable
    receipt: int | None
    status: str = "executed"


def reply_id(reply: Reply) -> str:
    """The id of the message that carries ``reply`` (a label on the diagrams): "reply m1 #2" for the
    reply of an execution with receipt 2, "cache m1 #1" for a saved reply sent again, "reply m1 -"
    for a reply without a result."""
    receipt = "-" if reply.receipt is None else f"#{reply.receipt}"
    return f"{'cache' if reply.status == 'cached' else 'reply'} {reply.request} {receipt}"


def sequence_number(request: Hashable) -> int:
    """The client's sequence number of a request: "m12" -> 12, (client, 12) -> 12, 12 -> 12."""
    if isinstance(request, bool):
        raise TypeError(f"a request id must be 'm<number>', (client, number) or a number, got {request!r}")
    if isinstance(request, int):
        return request
    if isinstance(request, tuple) and len(request) == 2 and isinstance(request[1], int):
        return request[1]
    if isinstance(request, str):
        match = re.fullmatch(r"[A-Za-z_]*(\d+)", request)
        if match:
            return int(match.group(1))
    raise ValueError(f"a request id must be 'm<number>', (client, number) or a number, got {request!r}")


class RequestClient(Node):
    """Sends each request to the server ("receiver") and waits for its reply, retrying with the same
    request id every ``timeout`` time units, ``max_retries`` times at most; then it gives up.

    What it accepted is kept in its durable state (the client's record of what it told its user):
    ``durable[("reply", request)]`` is the accepted ``Reply``, ``durable[("gave up", request)]`` is
    True for a request it gave up on.
    """

    def __init__(self, timeout: float = 3.0, max_retries: int = 3) -> None:
        self.timeout = check_number("timeout", timeout, low=0.0, low_open=True)
        self.max_retries = check_int("max_retries", max_retries, high=1000)

    def on_start(self) -> None:
        self.pending: dict[Hashable, list] = {}  # request -> [body, retries so far]

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        self.pending[msg_id] = [body, 0]
        self.transmit(msg_id)

    def transmit(self, request: Hashable) -> None:
        self.send(SERVER, request, self.pending[request][0])
        self.set_timer(request, self.timeout)

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        if not isinstance(body, Reply) or body.request not in self.pending:
            return  # a late reply to a request already settled
        del self.pending[body.request]
        self.cancel_timer(body.request)
        self.durable[("reply", body.request)] = body

    def on_timer(self, request: Hashable) -> None:
        entry = self.pending.get(request)
        if entry is None:
            return
        if entry[1] >= self.max_retries:
            del self.pending[request]
            self.durable[("gave up", request)] = True
            self.note(f"gave up on {request}")
            return
        entry[1] += 1
        self.transmit(request)


class ExecutingServer(Node):
    """Executes every request it receives, retries included, and replies with the new receipt."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        reply = Reply(msg_id, self.apply(body), "executed")
        self.send(self.peer, reply_id(reply), reply)


class SilentDedupServer(Node):
    """Deduplicates by request id (a durable record committed with the effect), and answers only a
    request it executes: a retry of an executed request gets no reply at all."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        with self.atomic():
            if ("done", msg_id) in self.durable:
                self.note(f"{msg_id} again: no reply")
                return
            reply = Reply(msg_id, self.apply(body), "executed")
            self.durable[("done", msg_id)] = True
        self.send(self.peer, reply_id(reply), reply)


class LastReplyServer(Node):
    """Keeps, per client, the sequence number and the reply of its last executed request, in the
    same commit as the effect (DSLabs' at-most-once layer, MIT 6.5840's key/value server).

    A retry of the last request gets the saved reply again; a request with a higher number is new:
    it is executed, and its reply replaces the saved one (the client sends its next request only
    after the previous reply arrived, so the old reply is no longer needed). A request with a lower
    number cannot be answered any more: the server replies "expired", without a result, and does not
    execute it. With one request outstanding per client this never happens; with several, it does.
    ``volatile=True`` keeps the slot in memory instead: a crash forgets it.
    """

    def __init__(self, volatile: bool = False) -> None:
        if not isinstance(volatile, bool):
            raise TypeError(f"volatile must be True or False, got {volatile!r}")
        self.volatile = volatile

    def on_start(self) -> None:
        self.memory: dict[Hashable, tuple] = {}

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        client, seq = self.peer, sequence_number(msg_id)
        store: Any = self.memory if self.volatile else self.durable
        with self.atomic():
            last = store.get(("last", client))
            if last is not None and seq == last[0]:
                reply = Reply(msg_id, last[1], "cached")
                self.note(f"replays #{last[1]}")
            elif last is not None and seq < last[0]:
                reply = Reply(msg_id, None, "expired")
                self.note(f"{msg_id}: reply forgotten")
            else:
                receipt = self.apply(body)
                store[("last", client)] = (seq, receipt)
                reply = Reply(msg_id, receipt, "executed")
        self.send(self.peer, reply_id(reply), reply)


@dataclass(frozen=True)
class RequestOutcomes:
    """Per request: how often it was executed, and what the client was told.

    executed_once / executed_twice / never_executed count requests by executions (effects);
    first_receipt:  the client accepted a reply carrying the receipt of the request's first execution;
    later_receipt:  ... the receipt of a later execution (the first one's result is lost to the client);
    no_result:      ... a reply without a result ("expired");
    gave_up:        the client gave up (no reply accepted); gave_up_executed: of which were executed.
    """

    requests: int
    executed_once: int
    executed_twice: int
    never_executed: int
    first_receipt: int
    later_receipt: int
    no_result: int
    gave_up: int
    gave_up_executed: int

    def line(self) -> str:
        return (f"executed once {self.executed_once:>5}, twice or more {self.executed_twice:>4}, never "
                f"{self.never_executed:>3} | client got the first receipt {self.first_receipt:>5}, a later one "
                f"{self.later_receipt:>4}, no result {self.no_result:>3}, gave up {self.gave_up:>4} "
                f"(of which executed {self.gave_up_executed})")


def request_outcomes(report: Report, client: Node) -> RequestOutcomes:
    """Count the outcomes of a traced run of ``RequestClient`` (``client``: its node, for its
    durable record of replies) against any server."""
    if not isinstance(report, Report) or report.trace is None:
        raise ValueError("report must be a traced run: run(..., trace=True)")
    if not isinstance(client, RequestClient):
        raise TypeError(f"client must be the RequestClient node of the run, got {type(client).__name__}")
    receipts: dict[int, list[int]] = {}
    for e in report.trace:
        if e.kind == "effect" and e.logical is not None:
            receipts.setdefault(e.logical, []).append(e.receipt)
    counts = dict(first_receipt=0, later_receipt=0, no_result=0, gave_up=0, gave_up_executed=0)
    for m in report.messages():
        reply = client.durable.get(("reply", m.msg_id))
        executions = receipts.get(m.logical, [])
        if reply is None:
            if client.durable.get(("gave up", m.msg_id)):
                counts["gave_up"] += 1
                counts["gave_up_executed"] += bool(executions)
        elif reply.receipt is None:
            counts["no_result"] += 1
        elif executions and reply.receipt == executions[0]:
            counts["first_receipt"] += 1
        else:
            counts["later_receipt"] += 1
    return RequestOutcomes(requests=report.n_messages, executed_once=report.once, executed_twice=report.duplicated,
                           never_executed=report.lost, **counts)


def keep(nodes: list[Node], factory: Callable[[], Node]) -> Callable[[], Node]:
    """A factory that remembers every node it builds (``nodes[-1]`` is the last incarnation), so that
    a run's durable state can be read after it."""
    def build() -> Node:
        node = factory()
        nodes.append(node)
        return node
    return build
