"""The lessons' self-check questions, keyed by quiz id ("<lesson>-<topic>").

A lesson's cell holds only ``quiz("<id>")``; the question, its options, the right answer and the
explanation of every option live here, out of the learner's sight until an option is picked.
The instructor guide (docs/instructor.md) lists every answer; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["Question", "QUIZZES"]


@dataclass(frozen=True)
class Question:
    """One multiple-choice question: each option maps to the explanation shown when it is picked."""

    question: str
    options: Mapping[str, str]
    answer: str

    def __post_init__(self) -> None:
        question, options, answer = self.question, self.options, self.answer
        if not isinstance(question, str):
            raise TypeError(f"question must be a str, got {question!r} of type {type(question).__name__}")
        if not question.strip():
            raise ValueError("question must be a non-empty str, got an empty one")
        if not isinstance(options, Mapping):
            raise TypeError(f"options must be a dict mapping each choice to its explanation, "
                            f"got {type(options).__name__}")
        if len(options) < 2:
            raise ValueError(f"options must hold at least two choices, got {len(options)}")
        for choice, why in options.items():
            if not isinstance(choice, str) or not choice.strip():
                raise TypeError(f"options keys must be non-empty str choices, got {choice!r}")
            if not isinstance(why, str):
                raise TypeError(f"options[{choice!r}] must be a str explanation, got {why!r} "
                                f"of type {type(why).__name__}")
            if not why.strip():
                raise ValueError(f"options[{choice!r}] must explain why the choice is right or wrong, "
                                 "got an empty explanation")
        if not isinstance(answer, str):
            raise TypeError(f"answer must be a str (one of the options), got {answer!r} "
                            f"of type {type(answer).__name__}")
        if answer not in options:
            raise ValueError(f"answer must be one of the options {', '.join(map(repr, options))}; got {answer!r}")
        object.__setattr__(self, "options", MappingProxyType(dict(options)))


def _q(question: str, options: dict[str, str], answer: str) -> Question:
    return Question(question, options, answer)


QUIZZES: Mapping[str, Question] = MappingProxyType({
    # -- 00 introduction ---------------------------------------------------------------------------
    "00-timeout": _q(
        "A sender's request timed out: no ack arrived. What does the sender know about the message's effect?",
        {
            "It failed: the message took no effect.":
                "A timeout only says that no ack arrived in time. The message may have been applied and its ack "
                "lost, or it may still be on its way. Treating it as failed is how duplicates and lost updates begin.",
            "It took effect: only the ack was lost.":
                "That is one possibility among three. The message itself may have been lost, in which case there "
                "was no effect at all.",
            "Nothing: the outcome is indefinite.":
                "The sender cannot tell a lost message from a lost ack from a slow network: all three look the same "
                "from its side. The outcome is indefinite until some later message settles it.",
        },
        "Nothing: the outcome is indefinite."),
    "00-what-counts": _q(
        "Which count does a guarantee such as 'exactly-once' speak about in this course?",
        {
            "Attempts: how many times the message was sent.":
                "Attempts are what the sender does. A message sent four times can still take effect once, "
                "if the receiver recognises the retries.",
            "Deliveries: how many copies reached the receiving node.":
                "A copy can reach the node and be wiped by a crash before anything is applied, and two copies "
                "can reach it while only one is applied. Deliveries are not what users see.",
            "Effects: how many times the state change was applied.":
                "Effects are what users of the system observe: the email sent, the payment taken. The guarantees "
                "are about effects.",
        },
        "Effects: how many times the state change was applied."),
    # -- 01 at-most-once ---------------------------------------------------------------------------
    "01-ack-first-crash": _q(
        "A consumer acknowledges each message as soon as it arrives, then processes it. It crashes right after "
        "acknowledging message m7. What happens to m7?",
        {
            "The broker redelivers m7 to the restarted consumer.":
                "The broker received the ack, so for the broker m7 is done: it has no reason to send it again.",
            "m7 is lost: it was acknowledged, and never processed.":
                "The ack told the sender to forget m7, and the copy the consumer held was in volatile memory. "
                "Acknowledging before processing makes the consumer at-most-once, whatever its sender does.",
            "m7 is processed twice.":
                "A duplicate needs a second copy, and nobody sends one: the ack stopped the sender's retries.",
        },
        "m7 is lost: it was acknowledged, and never processed."),
    "01-fit": _q(
        "Which of these streams is a good fit for at-most-once delivery?",
        {
            "Payment instructions.":
                "Each payment is a change that matters on its own. A lost payment is money not moved, and with "
                "fire and forget nobody finds out.",
            "A vehicle's position, sent every second; only the latest matters.":
                "Each update carries the whole state and supersedes the previous one. A loss costs one interval "
                "of staleness; a retry of an old position would be useless once a newer one arrived.",
            "Increments of a request counter, summed by the receiver.":
                "Every lost increment is an undercount that nothing repairs: the sum is short by a fraction p. "
                "Send the running total instead, and a loss costs only freshness.",
        },
        "A vehicle's position, sent every second; only the latest matters."),
    # -- 02 at-least-once --------------------------------------------------------------------------
    "02-payment-timeout": _q(
        "A client sends a payment request with 3 retries. All 4 attempts time out. What should the client tell the user?",
        {
            "The payment failed.":
                "A timeout says only that no ack arrived. In this notebook a fraction (1-s)^N - p^N of all messages "
                "was given up on although it had taken effect. Telling the user it failed invites a second payment.",
            "The payment went through: only the acks were lost.":
                "With probability p^N every attempt was lost, and the payment was never made. The client cannot "
                "tell that world from the one where the acks were lost.",
            "The outcome is unknown until it is checked, or retried with the same id against a receiver that deduplicates.":
                "The outcome is indefinite. It has to be found out (ask the receiver) or made safe to repeat "
                "(the same id, and a receiver that remembers ids durably: notebook 03).",
        },
        "The outcome is unknown until it is checked, or retried with the same id against a receiver that deduplicates."),
    "02-jitter-duplicates": _q(
        "Nothing is lost, yet a few messages take effect twice because the delay varies. Which change makes those "
        "duplicates impossible?",
        {
            "A longer timeout.":
                "It makes them rarer, not impossible: P(duplicated) = e^(-x/j)(1 + x/j) is positive for every finite "
                "timeout, and a longer timeout delays the retry of a message that really was lost.",
            "Exponential backoff.":
                "Backoff lengthens the waits before the second and later retries. The first timeout still fires "
                "after T, so the early retry of a slow message happens exactly as before.",
            "A receiver that deduplicates by the message id.":
                "Retries cannot be avoided without risking loss, so make them harmless: the retry carries the "
                "same id, and a receiver that remembers ids applies it once (notebook 03).",
        },
        "A receiver that deduplicates by the message id."),
    # -- 03 exactly-once ---------------------------------------------------------------------------
    "03-after-timeout": _q(
        "After a timeout, the sender has seen no ack. Which of these can it conclude?",
        {
            "The message was lost: retry it.":
                "No: the ack may have been lost after the message took effect (world B), or the network may "
                "just be slow (world C). A retry then delivers a second copy.",
            "The message took effect: stop.":
                "No: in world A the message was lost, and stopping loses it for good.",
            "Nothing: the three worlds look the same to it.":
                "Yes. Its observations are identical in all three, so it must choose between risking a "
                "duplicate (retry) and risking a loss (stop). Deduplication at the receiver makes the retry safe.",
        },
        "Nothing: the three worlds look the same to it."),
    "03-two-steps": _q(
        "A receiver applies the effect, then writes its deduplication record, in two separate steps. "
        "Where must a crash strike to break it, and how?",
        {
            "Between the record and the ack: the message is lost.":
                "No: both the effect and the record are durable by then; the retry is recognised and acknowledged.",
            "Between the effect and the record: the retry applies the message again.":
                "Yes (section 3.4). Only committing the effect and the record atomically closes this gap.",
            "Before the effect: the message is lost.":
                "No: nothing happened yet, so the sender's retry is processed normally.",
        },
        "Between the effect and the record: the retry applies the message again."),
    "03-window": _q(
        "A broker deduplicates publishes within a 2-minute window. A producer retries with backoff for up "
        "to 5 minutes. What do you get?",
        {
            "Exactly-once, since the broker deduplicates.":
                "No: a retry that arrives after the window is stored again (section 5).",
            "At-least-once for retries that arrive after the window.":
                "Yes. The window must cover the retry horizon (plus the delay spread), or the retry policy must "
                "stop within it.",
            "At-most-once.":
                "No: nothing is dropped by forgetting an id; late retries are accepted, hence duplicated.",
        },
        "At-least-once for retries that arrive after the window."),
    # -- 04 comparison -----------------------------------------------------------------------------
    "04-jetstream-window": _q(
        "Your producer publishes to NATS JetStream with a Nats-Msg-Id, and retries with backoff for up to 10 "
        "minutes. The stream keeps the default duplicate window. What does a consumer see?",
        {
            "Each message once: the Msg-Id deduplicates it.":
                "Only within the duplicate window (2 minutes by default): a retry after that is stored again.",
            "Possibly duplicates: retries later than the window are stored again, and a consumer crash before "
            "its ack causes a redelivery.":
                "Yes: the window must cover the retry horizon, and publish-side deduplication does nothing for "
                "consumer-side redeliveries. The consumer still needs idempotence or its own deduplication.",
            "Possibly losses: the window drops late retries.":
                "No: a late retry is not dropped, it is stored again. Windows fail towards duplicates.",
        },
        "Possibly duplicates: retries later than the window are stored again, and a consumer crash before "
        "its ack causes a redelivery."),
    "04-pubsub-feature": _q(
        "A subscription has Pub/Sub's 'exactly-once delivery' turned on. Does lesson 03's impossibility result "
        "still hold, and what must the subscriber do?",
        {
            "It no longer holds: Pub/Sub delivers each message exactly once, so the subscriber needs no "
            "deduplication.":
                "No protocol can deliver exactly once over a lossy link. Pub/Sub promises no redelivery after a "
                "successful ack; an ack can fail, and after the ack deadline the message is delivered again.",
            "It holds: the feature stops redelivery after a successful ack, but acks can fail and messages come "
            "back after the ack deadline, so the subscriber still deduplicates its own side effects.":
                "Yes. The feature is deduplication plus acks that report their result; the subscriber keeps track "
                "of its progress and makes its effects idempotent, as Pub/Sub's own documentation asks.",
            "It holds only for push subscriptions.":
                "The feature covers pull subscriptions (StreamingPull included) within one region; push and export "
                "subscriptions do not support it at all.",
        },
        "It holds: the feature stops redelivery after a successful ack, but acks can fail and messages come "
        "back after the ack deadline, so the subscriber still deduplicates its own side effects."),
    "04-kafka-to-postgres": _q(
        "A service consumes from Kafka and writes to PostgreSQL. Which design gives an exactly-once effect?",
        {
            "Enable the idempotent producer and transactions on the Kafka side.":
                "Kafka transactions are Kafka-to-Kafka: an external sink such as PostgreSQL must store the "
                "consumed offset (or a processed-id record) together with its output.",
            "Auto-commit offsets every 5 seconds.":
                "No: auto-commit is independent of the write, so a crash between them duplicates or loses.",
            "Store the processed offset (or message id) in the same PostgreSQL transaction as the write.":
                "Yes: the effect and its deduplication record commit atomically, as in lesson 03.",
        },
        "Store the processed offset (or message id) in the same PostgreSQL transaction as the write."),
    # -- 05 beyond one link ------------------------------------------------------------------------
    "05-reply-cache": _q(
        "A server deduplicates requests by id: a retry of a request it already executed is not executed again, "
        "and gets no reply. The reply to the first execution was lost. What does the client see?",
        {
            "The reply of the first execution, replayed.":
                "Only a server that stored the reply with its deduplication record can replay it. This one "
                "remembers the id but not the reply.",
            "Silence: it retries until it gives up, and reports an indefinite outcome although the request "
            "took effect once.":
                "Yes. Deduplication without the reply turns a duplicate into silence. A reply cache stores the "
                "reply (the receipt) with the record, in the same commit, and sends it again to every retry.",
            "A second execution, with a new receipt.":
                "That is what a server without any deduplication does. This one recognises the retry, so it "
                "executes nothing; it simply has nothing to say.",
        },
        "Silence: it retries until it gives up, and reports an indefinite outcome although the request "
        "took effect once."),
    "05-idempotency-key": _q(
        "A consumer charges a card through a payment API that keeps idempotency keys for 24 hours. It derives the "
        "key from the message id and retries from an outbox. When can the card still be charged twice?",
        {
            "Never: the key makes the call idempotent forever.":
                "The service forgets keys: Stripe may prune a key once it is at least 24 hours old, and a reused "
                "key after that is a new request.",
            "When a retry of the same call arrives after the service forgot the key.":
                "Yes. The key is a deduplication record kept by someone else, for a limited time: the retries "
                "must stop (or be settled by asking the service) within its retention.",
            "When the consumer crashes between writing the outbox row and its commit.":
                "The outbox row and the local effect commit together: a crash before the commit rolls both back, "
                "and no call was made yet.",
        },
        "When a retry of the same call arrives after the service forgot the key."),
    "05-fencing": _q(
        "A consumer's lease (visibility timeout, AckWait) expires while it is still working; the broker gives "
        "the message to a second consumer. What stops the first one's late write from landing?",
        {
            "Nothing: the lease expired, so the first consumer has already stopped.":
                "A paused or slow process does not know that its lease expired: it resumes and writes. The lease "
                "alone gives two live consumers of one message.",
            "The store checks a fencing token: the broker numbers every lease, and the store rejects a write "
            "whose token is older than one it has seen.":
                "Yes. The check must happen where the write lands, because only the store sees both writes; "
                "Kafka fences a zombie producer the same way, with the producer epoch of its transactional id.",
            "A longer lease.":
                "It makes the race rarer, not impossible: any pause longer than the lease reopens it.",
        },
        "The store checks a fencing token: the broker numbers every lease, and the store rejects a write "
        "whose token is older than one it has seen."),
    "05-kafka-transactions": _q(
        "A Kafka Streams-style job reads topic A, writes topic B and commits its offsets, all in one transaction. "
        "It crashes after writing B's records, before the commit. What does a read_committed consumer of B see?",
        {
            "The records twice: once from the crashed attempt and once from the retry.":
                "The crashed attempt's records belong to a transaction that is aborted, and a read_committed "
                "consumer skips aborted records.",
            "Each record once: the aborted attempt is invisible, and the retry's commit publishes the records "
            "and moves the offset together.":
                "Yes. Output records and the consumer offset commit atomically. A read_uncommitted consumer, or "
                "an external system written to outside the transaction, would see the first attempt too.",
            "Nothing: the crash loses the records for good.":
                "The offset was not committed, so the job reads the same input again and produces the records "
                "in a new transaction.",
        },
        "Each record once: the aborted attempt is invisible, and the retry's commit publishes the records "
        "and moves the offset together."),
    "05-failover": _q(
        "A primary stores each processed id in its deduplication table and acknowledges; it replicates "
        "asynchronously. It fails right after acknowledging m7, and a replica takes over. A redelivery of m7 arrives. "
        "What happens?",
        {
            "The replica recognises m7: the record was acknowledged, so it is durable.":
                "Durable on the primary's disk, not on the replica: with asynchronous replication the "
                "acknowledgement does not wait for the replica.",
            "m7 takes effect a second time if the replica never received the record.":
                "Yes. A failover to a replica that lacks the record forgets the deduplication, and the effect is "
                "repeated. Synchronous replication, or a record stored with the effect in the same replicated "
                "transaction, closes the gap.",
            "m7 is lost.":
                "Forgetting a deduplication record never loses a message: it lets a copy through again.",
        },
        "m7 takes effect a second time if the replica never received the record."),
    "05-end-to-end": _q(
        "Every hop of a pipeline (producer to broker, broker to consumer, consumer to database) deduplicates. "
        "Which check does the end-to-end argument say you still need?",
        {
            "None: if every hop is exactly-once, so is the whole.":
                "Each hop's guarantee stops at its boundary: a retry by the application above the first hop, "
                "or a failover inside one, is a new message to every hop below.",
            "A check at the ends: the effect deduplicated by an id that the application gives the request, "
            "where the effect is applied.":
                "Yes. Saltzer, Reed and Clark: the function can be completely and correctly implemented only with "
                "the knowledge of the application at the end points; the hops' deduplication is a performance "
                "aid, not the guarantee.",
            "Stronger checks on the network: TCP checksums and retransmission.":
                "TCP works inside one connection; the duplicates in this course come from retries and "
                "redeliveries above it, which TCP cannot see.",
        },
        "A check at the ends: the effect deduplicated by an id that the application gives the request, "
        "where the effect is applied."),
})
