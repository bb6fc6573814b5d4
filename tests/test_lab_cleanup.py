"""Nothing left behind: a lab whose kernel dies by SIGKILL (no ``finally``, no ``atexit``) leaves its
temporary directories; the next lab start sweeps them, only those the course made (an owner record)
and only once every process recorded in them is gone; a live lab's directory stays.

Each test runs the labs with TMPDIR pointing into its own tmp_path, so it never sweeps (or is swept
by) the directories of labs running elsewhere on the machine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from semantics.labs import tempdirs
from semantics.labs.harness import processes_mentioning
from semantics.labs.tempdirs import OWNER_FILE, LabDirectory, sweep


def wait_until(condition, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def course_dirs(base, kind=""):
    return sorted(str(p) for p in Path(base).glob(f"course-{kind}*") if p.is_dir())


def gone_pid():
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def record(directory, users, **extra):
    directory.mkdir()
    body = {"namespace": tempdirs._pid_namespace(), "boot": tempdirs._boot_id(), "users": users, **extra}
    (directory / OWNER_FILE).write_text(json.dumps(body))
    return directory


@pytest.fixture
def isolated_tmp(tmp_path, monkeypatch):
    """A temporary folder of the test's own, for this process (tempfile) and its children (TMPDIR)."""
    base = tmp_path / "tmp"
    base.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    monkeypatch.setenv("TMPDIR", str(base))
    return base


# ---------------------------------------------------------------- a lab killed mid-run, the next start

def test_a_sigkilled_labs_directory_is_swept_at_the_next_lab_start_and_a_live_ones_is_not(isolated_tmp):
    """A process SIGKILLed in the middle of the SQLite lab's kill loop (its consumers die with it) leaves
    its directory; a second lab, still running, owns another. The next lab start removes the first only."""
    dying = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        from semantics.labs.sqlite import run_lab
        run_lab("naive", n_messages=100_000, kills=0, pause=0.2, timeout=600)
    """)])
    living = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time
        from semantics.labs.sqlite import run_lab
        run_lab("inbox", n_messages=100_000, kills=0, pause=0.2, timeout=600)
    """)])
    try:
        wait_until(lambda: course_dirs(isolated_tmp, "sqlite-naive") and course_dirs(isolated_tmp, "sqlite-inbox"),
                   what="both labs' directories")
        [dead_dir], [live_dir] = course_dirs(isolated_tmp, "sqlite-naive"), course_dirs(isolated_tmp, "sqlite-inbox")
        wait_until(lambda: processes_mentioning(f"consume {dead_dir} "), what="the consumer in the dying lab")
        os.kill(dying.pid, signal.SIGKILL)                      # the kernel dies: no finally, no atexit
        dying.wait()
        wait_until(lambda: processes_mentioning(f"consume {dead_dir} ") == [], timeout=10,
                   what="the dead lab's launcher and consumer to go")
        assert Path(dead_dir, "broker.db").exists()             # left behind: nobody cleaned up

        # The next lab start, in another process: it sweeps before it makes its own directory.
        subprocess.run([sys.executable, "-c", "from semantics.labs.sqlite import run_lab; "
                        "print(run_lab('inbox', n_messages=3, kills=0).verdict())"], check=True, timeout=120)
        assert not os.path.exists(dead_dir), "the SIGKILLed lab's directory was not swept"
        assert Path(live_dir, "broker.db").exists(), "a live lab's directory was swept"
        assert course_dirs(isolated_tmp) == [live_dir]           # the new lab removed its own directory too
    finally:
        for proc in (dying, living):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    wait_until(lambda: processes_mentioning(f"consume {live_dir} ") == [], timeout=10, what="the live lab to stop")
    assert sweep() == [live_dir]                                # once its owner is gone, it goes too


@pytest.mark.redis
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server binary")
def test_a_sigkilled_jupyter_kernel_leaves_its_redis_directory_to_the_next_lab_start(isolated_tmp, monkeypatch):
    """The real case: a Jupyter kernel running the Redis lab is SIGKILLed; redis-server dies with it
    (parent-death signal), its directory (append-only file, log) stays; the next open_lab sweeps it."""
    from jupyter_client.manager import KernelManager

    from semantics.labs import redis_streams as broker

    monkeypatch.delenv(broker.REDIS_URL_ENV, raising=False)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env={k: v for k, v in os.environ.items() if k != broker.REDIS_URL_ENV})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        out = []
        reply = kc.execute_interactive(
            "from semantics.labs import redis_streams as broker\n"
            "lab = broker.open_lab()\n"
            "broker.produce(lab, lab.key('s'), 5)\n"
            "print(lab.server.directory, lab.server.port)",
            timeout=60, output_hook=lambda msg: out.append(msg["content"].get("text", "")))
        assert reply["content"]["status"] == "ok", reply["content"]
        directory, port = "".join(out).split()
        assert (Path(directory) / "appendonlydir").is_dir()
        os.kill(km.provisioner.pid, signal.SIGKILL)
        wait_until(lambda: processes_mentioning(f"127.0.0.1:{port} ") == [], timeout=10,
                   what="redis-server to die with its kernel")
        assert Path(directory).is_dir()                          # left behind

        with broker.open_lab() as lab:                           # the next lab start, here
            assert not os.path.exists(directory), "the dead kernel's server directory was not swept"
            assert lab.server.directory.is_dir()
        assert course_dirs(isolated_tmp) == []
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# ---------------------------------------------------------------- the sweeping rules, one by one

def test_only_the_courses_directories_of_gone_processes_are_swept(tmp_path):
    me = [os.getpid(), tempdirs._start_time(os.getpid())]
    dead = [gone_pid(), ""]
    swept = [
        record(tmp_path / "course-dead", [dead]),
        record(tmp_path / "course-reused-pid", [[os.getpid(), "1"]]),       # our pid, another start time
        record(tmp_path / "course-all-gone", [dead, [gone_pid(), ""]]),
    ]
    if tempdirs._boot_id():
        swept.append(record(tmp_path / "course-last-boot", [me], boot="another-boot"))
    kept = [
        record(tmp_path / "course-live", [me]),
        record(tmp_path / "course-one-alive", [dead, me]),                   # a server still running in it
        record(tmp_path / "course-other-namespace", [dead], namespace="pid:[1]"),
        record(tmp_path / "not-course-dead", [dead]),                        # not our prefix
    ]
    (tmp_path / "course-no-record").mkdir()                                  # not made by the course
    kept.append(tmp_path / "course-no-record")
    bad = tmp_path / "course-bad-record"
    bad.mkdir()
    (bad / OWNER_FILE).write_text("{not json")
    kept.append(bad)
    target = record(tmp_path / "target", [dead])
    (tmp_path / "course-link").symlink_to(target)                            # a link, not a directory
    kept.append(target)
    inner = tmp_path / "course-dead" / "inner-link"
    inner.symlink_to(tmp_path / "course-live")                               # rmtree must not follow it
    assert sorted(sweep(tmp_path)) == sorted(str(p) for p in swept)
    assert all(not p.exists() for p in swept)
    assert all(p.is_dir() for p in kept) and (tmp_path / "course-link").is_symlink()
    assert (tmp_path / "course-live" / OWNER_FILE).exists()


def test_lab_directory_records_its_users_and_removes_itself(tmp_path):
    d = LabDirectory("probe", base=tmp_path)
    assert Path(d.name).parent == tmp_path and Path(d.name).name.startswith("course-probe-")
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        d.add_user(server.pid)
        users = json.loads((d.path / OWNER_FILE).read_text())["users"]
        assert [pid for pid, _ in users] == [os.getpid(), server.pid]
        assert tempdirs.owned_by(os.getpid(), tmp_path) == [d.name] == tempdirs.owned_by(server.pid, tmp_path)
    finally:
        server.kill()
        server.wait()
    assert sweep(tmp_path) == []                                # we are alive: kept
    with d as name:
        assert name == d.name
    assert not d.exists and tempdirs.owned_by(os.getpid(), tmp_path) == []
    d.cleanup()                                                 # idempotent
    with pytest.raises(ValueError, match="kind must be a non-empty name"):
        LabDirectory("a/b", base=tmp_path)
    with pytest.raises(ValueError, match="pid must be a positive integer"):
        LabDirectory("x", base=tmp_path).add_user(0)
