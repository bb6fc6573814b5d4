"""Consume-transform-produce: read a record, write a result, and move the consumer's offset.

``LogBroker`` ("receiver") is a small Kafka: an input log that the producer ("sender") appends to,
an output log, the committed offset of the processor's group (the offset of the *next* record to
read), and transactions. Consumers pull: the processor sends ``Fetch(offset)`` and the broker answers
with that record, or parks the fetch until the record exists (a long poll).

``StreamProcessor`` ("proc") reads one record at a time and writes one output record for it:

- ``mode="transactional"``: the output record and the new offset commit in one transaction, as
  Kafka's transactional producer does with ``sendOffsetsToTransaction``. A crash before the commit
  leaves the output record in an open transaction; the restarted processor's ``Init`` (as
  ``initTransactions``) bumps the producer epoch, which aborts that transaction and fences the old
  epoch. A ``read_committed`` consumer never sees aborted records (only committed records count as
  effects here); a ``read_uncommitted`` one does (``output_copies`` counts both).
- ``mode="separate"``: produce (visible at once), then commit the offset: a crash in between
  reprocesses the record after the restart, and its output appears twice.
- ``mode="sink"`` / ``"sink-offset"``: the output goes to a database ("db", ``SinkDatabase``)
  instead, which Kafka's transactions cannot reach. ``"sink"`` commits the offset to the broker
  after the write (a crash in between duplicates); ``"sink-offset"`` stores the offset in the
  database, in the same commit as the write, and reads it back after a restart.

(Kafka's design documentation, sections 4.6-4.7: the offset is written to Kafka in the same
transaction as the output; ``read_committed`` consumers skip aborted records; for an external
system, let the consumer store its offset in the same place as its output.)
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from ..nodes import Node, Payload
from ...validation import check_choice

__all__ = ["LogBroker", "StreamProcessor", "SinkDatabase", "output_copies",
           "Fetch", "Record", "Produce", "Commit", "Init", "InitOk", "Write"]

PRODUCER, BROKER, PROCESSOR, DATABASE = "sender", "receiver", "proc", "db"


@dataclass(frozen=True)
class Init:
    """Start a session (``initTransactions``); the answer is ``InitOk`` for the same session."""

    session: int

    def __repr__(self) -> str:
        return "init"


@dataclass(frozen=True)
class InitOk:
    epoch: int
    offset: int
    session: int = 0

    def __repr__(self) -> str:
        return f"epoch {self.epoch} @{self.offset}"


@dataclass(frozen=True)
class Fetch:
    offset: int

    def __repr__(self) -> str:
        return f"fetch {self.offset}"


@dataclass(frozen=True)
class Record:
    offset: int

    def __repr__(self) -> str:
        return f"rec {self.offset}"


@dataclass(frozen=True)
class Produce:
    epoch: int
    offset: int          # the input offset this output comes from
    transactional: bool

    def __repr__(self) -> str:
        return f"out {self.offset}"


@dataclass(frozen=True)
class Commit:
    epoch: int
    offset: int          # the next offset to read
    transactional: bool

    def __repr__(self) -> str:
        return f"commit @{self.offset}"


@dataclass(frozen=True)
class Write:
    offset: int
    store_offset: bool

    def __repr__(self) -> str:
        return f"write {self.offset}"


class LogBroker(Node):
    """The input log, the output log, the group's committed offset and the producer epoch."""

    def on_start(self) -> None:
        self.parked: tuple[str, int] | None = None  # a fetch waiting for its record

    # -- the producer appends to the input log -----------------------------------------------------
    def append_input(self, msg_id: Hashable, body: Any) -> None:
        with self.atomic():
            if ("in id", msg_id) not in self.durable:
                n = self.durable.get("in len", 0)
                self.durable[("in", n)] = body
                self.durable[("in id", msg_id)] = n
                self.durable["in len"] = n + 1
        self.ack(msg_id)
        if self.parked is not None:
            peer, offset = self.parked
            self.parked = None
            self.serve(peer, offset)

    def serve(self, peer: str, offset: int) -> None:
        if offset < self.durable.get("in len", 0):
            self.send(peer, Record(offset), self.durable[("in", offset)])
        else:
            self.parked = (peer, offset)

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        if self.peer == PRODUCER:
            self.append_input(msg_id, body)
        elif isinstance(msg_id, Init):
            self.init(msg_id)
        elif isinstance(msg_id, Fetch):
            self.serve(self.peer, msg_id.offset)
        elif isinstance(msg_id, Produce):
            self.produce(msg_id, body)
        elif isinstance(msg_id, Commit):
            self.commit(msg_id)

    # -- sessions and transactions -------------------------------------------------------------------
    def init(self, request: Init) -> None:
        """A new session: abort the previous epoch's open transaction, bump the epoch (fencing it)."""
        with self.atomic():
            epoch = self.durable.get("epoch", 0)
            aborted = self.abort(epoch)
            epoch += 1
            self.durable["epoch"] = epoch
            offset = self.durable.get("committed", 0)
        if aborted:
            self.note(f"epoch {epoch - 1} aborted: {aborted} record(s)")
        self.send(self.peer, InitOk(epoch, offset, request.session), None)

    def abort(self, epoch: int) -> int:
        open_records = self.durable.get(("open", epoch), ())
        for j in open_records:
            body, _ = self.durable[("out", j)]
            self.durable[("out", j)] = (body, "aborted")
        if ("open", epoch) in self.durable:
            del self.durable[("open", epoch)]
        return len(open_records)

    def produce(self, request: Produce, body: Payload) -> None:
        with self.atomic():
            if request.transactional and request.epoch != self.durable.get("epoch", 0):
                self.note(f"epoch {request.epoch} fenced")
                return
            j = self.durable.get("out len", 0)
            self.durable["out len"] = j + 1
            if request.transactional:
                self.durable[("out", j)] = (body, "open")
                self.durable[("open", request.epoch)] = self.durable.get(("open", request.epoch), ()) + (j,)
            else:
                self.durable[("out", j)] = (body, "committed")
                self.apply(body)                       # visible to every consumer at once
        self.ack(request)

    def commit(self, request: Commit) -> None:
        with self.atomic():
            if request.transactional:
                if request.epoch != self.durable.get("epoch", 0):
                    self.note(f"epoch {request.epoch} fenced")
                    return
                for j in self.durable.get(("open", request.epoch), ()):
                    body, _ = self.durable[("out", j)]
                    self.durable[("out", j)] = (body, "committed")
                    self.apply(body)                   # visible to read_committed consumers now
                if ("open", request.epoch) in self.durable:
                    del self.durable[("open", request.epoch)]
            self.durable["committed"] = request.offset
        self.ack(request)


class SinkDatabase(Node):
    """A database outside Kafka: applies each write; with ``store_offset`` it also stores the next
    offset to read in the same commit, and tells it to a restarted processor (``Init``)."""

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        if isinstance(msg_id, Init):
            self.send(self.peer, InitOk(0, self.durable.get("offset", 0), msg_id.session), None)
            return
        if not isinstance(msg_id, Write):
            return
        with self.atomic():
            self.apply(body)
            if msg_id.store_offset:
                self.durable["offset"] = msg_id.offset + 1
        self.ack(msg_id)


class StreamProcessor(Node):
    """Reads the input log record by record, writes one output per record, moves its offset.

    mode: "transactional", "separate", "sink" or "sink-offset" (see the module's docstring).
    """

    def __init__(self, mode: str = "transactional") -> None:
        self.mode = check_choice("mode", mode, ("transactional", "separate", "sink", "sink-offset"))

    def on_start(self) -> None:
        self.epoch: int | None = None
        self.next: int | None = None
        self.step: Hashable = None      # the request whose answer this processor waits for
        self.body: Payload | None = None
        # A session number of its own, so that the answer to an earlier incarnation's Init (which
        # may still be on its way) is not taken for the answer to this one.
        self.session = self.durable.get("sessions", 0) + 1
        self.durable["sessions"] = self.session
        source = DATABASE if self.mode == "sink-offset" else BROKER
        self.send(source, Init(self.session), None)

    def on_message(self, msg_id: Hashable, body: Any) -> None:
        if isinstance(msg_id, InitOk):
            if self.epoch is not None or msg_id.session != self.session:
                return
            self.epoch, self.next = msg_id.epoch, msg_id.offset
            self.send(BROKER, Fetch(self.next), None)
        elif isinstance(msg_id, Record) and msg_id.offset == self.next and self.step is None:
            self.body = body
            if self.mode in ("transactional", "separate"):
                self.step = Produce(self.epoch, msg_id.offset, self.mode == "transactional")
                self.send(BROKER, self.step, body)
            else:
                self.step = Write(msg_id.offset, self.mode == "sink-offset")
                self.send(DATABASE, self.step, body)

    def on_ack(self, msg_id: Hashable) -> None:
        if msg_id != self.step:
            return  # an answer meant for an earlier incarnation, or a repeat
        if isinstance(msg_id, (Produce, Write)) and self.mode != "sink-offset":
            self.step = Commit(self.epoch, self.next + 1, self.mode == "transactional")
            self.send(BROKER, self.step, None)
            return
        self.next += 1                  # committed (or stored with the write): on to the next record
        self.step, self.body = None, None
        self.send(BROKER, Fetch(self.next), None)


def output_copies(broker: LogBroker) -> dict[int, tuple[int, int]]:
    """For each logical message: (copies a read_committed consumer sees, copies a read_uncommitted
    consumer sees) in the broker's output log."""
    copies: dict[int, list[int]] = {}
    for key, value in broker.durable.items():
        if isinstance(key, tuple) and key[0] == "out":
            body, status = value
            seen = copies.setdefault(body.logical, [0, 0])
            seen[0] += status == "committed"
            seen[1] += 1
    return {logical: (c, u) for logical, (c, u) in copies.items()}
