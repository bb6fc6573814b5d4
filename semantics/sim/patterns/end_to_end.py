"""The end-to-end argument: the check that matters is made at the ends.

A request crosses several hops, and every hop can be made exactly-once for the messages it sees:
``Relay`` ("receiver") is a store-and-forward hop that recognises a retry of a message by its id
(a durable record, committed atomically) and forwards each new message to the end store ("db")
until the store acknowledges it. But the hops only know their own ids. When the application above
the first hop gives up on a request (an indefinite outcome) and submits it again, as a user who
presses "pay" once more does, the new submission is a new message to every hop below.

``ImpatientApp`` ("sender") is that application: after ``max_retries`` unanswered retries it gives
up and submits the request again under a new id (``m1.1``, ``m1.2``...), ``resubmits`` times at most.
``EndStore`` deduplicates by the hop's message id (``key="hop"``) or by the application's own name
for the request (``key="application"``: the request's content, which the application chose once,
such as "order 17"). Only the second sees through a resubmission (Saltzer, Reed and Clark,
"End-to-end arguments in system design", 1984: duplicate message suppression is one of their
examples).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ..nodes import Node, Payload
from ...validation import check_choice, check_int, check_number

__all__ = ["ImpatientApp", "Relay", "EndStore"]

HOP, END = "receiver", "db"


class ImpatientApp(Node):
    """Sends each request to the first hop, retries with the same id, and when the retries run out,
    submits it again under a new id (``resubmits`` times at most)."""

    def __init__(self, timeout: float = 3.0, max_retries: int = 1, resubmits: int = 1) -> None:
        self.timeout = check_number("timeout", timeout, low=0.0, low_open=True)
        self.max_retries = check_int("max_retries", max_retries, high=1000)
        self.resubmits = check_int("resubmits", resubmits, high=1000)

    def on_start(self) -> None:
        self.pending: dict[Hashable, list] = {}  # message id on the wire -> [body, retries, submission]

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        self.submit(msg_id, body, 0, msg_id)

    def submit(self, wire_id: Hashable, body: Payload, submission: int, request: Hashable) -> None:
        self.pending[wire_id] = [body, 0, submission, request]
        self.send(HOP, wire_id, body)
        self.set_timer(wire_id, self.timeout)

    def on_ack(self, msg_id: Hashable) -> None:
        if self.pending.pop(msg_id, None) is not None:
            self.cancel_timer(msg_id)

    def on_timer(self, wire_id: Hashable) -> None:
        entry = self.pending.get(wire_id)
        if entry is None:
            return
        body, retries, submission, request = entry
        if retries < self.max_retries:
            entry[1] += 1
            self.send(HOP, wire_id, body)
            self.set_timer(wire_id, self.timeout)
            return
        del self.pending[wire_id]
        if submission < self.resubmits:
            again = f"{request}.{submission + 1}"
            self.note(f"gave up; submits again as {again}")
            self.submit(again, body, submission + 1, request)
        else:
            self.note(f"gave up on {request}")


class Relay(Node):
    """A store-and-forward hop that is exactly-once for the ids it sees: a durable record of each id
    (committed with the copy it forwards), an ack to the sender, and retries to the end store every
    ``timeout`` until it acknowledges (``max_forwards`` sends at most). ``dedup=False`` forwards
    every copy it receives."""

    def __init__(self, timeout: float = 3.0, max_forwards: int = 20, dedup: bool = True) -> None:
        self.timeout = check_number("timeout", timeout, low=0.0, low_open=True)
        self.max_forwards = check_int("max_forwards", max_forwards, low=1)
        if not isinstance(dedup, bool):
            raise TypeError(f"dedup must be True or False, got {dedup!r}")
        self.dedup = dedup

    def on_start(self) -> None:
        self.sent: dict[Hashable, int] = {}
        for key in list(self.durable):
            if isinstance(key, tuple) and key[0] == "out":
                self.forward(key[1])

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        wire_id = msg_id
        with self.atomic():
            new = not (self.dedup and ("seen", msg_id) in self.durable)
            if new:
                if not self.dedup:
                    wire_id = f"{msg_id}/{self.durable.get('copies', 0) + 1}"
                    self.durable["copies"] = self.durable.get("copies", 0) + 1
                self.durable[("seen", msg_id)] = True
                self.durable[("out", wire_id)] = body
        self.ack(msg_id)
        if new:
            self.forward(wire_id)

    def forward(self, wire_id: Hashable) -> None:
        self.sent[wire_id] = self.sent.get(wire_id, 0) + 1
        self.send(END, wire_id, self.durable[("out", wire_id)])
        self.set_timer(wire_id, self.timeout)

    def on_timer(self, wire_id: Hashable) -> None:
        if ("out", wire_id) in self.durable and self.sent.get(wire_id, 0) < self.max_forwards:
            self.forward(wire_id)

    def on_ack(self, wire_id: Hashable) -> None:
        if self.peer != END:
            return
        with self.atomic():
            if ("out", wire_id) in self.durable:
                del self.durable[("out", wire_id)]
        self.cancel_timer(wire_id)


class EndStore(Node):
    """The end: applies each request once per key, the record committed with the effect.
    key: "hop" (the id of the message that arrived) or "application" (the request's content)."""

    def __init__(self, key: str = "application") -> None:
        self.key = check_choice("key", key, ("hop", "application"))

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        name = msg_id if self.key == "hop" else ("request", body.content)
        with self.atomic():
            if ("done", name) not in self.durable:
                self.apply(body)
                self.durable[("done", name)] = True
        self.ack(msg_id)
