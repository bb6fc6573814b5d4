"""The NATS JetStream lab against a real nats-server: publish deduplication by Nats-Msg-Id within
the duplicate window (and not after it), redelivery after AckWait of a message whose consumer was
SIGKILLed before its ack, duplicates with a naive consumer and losses with ack-first (the harness
sees failures), exactly-once effects with the SQLite inbox over 30 kills; clear messages for a
missing binary and a server dying mid-lab; and no nats-server or consumer process left behind.
(A port in use, stop and a SIGKILLed owner: tests/test_servers.py, for both lab servers.)"""

from __future__ import annotations

import os
import shutil
import signal
import socket

import pytest

from semantics.labs import jetstream, servers
from semantics.labs.jetstream import JetStreamError, NatsServer, NatsUnavailable
from semantics.labs.sqlite import create_service, processes_mentioning

HAVE_BINARY = shutil.which("nats-server") is not None
needs_binary = pytest.mark.skipif(not HAVE_BINARY, reason=f"no nats-server binary: {jetstream.INSTALL_HINT}")
pytestmark = pytest.mark.nats


@pytest.fixture(scope="module", autouse=True)
def no_consumer_outlives_this_module():
    """Every consumer this test process starts carries "--parent-pid <our pid>"."""
    yield
    assert jetstream.our_consumers() == [], "a NATS lab consumer outlived its test"


@pytest.fixture(scope="module")
def lab():
    ok, why = jetstream.nats_available()
    if not ok:
        pytest.skip(why)
    with jetstream.open_lab() as lab:
        yield lab
    if lab.server is not None:
        assert not lab.server.alive()
        assert leftovers(lab.server.port) == []


def leftovers(port):
    """Live processes of a server on ``port`` ("--port PORT" on its command line) or of consumers
    connected to it ("nats://127.0.0.1:PORT" on theirs)."""
    return processes_mentioning(f"--port {port} ") + processes_mentioning(f"nats://127.0.0.1:{port} ")


# Long enough that no ack of a live consumer comes late, even on a busy machine: with 1 s, under two busy loops
# and a test suite on 2 cores, a message was delivered again before its ack arrived (7 deliveries, not 6).
# A killed consumer's message is redelivered after it, so the tests that kill wait this long once.
ACK_WAIT = 5.0


def deposits(lab, name, n=5, ack_wait=ACK_WAIT):
    lab.add_stream(name)
    amounts = jetstream.produce(lab, name, n, seed=1)
    lab.add_consumer(name, ack_wait=ack_wait)
    return amounts


# ---------------------------------------------------------------- publish side: the duplicate window

def test_server_runs_on_loopback_with_jetstream_in_its_temp_directory(lab):
    if lab.server is None:
        pytest.skip(f"{jetstream.NATS_URL_ENV} names an external server")
    cmd = " ".join(lab.server.command())
    assert f"--addr 127.0.0.1 --port {lab.server.port} --jetstream --store_dir {lab.server.directory}" in cmd
    lab.add_stream("probe")
    assert (lab.server.directory / "jetstream").is_dir()


def test_same_msg_id_within_the_window_is_acknowledged_as_duplicate_and_stored_once(lab):
    lab.add_stream("dedup", duplicate_window=30.0)
    first = lab.publish("dedup", "order 1", msg_id="order-1")
    again = [lab.publish("dedup", "order 1", msg_id="order-1") for _ in range(3)]
    assert not first.duplicate and first.seq == 1
    assert all(a.duplicate and a.seq == 1 for a in again)           # acknowledged, pointing at the stored copy
    assert lab.publish("dedup", "order 2", msg_id="order-2").seq == 2
    assert lab.publish("dedup", "no id").seq == 3 and lab.publish("dedup", "no id").seq == 4   # no id: no dedup
    assert lab.messages("dedup") == 4
    assert lab.duplicate_window("dedup") == 30.0


def test_same_msg_id_after_the_window_is_stored_again(lab):
    # The schedule's clock starts once both ids are stored. Margins: 0.8 s inside the window; 0.5 s
    # after it, ten times nats-server's 50 ms timer slack in forgetting ids (purgeMsgIds).
    lab.add_stream("window", duplicate_window=1.0)
    attempts = jetstream.publish_schedule(lab, "window", {"late": [0.0, 0.2, 1.5], "early": [0.0, 0.2]})
    assert [(a.msg_id, a.duplicate) for a in attempts] == [
        ("early", False), ("late", False), ("early", True), ("late", True), ("late", False)]
    assert [a.at for a in attempts] == [0.0, 0.0, 0.2, 0.2, 1.5] and all(a.late < 0.5 for a in attempts)
    late = [a.seq for a in attempts if a.msg_id == "late"]
    assert late[0] == late[1] != late[2]                             # a second copy, with a new sequence
    assert lab.messages("window") == 3


# ---------------------------------------------------------------- consumer side: crashes and AckWait

def test_a_consumer_killed_before_its_ack_gets_the_message_redelivered_after_ack_wait(lab, tmp_path):
    amounts = deposits(lab, "redeliver")
    create_service(tmp_path)
    run = jetstream.run_consumer(lab, "redeliver", directory=tmp_path, mode="naive", crash_in_window=2)
    assert run.killed and run.returncode == -signal.SIGKILL
    state = lab.consumer_state("redeliver")
    assert (state.pending, state.ack_pending, state.deliveries) == (3, 1, 2)   # message 2: delivered, not acked
    run = jetstream.run_consumer(lab, "redeliver", directory=tmp_path, mode="naive")
    assert not run.killed
    t = jetstream.tally(lab, "redeliver", tmp_path, amounts)
    assert (t.lost, t.once, t.duplicated, t.ack_pending, t.deliveries) == (0, 4, 1, 0, 6)
    assert t.balance == t.expected_balance + amounts[1]              # message 2's deposit, twice


def test_ack_first_consumer_killed_before_its_effect_loses_the_message(lab, tmp_path):
    amounts = deposits(lab, "ackfirst")
    create_service(tmp_path)
    assert jetstream.run_consumer(lab, "ackfirst", directory=tmp_path, mode="ack-first", crash_in_window=2).killed
    assert lab.consumer_state("ackfirst").ack_pending == 0          # the double ack was confirmed: nothing to redeliver
    jetstream.run_consumer(lab, "ackfirst", directory=tmp_path, mode="ack-first")
    t = jetstream.tally(lab, "ackfirst", tmp_path, amounts)
    assert (t.lost, t.once, t.duplicated, t.deliveries) == (1, 4, 0, 5)
    assert t.balance == t.expected_balance - amounts[1]


def test_inbox_consumer_recognises_the_redelivery(lab, tmp_path):
    amounts = deposits(lab, "inbox")
    create_service(tmp_path)
    assert jetstream.run_consumer(lab, "inbox", directory=tmp_path, mode="inbox", crash_in_window=2).killed
    jetstream.run_consumer(lab, "inbox", directory=tmp_path, mode="inbox")
    t = jetstream.tally(lab, "inbox", tmp_path, amounts)
    assert (t.lost, t.once, t.duplicated, t.suppressed, t.deliveries) == (0, 5, 0, 1, 6)
    assert t.balance == t.expected_balance


# ---------------------------------------------------------------- random SIGKILLs

@pytest.mark.slow
def test_kill_loop_inbox_gives_exactly_once_effects_over_30_kills(lab):
    res = jetstream.run_jetstream_lab(lab, "inbox", n_messages=100, kills=30, seed=5)
    assert res.kills == 30
    assert (res.lost, res.duplicated, res.ack_pending) == (0, 0, 0), res.summary()
    assert res.balance == res.expected_balance
    # Not vacuous: kills landed between effect and ack, the server redelivered, the inbox skipped.
    assert res.suppressed > 0 and res.deliveries > res.n_messages, res.summary()


@pytest.mark.slow
def test_kill_loop_shows_duplicates_when_naive_and_losses_when_ack_first(lab):
    runs = jetstream.compare_modes(lab, ("naive", "ack-first"), n_messages=60, kills=12, seed=5)   # side by side
    naive, first = runs["naive"], runs["ack-first"]
    assert naive.kills == 12 and naive.duplicated > 0 and naive.lost == 0, naive.summary()
    assert first.kills == 12 and first.lost > 0 and first.duplicated == 0, first.summary()
    assert jetstream.our_consumers() == []
    assert "duplicates seen" in naive.verdict() and "losses seen" in first.verdict()


# ---------------------------------------------------------------- clear messages for bad configuration

def test_missing_binary_says_how_to_install(monkeypatch):
    with pytest.raises(NatsUnavailable, match="apt-get install nats-server.*conda install -c conda-forge nats-server"):
        NatsServer(binary="/no/such/nats-server")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(jetstream.NATS_URL_ENV, raising=False)
    ok, why = jetstream.nats_available()
    assert not ok and "no nats-server on PATH" in why and "COURSE_NATS_URL" in why
    with pytest.raises(NatsUnavailable, match="needs a nats-server binary"):
        jetstream.open_lab()


def test_a_server_outside_path_in_an_sbin_directory_is_pointed_out(monkeypatch, tmp_path):
    """Debian's nats-server is /usr/sbin/nats-server, which a normal user's PATH lacks."""
    fake = tmp_path / "nats-server"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setattr(servers, "SBIN_DIRS", (str(tmp_path),))
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(jetstream.NATS_URL_ENV, raising=False)
    ok, why = jetstream.nats_available()
    assert not ok and f"There is one at {fake}, outside your PATH" in why and "apt-get install" in why


def test_unreachable_configured_url_is_reported(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]         # bound, not listening: connections are refused
        monkeypatch.setenv(jetstream.NATS_URL_ENV, f"nats://127.0.0.1:{port}")
        with pytest.raises(JetStreamError, match=f"cannot use JetStream at nats://127.0.0.1:{port}"):
            jetstream.open_lab(timeout=3)


@needs_binary
def test_server_dying_mid_lab_is_reported_clearly(monkeypatch, tmp_path):
    monkeypatch.delenv(jetstream.NATS_URL_ENV, raising=False)
    with jetstream.open_lab() as lab:
        port = lab.server.port
        deposits(lab, "dying", n=3)
        create_service(tmp_path)
        os.kill(lab.server.pid, signal.SIGKILL)        # as if the OOM killer struck
        lab.server.proc.wait()
        with pytest.raises(servers.ServerDied, match=r"nats-server on 127.0.0.1:\d+ is not running .*died during the lab"):
            lab.messages("dying")
        with pytest.raises(servers.ServerDied, match="died during the lab"):
            jetstream.run_consumer(lab, "dying", directory=tmp_path, mode="naive")
    assert leftovers(port) == []


# ---------------------------------------------------------------- argument checks

@pytest.mark.parametrize("make, error, words", [
    (lambda: NatsServer(port=0), ValueError, r"port must be an integer \[1, 65535\], got 0"),
    (lambda: NatsServer(port="4222"), TypeError, "port must be an integer"),
    (lambda: NatsServer(startup_timeout=0), ValueError, "startup_timeout must be in"),
    (lambda: NatsServer(binary=5), TypeError, "binary must be a path string"),
])
def test_server_checks_its_arguments(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_lab_functions_check_their_arguments(lab, tmp_path):
    with pytest.raises(ValueError, match=r"duplicate_window must be in \(0, 86400\]"):
        lab.add_stream("bad", duplicate_window=0)
    with pytest.raises(ValueError, match=r"ack_wait must be in \[0.1, 3600\]"):
        lab.add_consumer("bad", ack_wait=0.01)
    with pytest.raises(ValueError, match="name must be a non-empty string without spaces"):
        lab.add_stream("a.b")
    with pytest.raises(ValueError, match="n_messages must be an integer"):
        jetstream.produce(lab, "bad", 0)
    with pytest.raises(ValueError, match="mode must be one of 'naive', 'ack-first', 'inbox'"):
        jetstream.run_jetstream_lab(lab, "exactly-once")
    with pytest.raises(ValueError, match="crash_in_window must be an integer >= 1"):
        jetstream.consumer_command(lab, "s", directory=tmp_path, mode="naive", crash_in_window=0)
    with pytest.raises(ValueError, match="kills must be an integer"):
        jetstream.run_jetstream_lab(lab, "naive", kills=-1)
    with pytest.raises(ValueError, match=r"schedule time must be in \[0, 60\]"):
        jetstream.publish_schedule(lab, "bad", {"x": [-1]})
    with pytest.raises(TypeError, match="lab must be the NatsLab"):
        jetstream.produce("nats://x", "s", 1)
    with pytest.raises(ValueError, match="modes must not repeat a mode"):
        jetstream.compare_modes(lab, ("inbox", "inbox"))
    with pytest.raises(ValueError, match="mode must be one of"):
        jetstream.compare_modes(lab, ("inbox", "exactly-once"))


def test_service_directory_holds_a_fresh_service_database_and_is_a_lab_directory():
    d = jetstream.service_directory()
    try:
        assert os.path.basename(d.name).startswith("course-nats-service-")
        assert (d.path / "service.db").exists() and (d.path / ".course-owner.json").exists()
    finally:
        d.cleanup()
    assert not os.path.exists(d.name)
