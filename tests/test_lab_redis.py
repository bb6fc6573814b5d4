"""The Redis Streams lab against a real redis-server: pending entries, no automatic redelivery, a
consumer restarted under its name getting its own pending entries back by reading from id 0,
XAUTOCLAIM by another consumer after an idle time, NOACK losses, the idempotent consumer's exactly-once effects under
SIGKILLs; clear messages for a missing binary and a server dying mid-lab; and no redis-server or
consumer process left behind. (A port in use, stop and a SIGKILLed owner: tests/test_servers.py.)"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time

import pytest

from semantics.labs import redis_streams as broker
from semantics.labs.redis_streams import BrokerDied, RedisServer, RedisUnavailable
from semantics.labs.sqlite import LabError, processes_mentioning

HAVE_BINARY = shutil.which("redis-server") is not None
NO_BINARY = (f"no redis-server binary: {broker.INSTALL_HINT}")
needs_binary = pytest.mark.skipif(not HAVE_BINARY, reason=NO_BINARY)
pytestmark = pytest.mark.redis


@pytest.fixture(scope="module", autouse=True)
def no_consumer_outlives_this_module():
    """Every consumer this test process starts carries its labs' key prefix "course:<our pid>:"."""
    yield
    assert processes_mentioning(f"course:{os.getpid()}:") == [], "a Redis lab consumer outlived its test"
    assert broker.our_consumers() == []


@pytest.fixture(scope="module")
def lab():
    ok, why = broker.redis_available()
    if not ok:
        pytest.skip(why)
    with broker.open_lab() as lab:
        yield lab
    if lab.server is not None:
        assert not lab.server.alive()
        assert leftovers(lab.server.port) == []


def leftovers(port):
    """Live processes of a server on ``port`` (its title is "redis-server 127.0.0.1:PORT") or of
    consumers connected to it (their command line holds "redis://127.0.0.1:PORT/0")."""
    return processes_mentioning(f"127.0.0.1:{port} ") + processes_mentioning(f"127.0.0.1:{port}/")


def fresh(lab, name, n=8):
    stream = lab.key(f"{name}:stream")
    prefix = lab.key(f"{name}:")
    broker.produce(lab, stream, n, seed=1)
    lab.call("xgroup_create", stream, "g", id="0")
    return stream, prefix


# ---------------------------------------------------------------- the mechanisms, step by step

def test_server_runs_on_loopback_with_append_only_fsync_always(lab):
    if lab.server is None:
        pytest.skip(f"{broker.REDIS_URL_ENV} names an external server")
    config = lab.call("config_get", "append*")
    assert config["appendonly"] == "yes" and config["appendfsync"] == "always"
    assert lab.call("config_get", "bind")["bind"] == "127.0.0.1"
    assert str(lab.server.directory) == lab.call("config_get", "dir")["dir"]


def test_xreadgroup_puts_entries_in_the_pending_list_and_xack_removes_them(lab):
    stream, _ = fresh(lab, "pel")
    reply = lab.call("xreadgroup", "g", "alice", {stream: ">"}, count=3)
    ids = [entry_id for entry_id, _ in reply[0][1]]
    summary = lab.call("xpending", stream, "g")
    assert summary["pending"] == 3 and summary["consumers"] == [{"name": "alice", "pending": 3}]
    assert lab.call("xack", stream, "g", *ids[:2]) == 2
    assert lab.call("xpending", stream, "g")["pending"] == 1
    assert lab.call("xack", stream, "g", ids[0]) == 0        # acknowledging twice changes nothing


def test_noack_delivers_without_a_pending_entry_so_a_crash_loses(lab):
    stream, prefix = fresh(lab, "noack", n=3)
    run = broker.run_consumer(lab, prefix=prefix, stream=stream, group="g", consumer="nora", mode="noack", count=3, batches=1,
                              crash_in_window=2)
    assert run.killed
    assert lab.call("xpending", stream, "g")["pending"] == 0      # nothing left for anyone to claim
    t = broker.tally(lab, stream, "g", prefix)
    assert (t.lost, t.once, t.duplicated) == (2, 1, 0)             # entries 2 and 3: delivered, never applied


def test_crash_between_effect_and_xack_then_xautoclaim_duplicates(lab):
    stream, prefix = fresh(lab, "crash", n=4)
    run = broker.run_consumer(lab, prefix=prefix, stream=stream, group="g", consumer="bob", mode="plain", count=4, batches=1,
                              crash_in_window=2)
    assert run.killed and run.returncode == -signal.SIGKILL
    pending = lab.call("xpending_range", stream, "g", "-", "+", 10)
    assert [(p["consumer"], p["times_delivered"]) for p in pending] == [("bob", 1)] * 3
    # No automatic redelivery: a new reader gets only new entries, and there are none.
    assert lab.call("xreadgroup", "g", "carol", {stream: ">"}, count=10) == []
    # XAUTOCLAIM takes only entries idle at least min-idle-time.
    _, claimed, _ = lab.call("xautoclaim", stream, "g", "carol", 60_000, "0-0")
    assert claimed == []
    time.sleep(0.15)
    run = broker.run_consumer(lab, prefix=prefix, stream=stream, group="g", consumer="carol", mode="plain", claim_idle_ms=100,
                              count=10, batches=1)
    assert not run.killed
    t = broker.tally(lab, stream, "g", prefix)
    assert (t.lost, t.once, t.duplicated, t.pending) == (0, 3, 1, 0)   # entry 2: effect twice: at-least-once
    assert t.balance > t.expected_balance


def test_a_consumer_restarted_under_its_name_reads_its_own_pending_entries_from_id_0(lab):
    """XREADGROUP with an id other than ">" returns the asking consumer's own pending entries (redis
    docs, XREADGROUP): the restarted bob gets back what he read and never acknowledged, at once (no
    idle time), each re-read counted as a delivery; the entry he had applied takes effect twice."""
    stream, prefix = fresh(lab, "history", n=5)
    assert broker.run_consumer(lab, prefix=prefix, stream=stream, group="g", consumer="bob", mode="plain", count=5,
                               batches=1, crash_in_window=2).killed
    # Another name sees none of them, neither as new entries nor as its own history.
    assert lab.call("xreadgroup", "g", "dave", {stream: ">"}) == []
    assert lab.call("xreadgroup", "g", "dave", {stream: "0"})[0][1] == []
    # bob's own history, one entry at a time, from id 0 then from the last id read:
    first = lab.call("xreadgroup", "g", "bob", {stream: "0"}, count=1)[0][1]
    assert [f["msg"] for _, f in first] == ["2"]
    pending = lab.call("xpending_range", stream, "g", "-", "+", 10)
    assert [(p["message_id"] == first[0][0], p["times_delivered"]) for p in pending] == [
        (True, 2), (False, 1), (False, 1), (False, 1)]                  # the re-read counted as a delivery
    rest = lab.call("xreadgroup", "g", "bob", {stream: first[0][0]})[0][1]
    assert [f["msg"] for _, f in rest] == ["3", "4", "5"]
    # The restarted process (from_history) does the same, processes them and goes on to ">".
    run = broker.run_consumer(lab, prefix=prefix, stream=stream, group="g", consumer="bob", mode="plain",
                              from_history=True, count=2)
    assert not run.killed
    t = broker.tally(lab, stream, "g", prefix)
    assert (t.lost, t.once, t.duplicated, t.pending) == (0, 4, 1, 0)   # entry 2: effect twice: at-least-once
    assert lab.call("xreadgroup", "g", "bob", {stream: "0"})[0][1] == []


def test_a_consumer_restarted_under_a_new_name_leaves_the_old_entries_pending(lab):
    stream, prefix = fresh(lab, "newname", n=3)
    assert broker.run_consumer(lab, prefix=prefix, stream=stream, group="g", consumer="bob-1", mode="plain", count=3,
                               batches=1, crash_in_window=1).killed
    broker.run_consumer(lab, prefix=prefix, stream=stream, group="g", consumer="bob-2", mode="plain",
                        from_history=True, count=3)
    t = broker.tally(lab, stream, "g", prefix)
    assert (t.pending, t.once, t.lost) == (3, 1, 2)                  # nothing came back: 3 wait for a claim


def test_idempotent_consumer_survives_the_same_crash_with_one_effect_each(lab):
    stream, prefix = fresh(lab, "idem", n=4)
    assert broker.run_consumer(lab, prefix=prefix, stream=stream, group="g", consumer="bob", mode="idempotent", count=4,
                               batches=1, crash_in_window=2).killed
    time.sleep(0.15)
    broker.run_consumer(lab, prefix=prefix, stream=stream, group="g", consumer="carol", mode="idempotent", claim_idle_ms=100,
                        count=10, batches=1)
    t = broker.tally(lab, stream, "g", prefix)
    assert (t.lost, t.once, t.duplicated, t.pending, t.suppressed) == (0, 4, 0, 0, 1)
    assert t.balance == t.expected_balance
    assert lab.call("scard", f"{prefix}processed") == 4


# ---------------------------------------------------------------- random SIGKILLs

@pytest.mark.slow
def test_kill_loop_idempotent_gives_exactly_once_effects(lab):
    res = broker.run_broker_lab(lab, "idempotent", n_messages=200, kills=30, seed=5)
    assert res.kills == 30
    assert (res.tally.lost, res.tally.duplicated, res.tally.pending) == (0, 0, 0), res.summary()
    assert res.tally.balance == res.tally.expected_balance
    # Not vacuous: kills landed between effect and XACK, entries were claimed again and skipped.
    assert res.tally.suppressed > 0, res.summary()


@pytest.mark.slow
def test_kill_loop_shows_duplicates_with_plain_acks_and_losses_with_noack(lab):
    runs = broker.compare_modes(lab, ("plain", "noack"), n_messages=200, kills=20, seed=5)   # side by side
    plain, noack = runs["plain"], runs["noack"]
    assert plain.kills == 20 and plain.tally.duplicated > 0 and plain.tally.lost == 0, plain.summary()
    assert noack.kills == 20 and noack.tally.lost > 0 and noack.tally.duplicated == 0, noack.summary()
    assert broker.our_consumers() == []


# ---------------------------------------------------------------- durability of the server itself

@needs_binary
def test_acknowledged_writes_survive_a_server_sigkill_with_aof_fsync_always():
    with RedisServer() as server:
        import redis
        r = redis.Redis(port=server.port, decode_responses=True)
        broker.produce(r, "s", 50)
        r.sadd("processed", *[f"1-{i}" for i in range(10)])
        r.close()
        server.kill()
        assert not server.alive()
        server.start()                                  # same port, same directory, replays the AOF
        r = redis.Redis(port=server.port, decode_responses=True)
        assert r.xlen("s") == 50 and r.scard("processed") == 10
        r.close()


# ---------------------------------------------------------------- clear messages for bad configuration

def test_missing_binary_says_how_to_install(monkeypatch):
    with pytest.raises(RedisUnavailable, match="apt-get install redis-server.*conda install -c conda-forge redis-server"):
        RedisServer(binary="/no/such/redis-server")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv(broker.REDIS_URL_ENV, raising=False)
    ok, why = broker.redis_available()
    assert not ok and "no redis-server on PATH" in why and "COURSE_REDIS_URL" in why
    with pytest.raises(RedisUnavailable, match="needs a redis-server binary"):
        broker.open_lab()


@needs_binary
def test_server_dying_mid_lab_is_reported_clearly(monkeypatch):
    monkeypatch.delenv(broker.REDIS_URL_ENV, raising=False)
    with broker.open_lab() as lab:
        port = lab.server.port
        stream, prefix = fresh(lab, "dying", n=3)
        os.kill(lab.server.pid, signal.SIGKILL)        # as if the OOM killer struck
        lab.server.proc.wait()
        with pytest.raises(BrokerDied, match=r"redis-server on 127.0.0.1:\d+ is not running .*died during the lab"):
            lab.call("xlen", stream)
        with pytest.raises(BrokerDied, match="died during the lab"):
            broker.run_consumer(lab, prefix=prefix, stream=stream, group="g", consumer="x", mode="plain", batches=1)
        with pytest.raises(BrokerDied, match="died during the lab"):
            broker.run_broker_lab(lab, "plain", n_messages=5, kills=1)
    assert leftovers(port) == []


def test_unreachable_configured_url_is_reported(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]         # bound, not listening: connections are refused
        monkeypatch.setenv(broker.REDIS_URL_ENV, f"redis://127.0.0.1:{port}/0")
        with pytest.raises(broker.BrokerError, match=f"cannot reach Redis at redis://127.0.0.1:{port}/0"):
            broker.open_lab()


# ---------------------------------------------------------------- argument checks

@pytest.mark.parametrize("make, error, words", [
    (lambda: RedisServer(port=0), ValueError, r"port must be an integer \[1, 65535\], got 0"),
    (lambda: RedisServer(port="6379"), TypeError, "port must be an integer"),
    (lambda: RedisServer(appendfsync="sometimes"), ValueError, "appendfsync must be one of 'always', 'everysec', 'no'"),
    (lambda: RedisServer(startup_timeout=0), ValueError, "startup_timeout must be in"),
    (lambda: RedisServer(binary=5), TypeError, "binary must be a path string"),
])
def test_server_checks_its_arguments(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_lab_functions_check_their_arguments(lab):
    with pytest.raises(ValueError, match="n_messages must be an integer"):
        broker.produce(lab, lab.key("x"), 0)
    with pytest.raises(TypeError, match="stream must be a non-empty string"):
        broker.produce(lab, "", 3)
    with pytest.raises(ValueError, match="mode must be one of 'plain', 'noack', 'idempotent'"):
        broker.run_broker_lab(lab, "exactly-once")
    with pytest.raises(ValueError, match="crash_in_window must be an integer >= 1"):
        broker.consumer_command(lab, stream="s", group="g", consumer="c", mode="plain", crash_in_window=0)
    with pytest.raises(ValueError, match="kills must be an integer"):
        broker.run_broker_lab(lab, "plain", kills=-1)
    with pytest.raises(TypeError, match="from_history must be True or False"):
        broker.consumer_command(lab, stream="s", group="g", consumer="c", mode="plain", from_history="yes")
    with pytest.raises(ValueError, match="modes must not repeat a mode"):
        broker.compare_modes(lab, ("plain", "plain"))
    with pytest.raises(TypeError, match="modes must be a non-empty sequence"):
        broker.compare_modes(lab, "plain")
    with pytest.raises(TypeError, match="lab must be the Lab"):
        broker.compare_modes("redis://x")
