"""The real-world labs: SQLite under SIGKILL (``sqlite``), Redis Streams (``redis_streams``) and
NATS JetStream (``jetstream``), with the private servers they start (``servers``).

Standalone: the labs do not import the simulator, so that a lab consumer started as a child
process (``python semantics/labs/sqlite.py consume ...``) starts fast.
"""
