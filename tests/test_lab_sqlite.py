"""The SQLite durability lab under real SIGKILLs: the inbox gives exactly-once effects over 100+
kills, and the harness is shown to see failures (naive duplicates, ack-first loses), with the three
modes' kill loops side by side (each in a launcher process that forks the consumer's incarnations).
Also: clear errors, argument checks, and no consumer process outliving its harness."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from semantics.labs import sqlite as storage
from semantics.labs.sqlite import LabError, processes_mentioning, run_lab

KILLS = 100
N_MESSAGES = 600      # enough work that the queue outlasts 100 kills, even on a fast disk


@pytest.fixture(scope="module", autouse=True)
def no_consumer_outlives_this_module(tmp_path_factory):
    """Every consumer these tests start works in a directory under this session's base temp dir."""
    yield
    assert processes_mentioning(str(tmp_path_factory.getbasetemp())) == [], "a consumer outlived its test"
    assert storage.our_consumers() == []


@pytest.fixture(scope="module")
def results():
    out = storage.compare_modes(n_messages=N_MESSAGES, kills=KILLS, seed=11)
    assert storage.our_consumers() == [], "a consumer or launcher outlived the harness"
    return out


@pytest.mark.slow
@pytest.mark.parametrize("mode", storage.MODES)
def test_every_run_is_killed_100_times_and_drains(results, mode):
    r = results[mode]
    assert r.kills == KILLS and r.starts == KILLS + 1
    assert r.unacked == 0
    assert r.lost + r.once + r.duplicated == r.n_messages == N_MESSAGES
    # every effect transaction was all-or-nothing, whatever the mode: SQLite's atomic commit
    assert r.atomic, f"{mode}: balance {r.balance} differs from the ledger"
    assert r.intact, f"{mode}: a database failed PRAGMA integrity_check after the kills"


@pytest.mark.slow
def test_inbox_gives_exactly_once_effects_over_100_kills(results):
    r = results["inbox"]
    assert (r.lost, r.duplicated) == (0, 0), r.summary()
    assert r.balance == r.expected_balance
    # Not vacuous: kills did land between effect and ack, the queue redelivered, the inbox skipped.
    assert r.redelivered > 0 and r.suppressed > 0, r.summary()
    assert r.verdict() == "inbox: 0 lost, 0 duplicated: exactly-once effect held"


@pytest.mark.slow
def test_harness_sees_duplicates_in_naive_mode(results):
    r = results["naive"]
    assert r.duplicated > 0, f"the harness failed to show a duplicate in 100 kills: {r.summary()}"
    assert r.lost == 0            # effect before ack can duplicate, never lose
    assert r.balance > r.expected_balance
    assert r.suppressed == 0
    assert "duplicates seen" in r.verdict()


@pytest.mark.slow
def test_harness_sees_losses_in_ack_first_mode(results):
    r = results["ack-first"]
    assert r.lost > 0, f"the harness failed to show a loss in 100 kills: {r.summary()}"
    assert r.duplicated == 0      # ack before effect can lose, never duplicate
    assert r.balance < r.expected_balance
    assert "losses seen" in r.verdict()


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads parent pids from /proc")
def test_the_modes_run_side_by_side_each_on_its_own_queue():
    """compare_modes starts the three launchers before it waits for any: all three run at once."""
    seen, stop = [], threading.Event()

    def parent(pid):
        try:
            return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except OSError:
            return None

    def watch():       # the launchers are our children (their incarnations show the same command line)
        while not stop.is_set():
            seen.append(sum(parent(p) == os.getpid() for p in processes_mentioning("harness.py launch --module sqlite ")))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        out = storage.compare_modes(n_messages=40, kills=0, pause=0.02, seed=2)   # each run: 40 x 20 ms asleep
    finally:
        stop.set()
        watcher.join()
    assert list(out) == list(storage.MODES)
    assert all((r.n_messages, r.once, r.starts, r.unacked) == (40, 40, 1, 0) for r in out.values())
    assert max(seen) == 3, f"launchers seen alive at once: {sorted(set(seen))}"


def test_without_kills_every_mode_is_exactly_once(tmp_path):
    for mode in storage.MODES:
        r = run_lab(mode, n_messages=20, kills=0, directory=tmp_path)
        assert (r.kills, r.starts, r.lost, r.once, r.duplicated) == (0, 1, 0, 20, 0)
        assert r.deliveries == 20 and r.balance == r.expected_balance


def test_per_message_counts_match_the_databases(tmp_path):
    r = run_lab("naive", n_messages=60, kills=10, seed=3, directory=tmp_path)
    assert len(r.per_message) == 60
    assert sum(e for _, e in r.per_message.values()) == r.effects
    assert all(dl >= 1 for dl, _ in r.per_message.values())
    # a duplicate effect needs a redelivery
    assert all(dl >= e for dl, e in r.per_message.values())


def test_plot_draws_three_groups(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    storage.create_lab(tmp_path, n_messages=5)        # nothing consumed: every message lost
    res = {m: storage.count_outcomes(tmp_path, mode=m) for m in storage.MODES}
    assert all((r.lost, r.once, r.duplicated) == (5, 0, 0) for r in res.values())
    ax = storage.plot_results(res)
    assert len(ax.patches) == 9
    with pytest.raises(TypeError, match="results"):
        storage.plot_results({})


# ---------------------------------------------------------------- clear errors, no orphans

def test_a_consumer_failing_on_its_own_is_reported_with_its_error(tmp_path):
    cmd = [sys.executable, "-c", "print('ready', flush=True); raise SystemExit('boom: disk full')"]
    with pytest.raises(LabError, match=r"failed on its own \(exit code 1\):\nboom: disk full"):
        storage.kill_and_restart(cmd, kills=0, max_delay=0.01, what="test consumer")


def test_a_consumer_that_never_starts_is_reported(tmp_path):
    cmd = [sys.executable, "-c", "import sys; sys.exit('cannot open database')"]
    with pytest.raises(LabError, match=r"(?s)did not start \(exit code 1.*cannot open database"):
        storage.kill_and_restart(cmd, kills=3, max_delay=0.01)


def test_a_forked_consumer_failing_on_its_own_is_reported_with_its_error(tmp_path):
    """The launcher's incarnations report like fresh programs: here the queue's table is missing."""
    cmd = storage._consumer_command(tmp_path, "naive", 0.0)
    with pytest.raises(LabError, match=r"(?s)failed on its own \(exit code 1\):.*no such table: queue"):
        storage.start_kill_loop(cmd, kills=0, max_delay=0.01, what="naive consumer").result()
    with pytest.raises(LabError, match=r"(?s)did not start \(exit code 2.*invalid choice: 'bogus'"):
        storage.start_kill_loop(cmd[:5] + ["bogus"] + cmd[6:], kills=3, max_delay=0.01).result()
    assert storage.our_consumers() == []


def test_the_launcher_runs_only_the_labs_own_consumers(tmp_path):
    with pytest.raises(ValueError, match="command must run one of the labs' consumers"):
        storage.start_kill_loop([sys.executable, "-c", "print('ready')"], kills=0, max_delay=0.01)
    with pytest.raises(ValueError, match=r"max_delay must be in \(0, 10\]"):
        storage.start_kill_loop(storage._consumer_command(tmp_path, "naive", 0.0), kills=0, max_delay=0)


def test_timeout_stops_the_run_and_leaves_no_process(tmp_path):
    with pytest.raises(LabError, match=r"within timeout=0.5 s"):
        run_lab("naive", n_messages=10_000, kills=0, pause=0.05, timeout=0.5, directory=tmp_path)
    assert processes_mentioning(str(tmp_path)) == []


def test_consumer_exits_when_its_harness_is_gone(tmp_path):
    storage.create_lab(tmp_path, n_messages=5)
    # parent pid 1 is never ours: the consumer must notice at once and exit with ORPHANED
    done = subprocess.run([sys.executable, "-m", "semantics.labs.sqlite", "consume", str(tmp_path), "--mode", "inbox",
                           "--pause", "0.5", "--parent-pid", "1"], capture_output=True, text=True, timeout=30)
    assert done.returncode == storage.ORPHANED


def test_no_orphan_when_the_harness_itself_is_sigkilled(tmp_path):
    """A kernel that dies mid-lab (SIGKILL: no finally, no atexit) leaves no consumer behind."""
    script = textwrap.dedent(f"""
        from semantics.labs.sqlite import run_lab
        run_lab("naive", n_messages=100_000, kills=0, pause=0.2, directory={str(tmp_path)!r}, timeout=600)
    """)
    harness = subprocess.Popen([sys.executable, "-c", script], start_new_session=False)
    try:
        deadline = time.monotonic() + 20
        while not processes_mentioning(f"consume {tmp_path}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_mentioning(f"consume {tmp_path}"), "the consumer never started"
        os.kill(harness.pid, signal.SIGKILL)
        harness.wait()
        deadline = time.monotonic() + 5
        while processes_mentioning(f"consume {tmp_path}") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_mentioning(f"consume {tmp_path}") == []
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
        for pid in processes_mentioning(f"consume {tmp_path}"):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"mode": "exactly-once"}, ValueError, "mode must be one of 'naive', 'ack-first', 'inbox'"),
    ({"mode": 3}, TypeError, "mode must be one of"),
    ({"n_messages": 0}, ValueError, r"n_messages must be an integer \[1, 1000000\], got 0"),
    ({"n_messages": 10.0}, TypeError, "n_messages must be an integer, got 10.0"),
    ({"kills": -1}, ValueError, r"kills must be an integer \[0, 100000\], got -1"),
    ({"max_delay": 0}, ValueError, r"max_delay must be in \(0, 10\], got 0"),
    ({"pause": 2}, ValueError, r"pause must be in \[0, 1\], got 2"),
    ({"pause": "fast"}, TypeError, "pause must be a number"),
    ({"seed": -5}, ValueError, "seed must be an integer >= 0, got -5"),
    ({"timeout": 0}, ValueError, "timeout must be in"),
    ({"directory": "/no/such/dir"}, ValueError, "directory must be an existing directory, got '/no/such/dir'"),
    ({"directory": 42}, TypeError, "directory must be a path"),
])
def test_run_lab_checks_its_arguments(kwargs, error, words):
    args = {"mode": "inbox", **kwargs}
    with pytest.raises(error, match=words):
        run_lab(args.pop("mode"), **args)


def test_other_public_functions_check_their_arguments(tmp_path):
    with pytest.raises(ValueError, match="n_messages"):
        storage.create_lab(tmp_path, n_messages=-1)
    with pytest.raises(ValueError, match="mode"):
        storage.consume(tmp_path, mode="ack-last")
    with pytest.raises(ValueError, match="modes"):
        storage.compare_modes(["naive", "nope"], n_messages=1, kills=0)
    with pytest.raises(TypeError, match="modes"):
        storage.compare_modes("naive")
    with pytest.raises(ValueError, match="modes must not repeat a mode"):
        storage.compare_modes(["inbox", "inbox"], n_messages=1, kills=0)
    with pytest.raises(ValueError, match="kills must be an integer"):
        storage.compare_modes(kills=-1)
    with pytest.raises(TypeError, match="text"):
        processes_mentioning("")
