"""Exercise 5, bounded deduplication state (copies arrive within the stated horizon)."""

from semantics import Node
from semantics.grading import ACK_MEANS_EFFECT, BOUNDED_STATE, NO_DUPLICATES

from . import Case, notebook

NB = notebook(5)
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


class ShortWindow(TimeWindow):
    """Wrong: a time window of 5, shorter than the retry horizon: a late retry is applied again."""

    window = 5.0


class WindowAtTheBound(TimeWindow):
    """Correct, at the edge: a copy arrives at most 24 after its submission and the first copy takes
    at least 1, so a window of 23 after the first arrival is just enough."""

    window = 23.0


class HighWatermark(Node):
    """Wrong: remembers only the highest sequence number applied; a message that arrives after a
    later one (retries reorder) is taken for a duplicate, acknowledged and dropped."""

    def on_message(self, seq, body):
        with self.atomic():
            if seq > self.durable.get("high", 0):
                self.apply(body)
                self.durable["high"] = seq
        self.ack(seq)


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


CASES = [
    Case("solution", 5, Sender, NB["Receiver"], "passed", "a durable time window of 30 >= the horizon"),
    Case("sequence-window", 5, Sender, SequenceWindowReceiver, "passed", "the last 20 sequence numbers"),
    Case("sequence-window-at-the-bound", 5, Sender, SequenceWindowAtTheBound, "passed",
         "the last 12 sequence numbers: exactly what the stated bound needs"),
    Case("window-at-the-bound", 5, Sender, WindowAtTheBound, "passed",
         "a window of 23: exactly what the stated bound allows"),
    Case("unbounded-record", 5, Sender, NB["UnboundedReceiver"], BOUNDED_STATE,
         "exercise 3's answer keeps one entry per message forever"),
    Case("window-shorter-than-horizon", 5, Sender, ShortWindow, NO_DUPLICATES,
         "forgets a message 5 after it arrived; its retries keep coming for 16"),
    Case("high-watermark", 5, Sender, HighWatermark, ACK_MEANS_EFFECT,
         "a reordered message is taken for a duplicate"),
    Case("volatile-window", 5, Sender, VolatileWindow, NO_DUPLICATES, "a crash forgets the window"),
]
