"""Exercise 6, a deduplication window and the retry horizon (copies arrive within the stated horizon), graded against
the exercise's own sender."""

import functools
import zlib
from collections import deque

from semantics import Node
from semantics.grading import (ACK_MEANS_EFFECT, BOUNDED_STATE, EVERY_COPY_ACKED, NO_DUPLICATES, NO_SILENT_LOSS,
                               NODE_ISOLATION, RUN_COMPLETES)

from . import Case, notebook
from . import ex4

NB = notebook(6)
Sender = NB["Sender"]


class SequenceWindowReceiver(Node):
    """Correct, differently: keeps the applied sequence numbers among the last K = 20; anything older
    is a duplicate. (A message is submitted every 2 and arrives within 24, so when its first copy
    arrives, the newest message seen is at most 11 numbers ahead: K = 12 is enough.)"""

    keep = 20

    def on_message(self, seq, body):
        with self.atomic():
            top = self.durable.get("top", 0)
            recent = self.durable.get("recent", frozenset())
            if seq > top - self.keep and seq not in recent:
                self.apply(body)
                top = max(top, seq)
                self.durable["recent"] = {s for s in recent | {seq} if s > top - self.keep}
                self.durable["top"] = top
        self.ack(seq)


class SequenceWindowAtTheBound(SequenceWindowReceiver):
    """Correct, at the edge: the last 12 sequence numbers (11 are caught, see test_grading)."""

    keep = 12


class TimeWindow(Node):
    """The solution's shape with the window as a parameter: remember when each message was first
    applied, forget entries older than ``window``, all in one atomic commit with the effect."""

    window = 30.0

    def on_message(self, seq, body):
        with self.atomic():
            seen = {s: t for s, t in self.durable.get("seen", {}).items() if self.now - t <= self.window}
            if seq not in seen:
                self.apply(body)
                seen[seq] = self.now
            self.durable["seen"] = seen
        self.ack(seq)


class WindowAtTheBound(TimeWindow):
    """Correct, at the edge: a copy arrives at most 24 after its submission and the first copy takes
    at least 1, so a window of 23 after the first arrival is just enough."""

    window = 23.0


class SlidingBitmap(Node):
    """Correct, differently: a bitmap of the last 32 sequence numbers below the highest seen, slid
    forward as new numbers arrive (what TCP and IPsec anti-replay windows do)."""

    def on_message(self, seq, body):
        with self.atomic():
            top, bits = self.durable.get("window", (0, 0))
            new = seq > top or (top - seq < 32 and not bits >> (top - seq) & 1)
            if new:
                self.apply(body)
                if seq > top:
                    bits, top = (bits << (seq - top)) & (2**32 - 1), seq
                bits |= 1 << (top - seq)
                self.durable["window"] = (top, bits)
        self.ack(seq)


class ShortWindow(TimeWindow):
    """Wrong: a time window of 5, shorter than the retry horizon: a late retry is applied again."""

    window = 5.0


class Window22(TimeWindow):
    """Wrong: one short of the bound: a copy 23 after the first arrival is applied again (every ack lost,
    the last copy held to the horizon: the systematic search's base with every ack lost)."""

    window = 22.0


class HighWatermark(Node):
    """Wrong: remembers only the highest sequence number applied; a message that arrives after a
    later one (retries reorder) is taken for a duplicate, acknowledged and dropped."""

    def on_message(self, seq, body):
        with self.atomic():
            if seq > self.durable.get("high", 0):
                self.apply(body)
                self.durable["high"] = seq
        self.ack(seq)


class KeepThree(SequenceWindowReceiver):
    """Wrong: a sequence window of 3: a message overtaken by three newer ones is taken for old."""

    keep = 3


class VolatileWindow(Node):
    """Wrong: a correct window, kept in a volatile attribute: a crash forgets it."""

    def on_start(self):
        self.seen = {}

    def on_message(self, seq, body):
        self.seen = {s: t for s, t in self.seen.items() if self.now - t <= 30.0}
        if seq not in self.seen:
            self.apply(body)
            self.seen[seq] = self.now
        self.ack(seq)


class NeverAcks(TimeWindow):
    """Wrong: a correct window, but no ack: the sender retries every message to its limit and gives up
    on messages that took effect (each one an indefinite outcome)."""

    def ack(self, msg_id, to=None):
        pass


class AcksFirstCopyOnly(Node):
    """Wrong: acknowledges a message once, when it takes effect; if that ack is lost, every retry is
    dropped without an ack."""

    def on_message(self, seq, body):
        with self.atomic():
            seen = {s: t for s, t in self.durable.get("seen", {}).items() if self.now - t <= 30}
            new = seq not in seen
            if new:
                self.apply(body)
                seen[seq] = self.now
            self.durable["seen"] = seen
        if new:
            self.ack(seq)


class DropsOld(Node):
    """Wrong: a message that arrives after a newer one is ignored (not applied, not acknowledged)."""

    def on_message(self, seq, body):
        with self.atomic():
            top = self.durable.get("top", 0)
            recent = self.durable.get("recent", [])
            if seq < top:
                return
            if seq not in recent:
                self.apply(body)
                self.durable["recent"] = (recent + [seq])[-12:]
                self.durable["top"] = seq
        self.ack(seq)


class DurableSetInDict(Node):
    """Wrong: one top-level durable entry holding a set that grows forever."""

    def on_message(self, seq, body):
        with self.atomic():
            state = self.durable.get("state", {"seen": set()})
            if seq not in state["seen"]:
                self.apply(body)
                state["seen"].add(seq)
                self.durable["state"] = state
        self.ack(seq)


class GrowingBitmap(Node):
    """Wrong: one integer as a bitmap of every sequence number ever applied: one entry, growing."""

    def on_message(self, seq, body):
        with self.atomic():
            bits = self.durable.get("bits", 0)
            if not bits >> seq & 1:
                self.apply(body)
                self.durable["bits"] = bits | 1 << seq
        self.ack(seq)


class GrowingString(Node):
    """Wrong: the applied numbers in one growing string."""

    def on_message(self, seq, body):
        with self.atomic():
            log = self.durable.get("log", ",")
            if f",{seq}," not in log:
                self.apply(body)
                self.durable["log"] = log + f"{seq},"
        self.ack(seq)


class DebugLog(TimeWindow):
    """Wrong: a correct durable window, plus a volatile deque of every number seen (for debugging):
    volatile state counts too."""

    def on_start(self):
        self.history = deque()

    def on_message(self, seq, body):
        self.history.append(seq)
        super().on_message(seq, body)


class WindowInPlace(Node):
    """Wrong: the window dict read from durable state and changed in place, never written back."""

    def on_message(self, seq, body):
        with self.atomic():
            if "seen" not in self.durable:
                self.durable["seen"] = {}
            seen = self.durable["seen"]
            for s in [s for s, t in seen.items() if self.now - t > 30]:
                del seen[s]
            if seq not in seen:
                self.apply(body)
                seen[seq] = self.now
        self.ack(seq)


class StoresAnObject(Node):
    """Wrong: stores a deque in durable state: only plain data can be stored."""

    def on_message(self, seq, body):
        with self.atomic():
            window = self.durable.get("window", None) or deque(maxlen=20)
            if seq not in window:
                self.apply(body)
                window.append(seq)
                self.durable["window"] = window
        self.ack(seq)


class NoRetrySender(Node):
    """A learner's change to the given sender: it never retries (so duplicates never come)."""

    def on_start(self):
        self.next_seq = 1

    def on_send(self, msg_id, body):
        self.send("receiver", self.next_seq, body)
        self.next_seq += 1


class UnboundedReceiver(Node):
    """Wrong here: exercise 3's shape with a record per message (correct there only without a bound)."""

    def on_message(self, seq, body):
        with self.atomic():
            if ("done", seq) not in self.durable:
                self.apply(body)
                self.durable[("done", seq)] = True
        self.ack(seq)


class Stateless(Node):
    """Wrong: no deduplication at all, relying on a sender that never retries; graded against the
    exercise's own sender, every retry is applied again."""

    def on_message(self, seq, body):
        self.apply(body)
        self.ack(seq)


class Window22AndAHalf(TimeWindow):
    """Wrong: a window of 22.5 after the first arrival, where a copy may come 23 after it."""

    window = 22.5


class PrunedOneEarly(TimeWindow):
    """Wrong: an off-by-one at the boundary: forgets an entry once now - t >= 23 (a copy exactly 23
    after the first arrival is applied again)."""

    def on_message(self, seq, body):
        with self.atomic():
            seen = {s: t for s, t in self.durable.get("seen", {}).items() if self.now - t < 23}
            if seq not in seen:
                self.apply(body)
                seen[seq] = self.now
            self.durable["seen"] = seen
        self.ack(seq)


class Holes(Node):
    """Wrong: the highest number applied and the numbers below it never seen (holes), never pruned: one
    entry per message the sender gave up on, forever."""

    def on_message(self, seq, body):
        with self.atomic():
            high, holes = self.durable.get("h", (0, frozenset()))
            if seq > high:
                self.apply(body)
                self.durable["h"] = (seq, holes | frozenset(range(high + 1, seq)))
            elif seq in holes:
                self.apply(body)
                self.durable["h"] = (high, holes - {seq})
        self.ack(seq)


class MergedRanges(Node):
    """Wrong: every applied number as merged ranges [[1, 40], [42, 97], ...] (SACK blocks): exact and
    small while nothing is lost for good, one range per permanent gap forever."""

    def on_message(self, seq, body):
        with self.atomic():
            ranges = self.durable.get("r", [])
            if not any(lo <= seq <= hi for lo, hi in ranges):
                self.apply(body)
                merged = []
                for lo, hi in sorted(ranges + [[seq, seq]]):
                    if merged and lo <= merged[-1][1] + 1:
                        merged[-1][1] = max(merged[-1][1], hi)
                    else:
                        merged.append([lo, hi])
                self.durable["r"] = merged
        self.ack(seq)


class CompressedBitmap(Node):
    """Wrong: a bitmap of every number ever applied, zlib-compressed in one durable bytes value: tiny
    while nothing is lost for good, it grows with every permanent gap."""

    def on_message(self, seq, body):
        with self.atomic():
            raw = bytearray(zlib.decompress(self.durable["z"])) if "z" in self.durable else bytearray()
            byte, bit = divmod(seq, 8)
            raw.extend(b"\x00" * max(0, byte + 1 - len(raw)))
            if not raw[byte] >> bit & 1:
                self.apply(body)
                raw[byte] |= 1 << bit
                self.durable["z"] = zlib.compress(bytes(raw), 9)
        self.ack(seq)


class ClosureCache(TimeWindow):
    """Wrong: the solution plus a fast path in a closure over a set of every number ever applied
    (self.seen_before = make_checker()): a leak the state's text would not show."""

    def on_start(self):
        applied = set()

        def seen_before(seq):
            known = seq in applied
            applied.add(seq)
            return known

        self.seen_before = seen_before

    def on_message(self, seq, body):
        self.seen_before(seq)
        super().on_message(seq, body)


class GeneratorCache(TimeWindow):
    """Wrong: the solution plus a fast path in a generator's frame that remembers every number it was
    sent: a leak the state's text would not show."""

    @staticmethod
    def tracker():
        seen = set()
        seq = yield
        while True:
            first = seq not in seen
            seen.add(seq)
            seq = yield first

    def on_start(self):
        self.track = self.tracker()
        next(self.track)

    def on_message(self, seq, body):
        self.track.send(seq)
        super().on_message(seq, body)


class MemoizedFastPath(TimeWindow):
    """Wrong: the solution plus a fast path memoized with functools.lru_cache on a method: the cache
    (every (self, seq) ever seen) lives on the class's function, outside the node."""

    @functools.lru_cache(maxsize=None)
    def first_time(self, seq):
        return True

    def on_message(self, seq, body):
        self.first_time(seq)
        super().on_message(seq, body)


CASES = [
    Case("solution", 6, Sender, NB["Receiver"], "passed", "a durable time window of 30 >= the horizon"),
    Case("sequence-window", 6, Sender, SequenceWindowReceiver, "passed", "the last 20 sequence numbers"),
    Case("sequence-window-at-the-bound", 6, Sender, SequenceWindowAtTheBound, "passed",
         "the last 12 sequence numbers: exactly what the stated bound needs"),
    Case("window-at-the-bound", 6, Sender, WindowAtTheBound, "passed",
         "a window of 23: exactly what the stated bound allows"),
    Case("sliding-bitmap", 6, Sender, SlidingBitmap, "passed", "an anti-replay bitmap of 32 numbers"),
    Case("unbounded-record", 6, Sender, UnboundedReceiver, BOUNDED_STATE, "one entry per message, forever"),
    Case("gap-never-closes", 6, Sender, ex4.Receiver, BOUNDED_STATE,
         "exercise 4's answer: a message given up leaves a gap, and the numbers above it pile up", ("order",)),
    Case("starting-point", 6, Sender, NB["GapReceiver"], NO_DUPLICATES,
         "exercise 4's idea kept in memory: a crash forgets it"),
    Case("window-shorter-than-horizon", 6, Sender, ShortWindow, NO_DUPLICATES,
         "forgets a message 5 after it arrived; its retries keep coming for 16"),
    Case("window-one-short", 6, Sender, Window22, NO_DUPLICATES, "a window of 22 where 23 is needed",
         ("window",)),
    Case("high-watermark", 6, Sender, HighWatermark, ACK_MEANS_EFFECT,
         "a reordered message is taken for a duplicate"),
    Case("sequence-window-of-three", 6, Sender, KeepThree, ACK_MEANS_EFFECT, "too short a sequence window"),
    Case("volatile-window", 6, Sender, VolatileWindow, NO_DUPLICATES, "a crash forgets the window"),
    Case("never-acks", 6, Sender, NeverAcks, EVERY_COPY_ACKED, "the sender never hears of an effect", ("acks",)),
    Case("acks-first-copy-only", 6, Sender, AcksFirstCopyOnly, EVERY_COPY_ACKED, "a lost ack is never replaced",
         ("acks",)),
    Case("drops-overtaken-messages", 6, Sender, DropsOld, NO_SILENT_LOSS,
         "a message overtaken by a newer one is dropped without effect", ("every effect",)),
    Case("set-inside-one-entry", 6, Sender, DurableSetInDict, BOUNDED_STATE, "one entry, a growing set",
         ("state size",)),
    Case("growing-bitmap", 6, Sender, GrowingBitmap, BOUNDED_STATE, "one integer, growing", ("state size",)),
    Case("growing-string", 6, Sender, GrowingString, BOUNDED_STATE, "one string, growing", ("state size",)),
    Case("volatile-debug-log", 6, Sender, DebugLog, BOUNDED_STATE, "a volatile deque that grows",
         ("state size",)),
    Case("window-in-place", 6, Sender, WindowInPlace, NO_DUPLICATES, "the window changed in place",
         ("in place",)),
    Case("stores-a-deque", 6, Sender, StoresAnObject, RUN_COMPLETES, "a deque is not plain data"),
    Case("relies-on-its-own-sender", 6, NoRetrySender, Stateless, NO_DUPLICATES,
         "graded against the given sender, which retries", ("pinned sender",)),
    Case("window-22-and-a-half", 6, Sender, Window22AndAHalf, NO_DUPLICATES, "two copies 23 apart",
         ("window",)),
    Case("pruned-one-early", 6, Sender, PrunedOneEarly, NO_DUPLICATES, "a copy exactly 23 after the first",
         ("window",)),
    Case("holes-below-the-highest", 6, Sender, Holes, BOUNDED_STATE, "one hole per message given up, forever",
         ("state size",), systematic=False),
    Case("merged-ranges", 6, Sender, MergedRanges, BOUNDED_STATE, "one range per permanent gap, forever",
         ("state size",), systematic=False),
    Case("compressed-bitmap", 6, Sender, CompressedBitmap, BOUNDED_STATE, "random gaps do not compress",
         ("state size",), systematic=False),
    Case("closure-cache", 6, Sender, ClosureCache, BOUNDED_STATE, "a set kept by a closure on self",
         ("hidden state",)),
    Case("generator-cache", 6, Sender, GeneratorCache, BOUNDED_STATE, "a set in a generator's frame on self",
         ("hidden state",)),
    Case("memoized-fast-path", 6, Sender, MemoizedFastPath, NODE_ISOLATION, "an lru_cache on a method",
         ("hidden state",)),
]
