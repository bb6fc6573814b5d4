"""Patterns past one sender and one receiver (lesson 05), written with the public Node API only.

One module per idea:

- ``reply_cache``:  a client that waits for a reply carrying the effect's receipt, and servers that
  re-execute, deduplicate in silence, or keep the last reply per client;
- ``external``:     a payment service that honours idempotency keys for a limited time, and the
  consumers that call it (in the handler, inside a transaction, through an outbox);
- ``leases``:       a broker that hands a message to one consumer at a time under a lease
  (visibility timeout / AckWait), and consumers that take longer than the lease;
- ``fencing``:      a store that rejects a write whose token is older than one it has seen;
- ``transactions``: a log broker with consumer offsets and transactions, and a consume-transform-
  produce processor (transactional, or producing and committing separately), and a database sink;
- ``failover``:     a primary that replicates its deduplication record to a replica, and a client
  that fails over to the replica;
- ``end_to_end``:   an application that resubmits a request it gave up on, a store-and-forward hop
  that is exactly-once by its own ids, and an end store that deduplicates by the hop's id or by
  the application's.

The partner nodes (``RequestClient``, ``PaymentService``, ``LeaseBroker``, ``FencingStore``,
``LogBroker``) are parameterised and check their arguments, so that exercises can reuse them.
"""

from .reply_cache import (ExecutingServer, LastReplyServer, Reply, RequestClient, RequestOutcomes,
                          SilentDedupServer, request_outcomes, sequence_number)
from .external import CallInTransactionConsumer, CallThenAckConsumer, OutboxConsumer, PaymentService
from .leases import LeaseBroker, Leased, SlowConsumer
from .fencing import Fenced, FencingStore
from .transactions import LogBroker, SinkDatabase, StreamProcessor, output_copies
from .failover import EffectStore, FailoverClient, PrimaryService, ReplicaService, StatelessService
from .end_to_end import EndStore, ImpatientApp, Relay

__all__ = [
    "RequestClient", "Reply", "ExecutingServer", "SilentDedupServer", "LastReplyServer", "RequestOutcomes",
    "request_outcomes", "sequence_number",
    "PaymentService", "CallThenAckConsumer", "CallInTransactionConsumer", "OutboxConsumer",
    "LeaseBroker", "Leased", "SlowConsumer",
    "FencingStore", "Fenced",
    "LogBroker", "StreamProcessor", "SinkDatabase", "output_copies",
    "FailoverClient", "PrimaryService", "ReplicaService", "StatelessService", "EffectStore",
    "ImpatientApp", "Relay", "EndStore",
]
