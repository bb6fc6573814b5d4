"""Consume-transform-produce (semantics.sim.patterns.transactions): a log broker with offsets and
transactions, and a processor that reads a record, writes an output and moves its offset.

Fault model: a producer appends to the input log (no loss); the processor ("proc") crashes at crash
points (random, or each in turn) and restarts. Effects are the output records a read_committed
consumer sees (or the rows of the database sink).
"""

from __future__ import annotations

import pytest

from semantics import Faults, run
from semantics.sim.patterns import LogBroker, SinkDatabase, StreamProcessor, output_copies
from semantics.sim.patterns.reply_cache import keep
from semantics.sim.protocols import RetryingSender


def producer():
    return RetryingSender(timeout=3.0, max_retries=3)


def process(mode, *, n=1500, seed=4, faults=None, trace=False):
    brokers = []
    others = {"proc": lambda: StreamProcessor(mode)}
    if mode.startswith("sink"):
        others["db"] = SinkDatabase
    report = run(producer, keep(brokers, LogBroker), n_messages=n, others=others, seed=seed, trace=trace,
                 faults=faults if faults is not None else Faults(crash_prob=0.02, nodes=("proc",)))
    assert report.ok, report.problem
    return report, brokers[-1]


def test_without_crashes_every_mode_outputs_each_record_once():
    for mode in ("transactional", "separate", "sink", "sink-offset"):
        report, _ = process(mode, n=200, faults=Faults())
        assert report.once == 200, mode


def test_transactions_show_each_output_once_to_read_committed_consumers():
    report, broker = process("transactional")
    copies = output_copies(broker)
    assert report.once == report.n_messages and report.crashes > 100
    assert all(committed == 1 for committed, _ in copies.values())
    # aborted attempts stay in the log: a read_uncommitted consumer sees them
    assert sum(every > 1 for _, every in copies.values()) > 0


def test_producing_and_committing_separately_duplicates_after_the_same_crashes():
    transactional, broker = process("transactional")
    separate, _ = process("separate")
    assert transactional.crashes == separate.crashes        # the same crash points, the same seed
    aborted = sum(every > 1 for _, every in output_copies(broker).values())
    assert separate.duplicated == aborted > 0


@pytest.mark.parametrize("mode, duplicates", [("sink", True), ("sink-offset", False)])
def test_an_external_sink_must_store_the_offset_with_its_write(mode, duplicates):
    report, broker = process(mode)
    assert (report.duplicated > 0) is duplicates
    assert report.lost == 0 and not output_copies(broker)   # nothing goes to the output topic


@pytest.mark.parametrize("mode", ["transactional", "sink-offset"])
def test_no_crash_point_of_the_processor_breaks_exactly_once(mode):
    clean, _ = process(mode, n=3, faults=Faults(), trace=True)
    labels = clean.labels["proc"]
    assert len(labels) >= 15
    for k in range(len(labels)):
        report, _ = process(mode, n=3, faults=Faults(crash_at={"proc": {k}}))
        assert report.once == 3, (mode, k, labels[k])


def test_the_abort_and_the_retry_are_in_the_trace():
    clean, _ = process("transactional", n=3, faults=Faults(), trace=True)
    k = next(i for i, label in enumerate(clean.labels["proc"]) if label.startswith("after send(out 1)"))
    report, broker = process("transactional", n=3, faults=Faults(crash_at={"proc": {k}}), trace=True)
    notes = [e.text for e in report.trace if e.kind == "note"]
    assert notes == ["epoch 1 aborted: 1 record(s)"]
    assert output_copies(broker)[1] == (1, 2)     # m2: one committed copy, one aborted
    assert report.once == 3


def test_a_fenced_epoch_is_refused():
    """A produce request that carries an older epoch (a zombie) is refused and never acknowledged."""
    from semantics.sim.patterns.transactions import Produce

    class Zombie(StreamProcessor):
        def on_ack(self, msg_id):
            if isinstance(msg_id, Produce) and msg_id.offset == 0:
                self.send("receiver", Produce(0, 0, True), self.body)   # epoch 0: before any Init
            super().on_ack(msg_id)

    report = run(producer, LogBroker, n_messages=1, others={"proc": Zombie}, trace=True)
    assert "epoch 0 fenced" in [e.text for e in report.trace if e.kind == "note"]
    assert report.once == 1


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="mode must be one of"):
        StreamProcessor("exactly-once")
