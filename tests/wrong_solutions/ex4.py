"""Exercise 4, commit discipline of a log consumer (graded against semantics.grading.Broker)."""

from semantics import Node
from semantics.grading import ACK_MEANS_EFFECT, ALL_COMMITTED, EVERY_EFFECT, NO_DUPLICATES, Broker

from . import Case, notebook

NB = notebook(4)


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


CASES = [
    Case("solution", 4, Broker, NB["Consumer"], "passed", "a durable position, atomic with the effect"),
    Case("inbox-and-prefix-commit", 4, Broker, InboxConsumer, "passed",
         "a durable inbox of offsets, commits the gap-free prefix"),
    Case("process-then-commit", 4, Broker, NB["ProcessThenCommitConsumer"], NO_DUPLICATES,
         "the starting code: a crash between effect and commit replays the record"),
    Case("commit-then-process", 4, Broker, CommitThenProcess, ACK_MEANS_EFFECT,
         "a crash between commit and effect loses the record"),
    Case("position-after-effect", 4, Broker, PositionAfterEffect, NO_DUPLICATES,
         "the position is durable but not atomic with the effect"),
    Case("commits-whatever-arrives", 4, Broker, CommitsWhateverArrives, EVERY_EFFECT,
         "a cumulative commit over a gap skips a lost record"),
    Case("never-commits", 4, Broker, NeverCommits, ALL_COMMITTED, "processed, never committed"),
]
