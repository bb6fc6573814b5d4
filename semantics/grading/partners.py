"""Partner classes: the nodes an exercise gives the learner and grades against, never the learner's
own copy (so that the statement's promises hold: exercise 5's bound rests on its sender).

A future exercise adds its nodes here: a lease broker, a fencing store, a service that keeps
idempotency keys; the exercise's specification names them (``Exercise.partners``, ``others``).
"""

from __future__ import annotations

from collections.abc import Hashable

from ..sim.nodes import Node, Payload


class ApplyAndAckReceiver(Node):
    """Exercise 1's receiver: applies every message it receives, then acknowledges it."""

    def on_message(self, msg_id: Hashable, body: Payload) -> None:
        self.apply(body)
        self.ack(msg_id)


class NumberedSender(Node):
    """Exercise 5's sender: numbers its messages 1, 2, 3, ... and retries each at most 4 times, 4 time
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
    """A log broker (the ``sender`` node of exercise 4), in the manner of a Kafka partition.

    Every message the application sends is appended to the log at the next *offset* and pushed to
    the consumer as ``on_message(offset, body)``. The consumer *commits* with ``ack(offset)``, which
    means "every record up to and including ``offset`` is done" (a commit is cumulative, as a
    Kafka offset commit is). Every ``redeliver_after`` time units the broker pushes every record
    from the committed offset on again, in order, until they are committed; after ``max_rounds``
    rounds without progress it stops redelivering for good (new records are still pushed once), so
    that a consumer that never commits cannot keep a run alive.
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
