"""Reference protocols for the three guarantees, and the tempting variants the lessons test.

Each protocol is a sender class and a receiver class written with the API of ``semantics.sim.nodes``
only: what a learner can write, nothing more.
"""

from __future__ import annotations

import hashlib
from typing import Any, Hashable

from .nodes import Node, Payload
from ..validation import check_int, check_number

# -- senders -----------------------------------------------------------------------------------


class FireAndForgetSender(Node):
    """At-most-once: send each message once and forget it."""

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        self.send("receiver", msg_id, body)


class RetryingSender(Node):
    """At-least-once: resend on timeout until acknowledged, ``max_retries`` times at most.

    The k-th retry waits ``timeout * backoff**k``; when the last attempt times out the sender
    gives up: an *indefinite* outcome (the message may or may not have taken effect).
    Every retry carries the same ``msg_id``: the stable id a receiver can deduplicate on.
    """

    timeout = 3.0
    max_retries = 3
    backoff = 1.0

    def __init__(self, timeout: float | None = None, max_retries: int | None = None,
                 backoff: float | None = None) -> None:
        if timeout is not None:
            self.timeout = check_number("timeout", timeout, low=0.0, low_open=True)
        if max_retries is not None:
            self.max_retries = check_int("max_retries", max_retries)
        if backoff is not None:
            self.backoff = check_number("backoff", backoff, low=1.0)

    def on_start(self) -> None:
        self.unacked: dict[Hashable, list] = {}  # msg_id -> [body, retries so far]

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        self.unacked[msg_id] = [body, 0]
        self.transmit(msg_id)

    def transmit(self, msg_id: Hashable) -> None:
        body, retries = self.unacked[msg_id]
        self.send("receiver", msg_id, body)  # the same id on every retry
        self.set_timer(msg_id, self.timeout * self.backoff ** retries if retries else self.timeout)

    def on_ack(self, msg_id: Hashable) -> None:
        if self.unacked.pop(msg_id, None) is not None:
            self.cancel_timer(msg_id)

    def on_timer(self, msg_id: Hashable) -> None:
        entry = self.unacked.get(msg_id)
        if entry is None:
            return
        if entry[1] >= self.max_retries:
            del self.unacked[msg_id]
            self.note(f"gave up on {msg_id}")
            return
        entry[1] += 1
        self.transmit(msg_id)


class NewIdEachRetrySender(RetryingSender):
    """Tempting and wrong: a fresh id on every retry, so the receiver cannot recognise a retry."""

    def transmit(self, msg_id: Hashable) -> None:
        body, retries = self.unacked[msg_id]
        self.send("receiver", f"{msg_id}#{retries}", body)  # a new id on every retry
        self.set_timer(msg_id, self.timeout * self.backoff ** retries)

    def on_ack(self, msg_id: Hashable) -> None:
        super().on_ack(str(msg_id).split("#")[0])


# -- receivers ---------------------------------------------------------------------------------


class ApplyReceiver(Node):
    """At-most-once receiver: apply what arrives; send no acknowledgement (nobody waits for one)."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        self.apply(body)


class AckFirstReceiver(Node):
    """Acknowledge, then process: a crash in between loses the message (at-most-once)."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        self.ack(msg_id)
        self.apply(body)


class ProcessThenAckReceiver(Node):
    """At-least-once receiver: process, then acknowledge. Every retry is processed again."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        self.apply(body)
        self.ack(msg_id)


class DeduplicatingReceiver(Node):
    """Exactly-once effect: a durable record of processed ids, written in the same atomic commit
    as the effect; a duplicate is acknowledged again (its first ack may have been lost)."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        with self.atomic():
            if ("done", msg_id) not in self.durable:
                self.apply(body)
                self.durable[("done", msg_id)] = True
        self.ack(msg_id)


class InMemoryDedupReceiver(Node):
    """Tempting and wrong: deduplicates with a volatile set, which a crash forgets."""

    def on_start(self) -> None:
        self.seen: set = set()

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        if msg_id not in self.seen:
            self.apply(body)
            self.seen.add(msg_id)
        self.ack(msg_id)


class MarkThenProcessReceiver(Node):
    """Tempting and wrong: records the id durably, then applies; a crash in between loses it."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        if ("done", msg_id) not in self.durable:
            self.durable[("done", msg_id)] = True
            self.apply(body)
        self.ack(msg_id)


class ProcessThenMarkReceiver(Node):
    """Tempting and wrong: applies, then records the id, not atomically; a crash in between
    duplicates it."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        if ("done", msg_id) not in self.durable:
            self.apply(body)
            self.durable[("done", msg_id)] = True
        self.ack(msg_id)


class ContentHashReceiver(Node):
    """Tempting and wrong: deduplicates by a hash of the body, so two different messages with
    the same content collapse into one (as SQS FIFO content-based deduplication does)."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        key = ("done", hashlib.sha256(repr(body.content).encode()).hexdigest())
        with self.atomic():
            if key not in self.durable:
                self.apply(body)
                self.durable[key] = True
        self.ack(msg_id)


class WindowedDedupReceiver(Node):
    """Deduplication that forgets ids older than ``window`` time units (bounded state).
    Correct only while every retry arrives within the window of the first copy."""

    window = 10.0

    def __init__(self, window: float | None = None) -> None:
        if window is not None:
            self.window = check_number("window", window, low=0.0, low_open=True)

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        with self.atomic():
            seen: Any = self.durable.get("seen", {})
            fresh = {k: t for k, t in seen.items() if self.now - t <= self.window}
            if msg_id not in fresh:
                self.apply(body)
                fresh[msg_id] = self.now
            self.durable["seen"] = fresh
        self.ack(msg_id)


# The reference pair for each guarantee.
REFERENCE = {
    "at-most-once": (FireAndForgetSender, ApplyReceiver),
    "at-least-once": (RetryingSender, ProcessThenAckReceiver),
    "exactly-once": (RetryingSender, DeduplicatingReceiver),
}
