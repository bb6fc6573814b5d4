"""The kill/restart harness the three labs share: start a consumer process, SIGKILL it at seeded
random moments, restart it, until its work is done; and no process outlives the lab.

A consumer is any program that prints READY once it can work and exits 0 when its work is done.
Each incarnation is a process of its own, with its own database or broker connections, killed with
SIGKILL (no handler, no ``finally``): a real crash. Two ways to start the incarnations:

- ``kill_and_restart(command)`` starts each one as a fresh program (any command line);
- ``start_kill_loop(command)``, for the labs' own consumers (``python <labs>/<lab>.py consume ...``),
  runs the loop in a *launcher* process (this file, run with ``launch``) that imports the consumer's
  module once and then forks every incarnation from itself. A restart then costs a fork (about a
  millisecond) instead of an interpreter start and the imports (40-150 ms of CPU), so the kills come
  as fast as the consumer works, and a busy machine barely changes how a run unfolds. Loops run in
  their own processes, so the three modes of a lab run side by side (``KillLoop.result`` collects).

No orphans: every process leads or joins a process group that is killed in a ``finally`` and at
interpreter exit; on Linux a launcher and its incarnations get SIGKILL from the kernel when their
parent dies (``prctl(PR_SET_PDEATHSIG)``), and every consumer also checks its parent and exits
(``ORPHANED``) when it is gone, which covers other systems.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

if __package__:
    from ..validation import check_int, check_number
else:
    # Run as a file (the launcher, or a lab consumer): the simulator package is not imported.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # semantics/: validation.py
    from validation import check_int, check_number  # type: ignore[no-redef]

READY = "ready"

#: Exit code of a consumer (or launcher) that stopped because its parent disappeared.
ORPHANED = 3

#: The labs' consumer modules, files of this folder: what a launcher may import and fork.
CONSUMER_MODULES = ("sqlite", "redis_streams", "jetstream")

#: Exit code of a launcher whose kill loop raised LabError (the message is its standard error).
_LOOP_FAILED = 2


class LabError(RuntimeError):
    """The lab could not run as configured (a consumer that failed to start, crashed on its own, hung)."""


@dataclass(frozen=True)
class ConsumerRun:
    """How a consumer child process ended."""

    consumer: str
    returncode: int
    killed: bool          # ended by SIGKILL (the crash the lab asked for)
    stderr: str


# --------------------------------------------------------------------------- process groups

_LIVE: set[subprocess.Popen] = set()     # processes this interpreter started, killed at its exit


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the process group that ``proc`` leads, only while ``proc`` is unreaped: until then
    its pid (the group id) cannot be reused, so the signal can never reach a stranger."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group that ``proc`` leads and reap ``proc`` (no zombie, no orphan)."""
    _signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:    # pragma: no cover - a SIGKILLed process always dies
        pass
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream:
            stream.close()
    _LIVE.discard(proc)


@atexit.register
def _kill_all() -> None:
    for proc in list(_LIVE):
        _kill_group(proc)


def start_process(command: Sequence[str], *, cwd: str | os.PathLike | None = None) -> subprocess.Popen:
    """Start ``command`` as the leader of a new process group, tracked so that it is killed at
    interpreter exit whatever happens. The labs' consumers and launchers all start this way."""
    # start_new_session: the child leads its own process group, so killpg reaches it and
    # anything it starts, and a Ctrl-C in the notebook does not hit it by accident.
    proc = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=cwd)
    _LIVE.add(proc)
    return proc


def die_with_parent() -> None:
    """Linux: have the kernel SIGKILL this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``),
    so that nothing outlives a SIGKILLed notebook kernel. Elsewhere a no-op: the consumers' own
    parent checks end them, a moment later."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))      # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):       # pragma: no cover - no libc prctl: the parent checks remain
        pass


def run_to_end(command: Sequence[str], *, timeout: float, consumer: str = "",
               on_failure: Any = None) -> ConsumerRun:
    """Run one consumer child process to its end (its work done, or its planned crash). A consumer
    that fails on its own raises LabError (after ``on_failure()``, which may raise a clearer error,
    e.g. that the broker died); one still running after ``timeout`` s is killed and raises LabError."""
    timeout = check_number("timeout", timeout, low=0.0, low_open=True)
    proc = start_process(command)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise LabError(f"consumer {consumer!r} did not finish within timeout={timeout} s") from None
    finally:
        _kill_group(proc)
    killed = proc.returncode == -signal.SIGKILL
    if proc.returncode != 0 and not killed:
        if on_failure is not None:
            on_failure()
        raise LabError(f"consumer {consumer!r} failed (exit code {proc.returncode}):\n{err.strip()}")
    return ConsumerRun(consumer=consumer, returncode=proc.returncode, killed=killed, stderr=err)


# --------------------------------------------------------------------------- one incarnation

class Incarnation(Protocol):
    """One consumer process of a kill loop, however it was started."""

    def wait_ready(self, timeout: float) -> None:
        """Return once it printed READY; else kill it and raise LabError saying why."""

    def wait(self, timeout: float) -> int | None:
        """Its exit code (negative: the signal) once it ends, or None if still running after ``timeout`` s."""

    def kill(self) -> None:
        """SIGKILL it and reap it (idempotent)."""

    def errors(self) -> str:
        """What it wrote after READY (its error output, when it failed)."""


def _not_started(code: int | None, line: str, output: str, timeout: float) -> LabError:
    state = f"exit code {code}" if code is not None else f"no {READY!r} within {timeout:g} s, killed"
    return LabError(f"the consumer process did not start ({state}, output {line!r}); "
                    f"its error output:\n{output.strip() or '(none)'}")


class _Program:
    """An incarnation started as a fresh program (any command line)."""

    def __init__(self, command: Sequence[str], cwd: str | os.PathLike | None) -> None:
        self.proc = start_process(command, cwd=cwd)

    def wait_ready(self, timeout: float) -> None:
        proc = self.proc
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            line = proc.stdout.readline().strip() if sel.select(timeout) else ""
        if line == READY:
            return
        try:
            proc.wait(timeout=1)        # it may be exiting: let it finish writing its error
        except subprocess.TimeoutExpired:
            pass
        code = proc.returncode          # None: it hung before READY (we kill it now)
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
        err = proc.stderr.read()
        _kill_group(proc)
        raise _not_started(code, line, err, timeout)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        _kill_group(self.proc)

    def errors(self) -> str:
        return "" if self.proc.stderr.closed else self.proc.stderr.read()


class _Fork:
    """An incarnation forked from this (launcher) process: ``run()`` is the consumer's main. Its
    standard output and error go to one pipe, whose end (EOF) is also how we learn that it ended."""

    def __init__(self, run: Callable[[], Any]) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:                                      # the incarnation
            code = 1
            try:
                os.close(read_end)
                die_with_parent()
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                os.dup2(write_end, 1)
                os.dup2(write_end, 2)
                code = _exit_code(run)
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)                        # never return into the launcher's loop
        os.close(write_end)
        self.pid, self._fd, self._output, self.returncode = pid, read_end, b"", None

    def _read(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for output; False at end of file (the incarnation ended)."""
        with selectors.DefaultSelector() as sel:
            sel.register(self._fd, selectors.EVENT_READ)
            if not sel.select(max(timeout, 0.0)):
                return True
        chunk = os.read(self._fd, 65536)
        self._output += chunk
        return bool(chunk)

    def _reap(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
            os.close(self._fd)
        return self.returncode

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._output:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise _not_started(None, "", self._output.decode(errors="replace"), timeout)
            if not self._read(left):                      # it ended before READY
                raise _not_started(self._reap(), "", self._output.decode(errors="replace"), timeout)
        line, _, rest = self._output.partition(b"\n")
        if line.decode(errors="replace").strip() != READY:
            code = self.wait(1.0)                         # it may be exiting: let it finish writing its error
            self.kill()
            raise _not_started(code, line.decode(errors="replace").strip(),
                               self._output.partition(b"\n")[2].decode(errors="replace"), timeout)
        self._output = rest

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.returncode is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self._read(left):
                return self._reap()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)         # our child, unreaped: its pid cannot be reused
            except ProcessLookupError:                    # pragma: no cover
                pass
            self._reap()

    def errors(self) -> str:
        return self._output.decode(errors="replace")


def _exit_code(run: Callable[[], Any]) -> int:
    """Run a consumer's main as the interpreter would: its exit code, the message of a
    SystemExit("...") on standard error, a traceback for an exception."""
    try:
        result = run()
        return result if isinstance(result, int) else 0
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1


# --------------------------------------------------------------------------- the loop

def _kill_loop(start: Callable[[], Incarnation], *, kills: int, max_delay: float, seed: int, timeout: float,
               what: str, orphaned: Callable[[], bool] = lambda: False) -> tuple[int, int]:
    """Start an incarnation, SIGKILL it after a seeded random delay in [0, max_delay] s from its
    READY, ``kills`` times; then let the last one finish. Returns (kills that struck, processes
    started). ``orphaned()`` is asked between steps: True ends the loop (our parent is gone)."""
    rng = random.Random(seed)
    begin = time.monotonic()
    done = starts = 0
    current: Incarnation | None = None

    def out_of_time() -> LabError:
        return LabError(f"the {what} did not finish its work within timeout={timeout:g} s "
                        f"({done} kills so far); raise timeout or give it less work")

    try:
        while True:
            left = timeout - (time.monotonic() - begin)
            if left <= 0:
                raise out_of_time()
            if orphaned():
                raise SystemExit(ORPHANED)
            current = start()
            starts += 1
            try:
                current.wait_ready(min(left, 30.0))
            except LabError as e:
                if time.monotonic() - begin >= timeout:      # it was slow, and our time ran out
                    raise out_of_time() from e
                raise
            if done < kills:
                code = current.wait(rng.uniform(0, max_delay))
                if code is None:
                    current.kill()
                    done += 1
                    continue
            else:
                code = None
                while code is None and time.monotonic() - begin < timeout and not orphaned():
                    code = current.wait(min(0.25, timeout - (time.monotonic() - begin)))
                if code is None:
                    if orphaned():
                        raise SystemExit(ORPHANED)
                    raise LabError(f"the last {what} did not finish its work within timeout={timeout:g} s")
            if code != 0:
                raise LabError(f"the {what} failed on its own (exit code {code}):\n{current.errors().strip()}")
            return done, starts
    finally:
        if current is not None:
            current.kill()


def _checked_loop_args(kills: Any, max_delay: Any, seed: Any, timeout: Any) -> tuple[int, float, int, float]:
    return (check_int("kills", kills, low=0, high=100_000),
            check_number("max_delay", max_delay, low=0.0, high=10.0, low_open=True),
            check_int("seed", seed, low=0),
            check_number("timeout", timeout, low=0.0, low_open=True))


def kill_and_restart(command: Sequence[str], *, cwd: str | os.PathLike | None = None, kills: int,
                     max_delay: float, seed: int = 0, timeout: float = 120.0,
                     what: str = "consumer") -> tuple[int, int]:
    """The harness for any command: start ``command`` (which prints READY when it can work and
    exits 0 when its work is done), SIGKILL its process group after a seeded random delay in
    [0, max_delay] s, restart it, ``kills`` times; then let the last incarnation finish. Returns
    (kills that struck, processes started). Raises LabError when the command fails on its own or
    the whole run exceeds ``timeout`` s. No process outlives the call, even on an exception."""
    kills, max_delay, seed, timeout = _checked_loop_args(kills, max_delay, seed, timeout)
    return _kill_loop(lambda: _Program(command, cwd), kills=kills, max_delay=max_delay, seed=seed,
                      timeout=timeout, what=what)


# --------------------------------------------------------------------------- the launcher

class KillLoop:
    """A kill/restart loop running in its own launcher process (``start_kill_loop``). ``result()``
    waits for it; ``stop()`` kills the launcher and its incarnation (idempotent)."""

    def __init__(self, proc: subprocess.Popen, *, what: str, timeout: float) -> None:
        self.proc, self.what, self.timeout = proc, what, timeout
        self.seconds = 0.0          # how long the loop ran (set by result())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def result(self) -> tuple[int, int]:
        """(kills that struck, processes started), once the loop has ended; LabError if it failed."""
        try:
            # The launcher enforces ``timeout`` itself; the grace covers its own start and exit.
            out, err = self.proc.communicate(timeout=self.timeout + 30)
        except subprocess.TimeoutExpired:
            raise LabError(f"the {self.what} did not finish its work within timeout={self.timeout:g} s") from None
        finally:
            self.stop()
        if self.proc.returncode == 0 and out.strip():
            found = json.loads(out.strip().splitlines()[-1])
            self.seconds = found["seconds"]
            return found["kills"], found["starts"]
        if self.proc.returncode == _LOOP_FAILED:
            raise LabError(err.strip())
        raise LabError(f"the launcher of the {self.what} failed (exit code {self.proc.returncode}):\n"
                       f"{err.strip() or '(no error output)'}")

    def stop(self) -> None:
        _kill_group(self.proc)


def start_kill_loop(command: Sequence[str], *, kills: int, max_delay: float, seed: int = 0,
                    timeout: float = 120.0, what: str = "consumer") -> KillLoop:
    """``kill_and_restart`` for a lab's own consumer, ``command`` being ``[python, <this folder>/
    <lab>.py, consume, ...]``, in a launcher process that forks the incarnations (see the module's
    docstring). Returns at once; ``KillLoop.result()`` waits. Start several to run them side by side."""
    kills, max_delay, seed, timeout = _checked_loop_args(kills, max_delay, seed, timeout)
    command = list(command)
    here = Path(__file__).resolve().parent
    file = Path(command[1]).resolve() if len(command) > 2 else None
    module = file.stem if file is not None else ""
    if file is None or file.parent != here or module not in CONSUMER_MODULES:
        raise ValueError(f"command must run one of the labs' consumers ({', '.join(CONSUMER_MODULES)}.py "
                         f"in {here}), got {command[:3]!r}")
    launcher = [sys.executable, str(Path(__file__).resolve()), "launch", "--module", module, "--kills", str(kills),
                "--max-delay", repr(max_delay), "--seed", str(seed), "--timeout", repr(timeout), "--what", what,
                "--parent-pid", str(os.getpid()), "--", *command[2:]]
    return KillLoop(start_process(launcher), what=what, timeout=timeout)


def _with_parent(argv: Sequence[str], pid: int) -> list[str]:
    """``argv`` with its ``--parent-pid`` value set to ``pid`` (the incarnations' parent: the launcher)."""
    argv = list(argv)
    if "--parent-pid" in argv:
        argv[argv.index("--parent-pid") + 1] = str(pid)
    else:
        argv += ["--parent-pid", str(pid)]
    return argv


def _launch(argv: Sequence[str]) -> int:
    """The launcher's main: import the consumer's module (and what its consumer imports), then run
    the kill loop with forked incarnations; print {"kills", "starts", "seconds"} as JSON."""
    parser = argparse.ArgumentParser(prog="harness.py launch")
    parser.add_argument("--module", choices=CONSUMER_MODULES, required=True)
    parser.add_argument("--kills", type=int, required=True)
    parser.add_argument("--max-delay", type=float, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--what", default="consumer")
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("consumer", nargs=argparse.REMAINDER)
    a = parser.parse_args(argv)
    die_with_parent()

    def orphaned() -> bool:
        return os.getppid() != a.parent_pid

    if orphaned():
        return ORPHANED
    module = importlib.import_module(a.module)
    for name in getattr(module, "CONSUMER_IMPORTS", ()):     # loaded once here, in every fork for free
        importlib.import_module(name)
    consumer = _with_parent(a.consumer[1:] if a.consumer[:1] == ["--"] else a.consumer, os.getpid())
    began = time.monotonic()
    try:
        done, starts = _kill_loop(lambda: _Fork(lambda: module._main(consumer)), kills=a.kills,
                                  max_delay=a.max_delay, seed=a.seed, timeout=a.timeout, what=a.what,
                                  orphaned=orphaned)
    except LabError as e:
        print(e, file=sys.stderr)
        return _LOOP_FAILED
    print(json.dumps({"kills": done, "starts": starts, "seconds": time.monotonic() - began}), flush=True)
    return 0


# --------------------------------------------------------------------------- processes

def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes (zombies excluded) whose command line (arguments joined by spaces,
    with a trailing space) contains ``text``: how tests and notebooks check that no consumer or
    server outlived its lab. (A forked incarnation shows its launcher's command line.)"""
    if not isinstance(text, str) or not text:
        raise TypeError(f"text must be a non-empty string, got {text!r}")
    if not Path("/proc/self/cmdline").exists():      # macOS, BSD: no procfs; ask ps
        out = subprocess.run(["ps", "-Ao", "pid=,stat=,args="], capture_output=True, text=True).stdout
        rows = (line.split(None, 2) for line in out.splitlines())
        return [int(r[0]) for r in rows if len(r) == 3 and text in r[2] + " " and not r[1].startswith("Z")
                and int(r[0]) != os.getpid()]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def our_consumers() -> list[int]:
    """Pids of the lab consumers (and launchers) this process started that are still alive (each
    carries ``--parent-pid <our pid>``): precise even on a JupyterHub where many learners run the lab."""
    return processes_mentioning(f"--parent-pid {os.getpid()} ")


if __name__ == "__main__":
    # Run as a file: continue in the module imported under its own name, the one that the consumer
    # modules import too (``from harness import ...``), so that the launcher has one copy of it.
    import harness  # type: ignore[import-not-found]

    if sys.argv[1:2] != ["launch"]:
        sys.exit("usage: harness.py launch --module M --kills K ... -- consume ...")
    sys.exit(harness._launch(sys.argv[2:]))
