"""Exercise 8, leases and fencing tokens: the store, graded with the given queue and workers."""

from semantics import Node
from semantics.grading import (EVERY_EFFECT, FENCED, NO_DUPLICATES, SETTLED, SETTLED_MEANS_EFFECT, Worker)
from semantics.sim.patterns import FencingStore

from . import Case, notebook

NB = notebook(8)
Store = NB["Store"]


class SeparateKeys(Node):
    """Correct, differently: the highest token and the applied mark as two durable keys per message,
    written in one atomic block."""

    def on_message(self, request, body):
        with self.atomic():
            if request.token < self.durable.get(("token", request.key), 0):
                return
            self.durable[("token", request.key)] = request.token
            if not request.register and ("applied", request.key) not in self.durable:
                self.apply(body)
                self.durable[("applied", request.key)] = True
        if not request.register:
            self.ack(request)


class OneTable(Node):
    """Correct, differently: one durable dict for the whole store, message -> [highest token, applied],
    read and written back."""

    def on_message(self, request, body):
        with self.atomic():
            table = self.durable.get("table", {})
            highest, applied = table.get(request.key, (0, False))
            if request.token >= highest:
                if not request.register and not applied:
                    self.apply(body)
                    applied = True
                table[request.key] = (request.token, applied)
                self.durable["table"] = table
                accepted = not request.register
            else:
                accepted = False
        if accepted:
            self.ack(request)


class RegisterAckedToo(Node):
    """Correct, differently: acknowledges starts as well (the workers ignore those acks), and notes
    every refusal on the diagram."""

    def on_message(self, request, body):
        key = ("m", request.key)
        with self.atomic():
            highest, applied = self.durable.get(key, (0, False))
            ok = request.token >= highest
            if ok:
                if body is not None and not applied:
                    self.apply(body)
                    applied = True
                self.durable[key] = (max(highest, request.token), applied)
        if ok:
            self.ack(request)
        else:
            self.note(f"refused {request!r}")


class DedupOnly(Node):
    """Wrong: deduplicates, never fences: a stale worker that writes after a newer one started, and
    before it wrote, lands its write."""

    def on_message(self, request, body):
        if request.register:
            return
        with self.atomic():
            if ("done", request.key) not in self.durable:
                self.apply(body)
                self.durable[("done", request.key)] = True
        self.ack(request)


class VolatileTokens(Node):
    """Wrong: fences with the highest tokens on self (and deduplicates durably): a crash forgets them."""

    def on_start(self):
        self.highest = {}

    def on_message(self, request, body):
        if request.token < self.highest.get(request.key, 0):
            return
        self.highest[request.key] = request.token
        if request.register:
            return
        with self.atomic():
            if ("done", request.key) not in self.durable:
                self.apply(body)
                self.durable[("done", request.key)] = True
        self.ack(request)


class WritesOnlyFence(Node):
    """Wrong: ignores the starts, fences on writes only: a stale write that comes before the new
    holder's write lands."""

    def on_message(self, request, body):
        if request.register:
            return
        key = ("m", request.key)
        with self.atomic():
            highest, applied = self.durable.get(key, (0, False))
            if request.token < highest:
                return
            if not applied:
                self.apply(body)
            self.durable[key] = (request.token, True)
        self.ack(request)


class StrictFence(Node):
    """Wrong: refuses a token equal to the highest shown: the holder's write, after its own start, is
    refused, and the message never takes effect."""

    def on_message(self, request, body):
        key = ("m", request.key)
        with self.atomic():
            highest, applied = self.durable.get(key, (0, False))
            if request.token <= highest:
                return
            self.durable[key] = (request.token, applied)
            if not request.register and not applied:
                self.apply(body)
                self.durable[key] = (request.token, True)
        if not request.register:
            self.ack(request)


class AcksBeforeCommit(Node):
    """Wrong: acknowledges the write before the atomic block: a crash in between settles a message that
    never took effect."""

    def on_message(self, request, body):
        if not request.register:
            self.ack(request)
        key = ("m", request.key)
        with self.atomic():
            highest, applied = self.durable.get(key, (0, False))
            if request.token < highest:
                return
            if not request.register and not applied:
                self.apply(body)
                applied = True
            self.durable[key] = (request.token, applied)


class NoAckForDuplicates(Node):
    """Wrong: acknowledges only a write it applies now: when that ack is lost, the next holder's write is
    a duplicate and nobody acknowledges it; the message is never settled."""

    def on_message(self, request, body):
        key = ("m", request.key)
        with self.atomic():
            highest, applied = self.durable.get(key, (0, False))
            if request.token < highest:
                return
            new = not request.register and not applied
            if new:
                self.apply(body)
            self.durable[key] = (request.token, applied or new)
        if new:
            self.ack(request)


class EffectOutsideBlock(Node):
    """Wrong: records the token and the mark in one atomic block, then applies: a crash in between loses
    the effect of a message marked applied."""

    def on_message(self, request, body):
        key = ("m", request.key)
        with self.atomic():
            highest, applied = self.durable.get(key, (0, False))
            if request.token < highest:
                return
            self.durable[key] = (request.token, applied or not request.register)
        if not request.register and not applied:
            self.apply(body)
        if not request.register:
            self.ack(request)


class TrustingStore(Node):
    """Wrong: applies every write (the notebook's starting point, without its acks for starts)."""

    def on_message(self, request, body):
        if not request.register:
            self.apply(body)
            self.ack(request)

# -- found by an adversary: one highest token for the whole store; three more correct stores ----------

class GlobalHighToken(Node):
    """Wrong: one highest token for the whole store, not per message: once the leases of two messages
    overlap, the live holder of the older one is refused."""
    def on_message(self, request, body):
        with self.atomic():
            high = self.durable.get("high", 0)
            if request.token < high:
                return
            self.durable["high"] = request.token
            done = ("done", request.key) in self.durable
            if not request.register and not done:
                self.apply(body)
                self.durable[("done", request.key)] = True
        if not request.register:
            self.ack(request)


class SignedToken(Node):
    """Correct, differently: one durable int per message: +token while not applied, -token once applied (abs = highest token)."""
    def on_message(self, request, body):
        k = request.key
        with self.atomic():
            v = self.durable.get(k, 0)
            high, done = abs(v), v < 0
            if request.token < high:
                return
            high = request.token
            if not request.register and not done:
                self.apply(body)
                done = True
            self.durable[k] = -high if done else high
        if not request.register:
            self.ack(request)


class TwoPhaseStore(Node):
    """Correct, differently: raises the token in its own small transaction first, then applies in a second block re-checking the token; ack after the commit."""
    def on_message(self, request, body):
        tk, dk = ("tok", request.key), ("done", request.key)
        if request.token < self.durable.get(tk, 0):
            return
        if request.token > self.durable.get(tk, 0):
            self.durable[tk] = request.token
        if request.register:
            return
        with self.atomic():
            if request.token < self.durable.get(tk, 0):
                return
            if dk not in self.durable:
                self.apply(body)
                self.durable[dk] = True
        self.ack(request)


class RefStore(Node):
    """(The base of the next one: the reference's idea.) Per message (highest token, applied) in one durable key, one atomic block; stale requests refused (no ack)."""
    def on_message(self, request, body):
        k = ("m", request.key)
        with self.atomic():
            high, done = self.durable.get(k, (0, False))
            if request.token < high:
                return
            if not request.register and not done:
                self.apply(body)
                done = True
            self.durable[k] = (max(high, request.token), done)
        if not request.register:
            self.ack(request)


class AckStaleWrite(RefStore):
    """Correct, differently: refuses to apply a stale write but acknowledges it; harmless, since the stale
    worker then acknowledges a lease the queue no longer lends it, and the queue ignores that."""
    def on_message(self, request, body):
        k = ("m", request.key)
        with self.atomic():
            high, done = self.durable.get(k, (0, False))
            stale = request.token < high
            if not stale:
                if not request.register and not done:
                    self.apply(body)
                    done = True
                self.durable[k] = (max(high, request.token), done)
        if not request.register:
            self.ack(request)


CASES = [
    Case("solution", 8, Worker, Store, "passed", "one durable pair per message: highest token, applied"),
    Case("separate-keys", 8, Worker, SeparateKeys, "passed", "two durable keys per message, one atomic block"),
    Case("one-table", 8, None, OneTable, "passed", "one durable dict for the whole store"),
    Case("acks-starts-too", 8, Worker, RegisterAckedToo, "passed", "starts acknowledged too, refusals noted"),
    Case("starting-point", 8, Worker, NB["TrustingStore"], NO_DUPLICATES, "applies every write", ("stale writer",)),
    Case("trusting-store", 8, Worker, TrustingStore, NO_DUPLICATES, "applies every write", ("stale writer",)),
    Case("lesson-05-fencing-store", 8, Worker, FencingStore, NO_DUPLICATES,
         "lesson 05's store fences, never deduplicates: a late holder finishes before the next starts",
         ("library class", "stale writer")),
    Case("dedup-only", 8, Worker, DedupOnly, FENCED, "a stale write lands between the new holder's start and write",
         ("stale writer",)),
    Case("writes-only-fence", 8, Worker, WritesOnlyFence, FENCED, "the starts are ignored", ("stale writer",)),
    Case("volatile-tokens", 8, Worker, VolatileTokens, FENCED, "a crash forgets the tokens", ("stale writer",)),
    Case("strict-fence", 8, Worker, StrictFence, EVERY_EFFECT, "the current holder's own write is refused"),
    Case("acks-before-commit", 8, Worker, AcksBeforeCommit, SETTLED_MEANS_EFFECT, "a crash between the ack and the commit"),
    Case("no-ack-for-duplicates", 8, Worker, NoAckForDuplicates, SETTLED, "a lost ack is never replaced", ("acks",)),
    Case("effect-outside-block", 8, Worker, EffectOutsideBlock, SETTLED_MEANS_EFFECT,
         "marked applied, then a crash before the effect"),
    Case("signed-token", 8, Worker, SignedToken, "passed", "one signed integer per message"),
    Case("two-phase-store", 8, Worker, TwoPhaseStore, "passed", "the token raised first, applied in a second block"),
    Case("ack-stale-write", 8, Worker, AckStaleWrite, "passed", "a refused stale write acknowledged: harmless"),
    Case("global-high-token", 8, Worker, GlobalHighToken, EVERY_EFFECT,
         "one highest token for the whole store: overlapping leases of two messages starve one", ("stale writer",)),
]
