"""Fencing: the store, not the lock holder, decides whether a holder's write is still welcome.

A holder that paused (a long garbage collection, a slow disk, a lost network) cannot know that its
lease expired and that a newer holder took over. ``FencingStore`` ("store") keeps the highest token
it has seen, per resource; a write whose token is lower than that is rejected (with a note on the
diagram), so a stale holder cannot write after a newer one did (Kleppmann, "How to do distributed
locking", 2016). Kafka fences a zombie producer the same way: ``initTransactions`` by a new instance
with the same ``transactional.id`` bumps the producer epoch, and the broker then rejects requests
that carry the older epoch (``ProducerFencedException``).

A message to the store is ``Fenced(key, token, lease)``: a write when its body is a Payload (an
effect, acknowledged when accepted), or, with ``register=True`` and no body, the registration of a
holder that starts to work: nothing is written, the token becomes the highest the store has seen
(as ``initTransactions`` registers a new epoch before the new producer writes anything).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from ..nodes import Node, Payload
from ...validation import check_choice

__all__ = ["Fenced", "FencingStore", "STORE"]

STORE = "store"


@dataclass(frozen=True)
class Fenced:
    """A request to the store about resource ``key``, carrying the writer's ``token`` (0: none).
    ``lease`` is the delivery it comes from (for the writer's own bookkeeping; not compared)."""

    key: Hashable
    token: int
    lease: Any = field(default=None, compare=False)
    register: bool = False

    def __repr__(self) -> str:
        if self.register:
            return f"{self.key} start {self.token}"
        return f"{self.key} token {self.token}" if self.token else f"{self.key} write"


class FencingStore(Node):
    """A store that applies writes (effects) and, with ``fence``, rejects a write whose token is
    lower than the highest token it has seen for the same resource.

    fence: check tokens (False: accept every write, as a store that knows nothing of leases).
    scope: "message" (one resource per message: its key) or "store" (one resource for everything,
           as one lock or one transactional id guards the whole store).
    """

    def __init__(self, fence: bool = True, scope: str = "message") -> None:
        if not isinstance(fence, bool):
            raise TypeError(f"fence must be True or False, got {fence!r}")
        self.fence = fence
        self.scope = check_choice("scope", scope, ("message", "store"))

    def resource(self, request: Fenced) -> Hashable:
        return request.key if self.scope == "message" else "store"

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        if not isinstance(msg_id, Fenced):
            raise TypeError(f"a request to the fencing store is a Fenced(key, token), got {msg_id!r}")
        resource = self.resource(msg_id)
        with self.atomic():
            highest = self.durable.get(("token", resource), 0)
            if self.fence and msg_id.token < highest:
                self.note(f"token {msg_id.token} < {highest}: rejected")
                return
            if not msg_id.register:
                if type(body) is not Payload:
                    raise TypeError(f"a write to the fencing store carries a Payload, got {body!r}")
                self.apply(body)
            self.durable[("token", resource)] = max(highest, msg_id.token)
        self.ack(msg_id)
