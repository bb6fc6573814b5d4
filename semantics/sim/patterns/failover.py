"""Failover: the deduplication record must survive the loss of the node that holds it.

``PrimaryService`` ("receiver") deduplicates the client's requests with a durable record committed
with the effect, as lesson 03 taught, and replicates the record to ``ReplicaService`` ("replica"):

- ``replication="async"``: acknowledge the client first, send the record to the replica ``lag`` time
  units later (Redis replicates asynchronously by default: an acknowledged write can be lost when
  the primary fails before its replicas received it);
- ``replication="sync"``: send the record to the replica and acknowledge the client only when the
  replica has acknowledged it (as a client that calls Redis' WAIT before answering).

When the primary fails for good, ``FailoverClient`` turns to the replica, which serves requests with
the records it has. A record it never received is a deduplication forgotten: the request takes effect
again. With ``StatelessService`` on both nodes instead, the record lives with the effect, in the
store that applies it (``EffectStore``, "db"): whichever service node forwards a request, the store
recognises it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from ..nodes import Node, Payload
from ...validation import check_choice, check_int, check_number

__all__ = ["FailoverClient", "PrimaryService", "ReplicaService", "StatelessService", "EffectStore", "Replicate"]

CLIENT, PRIMARY, REPLICA, STORE = "sender", "receiver", "replica", "db"


@dataclass(frozen=True)
class Replicate:
    """The primary's record of ``msg_id``, sent to the replica."""

    msg_id: Hashable

    def __repr__(self) -> str:
        return f"record {self.msg_id}"


class FailoverClient(Node):
    """Retries each request with the same id every ``timeout``, ``max_retries`` times at most, and
    after ``switch_after`` unanswered attempts in a row turns from the primary to the replica for good."""

    def __init__(self, timeout: float = 3.0, max_retries: int = 3, switch_after: int = 1) -> None:
        self.timeout = check_number("timeout", timeout, low=0.0, low_open=True)
        self.max_retries = check_int("max_retries", max_retries, high=1000)
        self.switch_after = check_int("switch_after", switch_after, low=1)

    def on_start(self) -> None:
        self.target = PRIMARY
        self.unanswered = 0
        self.pending: dict[Hashable, list] = {}

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        self.pending[msg_id] = [body, 0]
        self.send(self.target, msg_id, body)
        self.set_timer(msg_id, self.timeout)

    def on_ack(self, msg_id: Hashable) -> None:
        if self.pending.pop(msg_id, None) is not None:
            self.cancel_timer(msg_id)
            self.unanswered = 0

    def on_timer(self, msg_id: Hashable) -> None:
        entry = self.pending.get(msg_id)
        if entry is None:
            return
        self.unanswered += 1
        if self.target == PRIMARY and self.unanswered >= self.switch_after:
            self.target = REPLICA
            self.note("fails over to the replica")
        if entry[1] >= self.max_retries:
            del self.pending[msg_id]
            self.note(f"gave up on {msg_id}")
            return
        entry[1] += 1
        self.send(self.target, msg_id, entry[0])
        self.set_timer(msg_id, self.timeout)


class PrimaryService(Node):
    """Applies each new request (effect and record in one commit), acknowledges, and replicates the
    record to the replica: after the ack (``"async"``, ``lag`` later) or before it (``"sync"``)."""

    def __init__(self, replication: str = "async", lag: float = 1.0) -> None:
        self.replication = check_choice("replication", replication, ("async", "sync"))
        self.lag = check_number("lag", lag, low=0.0, low_open=True)

    def on_start(self) -> None:
        self.waiting: dict[Hashable, Hashable] = {}  # record sent to the replica -> request to ack

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        with self.atomic():
            done = ("done", msg_id) in self.durable
            if not done:
                self.apply(body)
                self.durable[("done", msg_id)] = True
        if self.replication == "async":
            self.ack(msg_id)
            if not done:
                self.set_timer(("replicate", msg_id), self.lag)
        elif ("replicated", msg_id) in self.durable:
            self.ack(msg_id)
        else:
            self.waiting[Replicate(msg_id)] = msg_id
            self.send(REPLICA, Replicate(msg_id), None)

    def on_timer(self, key: Hashable) -> None:
        self.send(REPLICA, Replicate(key[1]), None)

    def on_ack(self, key: Hashable) -> None:
        if not isinstance(key, Replicate):
            return
        self.durable[("replicated", key.msg_id)] = True
        msg_id = self.waiting.pop(key, None)
        if msg_id is not None:
            self.ack(msg_id, to=CLIENT)


class ReplicaService(Node):
    """Stores the records the primary replicates; after a failover, serves the client with them:
    a request it holds a record of is acknowledged without an effect, any other is applied."""

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        if isinstance(msg_id, Replicate):
            self.durable[("done", msg_id.msg_id)] = True
            self.ack(msg_id)
            return
        with self.atomic():
            if ("done", msg_id) in self.durable:
                self.note(f"{msg_id}: replicated record, no effect")
            else:
                self.apply(body)
                self.durable[("done", msg_id)] = True
        self.ack(msg_id)


class StatelessService(Node):
    """Forwards each request to the store that applies it, and acknowledges when the store has:
    nothing to replicate, nothing to lose in a failover."""

    def on_start(self) -> None:
        self.waiting: set[Hashable] = set()

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        self.waiting.add(msg_id)
        self.send(STORE, msg_id, body)

    def on_ack(self, msg_id: Hashable) -> None:
        if self.peer == STORE and msg_id in self.waiting:
            self.waiting.discard(msg_id)
            self.ack(msg_id, to=CLIENT)


class EffectStore(Node):
    """Applies each request once: the deduplication record commits with the effect, in this store."""

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        with self.atomic():
            if ("done", msg_id) not in self.durable:
                self.apply(body)
                self.durable[("done", msg_id)] = True
        self.ack(msg_id)
