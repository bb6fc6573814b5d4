"""Counted budgets for untrusted protocol code: how much work one run, and one handler call, may do.

A run that keeps scheduling events stops at its event budget (``run(max_events=...)``). A plain run
also stops a handler call that never returns, by counting: the ``Watchdog`` looks at the call under way
twice a second, and one that is still running is watched from then on, line by line, until it returns or
runs more than 100,000 lines of protocol code. Calls that return (all of them, in a run of trusted
code, however large the run) cost nothing. With ``run(budgets=Budgets(...))`` every handler call is
counted from its start (slower), so that where a run stops is the same on an idle machine and a busy
one, line for line:

- *steps per handler call* (send, ack, set_timer, apply, durable writes...): a handler that loops
  while sending or writing;
- *lines of protocol code* per handler call and per run, counted by a trace function that the
  simulator installs for the protocol's own frames only (library and standard-library frames are
  not traced): a handler that loops without calling any step.

Once a budget is exceeded the run is over: the exception that unwinds the handler (``Runaway``) is a
BaseException, and every later step of every node raises again, so a bare ``except:`` around the
loop cannot keep the run going. (A loop that catches the exception and then spins without calling
any step or ending can only be stopped from outside: the grader runs protocols in a child process
for that reason.)
"""

from __future__ import annotations

import linecache
import os
import signal
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any, Callable

from ..validation import check_int


@dataclass(frozen=True)
class Budgets:
    """steps: steps in one handler call; lines: lines of protocol code in one handler call;
    run_lines: lines of protocol code in one whole run."""

    steps: int = 10_000
    lines: int = 100_000
    run_lines: int = 5_000_000

    def __post_init__(self) -> None:
        check_int("steps", self.steps, low=1)
        check_int("lines", self.lines, low=1)
        check_int("run_lines", self.run_lines, low=1)


STEP_BUDGET, LINE_BUDGET, RUN_LINE_BUDGET = "step budget", "line budget", "run line budget"
HALTED = "halted"  # not a budget: a grader ended the run (``_Run.halt``) once it had seen enough


class Runaway(BaseException):
    """Unwinds protocol code that exceeded a budget (a BaseException: ``except Exception`` cannot
    swallow it)."""


# -- which code is the protocol's own ------------------------------------------------------------

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../semantics
_LIBRARY = tuple(sorted({os.path.abspath(p) for key in ("stdlib", "platstdlib", "purelib", "platlib")
                         if (p := sysconfig.get_paths().get(key))} | {_PACKAGE}))
_verdicts: dict[str, bool] = {}


def is_protocol_file(filename: str) -> bool:
    """True for code that is neither this package, the standard library nor an installed package:
    a notebook cell, a learner's module, a test's classes."""
    known = _verdicts.get(filename)
    if known is None:
        if filename.startswith("<frozen") or filename.startswith("<built-in"):
            known = False
        else:
            path = os.path.abspath(filename) if os.path.isabs(filename) else filename
            known = not any(path == root or path.startswith(root + os.sep) for root in _LIBRARY)
        _verdicts[filename] = known
    return known


def protocol_line(frame: FrameType | None) -> tuple[str, int, str] | None:
    """(file, line number, source line) of the innermost protocol frame at or above ``frame``."""
    while frame is not None:
        code = frame.f_code
        if is_protocol_file(code.co_filename):
            return code.co_filename, frame.f_lineno, linecache.getline(code.co_filename, frame.f_lineno).strip()
        frame = frame.f_back
    return None


class LineCounter:
    """Counts the lines of protocol code a run executes, with ``sys.settrace`` on protocol frames
    only, and calls ``trip`` (which must raise) when a budget is exceeded."""

    def __init__(self, budgets: Budgets, trip: Callable[[str, FrameType], None]) -> None:
        self.budgets = budgets
        self.trip = trip
        self.run_left = budgets.run_lines
        self.left = budgets.lines
        self.start_left = budgets.lines
        self.codes: dict[CodeType, bool] = {}
        self.previous: Any = None
        self.tripped = False

    def start(self) -> None:
        self.previous = sys.gettrace()

    def stop(self) -> None:
        sys.settrace(self.previous)

    def begin(self) -> None:
        """A handler call starts: its own line budget, within what the run has left; the trace
        function is installed for the call only (the simulator's own work between calls is not
        traced, which would cost more than the calls)."""
        self.left = self.start_left = min(self.budgets.lines, self.run_left)
        if not self.tripped:
            sys.settrace(self._call)

    def end(self) -> None:
        sys.settrace(self.previous)
        self.run_left -= self.start_left - self.left

    @property
    def lines(self) -> int:
        return self.budgets.run_lines - self.run_left

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        mine = self.codes.get(code)
        if mine is None:
            mine = self.codes[code] = is_protocol_file(code.co_filename)
        return self._line if mine else None

    def _line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.left -= 1
            if self.left < 0:
                self.tripped = True
                self.left = 0
                self.trip(LINE_BUDGET if self.start_left == self.budgets.lines else RUN_LINE_BUDGET, frame)
        return self._line


# -- the watchdog of plain runs ----------------------------------------------------------------------


class WallClock(BaseException):
    """Raised into a handler call that ran no line of protocol code for ``blocked`` seconds (it sleeps,
    or waits on I/O): the only limit that reads the clock, because a sleep cannot be counted."""

    def __init__(self, frame: FrameType | None, where: str) -> None:
        super().__init__(where)
        self.frame, self.where = frame, where


_HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")


class Watchdog:
    """Stops a handler call of a plain run that never returns, at no cost to the calls that return.

    Every ``PERIOD`` seconds of real time (SIGALRM, in the main thread) it looks at the handler call under
    way. A call it saw on its previous look too is watched from then on: its lines of protocol code are
    counted (as ``LineCounter`` counts), and at ``lines`` more it calls ``runaway(LINE_BUDGET, frame,
    call)``, which raises ``Runaway`` into it. A call that stays in one place without running a line (it
    sleeps, or waits on I/O) gets ``WallClock`` after ``blocked`` more seconds. ``lines=None``: count
    nothing (a run with ``Budgets`` counts every call itself); both None: the watchdog does nothing.
    """

    PERIOD = 0.5

    def __init__(self, runaway: Callable[[str, FrameType, FrameType], None], *, lines: int | None,
                 blocked: float | None) -> None:
        self.runaway, self.lines, self.blocked = runaway, lines, blocked
        self.armed = ((lines is not None or blocked is not None) and hasattr(signal, "setitimer")
                      and threading.current_thread() is threading.main_thread())
        self.seen: FrameType | None = None      # the call under way at the previous look
        self.watched: FrameType | None = None   # the call being counted
        self.since = 0.0
        self.left = 0
        self.previous_trace: Any = None
        self.codes: dict[CodeType, bool] = {}

    def __enter__(self) -> "Watchdog":
        if self.armed:
            self.previous = signal.signal(signal.SIGALRM, self._look)
            self.previous_timer = signal.setitimer(signal.ITIMER_REAL, self.PERIOD, self.PERIOD)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
            if self.previous_timer[0]:  # someone else's timer (an outer run): let it go on
                signal.setitimer(signal.ITIMER_REAL, *self.previous_timer)
        if self.watched is not None:
            self._unwatch()
        self.seen = None

    # -- looking ----------------------------------------------------------------------------------
    @staticmethod
    def handler_frame(frame: FrameType | None) -> FrameType | None:
        """The outermost frame of protocol code below the simulator's (the handler the simulator
        called), or None when no handler is running."""
        outer = None
        while frame is not None:
            filename = frame.f_code.co_filename
            if filename == _HARNESS:
                if outer is not None:  # (below the handler: a step the protocol called)
                    return outer
            elif is_protocol_file(filename):
                outer = frame
            frame = frame.f_back
        return None

    def _look(self, signum: int, frame: FrameType | None) -> None:
        call = self.handler_frame(frame)
        if call is None or (self.watched is not None and call is not self.watched):
            if self.watched is not None:
                self._unwatch()
            self.seen = None
            return
        if call is self.watched:
            if self.blocked is not None and time.monotonic() - self.since > self.blocked:
                if frame is not None and is_protocol_file(frame.f_code.co_filename):
                    where = protocol_line(frame)
                    raise WallClock(call, f" (line {where[1]}: {where[2]})" if where else "")
                signal.setitimer(signal.ITIMER_REAL, 0.01, self.PERIOD)  # raise only into protocol code
            return
        if call is not self.seen:
            self.seen = call
            return
        self._watch(call, frame)

    def _watch(self, call: FrameType, frame: FrameType | None) -> None:
        """Count the lines of ``call`` from now on (and of the protocol frames it calls)."""
        self.watched, self.since, self.left = call, time.monotonic(), self.lines or 0
        if self.lines is None:
            return  # a budgeted run counts lines itself: only the blocked limit applies
        self.previous_trace = sys.gettrace()
        sys.settrace(self._call)
        while frame is not None:  # the frames already running get the line counter too
            if is_protocol_file(frame.f_code.co_filename):
                frame.f_trace = self._line
            if frame is call:
                break
            frame = frame.f_back

    def _unwatch(self) -> None:
        if self.lines is not None:
            sys.settrace(self.previous_trace)
        self.watched = None

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        mine = self.codes.get(code)
        if mine is None:
            mine = self.codes[code] = is_protocol_file(code.co_filename)
        return self._line if mine else None

    def _line(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.left -= 1
            if self.left < 0:
                self.left = 0
                self.runaway(LINE_BUDGET, frame, self.watched)
        elif event == "return" and frame is self.watched:
            self._unwatch()
            return None
        return self._line

