"""Exercise 2, stable ids and deduplication."""

import functools
import hashlib
from collections import deque

from semantics import Node
from semantics.grading import ACK_MEANS_EFFECT, NO_DUPLICATES, NODE_ISOLATION, RUN_COMPLETES

from . import Case, notebook

NB = notebook(2)
Sender, Receiver = NB["Sender"], NB["Receiver"]


class SequenceSender(NB["Sender"]):
    """Numbers its messages 1, 2, 3, ... (its own stable ids) and retries until acknowledged."""

    def on_start(self):
        super().on_start()
        self.next_seq = 1

    def on_send(self, msg_id, body):
        seq, self.next_seq = self.next_seq, self.next_seq + 1
        super().on_send(seq, body)


class InOrderReceiver(Node):
    """Correct, differently: applies only the next sequence number (volatile counter); anything
    else already applied is re-acknowledged, anything ahead is left for the sender to retry."""

    def on_start(self):
        self.expected = 1

    def on_message(self, seq, body):
        if seq == self.expected:
            self.apply(body)
            self.expected += 1
        if seq < self.expected:
            self.ack(seq)


class ReceiptReceiver(Node):
    """Correct, differently: remembers each applied id with its receipt (a reply cache's shape)."""

    def on_start(self):
        self.receipts = {}

    def on_message(self, msg_id, body):
        if msg_id not in self.receipts:
            self.receipts[msg_id] = self.apply(body)
        self.ack(msg_id)


class NewIdEachRetry(NB["Sender"]):
    """Wrong: a fresh id on every attempt, so the receiver cannot recognise a retry."""

    def on_start(self):
        super().on_start()
        self.attempt = {}

    def on_send(self, msg_id, body):
        self.attempt[msg_id] = 0
        self.unacked[msg_id] = body
        self.send("receiver", f"{msg_id}/0", body)
        self.set_timer(msg_id, self.timeout)

    def on_ack(self, wire_id):
        super().on_ack(wire_id.split("/")[0])

    def on_timer(self, msg_id):
        if msg_id in self.unacked:
            self.attempt[msg_id] += 1
            self.send("receiver", f"{msg_id}/{self.attempt[msg_id]}", self.unacked[msg_id])
            self.set_timer(msg_id, self.timeout)


class ContentHashReceiver(Node):
    """Wrong: deduplicates by a hash of the body (SQS FIFO content-based deduplication), so two
    different messages with equal bodies collapse into one."""

    def on_start(self):
        self.applied = set()

    def on_message(self, msg_id, body):
        key = hashlib.sha256(repr(body.content).encode()).hexdigest()
        if key not in self.applied:
            self.apply(body)
            self.applied.add(key)
        self.ack(msg_id)


class BodyReceiver(Node):
    """Wrong: deduplicates by the body itself (a Payload compares by content)."""

    def on_start(self):
        self.applied = set()

    def on_message(self, msg_id, body):
        if body not in self.applied:
            self.apply(body)
            self.applied.add(body)
        self.ack(msg_id)


class SilentOnDuplicates(Node):
    """Wrong: deduplicates but does not acknowledge a duplicate; when the first ack is lost the
    sender never hears one and retries forever."""

    def on_start(self):
        self.applied = set()

    def on_message(self, msg_id, body):
        if msg_id not in self.applied:
            self.apply(body)
            self.applied.add(msg_id)
            self.ack(msg_id)


class LastIdOnly(Node):
    """Wrong: remembers only the last id applied: a late original that arrives after its retry is
    caught, but a duplicate that arrives after another message is applied again."""

    def on_start(self):
        self.last = None

    def on_message(self, msg_id, body):
        if msg_id != self.last:
            self.apply(body)
            self.last = msg_id
        self.ack(msg_id)


class LastFive(Node):
    """Wrong: keeps the last five ids only: a copy that comes back after five newer messages is new again."""

    def on_start(self):
        self.recent = []

    def on_message(self, msg_id, body):
        if msg_id not in self.recent:
            self.apply(body)
            self.recent = (self.recent + [msg_id])[-5:]
        self.ack(msg_id)


class TimeWindow(Node):
    """Wrong here: forgets an id 100 time units after applying it; a copy the network kept arrives later."""

    def on_start(self):
        self.seen = {}

    def on_message(self, msg_id, body):
        self.seen = {k: t for k, t in self.seen.items() if self.now - t <= 100}
        if msg_id not in self.seen:
            self.apply(body)
            self.seen[msg_id] = self.now
        self.ack(msg_id)


class HighWatermark(Node):
    """Wrong: with sequence numbers, applies only what is higher than anything seen: a message
    overtaken by the next one is taken for a duplicate."""

    def on_start(self):
        self.high = 0

    def on_message(self, seq, body):
        if seq > self.high:
            self.apply(body)
            self.high = seq
        self.ack(seq)


class ForgetsOnAck(Node):
    """Wrong: drops the id once it has acknowledged it (the ack may be lost: the retry comes back)."""

    def on_start(self):
        self.pending = set()

    def on_message(self, msg_id, body):
        if msg_id not in self.pending:
            self.apply(body)
        self.pending.discard(msg_id)
        self.ack(msg_id)


class IndexesADict(Node):
    """Wrong: counts copies with ``self.copies[msg_id] += 1`` on a plain dict: the first copy raises KeyError."""

    def on_start(self):
        self.copies = {}

    def on_message(self, msg_id, body):
        self.copies[msg_id] += 1
        self.apply(body)
        self.ack(msg_id)


class SharedApplied(Node):
    """Wrong: the applied ids in a class attribute: shared by every receiver and every run."""

    applied = set()

    def on_message(self, msg_id, body):
        if msg_id not in self.applied:
            self.apply(body)
            self.applied.add(msg_id)
        self.ack(msg_id)


class Deque256(Node):
    """Wrong: the last 256 ids in a deque (a 'generous' window), where exercise 2 states no horizon: a
    copy arriving after 256 newer messages is applied again."""

    def on_start(self):
        self.recent = deque(maxlen=256)

    def on_message(self, msg_id, body):
        if msg_id not in self.recent:
            self.apply(body)
            self.recent.append(msg_id)
        self.ack(msg_id)


class DurableLast300(Node):
    """Wrong: a durable, atomic list of the last 300 ids: still a window of 300 messages."""

    def on_message(self, msg_id, body):
        with self.atomic():
            recent = self.durable.get("recent", [])
            if msg_id not in recent:
                self.apply(body)
                self.durable["recent"] = (recent + [msg_id])[-300:]
        self.ack(msg_id)


class TimeWindowOfAMillion(Node):
    """Wrong: forgets an id a million time units after applying it ('longer than any retry'): finite,
    where exercise 2 states no horizon."""

    def on_start(self):
        self.seen = {}

    def on_message(self, msg_id, body):
        self.seen = {k: t for k, t in self.seen.items() if self.now - t <= 1e6}
        if msg_id not in self.seen:
            self.apply(body)
            self.seen[msg_id] = self.now
        self.ack(msg_id)


class SubstringIds(Node):
    """Wrong: the applied ids in one comma-separated string, tested with `in`: a substring test, so 'm1'
    counts as seen once 'm12' is."""

    def on_start(self):
        self.seen = ""

    def on_message(self, msg_id, body):
        if str(msg_id) not in self.seen:
            self.apply(body)
            self.seen += str(msg_id) + ","
        self.ack(msg_id)


class BloomFilter(Node):
    """Wrong: a 1 KB Bloom filter (8,192 bits, 3 hashes) to bound memory: a false positive takes a new
    message for a duplicate."""

    bits = 8192

    def on_start(self):
        self.filter = 0

    def positions(self, msg_id):
        digest = hashlib.sha256(str(msg_id).encode()).digest()
        return [int.from_bytes(digest[4 * i:4 * i + 4], "big") % self.bits for i in range(3)]

    def on_message(self, msg_id, body):
        positions = self.positions(msg_id)
        if not all(self.filter >> p & 1 for p in positions):
            self.apply(body)
            for p in positions:
                self.filter |= 1 << p
        self.ack(msg_id)


class MemoizedEffect(Node):
    """Wrong: 'idempotent' by memoizing the effect with functools.lru_cache on a method: the cache lives
    on the class's function, shared by every node and every run, outside the node."""

    @functools.lru_cache(maxsize=None)
    def process(self, msg_id, body):
        return self.apply(body)

    def on_message(self, msg_id, body):
        self.process(msg_id, body)
        self.ack(msg_id)


class DefaultArgumentSet(Node):
    """Wrong: the applied ids in a mutable default argument (seen=set()), one set for every node and
    every run."""

    def on_message(self, msg_id, body, seen=set()):
        if msg_id not in seen:
            self.apply(body)
            seen.add(msg_id)
        self.ack(msg_id)


CASES = [
    Case("solution", 2, Sender, Receiver, "passed", "a set of applied ids, every copy acked"),
    Case("sequence-numbers-in-order", 2, SequenceSender, InOrderReceiver, "passed",
         "sender-assigned sequence numbers, receiver accepts only the next one"),
    Case("receipt-per-id", 2, Sender, ReceiptReceiver, "passed", "a dict of ids and receipts"),
    Case("retry-without-dedup", 2, Sender, NB["ApplyAndAckReceiver"], NO_DUPLICATES,
         "the starting receiver applies every retry"),
    Case("new-id-every-retry", 2, NewIdEachRetry, Receiver, NO_DUPLICATES,
         "each attempt carries a new id, so dedup never fires"),
    Case("content-hash-as-id", 2, Sender, ContentHashReceiver, ACK_MEANS_EFFECT,
         "two deposits of 10 collapse into one, the second is acked without effect", ("equal bodies",)),
    Case("body-as-id", 2, Sender, BodyReceiver, ACK_MEANS_EFFECT, "Payloads compare by content",
         ("equal bodies",)),
    Case("duplicates-not-acked", 2, Sender, SilentOnDuplicates, RUN_COMPLETES,
         "a lost ack is never replaced: the sender retries forever", ("acks",)),
    Case("last-id-only", 2, Sender, LastIdOnly, NO_DUPLICATES, "a duplicate after another message", ("window",)),
    Case("last-five-ids", 2, Sender, LastFive, NO_DUPLICATES, "a late copy after five newer messages",
         ("window",)),
    Case("time-window-100", 2, Sender, TimeWindow, NO_DUPLICATES, "a copy kept by the network arrives later",
         ("window",)),
    Case("high-watermark", 2, SequenceSender, HighWatermark, ACK_MEANS_EFFECT,
         "a message overtaken by the next is taken for a duplicate"),
    Case("forgets-on-ack", 2, Sender, ForgetsOnAck, NO_DUPLICATES, "the retry after a lost ack is new again"),
    Case("dict-keyerror", 2, Sender, IndexesADict, RUN_COMPLETES, "KeyError on the first copy"),
    Case("class-level-applied", 2, Sender, SharedApplied, NODE_ISOLATION, "a class attribute shared by every run",
         ("shared state",)),
    Case("deque-of-256", 2, Sender, Deque256, NO_DUPLICATES, "a copy of m1 after 2,000 messages", ("window",)),
    Case("durable-last-300", 2, Sender, DurableLast300, NO_DUPLICATES, "a copy of m1 after 2,000 messages",
         ("window",)),
    Case("time-window-of-a-million", 2, Sender, TimeWindowOfAMillion, NO_DUPLICATES,
         "a copy a billion time units late", ("window",)),
    Case("substring-ids", 2, Sender, SubstringIds, ACK_MEANS_EFFECT, "m1 first arrives after m12",
         ("substring ids",)),
    Case("bloom-filter", 2, Sender, BloomFilter, ACK_MEANS_EFFECT, "a false positive among 2,000 messages",
         ("false positives",)),
    Case("memoized-effect", 2, Sender, MemoizedEffect, NODE_ISOLATION, "an lru_cache on a method",
         ("hidden state",)),
    Case("mutable-default-argument", 2, Sender, DefaultArgumentSet, NODE_ISOLATION, "seen=set() as a default",
         ("hidden state",)),
]
