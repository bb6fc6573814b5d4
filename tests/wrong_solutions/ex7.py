"""Exercise 7, a reply cache for pipelined requests (graded against the exercise's own client)."""

from semantics import Node
from semantics.grading import ANSWERED, BOUNDED_STATE, FIRST_RECEIPT, NO_DUPLICATES, PipelinedClient
from semantics.sim.patterns import ExecutingServer, LastReplyServer, SilentDedupServer

from . import Case, notebook

NB = notebook(7)
Server = NB["Server"]


class SequenceWindowServer(Node):
    """Correct, differently: keeps the receipts of the last 20 request numbers (a request is submitted
    every time unit and arrives within 14, so a copy of a request older than 15 numbers is impossible);
    anything older than the window is a duplicate, answered without executing it."""

    keep = 20

    def on_message(self, request, body):
        with self.atomic():
            replies = self.durable.get("replies", {})
            newest = max(replies, default=0)
            if request not in replies and request > newest - self.keep:
                replies[request] = self.apply(body)
                newest = max(newest, request)
                replies = {r: v for r, v in replies.items() if r > newest - self.keep}
                self.durable["replies"] = replies
        if request in replies:
            self.send(self.peer, request, replies[request])


class KeyPerRequest(Node):
    """Correct, differently: one durable key per request, (receipt, time), pruned of entries older than
    the horizon whenever a new request executes."""

    def on_message(self, request, body):
        with self.atomic():
            saved = self.durable.get(("reply", request))
            if saved is None:
                saved = (self.apply(body), self.now)
                self.durable[("reply", request)] = saved
                for key in list(self.durable):
                    if key[0] == "reply" and self.now - self.durable[key][1] > 16:
                        del self.durable[key]
        self.send(self.peer, request, saved[0])


class TimerPruned(Node):
    """Correct, differently: the cache is pruned by a timer (every 5 time units), not on each request;
    the timer is set again after a restart."""

    def on_start(self):
        self.set_timer("prune", 5.0)

    def on_message(self, request, body):
        with self.atomic():
            replies = self.durable.get("replies", {})
            if request not in replies:
                replies[request] = (self.apply(body), self.now)
                self.durable["replies"] = replies
        self.send(self.peer, request, replies[request][0])

    def on_timer(self, key):
        with self.atomic():
            replies = self.durable.get("replies", {})
            self.durable["replies"] = {r: v for r, v in replies.items() if self.now - v[1] <= 15}
        if replies:
            self.set_timer("prune", 5.0)


class KeepsEveryReply(Node):
    """Wrong here: a correct cache that never forgets: it outgrows its bound in a long run."""

    def on_message(self, request, body):
        with self.atomic():
            replies = self.durable.get("replies", {})
            if request not in replies:
                replies[request] = self.apply(body)
                self.durable["replies"] = replies
        self.send(self.peer, request, replies[request])


class ForgetsTooSoon(Node):
    """Wrong: keeps a reply 5 time units: the client's third attempt comes 6 after its first."""

    def on_message(self, request, body):
        with self.atomic():
            replies = {r: v for r, v in self.durable.get("replies", {}).items() if self.now - v[1] <= 5}
            if request not in replies:
                replies[request] = (self.apply(body), self.now)
            self.durable["replies"] = replies
        self.send(self.peer, request, replies[request][0])


class VolatileCache(Node):
    """Wrong: the cache on self: a crash after the effect forgets it, and the retry executes again."""

    def on_start(self):
        self.replies = {}

    def on_message(self, request, body):
        if request not in self.replies:
            self.replies[request] = self.apply(body)
        self.send(self.peer, request, self.replies[request])


class ReplyBeforeCommit(Node):
    """Wrong: sends the reply from inside the atomic block: a crash before the commit undoes the
    execution the client already accepted the receipt of."""

    def on_message(self, request, body):
        with self.atomic():
            replies = self.durable.get("replies", {})
            if request not in replies:
                replies[request] = self.apply(body)
                self.send(self.peer, request, replies[request])
                self.durable["replies"] = replies
            else:
                self.send(self.peer, request, replies[request])


class LastReplyOwn(Node):
    """Wrong: the last reply only (one request outstanding assumed), written for this exercise: an older
    request's retry arrives after a newer request and is executed again."""

    def on_message(self, request, body):
        with self.atomic():
            last = self.durable.get("last", (0, None))
            if request != last[0]:
                last = (request, self.apply(body))
                self.durable["last"] = last
        self.send(self.peer, request, last[1])


class DoneFlagOnly(Node):
    """Wrong: deduplicates (a durable flag per request) but answers a duplicate without the receipt."""

    def on_message(self, request, body):
        with self.atomic():
            receipt = None
            if ("done", request) not in self.durable:
                receipt = self.apply(body)
                self.durable[("done", request)] = True
        self.send(self.peer, request, receipt)


class BodyKeyedCache(Node):
    """Wrong: the cache keyed by the body: two requests with equal bodies share one reply."""

    def on_message(self, request, body):
        with self.atomic():
            replies = self.durable.get("replies", {})
            if body.content not in replies:
                replies[body.content] = self.apply(body)
                self.durable["replies"] = replies
        self.send(self.peer, request, replies[body.content])


class AnswersToNobody(KeepsEveryReply):
    """Wrong: executes and saves the receipt, but replies only to new requests (the send is inside the
    'new' branch): a lost reply is never replaced."""

    def on_message(self, request, body):
        with self.atomic():
            replies = self.durable.get("replies", {})
            new = request not in replies
            if new:
                replies[request] = self.apply(body)
                self.durable["replies"] = replies
        if new:
            self.send(self.peer, request, replies[request])

# -- found by an adversary: caches that forget before the horizon, and three more correct ones --------

class TimedCache(Node):
    """Correct, differently: looks the request up before pruning (lazily, on each arrival), entries kept 15
    after their first arrival."""
    keep = 15.0
    def on_message(self, request, body):
        with self.atomic():
            cache = self.durable.get("cache", {})
            if request in cache:
                receipt = cache[request][0]
            else:
                receipt = self.apply(body)
                cache[request] = (receipt, self.now)
            cache = {k: v for k, v in cache.items() if self.now - v[1] <= self.keep}
            self.durable["cache"] = cache
        self.send(self.peer, request, receipt)


class ShortTTL(TimedCache):
    """Wrong: forgets an entry 10 after its first arrival; a retry held back arrives 13 after it."""
    keep = 10.0


class TTL12(TimedCache):
    """Wrong: forgets an entry 12 after its first arrival ('the first arrival is a round trip, 2, after the
    submission': it is one hop, 1, so a retry can come 13 after it)."""
    keep = 12.0


class RingBuffer(Node):
    """Correct, differently: a ring of 32 slots indexed by request % 32 holding (request, receipt); request r+32 arrives at least 32 after r's submission, past r's 14 horizon."""
    def on_message(self, request, body):
        slot = ("slot", request % 32)
        with self.atomic():
            held = self.durable.get(slot)
            if held is not None and held[0] == request:
                receipt = held[1]
            else:
                receipt = self.apply(body)
                self.durable[slot] = (request, receipt)
        self.send(self.peer, request, receipt)


class NumberHorizon(Node):
    """Correct, differently: evicts by request NUMBER: keeps entries with number > highest seen - 16 (one request per time unit, so a number 16 below the highest was submitted 16 earlier, past its 14 horizon)."""
    def on_message(self, request, body):
        with self.atomic():
            cache = self.durable.get("c", {})
            if request in cache:
                receipt = cache[request]
            else:
                receipt = self.apply(body)
                cache[request] = receipt
                top = max(cache)
                cache = {k: v for k, v in cache.items() if k > top - 16}
                self.durable["c"] = cache
        self.send(self.peer, request, receipt)


CASES = [
    Case("solution", 7, PipelinedClient, Server, "passed", "receipts by request, kept 15 after execution"),
    Case("sequence-window", 7, PipelinedClient, SequenceWindowServer, "passed", "the last 20 request numbers"),
    Case("key-per-request", 7, PipelinedClient, KeyPerRequest, "passed", "a durable key per request, pruned"),
    Case("timer-pruned", 7, PipelinedClient, TimerPruned, "passed", "pruned by a timer, set again after a restart"),
    Case("starting-point", 7, PipelinedClient, NB["AnswersOnceServer"], ANSWERED,
         "deduplicates, and leaves a retry without an answer"),
    Case("lesson-05-last-reply", 7, PipelinedClient, LastReplyServer, FIRST_RECEIPT,
         "lesson 05's last-reply-per-client cache answers an older request 'expired'", ("library class",)),
    Case("lesson-05-silent", 7, PipelinedClient, SilentDedupServer, ANSWERED, "lesson 05's silent deduplication",
         ("library class",)),
    Case("lesson-05-executing", 7, PipelinedClient, ExecutingServer, NO_DUPLICATES,
         "lesson 05's server that executes every retry", ("library class",)),
    Case("last-reply-own", 7, PipelinedClient, LastReplyOwn, NO_DUPLICATES,
         "the last reply only: an overtaken request is executed again"),
    Case("keeps-every-reply", 7, PipelinedClient, KeepsEveryReply, BOUNDED_STATE, "never forgets", ("state size",)),
    Case("forgets-too-soon", 7, PipelinedClient, ForgetsTooSoon, NO_DUPLICATES,
         "a reply kept 5, shorter than the client's retries", ("window",)),
    Case("volatile-cache", 7, PipelinedClient, VolatileCache, NO_DUPLICATES, "a crash forgets the cache"),
    Case("reply-before-commit", 7, PipelinedClient, ReplyBeforeCommit, FIRST_RECEIPT,
         "the receipt of an execution that was rolled back"),
    Case("done-flag-only", 7, PipelinedClient, DoneFlagOnly, FIRST_RECEIPT, "a duplicate answered without a receipt"),
    Case("body-keyed-cache", 7, PipelinedClient, BodyKeyedCache, FIRST_RECEIPT,
         "two requests with equal bodies share one reply", ("equal bodies",)),
    Case("answers-only-new", 7, PipelinedClient, AnswersToNobody, ANSWERED, "a lost reply is never replaced"),
    Case("timed-cache-lazy", 7, PipelinedClient, TimedCache, "passed", "looked up before pruning, kept 15"),
    Case("ring-buffer", 7, PipelinedClient, RingBuffer, "passed", "32 slots by request number"),
    Case("number-horizon", 7, PipelinedClient, NumberHorizon, "passed", "evicted by request number, 16 below the newest"),
    Case("short-ttl", 7, PipelinedClient, ShortTTL, NO_DUPLICATES,
         "kept 10 after the first arrival: a retry held back to the horizon executes again", ("window",)),
    Case("ttl-12", 7, PipelinedClient, TTL12, NO_DUPLICATES,
         "kept 12 after the first arrival, one short of the horizon (14 after submission)", ("window",)),
]
