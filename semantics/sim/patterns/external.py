"""Effects a transaction cannot undo: a call to an external service, made idempotent by a key.

``PaymentService`` is the external service (the third node, "service"): each call it executes is an
effect (``apply``) that no ``atomic()`` block of the caller can roll back. A call carries an
*idempotency key* (the message id of the call): a repeat with a key the service still holds gets the
saved response and executes nothing. Keys are kept for ``retention`` time units, then forgotten: a
call that reuses a forgotten key is a new call. (Stripe saves the response of the first request made
with a key, and may prune a key once it is at least 24 hours old; a key reused after that is a new
request: Stripe API reference, "Idempotent requests".)

The consumers ("receiver") get messages from the producer ("sender") and must make one call per
message:

- ``CallThenAckConsumer``: calls while handling the message and acknowledges when the service
  answers; a redelivered message calls again, with the same key (``key="message"``) or a fresh one
  (``key="call"``, as a client that generates a random key per request does);
- ``CallInTransactionConsumer``: records the message and calls the service inside one ``atomic()``
  block: a crash before the commit rolls back the record, not the call;
- ``OutboxConsumer``: writes the call into an outbox in the same commit as its record of the
  message, acknowledges, and a relay sends the outbox to the service (with the message id as key)
  until the service answers: the call is retried, from durable state, whatever crashes.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ..nodes import Node, Payload
from ...validation import check_choice, check_int, check_number

__all__ = ["PaymentService", "CallThenAckConsumer", "CallInTransactionConsumer", "OutboxConsumer"]

SERVICE, PRODUCER = "service", "sender"


class PaymentService(Node):
    """An external service that executes calls and honours idempotency keys for ``retention`` time
    units (None: forever).

    A call is a message whose id is its idempotency key and whose body is the Payload to execute.
    A key the service holds gets the saved response (a note on the diagram) and no execution; an
    unknown or forgotten key is executed (an effect) and saved with the time of that execution.
    Every call is answered with an ack of its key, to the caller.
    """

    def __init__(self, retention: float | None = 24.0) -> None:
        self.retention = None if retention is None else check_number("retention", retention, low=0.0, low_open=True)

    def holds(self, key: Hashable) -> tuple | None:
        """(receipt, executed at) of ``key`` if the service still holds it."""
        saved = self.durable.get(("key", key))
        if saved is None or (self.retention is not None and self.now - saved[1] >= self.retention):
            return None
        return saved

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        if type(body) is not Payload:
            raise TypeError(f"a call to the payment service carries the Payload to execute, got {body!r}")
        with self.atomic():
            saved = self.holds(msg_id)
            if saved is not None:
                self.note(f"key {msg_id}: saved response #{saved[0]}")
            else:
                if self.durable.get(("key", msg_id)) is not None:
                    self.note(f"key {msg_id} expired: new call")
                receipt = self.apply(body)
                self.durable[("key", msg_id)] = (receipt, self.now)
        self.ack(msg_id)


class CallThenAckConsumer(Node):
    """Calls the service while handling each message, and acknowledges the message to the producer
    when the service answers. Nothing is remembered across a crash: a redelivery calls again.

    key: "message" (the message id is the idempotency key: every call for a message has the same
         key) or "call" (a fresh key per call: the message id and the time of the call).
    """

    def __init__(self, key: str = "message") -> None:
        self.key = check_choice("key", key, ("message", "call"))

    def on_start(self) -> None:
        self.waiting: dict[Hashable, Hashable] = {}  # key of a call -> the message it is for

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        key = msg_id if self.key == "message" else f"{msg_id}@{self.now:g}"
        self.waiting[key] = msg_id
        self.send(SERVICE, key, body)

    def on_ack(self, key: Hashable) -> None:
        msg_id = self.waiting.pop(key, None)
        if msg_id is not None:
            self.ack(msg_id, to=PRODUCER)


class CallInTransactionConsumer(Node):
    """Records the message and calls the service inside one ``atomic()`` block, then acknowledges.
    The block commits the record or rolls it back; the call, once sent, is out of its reach."""

    def __init__(self, key: str = "call") -> None:
        self.key = check_choice("key", key, ("message", "call"))

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        with self.atomic():
            if ("done", msg_id) not in self.durable:
                key = msg_id if self.key == "message" else f"{msg_id}@{self.now:g}"
                self.send(SERVICE, key, body)          # not rolled back by a crash before the commit
                self.durable[("done", msg_id)] = True
        self.ack(msg_id)


class OutboxConsumer(Node):
    """The transactional outbox for an external call: the record of the message and an outbox row
    (the call to make, keyed by the message id) commit together; then the message is acknowledged,
    and a relay sends every outbox row to the service every ``relay_every`` time units until the
    service answers, when the row is deleted. After a crash the relay starts again from the outbox.

    max_calls: calls per row at most (None: until answered); a row that runs out is left in the
    outbox with a note, and leaves the set of rows to relay (what an operator would have to look at).
    """

    def __init__(self, relay_every: float = 3.0, max_calls: int | None = 20) -> None:
        self.relay_every = check_number("relay_every", relay_every, low=0.0, low_open=True)
        self.max_calls = None if max_calls is None else check_int("max_calls", max_calls, low=1)

    def on_start(self) -> None:
        self.calls: dict[Hashable, int] = {}     # outbox row -> calls made by this incarnation
        # the rows this incarnation still sends (a row that ran out of calls leaves this set, not the outbox)
        self.active: dict[Hashable, Payload] = {row: self.durable[("outbox", row)]
                                                 for row in self.durable.get("open", ())}
        if self.active:
            self.set_timer("relay", self.relay_every)

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        with self.atomic():
            new = ("done", msg_id) not in self.durable
            if new:
                self.durable[("done", msg_id)] = True
                self.durable[("outbox", msg_id)] = body
                self.durable["open"] = self.durable.get("open", frozenset()) | {msg_id}  # the rows to relay
        self.ack(msg_id)
        if new:
            self.active[msg_id] = body
            self.call(msg_id, body)
            self.set_timer("relay", self.relay_every)

    def call(self, key: Hashable, body: Payload) -> None:
        self.calls[key] = self.calls.get(key, 0) + 1
        self.send(SERVICE, key, body)

    def on_timer(self, key: Hashable) -> None:
        for row, body in list(self.active.items()):
            if self.max_calls is not None and self.calls.get(row, 0) >= self.max_calls:
                del self.active[row]
                with self.atomic():                        # later incarnations leave it to an operator
                    self.durable["open"] = self.durable.get("open", frozenset()) - {row}
                self.note(f"outbox: {row} never answered after {self.max_calls} calls")
                continue
            self.call(row, body)
        if self.active:
            self.set_timer("relay", self.relay_every)

    def on_ack(self, key: Hashable) -> None:
        if self.peer != SERVICE:
            return
        self.active.pop(key, None)
        with self.atomic():
            if ("outbox", key) in self.durable:
                del self.durable[("outbox", key)]
                self.durable["open"] = self.durable.get("open", frozenset()) - {key}
