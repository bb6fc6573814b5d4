"""Learner code runs in a child process: whatever it does, the kernel survives and gets a verdict.

``in_child(target, ...)`` forks (classes defined in notebook cells exist only in the kernel's
memory: a fresh interpreter could not import them), runs ``target(channel)`` in the child and
returns how the child ended, as plain data that crossed a pipe. In the child:

- hard limits: address space (RLIMIT_AS, what the kernel uses plus ``Limits.memory``), CPU seconds
  (RLIMIT_CPU), no core files; its own process group, SIGINT ignored (the kernel's interrupt
  stops the parent, which then kills the group);
- what the protocol prints is captured and truncated (``Limits.output``); the kernel's streams
  (they talk to the notebook over sockets) are never touched, file descriptors 1 and 2 go to
  /dev/null;
- a watchdog thread looks at the handler call under way (the frame of ``_Run.invoke``) and, if one
  call computes for ``Limits.call`` seconds of CPU time without returning (one line that never
  ends: no budget can count it), uses no CPU for ``Limits.blocked`` seconds of real time (it sleeps
  or waits), or keeps running after a budget stopped it (a bare ``except:`` that swallowed the stop),
  reports which call and which line, and ends the child. It never raises anything into the running
  code. The child's CPU time, not the clock, decides between "computes" and "stopped": on a machine
  whose CPUs are saturated by other work the verdict comes later, never a different one.

The parent waits interruptibly: a KeyboardInterrupt kills the child's process group and is raised
again; a child that sends nothing for ``Limits.quiet`` seconds, or runs longer than
``Limits.total``, is killed, and the verdict says so. Real time appears only in these guards.
Where ``os.fork`` does not exist (Windows), ``available()`` is False and the grader runs in the
kernel, with a warning.
"""

from __future__ import annotations

import mmap
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..sim.budgets import is_protocol_file, protocol_line


@dataclass(frozen=True)
class Limits:
    """memory: bytes of address space the child may add to the kernel's; cpu: CPU seconds;
    call: CPU seconds one handler call may compute; blocked: real seconds one handler call may wait
    without computing; quiet: real seconds the child may go without sending anything; total: real
    seconds for the whole child; output: printed characters kept."""

    memory: int = 1 << 30
    cpu: int = 300
    call: float = 2.0
    blocked: float = 2.0
    quiet: float = 30.0
    total: float = 300.0
    output: int = 20_000


@dataclass
class Ended:
    """How a child ended: ``value`` (what the target returned), or why not (``how``)."""

    how: str                        # "returned", "raised", "stuck", "died", "killed", "interrupted"
    value: Any = None
    detail: str = ""                # for "raised", "died", "killed": what happened, in words
    stuck: dict = field(default_factory=dict)   # for "stuck": the call, the line, what the target added
    output: str = ""
    printed: int = 0
    runs: int = 0                   # runs the target had started (counted in shared memory)


def available() -> bool:
    """True where a child process can be forked (Linux, macOS)."""
    return hasattr(os, "fork") and sys.platform != "win32"


class Channel:
    """The child's end of the pipe: ``send`` plain data to the parent; ``count_run`` says a run
    started; ``on_stuck(info, run)`` may add to what the watchdog reports (a scenario, a trace)."""

    def __init__(self, fd: int, counter: mmap.mmap) -> None:
        self.fd = fd
        self.counter = counter
        self.lock = threading.Lock()
        self.on_stuck: Callable[[dict, Any], None] | None = None

    def send(self, *message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self.lock:
            _write_all(self.fd, struct.pack("!Q", len(data)) + data)

    def count_run(self) -> None:
        runs = struct.unpack_from("!Q", self.counter)[0] + 1
        struct.pack_into("!Q", self.counter, 0, runs)

    def beat(self) -> None:
        """The watchdog is alive (it runs only while the interpreter's lock is free now and then)."""
        struct.pack_into("!Q", self.counter, 8, struct.unpack_from("!Q", self.counter, 8)[0] + 1)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class _Capture:
    """A stand-in for sys.stdout and sys.stderr: keeps the first ``limit`` characters, counts all."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.count = 0

    def write(self, text: Any) -> int:
        text = text if isinstance(text, str) else str(text)
        self.count += len(text)
        if self.kept < self.limit:
            piece = text[:self.limit - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _limit_resources(limits: Limits) -> None:
    import resource
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime) + limits.cpu
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    except (ValueError, OSError):
        pass
    size = _address_space()
    if size:
        try:
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            soft = size + limits.memory
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard if hard != resource.RLIM_INFINITY and hard < soft
                                                    else soft))
        except (ValueError, OSError):
            pass


def _address_space() -> int:
    """The process's virtual size in bytes (Linux; 0 where unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


#: A call that gets less than this share of a CPU while it waits is blocked, not computing (a
#: runnable process on a saturated machine still gets far more than this).
BLOCKED_SHARE = 0.05

#: A call whose own code went on computing for this much CPU time after a budget stopped it caught the
#: stop (a bare ``except:``). Only CPU time spent in the learner's code counts (seen at two ticks in a
#: row): the simulator's own work after a stop (describing a run that recursed 100,000 frames deep) can
#: take longer on a busy machine and must not count; unwinding that deep recursion takes about 35 ms.
SWALLOWED_CPU = 0.3


def _watchdog(channel: Channel, limits: Limits, main: int) -> None:
    """Watch the handler call under way in the main thread; report a call that computes too long (in
    CPU time), waits too long (real time without CPU), or swallowed a budget's stop."""
    from ..sim.harness import _Run
    invoke = _Run.invoke.__code__
    cpu = time.process_time  # the child's CPU time: its main thread (the watchdog uses next to none)
    key, since_cpu = None, cpu()
    idle_since, last_cpu = time.monotonic(), cpu()
    in_protocol, after_stop = False, 0.0  # the learner's code innermost at the last tick; its CPU since a stop
    while True:
        time.sleep(0.05)
        channel.beat()
        innermost = frame = sys._current_frames().get(main)
        call = None
        while frame is not None:
            if frame.f_code is invoke:
                call = frame
                break
            frame = frame.f_back
        now, used = time.monotonic(), cpu()
        tick = used - last_cpu
        if tick > BLOCKED_SHARE * 0.05:  # it computed in the last tick: not blocked
            idle_since = now
        last_cpu = used
        if call is None:
            key = None
            continue
        run = call.f_locals.get("self")
        current = (id(run), getattr(run, "calls", 0))
        if current != key:
            key, since_cpu, idle_since, in_protocol, after_stop = current, used, now, False, 0.0
            continue
        stopped = getattr(run, "tripped", None) is not None
        was_in_protocol = in_protocol
        in_protocol = stopped and innermost is not None and is_protocol_file(innermost.f_code.co_filename)
        if in_protocol and was_in_protocol:
            after_stop += tick
        swallowed = after_stop > SWALLOWED_CPU
        busy = used - since_cpu > limits.call
        blocked = now - idle_since > limits.blocked
        if not (swallowed or busy or blocked):
            continue
        locals_ = call.f_locals
        host, method, args = locals_.get("host"), locals_.get("method"), locals_.get("args", ())
        line = protocol_line(sys._current_frames().get(main))
        kind = "swallowed" if swallowed else "busy" if busy else "blocked"
        info = {"kind": kind, "node": getattr(host, "name", "?"),
                "class": type(getattr(host, "node", None)).__name__, "method": method,
                "args": tuple(_short(a) for a in args), "line": line, "time": run.engine.now,
                "budget": run.tripped[0] if run.tripped else None,
                "seconds": limits.call if kind == "busy" else limits.blocked, "call": run.calls}
        try:
            if channel.on_stuck is not None:
                channel.on_stuck(info, run)
        except Exception as exc:  # what the target adds is a bonus; the report must go out
            info["note"] = f"{type(exc).__name__}: {exc}"
        _finish(channel, "stuck", info)


def _short(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 120 else text[:117] + "..."


_capture: _Capture | None = None


def _finish(channel: Channel, how: str, value: Any) -> None:
    capture = _capture
    try:
        channel.send(how, value, capture.text if capture else "", capture.count if capture else 0)
    except BaseException:
        try:
            channel.send(how if how != "returned" else "raised", _short(value), "", 0)
        except BaseException:
            pass
    os._exit(0)


def _child(target: Callable[[Channel], Any], fd: int, counter: mmap.mmap, limits: Limits) -> None:
    global _capture
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for name in ("SIGTERM", "SIGALRM", "SIGXFSZ"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL if name != "SIGXFSZ" else signal.SIG_IGN)
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        _capture = _Capture(limits.output)
        sys.stdout = sys.stderr = _capture
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        _limit_resources(limits)
        channel = Channel(fd, counter)
        threading.Thread(target=_watchdog, args=(channel, limits, threading.get_ident()), daemon=True).start()
    except BaseException:
        os._exit(70)
    try:
        value = target(channel)
    except BaseException as exc:
        import traceback
        _finish(channel, "raised", "".join(traceback.format_exception(exc))[-4000:])
    else:
        _finish(channel, "returned", value)


def in_child(target: Callable[[Channel], Any], *, limits: Limits = Limits(),
             on_message: Callable[[tuple], None] | None = None, meanwhile: Callable[[], None] | None = None) -> Ended:
    """Run ``target(channel)`` in a forked child and return how it ended (see the module docstring).
    Messages the child sends other than its last are handed to ``on_message``; ``meanwhile()`` runs
    in this process once the child has started (work that can overlap the child's)."""
    read, write = os.pipe()
    counter = mmap.mmap(-1, 16)  # runs started, then the watchdog's heartbeat
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a process with threads (a kernel has a few) may deadlock the
        # child if it takes a lock another thread held. The child takes none of theirs: it replaces the
        # kernel's output streams before anything prints, and talks over its own pipe.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read)
        _child(target, write, counter, limits)
        os._exit(0)
    os.close(write)
    try:
        if meanwhile is not None:
            try:
                meanwhile()
            except Exception:  # a bonus: never a reason to lose the child's verdict
                pass
        return _wait(pid, read, counter, limits, on_message)
    finally:
        os.close(read)
        _kill(pid)
        counter.close()


def _kill(pid: int) -> None:
    """Kill the child's process group (what it started, threads and forks, goes with it) and reap it."""
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
            break
        except (ProcessLookupError, PermissionError):
            continue
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used (Linux: /proc; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _wait(pid: int, fd: int, counter: mmap.mmap, limits: Limits, on_message: Callable | None) -> Ended:
    started = last = time.monotonic()
    # The child's watchdog beats every 0.05 s unless one line of C holds the interpreter (its lock)
    # without end: then the child uses CPU and the beat stops. CPU time, not the clock, decides.
    beat, beat_cpu = -1, 0.0
    buffer = b""
    final: tuple | None = None
    try:
        while final is None:
            ready, _, _ = select.select([fd], [], [], 0.1)
            now = time.monotonic()
            if ready:
                data = os.read(fd, 1 << 16)
                if not data:
                    break
                buffer += data
                last = now
                while len(buffer) >= 8:
                    size = struct.unpack("!Q", buffer[:8])[0]
                    if len(buffer) < 8 + size:
                        break
                    message = pickle.loads(buffer[8:8 + size])
                    buffer = buffer[8 + size:]
                    if message[0] in ("returned", "raised", "stuck"):
                        final = message
                        break
                    if on_message is not None:
                        on_message(message)
            if final is None:
                current = struct.unpack_from("!Q", counter, 8)[0]
                used = _cpu_seconds(pid)
                if current != beat or used is None:
                    beat, beat_cpu = current, used or 0.0
                elif used - beat_cpu > limits.call + 0.5:
                    runs = struct.unpack_from("!Q", counter)[0]
                    _kill(pid)
                    return Ended("killed", detail=f"one line of your code computed for more than {limits.call:g} s "
                                 "of CPU time without returning, holding the interpreter (a huge range summed, a "
                                 "regular expression that backtracks, a number with millions of digits?)", runs=runs)
            if final is None and (now - last > limits.quiet or now - started > limits.total):
                runs = struct.unpack_from("!Q", counter)[0]
                _kill(pid)
                quiet = now - last > limits.quiet
                why = (f"it sent nothing for {limits.quiet:g} s of real time" if quiet
                       else f"it ran for more than {limits.total:g} s of real time")
                return Ended("killed", detail=why, runs=runs)
    except KeyboardInterrupt:
        _kill(pid)
        raise
    runs = struct.unpack_from("!Q", counter)[0]
    if final is None:  # the pipe closed without a result: the child died
        return Ended("died", detail=_death(pid), runs=runs)
    how, value, output, printed = final
    if how == "returned":
        return Ended("returned", value, output=output, printed=printed, runs=runs)
    if how == "stuck":
        return Ended("stuck", stuck=value, output=output, printed=printed, runs=runs)
    return Ended("raised", detail=value, output=output, printed=printed, runs=runs)


def _death(pid: int) -> str:
    """How the child ended, in words (it sent no result)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return "it ended, and its exit status is unknown"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        why = {"SIGXCPU": "it used up its CPU time", "SIGSEGV": "a segmentation fault (a very deep recursion?)",
               "SIGKILL": "it was killed (out of memory?)", "SIGABRT": "it aborted (out of memory?)"}.get(name, "")
        return f"it was ended by signal {name}" + (f": {why}" if why else "")
    code = os.WEXITSTATUS(status)
    if code == 70:
        return "it could not be set up"
    return (f"it exited with status {code} without a result: your code ended the process itself "
            "(os._exit(), or a signal it sent to itself?)")
