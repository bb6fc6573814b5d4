"""Partner classes: the nodes an exercise gives the learner and grades against, never the learner's
own copy (so that the statement's promises hold: exercise 6's bound rests on its sender).

The rungs past one link reuse lesson 05's nodes (``semantics.sim.patterns``), each fixed to the
parameters its exercise states: a lease broker with two slow workers (exercise 8), a payment service
that keeps idempotency keys for a limited time (exercise 9). The exercise's specification names them
(``Exercise.partners``, ``others``).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ..sim.nodes import Node, Payload
from ..sim.patterns.external import PaymentService
from ..sim.patterns.fencing import Fenced
from ..sim.patterns.leases import LeaseBroker, Leased, SlowConsumer
from ..sim.patterns.reply_cache import Reply


class ApplyAndAckReceiver(Node):
    """Exercise 1's receiver: applies every message it receives, then acknowledges it."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        self.apply(body)
        self.ack(msg_id)


class SequenceSender(Node):
    """Exercise 3's sender: numbers its messages 1, 2, 3, ... (the number is the message id on the
    wire, the same on every copy) and sends each again every ``timeout`` until it is acknowledged.
    One message at a time: the exercise submits the next one when nothing is left in flight."""

    timeout = 3.0  # longer than a round trip (2)

    def on_start(self) -> None:
        self.next_seq = 1
        self.unacked: dict[int, Payload] = {}  # seq -> body

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        self.unacked[seq] = body
        self.send("receiver", seq, body)
        self.set_timer(seq, self.timeout)

    def on_ack(self, seq: Hashable) -> None:
        if self.unacked.pop(seq, None) is not None:
            self.cancel_timer(seq)

    def on_timer(self, seq: Hashable) -> None:
        if seq in self.unacked:
            self.send("receiver", seq, self.unacked[seq])
            self.set_timer(seq, self.timeout)


class NumberedSender(Node):
    """Exercise 6's sender: numbers its messages 1, 2, 3, ... and retries each at most 4 times, 4 time
    units apart, so that the last copy leaves 16 after the first (the statement's horizon rests on it)."""

    timeout = 4.0
    max_retries = 4

    def on_start(self) -> None:
        self.next_seq = 1
        self.unacked: dict[int, list] = {}  # seq -> [body, retries so far]

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        self.unacked[seq] = [body, 0]
        self.send("receiver", seq, body)
        self.set_timer(seq, self.timeout)

    def on_ack(self, seq: Hashable) -> None:
        if self.unacked.pop(seq, None) is not None:
            self.cancel_timer(seq)

    def on_timer(self, seq: Hashable) -> None:
        entry = self.unacked.get(seq)
        if entry is None:
            return
        if entry[1] >= self.max_retries:  # give up: an indefinite outcome (it may have taken effect)
            del self.unacked[seq]
            return
        entry[1] += 1
        self.send("receiver", seq, entry[0])
        self.set_timer(seq, self.timeout)


class Broker(Node):
    """A log broker (the ``sender`` node of exercise 5): one partition of a log, simplified.

    Every message the application sends is appended to the log at the next *offset* and pushed to
    the consumer as ``on_message(offset, body)`` (Kafka consumers pull records with ``poll``; a push
    changes nothing about commits). The consumer *commits* with ``ack(offset)`` after processing the
    record at ``offset``: the broker's committed offset becomes ``offset + 1``, the offset of the
    next record to read, as Kafka's is (``commitSync`` of ``offset + 1``). A commit is cumulative:
    it covers every record before it (unlike Redis Streams' XACK, which acknowledges single
    entries). Every ``redeliver_after`` time units the broker pushes every record from the committed
    offset on again, in order, until they are committed; after ``max_rounds`` rounds without progress
    it stops redelivering for good (new records are still pushed once), so that a consumer that
    never commits cannot keep a run alive.
    """

    redeliver_after = 4.0
    max_rounds = 60  # long enough that bad luck (loss, crashes) never looks like a consumer that never commits

    def on_start(self) -> None:
        self.log: list[Payload] = []
        self.committed = 0        # the next offset the consumer has not committed
        self.rounds = 0           # redelivery rounds since the committed offset last moved
        self.armed = False

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        self.log.append(body)
        self.send("receiver", len(self.log) - 1, body)
        self.arm()

    def arm(self) -> None:
        if not self.armed:
            self.armed = True
            self.set_timer("redeliver", self.redeliver_after)

    def on_ack(self, offset: Hashable) -> None:
        # Ignore what is not an offset of this log: a consumer's bug must not crash the broker.
        if type(offset) is int and self.committed <= offset < len(self.log):
            self.committed = offset + 1
            self.rounds = 0

    def on_timer(self, key: Hashable) -> None:
        self.armed = False
        if self.committed >= len(self.log):
            return
        self.rounds += 1
        if self.rounds > self.max_rounds:
            self.note(f"broker gave up: offset {self.committed} never committed")
            return
        for offset in range(self.committed, len(self.log)):
            self.send("receiver", offset, self.log[offset])
        self.arm()


class PipelinedClient(Node):
    """Exercise 7's client ("sender"): numbers its requests 1, 2, 3, ... and sends each as the
    application submits it, without waiting for the replies of earlier ones (several requests are
    outstanding at once). It sends a request again every ``timeout`` until a reply for it arrives,
    ``max_retries`` times at most, then gives up on it.

    A reply is a data message from the server whose id is the request's number and whose body is the
    receipt (what ``apply`` returned); a ``semantics.sim.patterns.Reply`` is understood too (lesson
    05's servers send those). The client accepts the first reply of each request and ignores the
    others. ``accepted`` maps each request's logical message to the receipt it accepted (None: a
    reply without a result), for the grader."""

    timeout = 3.0
    max_retries = 3

    def on_start(self) -> None:
        self.next_seq = 1
        self.pending: dict[int, list] = {}       # seq -> [body, retries so far]
        self.accepted: dict[int, Any] = {}       # logical message -> the receipt of the reply it accepted

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        self.pending[seq] = [body, 0]
        self.send("receiver", seq, body)
        self.set_timer(seq, self.timeout)

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        if isinstance(body, Reply):
            request, receipt = body.request, body.receipt
        else:
            request, receipt = msg_id, body
        entry = self.pending.pop(request, None) if type(request) is int else None
        if entry is None:
            return  # a reply to a request already settled (or to no request at all)
        self.cancel_timer(request)
        self.accepted[entry[0].logical] = receipt if type(receipt) is int else None

    def on_timer(self, seq: Hashable) -> None:
        entry = self.pending.get(seq)
        if entry is None:
            return
        if entry[1] >= self.max_retries:
            del self.pending[seq]
            self.note(f"gave up on request {seq}")
            return
        entry[1] += 1
        self.send("receiver", seq, entry[0])
        self.set_timer(seq, self.timeout)


class Producer(Node):
    """The producer of exercises 8 and 9 ("sender"): sends each message to the "receiver" and again
    every ``timeout`` until it is acknowledged (it never gives up), with the application's id."""

    timeout = 4.0

    def on_start(self) -> None:
        self.unacked: dict[Hashable, Payload] = {}

    def on_send(self, msg_id: Hashable, body: Payload) -> None:
        self.unacked[msg_id] = body
        self.send("receiver", msg_id, body)
        self.set_timer(msg_id, self.timeout)

    def on_ack(self, msg_id: Hashable) -> None:
        if self.unacked.pop(msg_id, None) is not None:
            self.cancel_timer(msg_id)

    def on_timer(self, msg_id: Hashable) -> None:
        if msg_id in self.unacked:
            self.send("receiver", msg_id, self.unacked[msg_id])
            self.set_timer(msg_id, self.timeout)


LEASE = 6.0  # exercise 8: how long a worker holds a message before the queue lends it again


class LeaseQueue(LeaseBroker):
    """Exercise 8's queue ("receiver"): lesson 05's ``LeaseBroker`` lending each message to the workers
    "c1" and "c2" in turn, under a lease of 6 time units, 30 leases per message at most (then the
    message is set aside: a dead-letter queue)."""

    def __init__(self) -> None:
        super().__init__(consumers=("c1", "c2"), lease=LEASE, max_deliveries=30)


#: Exercise 8: how long worker c1 works on each message (worker c2 always takes 1). A lease is 6:
#: m1's first write lands after the next holder started and before it writes (only the token tells it
#: is stale); m2's lands after its lease expired and before the next holder starts (a fencing token
#: alone lets the second write in: the store must also deduplicate); m3's after the next holder's write
#: (stale, and a duplicate).
WORK = {"m1": 6.5, "m2": 5.5, "m3": 8.0}


class Worker(SlowConsumer):
    """Exercise 8's workers ("c1", "c2"): lesson 05's ``SlowConsumer``, fenced: each shows its lease's
    token to the store when it starts (``Fenced(msg_id, token, register=True)``, no body), works,
    writes with the token (``Fenced(msg_id, token)``, the body), and acknowledges its lease to the
    queue once the store acknowledged the write. Worker c1 works ``WORK[msg_id]`` (1 for others),
    c2 always 1."""

    def __init__(self) -> None:
        super().__init__(work_time=1.0, fenced=True, register=True)

    def duration(self, msg_id: Hashable) -> float:
        return WORK.get(msg_id, 1.0) if self.name == "c1" else 1.0


RETENTION = 24.0  # exercise 9: how long the payment service keeps an idempotency key


class Payments(PaymentService):
    """Exercise 9's payment service ("service"): lesson 05's ``PaymentService``, which keeps each
    idempotency key for 24 time units after executing its call (then a call with that key is new)."""

    def __init__(self) -> None:
        super().__init__(retention=RETENTION)


__all__ = ["ApplyAndAckReceiver", "SequenceSender", "NumberedSender", "Broker", "PipelinedClient", "Producer",
           "LeaseQueue", "Worker", "Payments", "Fenced", "Leased", "Reply", "WORK", "LEASE", "RETENTION"]
