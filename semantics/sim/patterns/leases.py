"""Leases: a broker hands a message to one consumer at a time, for a limited time.

``LeaseBroker`` ("receiver") stores what the producer sends and delivers each message to one of its
consumers under a *lease* of ``lease`` time units: SQS's visibility timeout, JetStream's AckWait,
a Pub/Sub ack deadline. If the consumer's ack does not arrive in time, the broker takes the message
back and hands it to the next consumer under a new lease. Every lease it grants gets a *token*, a
number one higher than the last (kept durably), and the message travels as ``Leased(msg_id, token)``.

A consumer that takes longer than the lease is still working when the broker hands the message to
another one: two live consumers of one message. ``SlowConsumer`` works for ``work_time`` (a number,
or a function of the message id), writes the result to the store ("store"), passing its token along
when ``fenced`` is set, and acknowledges the lease once the store has accepted the write.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from ..nodes import Node, Payload
from ...validation import check_int, check_number
from .fencing import STORE, Fenced

__all__ = ["Leased", "LeaseBroker", "SlowConsumer"]

PRODUCER = "sender"
BROKER = "receiver"


@dataclass(frozen=True)
class Leased:
    """The id of one delivery: which message, under which lease."""

    msg_id: Hashable
    token: int

    def __repr__(self) -> str:
        return f"{self.msg_id} lease {self.token}"


@dataclass(frozen=True)
class Timer:
    """A timer's key that reads well on a diagram: "lease m1" (the broker's), "work m1 lease 2"."""

    what: str
    subject: Any

    def __repr__(self) -> str:
        return f"{self.what} {self.subject!r}" if not isinstance(self.subject, str) else f"{self.what} {self.subject}"


class LeaseBroker(Node):
    """Stores each message from the producer (and acknowledges it), then delivers it to its consumers
    in turn, one lease at a time, until one of them acknowledges it under the current lease.

    consumers:      the consumer nodes' names, served in turn (lease k goes to consumers[(k-1) % n]).
    lease:          how long a consumer may hold a message before the broker takes it back.
    max_deliveries: leases per message at most (None: no limit); then the message is set aside
                    (a dead-letter queue) with a note.
    """

    def __init__(self, consumers: Sequence[str] = ("c1", "c2"), lease: float = 3.0,
                 max_deliveries: int | None = 5) -> None:
        if isinstance(consumers, str) or not all(isinstance(c, str) for c in consumers) or not consumers:
            raise TypeError(f"consumers must be a non-empty sequence of node names, got {consumers!r}")
        self.consumers = tuple(consumers)
        self.lease = check_number("lease", lease, low=0.0, low_open=True)
        self.max_deliveries = None if max_deliveries is None else check_int("max_deliveries", max_deliveries, low=1)

    def on_start(self) -> None:
        # A restarted broker leases again every message still stored.
        for key in list(self.durable):
            if isinstance(key, tuple) and key[0] == "message":
                self.deliver(key[1])

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        if self.peer != PRODUCER:
            return
        with self.atomic():
            new = ("message", msg_id) not in self.durable and ("done", msg_id) not in self.durable
            if new:
                self.durable[("message", msg_id)] = body
        self.ack(msg_id)
        if new:
            self.deliver(msg_id)

    def deliver(self, msg_id: Hashable) -> None:
        with self.atomic():
            token = self.durable.get("last token", 0) + 1
            self.durable["last token"] = token
            self.durable[("lease", msg_id)] = token
            leases = self.durable.get(("leases", msg_id), 0) + 1
            self.durable[("leases", msg_id)] = leases
        consumer = self.consumers[(token - 1) % len(self.consumers)]
        self.send(consumer, Leased(msg_id, token), self.durable[("message", msg_id)])
        self.set_timer(Timer("lease", msg_id), self.lease)

    def on_timer(self, key: Hashable) -> None:
        msg_id = key.subject
        if ("message", msg_id) not in self.durable:
            return
        if self.max_deliveries is not None and self.durable.get(("leases", msg_id), 0) >= self.max_deliveries:
            self.note(f"{msg_id}: {self.max_deliveries} leases expired, set aside")
            with self.atomic():
                del self.durable[("message", msg_id)]
            return
        self.note(f"lease {self.durable[('lease', msg_id)]} of {msg_id} expired")
        self.deliver(msg_id)

    def on_ack(self, key: Hashable) -> None:
        if not isinstance(key, Leased):
            return
        with self.atomic():
            current = self.durable.get(("lease", key.msg_id))
            if current != key.token or ("message", key.msg_id) not in self.durable:
                self.note(f"ack of {key!r}: lease no longer held")
                return
            del self.durable[("message", key.msg_id)]
            self.durable[("done", key.msg_id)] = True
        self.cancel_timer(Timer("lease", key.msg_id))


class SlowConsumer(Node):
    """Works on each leased message for ``work_time``, then writes its result to the store, then
    acknowledges the lease once the store accepted the write.

    work_time: time units of work per message: a number, or a function msg_id -> number.
    fenced:    pass the lease's token with the write (the store can then reject a stale holder).
    register:  with ``fenced``, also show the token to the store when the work starts (the store
               then rejects an older holder's write from that moment, not only after a newer write).
    """

    def __init__(self, work_time: float | Callable[[Hashable], float] = 1.0, fenced: bool = False,
                 register: bool = False) -> None:
        if callable(work_time):
            self.work_time = work_time
        else:
            self.work_time = check_number("work_time", work_time, low=0.0, low_open=True)
        if not isinstance(fenced, bool):
            raise TypeError(f"fenced must be True or False, got {fenced!r}")
        self.fenced = fenced
        if not isinstance(register, bool):
            raise TypeError(f"register must be True or False, got {register!r}")
        if register and not fenced:
            raise ValueError("register=True needs fenced=True: a holder without a token has nothing to register")
        self.register = register

    def duration(self, msg_id: Hashable) -> float:
        if callable(self.work_time):
            return check_number(f"work_time({msg_id!r})", self.work_time(msg_id), low=0.0, low_open=True)
        return self.work_time

    def on_start(self) -> None:
        self.work: dict[Hashable, Payload] = {}

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        if not isinstance(msg_id, Leased):
            return
        self.work[msg_id] = body
        if self.register:
            self.send(STORE, Fenced(msg_id.msg_id, msg_id.token, None, register=True), None)
        self.set_timer(Timer("work", msg_id), self.duration(msg_id.msg_id))

    def on_timer(self, key: Hashable) -> None:
        leased = key.subject
        body = self.work.pop(leased, None)
        if body is None:
            return
        token = leased.token if self.fenced else 0
        self.send(STORE, Fenced(leased.msg_id, token, leased), body)

    def on_ack(self, key: Hashable) -> None:
        if isinstance(key, Fenced) and not key.register and key.lease is not None:
            self.ack(key.lease, to=BROKER)
