"""Counted budgets for untrusted protocol code: how much work one run, and one handler call, may do.

A run that keeps scheduling events stops at its event budget (``run(max_events=...)``). With
``run(budgets=Budgets(...))`` two more limits apply, both counted, never timed, so that where a run
stops is the same on an idle machine and a busy one:

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
import sys
import sysconfig
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
