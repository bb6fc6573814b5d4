"""Exercise 5, commit discipline of a log consumer (graded against semantics.grading.Broker)."""

from semantics import Node
from semantics.grading import (ACK_MEANS_EFFECT, ALL_COMMITTED, EVERY_EFFECT, NO_DUPLICATES, NODE_ISOLATION,
                               Broker)

from . import Case, notebook

NB = notebook(5)


class InboxConsumer(Node):
    """Correct, differently: processes records in any order with a durable inbox of done offsets
    (atomic with the effect), and commits only the longest gap-free prefix."""

    def on_start(self):
        self.prefix = 0  # volatile cache, rebuilt from durable state after a crash
        while ("done", self.prefix) in self.durable:
            self.prefix += 1

    def on_message(self, offset, body):
        with self.atomic():
            if ("done", offset) not in self.durable:
                self.apply(body)
                self.durable[("done", offset)] = True
        while ("done", self.prefix) in self.durable:
            self.prefix += 1
        if self.prefix:
            self.ack(self.prefix - 1)


class AlwaysRecommits(Node):
    """Correct, differently: in order only, and every message (even one ahead of its turn) makes it
    commit its whole progress again."""

    def on_message(self, offset, body):
        with self.atomic():
            position = self.durable.get("position", 0)
            if offset == position:
                self.apply(body)
                position += 1
                self.durable["position"] = position
        if position:
            self.ack(position - 1)


class DoneSetConsumer(Node):
    """Correct, differently: one durable value holds the set of done offsets and the committed
    prefix, written back in the atomic block."""

    def on_message(self, offset, body):
        with self.atomic():
            state = self.durable.get("state", {"done": set(), "prefix": 0})
            if offset >= state["prefix"] and offset not in state["done"]:
                self.apply(body)
                state["done"].add(offset)
                while state["prefix"] in state["done"]:
                    state["done"].discard(state["prefix"])
                    state["prefix"] += 1
                self.durable["state"] = state
        if state["prefix"]:
            self.ack(state["prefix"] - 1)


class CommitThenProcess(Node):
    """Wrong: commits first (at-most-once): a crash after the commit loses the record."""

    def on_message(self, offset, body):
        position = self.durable.get("position", 0)
        if offset == position:
            self.ack(offset)
            with self.atomic():
                self.apply(body)
                self.durable["position"] = offset + 1
        elif offset < position:
            self.ack(position - 1)


class PositionAfterEffect(Node):
    """Wrong: keeps a durable position, but writes it after the effect, outside any atomic block:
    a crash in between replays the record."""

    def on_message(self, offset, body):
        position = self.durable.get("position", 0)
        if offset == position:
            self.apply(body)
            self.durable["position"] = offset + 1
            self.ack(offset)
        elif offset < position:
            self.ack(position - 1)


class CommitsWhateverArrives(Node):
    """Wrong: deduplicates correctly but commits each record as it arrives; a commit is cumulative,
    so committing a record that overtook a lost one tells the broker the lost one is done."""

    def on_message(self, offset, body):
        with self.atomic():
            if ("done", offset) not in self.durable:
                self.apply(body)
                self.durable[("done", offset)] = True
        self.ack(offset)


class NeverCommits(Node):
    """Wrong: exactly-once effects, but never commits: the broker redelivers forever (here, until
    it gives up), and a new consumer would start from the beginning."""

    def on_message(self, offset, body):
        with self.atomic():
            if ("done", offset) not in self.durable:
                self.apply(body)
                self.durable[("done", offset)] = True


class CommitsOnlyNew(Node):
    """Wrong: commits a record when it processes it, not when it sees it again: a lost commit is
    never repeated, and the broker redelivers until it gives up."""

    def on_message(self, offset, body):
        with self.atomic():
            position = self.durable.get("position", 0)
            new = offset == position
            if new:
                self.apply(body)
                self.durable["position"] = offset + 1
        if new:
            self.ack(offset)


class VolatilePosition(Node):
    """Wrong: the position in an attribute: a crash forgets it and the broker's redelivery is applied again."""

    def on_start(self):
        self.position = 0

    def on_message(self, offset, body):
        if offset == self.position:
            self.apply(body)
            self.position += 1
        if self.position:
            self.ack(self.position - 1)


class SkipsGaps(Node):
    """Wrong: moves its position past whatever arrives (position = offset + 1), skipping a lost record."""

    def on_message(self, offset, body):
        with self.atomic():
            position = self.durable.get("position", 0)
            if offset >= position:
                self.apply(body)
                self.durable["position"] = offset + 1
        self.ack(self.durable["position"] - 1)


class CommitsAhead(Node):
    """Wrong: Kafka's off-by-one: ``ack`` takes the offset just processed (the broker moves its committed
    offset to the next one itself); passing the next offset to read, ``offset + 1``, skips a record
    the broker would redeliver, and the last record is never committed."""

    def on_message(self, offset, body):
        with self.atomic():
            position = self.durable.get("position", 0)
            if offset == position:
                self.apply(body)
                self.durable["position"] = offset + 1
        self.ack(self.durable.get("position", 0))


class DoneListInPlace(Node):
    """Wrong: appends done offsets to a durable list in place: the list is a copy, nothing is recorded."""

    def on_message(self, offset, body):
        with self.atomic():
            done = self.durable.setdefault("done", [])
            if offset not in done:
                self.apply(body)
                done.append(offset)
        self.ack(offset)


class ClassPosition(Node):
    """Wrong: the position in a class attribute, shared by every consumer and every run."""

    position = 0

    def on_message(self, offset, body):
        if offset == ClassPosition.position:
            with self.atomic():
                self.apply(body)
            ClassPosition.position += 1
        if ClassPosition.position:
            self.ack(ClassPosition.position - 1)


class ValueKeyedConsumer(Node):
    """Wrong: exactly-once by record value rather than offset (a durable set of processed values): two
    records with equal values (two deposits of 10) are taken for one."""

    def on_message(self, offset, body):
        position = self.durable.get("position", 0)
        if offset == position:
            with self.atomic():
                values = self.durable.get("values", set())
                if body not in values:
                    self.apply(body)
                    self.durable["values"] = values | {body}
                self.durable["position"] = position + 1
            position += 1
        if position > 0:
            self.ack(position - 1)


CASES = [
    Case("solution", 5, Broker, NB["Consumer"], "passed", "a durable position, atomic with the effect"),
    Case("inbox-and-prefix-commit", 5, Broker, InboxConsumer, "passed",
         "a durable inbox of offsets, commits the gap-free prefix"),
    Case("always-recommits", 5, Broker, AlwaysRecommits, "passed", "in order; commits its progress on every message"),
    Case("done-set-and-prefix", 5, Broker, DoneSetConsumer, "passed", "one durable value: done set and prefix"),
    Case("process-then-commit", 5, Broker, NB["ProcessThenCommit"], NO_DUPLICATES,
         "the starting code: a crash between effect and commit replays the record"),
    Case("commit-then-process", 5, Broker, CommitThenProcess, ACK_MEANS_EFFECT,
         "a crash between commit and effect loses the record"),
    Case("position-after-effect", 5, Broker, PositionAfterEffect, NO_DUPLICATES,
         "the position is durable but not atomic with the effect"),
    Case("commits-whatever-arrives", 5, Broker, CommitsWhateverArrives, EVERY_EFFECT,
         "a cumulative commit over a gap skips a lost record"),
    Case("never-commits", 5, Broker, NeverCommits, ALL_COMMITTED, "processed, never committed"),
    Case("commits-only-new", 5, Broker, CommitsOnlyNew, ALL_COMMITTED, "a lost commit is never repeated"),
    Case("volatile-position", 5, Broker, VolatilePosition, NO_DUPLICATES, "a crash forgets the position"),
    Case("skips-gaps", 5, Broker, SkipsGaps, EVERY_EFFECT, "a lost record is skipped"),
    Case("commits-next-offset", 5, Broker, CommitsAhead, ALL_COMMITTED,
         "commits the next offset: the last record is never committed"),
    Case("done-list-in-place", 5, Broker, DoneListInPlace, NO_DUPLICATES, "a durable list appended in place",
         ("in place",)),
    Case("class-level-position", 5, Broker, ClassPosition, NODE_ISOLATION, "a class attribute as the position",
         ("shared state",)),
    Case("value-keyed", 5, Broker, ValueKeyedConsumer, ACK_MEANS_EFFECT, "two records with equal values",
         ("equal bodies",)),
]
