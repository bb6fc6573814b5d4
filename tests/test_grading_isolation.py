"""Learner code runs in a child process: whatever it does, the process that called check() (a
notebook's kernel) survives, answers, is unchanged, and gets a verdict that names what happened,
within seconds (each test here must finish in 10 s)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import semantics
from semantics import Node
from semantics import grading as G
from semantics.grading import isolation
from wrong_solutions import ex3

pytestmark = pytest.mark.skipif(not isolation.available(), reason="needs os.fork")


def flat(text: str) -> str:
    return " ".join(text.split())


class SleepsInABareExcept(Node):
    def on_message(self, msg_id, body):
        while True:
            try:
                time.sleep(0.2)
            except:  # noqa: E722 (swallows KeyboardInterrupt, a budget's stop, everything)
                pass


class SpinsInABareExcept(Node):
    def on_message(self, msg_id, body):
        n = 0
        while True:
            try:
                while True:
                    n += 1
            except:  # noqa: E722 (catches the budget's stop, and loops again untraced)
                pass


class ExitsTheProcess(Node):
    def on_message(self, msg_id, body):
        os._exit(3)


class CallsSysExit(Node):
    def on_message(self, msg_id, body):
        sys.exit("bye")


class StartsAThread(Node):
    def on_message(self, msg_id, body):
        threading.Thread(target=lambda: [None for _ in iter(int, 1)], daemon=True).start()
        self.apply(body)
        self.ack(msg_id)


class PrintsMegabytes(ex3.Receiver):
    def on_message(self, msg_id, body):
        print("x" * 1_000_000)
        super().on_message(msg_id, body)


class RecursesDeeply(Node):
    def on_message(self, msg_id, body):
        sys.setrecursionlimit(10**7)

        def deeper(n):
            return deeper(n + 1) + 1
        deeper(0)


class ComputesInOneLine(Node):
    def on_message(self, msg_id, body):
        sum(range(10**15))  # one line, in C: no budget can count it


class PatchesTheGrader(ex3.Receiver):
    def on_message(self, msg_id, body):
        import semantics.grading.invariants
        semantics.grading.invariants.first_broken = lambda invariants, trial: None  # "always pass"
        super().on_message(msg_id, body)


class PatchesTheSimulator(ex3.Receiver):
    def on_message(self, msg_id, body):
        from semantics.sim import nodes
        nodes.Durable.__setitem__ = lambda self, key, value: None
        super().on_message(msg_id, body)


class EatsMemory(Node):
    def on_message(self, msg_id, body):
        self.hoard = bytearray(64 * 2**30)


def grade(receiver, within=10):
    threads = threading.active_count()
    started = time.monotonic()
    verdict = G.check(3, ex3.Sender, receiver, progress=False)
    assert time.monotonic() - started < within
    assert threading.active_count() == threads  # nothing of the protocol's runs here
    assert not verdict.passed
    return verdict, flat(str(verdict))


@pytest.mark.timeout(10)
def test_a_sleep_loop_in_a_bare_except_gets_a_verdict():
    verdict, text = grade(SleepsInABareExcept)
    assert verdict.invariant == G.RUN_COMPLETES
    assert "SleepsInABareExcept.on_message(1, Payload('deposit 10')) on node 'receiver' waited 2 s without " \
           "returning and without computing (line" in text and "time.sleep(0.2)" in text
    assert "comes from the guard on the process" in text  # the one verdict that real time decides, and it says so
    assert verdict.counterexample.report.trace[-1].kind == "receive"  # the run up to the call that never returned


@pytest.mark.timeout(30)
def test_one_line_that_computes_without_end_gets_a_verdict():
    # About 4 s of the child's CPU time (2.5 s to be stuck, then the same run found again): on an idle
    # machine, 6 s; on a saturated one it takes longer, with the same verdict (CPU time decides).
    verdict, text = grade(ComputesInOneLine, within=30)
    assert verdict.invariant == G.RUN_COMPLETES
    assert "one line of your code computed for more than 2 s of CPU time without returning" in text, text
    assert "Scenario: 1 message" in text  # the run that did it was found again


@pytest.mark.timeout(10)
def test_a_loop_that_swallows_the_budgets_stop_gets_a_verdict():
    verdict, text = grade(SpinsInABareExcept)
    assert verdict.invariant == G.RUN_COMPLETES
    assert "SpinsInABareExcept.on_message(1, Payload('deposit 10')) on node 'receiver' exceeded its line budget " \
           "(line" in text and "and kept running: your code caught the exception that stops it" in text


@pytest.mark.timeout(10)
def test_os_exit_ends_the_child_not_the_kernel():
    verdict, text = grade(ExitsTheProcess)
    assert verdict.invariant == G.RUN_COMPLETES and "exited with status 3 without a result" in text
    assert "Scenario: 1 message" in text  # the run that did it was found again
    with pytest.raises(RuntimeError, match="replaying it in this process would hang or end it"):
        verdict.counterexample.replay()


@pytest.mark.timeout(10)
def test_sys_exit_is_an_error_of_the_handler():
    verdict, text = grade(CallsSysExit)
    assert verdict.invariant == G.RUN_COMPLETES and "raised SystemExit: bye (line" in text and 'sys.exit("bye")' in text


@pytest.mark.timeout(10)
def test_threads_are_reported_and_do_not_outlive_the_child():
    verdict, text = grade(StartsAThread)
    assert verdict.invariant == G.NODE_ISOLATION and "your code started a thread during the run" in text


@pytest.mark.timeout(10)
def test_megabytes_of_prints_are_captured_and_truncated(capsys):
    verdict = G.check(3, ex3.Sender, PrintsMegabytes, progress=False)
    assert verdict.passed  # printing is allowed; it is captured in the child
    assert len(verdict.output) == 20_000 and set(verdict.output) <= {"x", "\n"}
    assert "your code printed" in flat(str(verdict)) and "characters while it was graded" in flat(str(verdict))
    assert capsys.readouterr().out == ""


@pytest.mark.timeout(10)
def test_a_recursion_that_overflows_the_stack_gets_a_verdict():
    verdict, text = grade(RecursesDeeply)
    assert verdict.invariant == G.RUN_COMPLETES
    assert "signal SIGSEGV" in text or "RecursionError" in text or "lines of your code" in text


@pytest.mark.timeout(10)
@pytest.mark.parametrize("receiver, what", [(PatchesTheGrader, "semantics.grading.invariants.first_broken"),
                                            (PatchesTheSimulator, "semantics.sim.nodes.Durable.__setitem__")])
def test_a_monkeypatch_of_the_course_is_reported_and_stays_in_the_child(receiver, what):
    import semantics.grading.invariants as invariants
    import semantics.sim.nodes as nodes
    before = (invariants.first_broken, nodes.Durable.__setitem__)
    verdict, text = grade(receiver)
    assert verdict.invariant == G.NODE_ISOLATION and f"your code changed {what} (a monkeypatch" in text
    assert (invariants.first_broken, nodes.Durable.__setitem__) == before


@pytest.mark.timeout(10)
def test_memory_is_limited_in_the_child():
    verdict, text = grade(EatsMemory)
    assert verdict.invariant == G.RUN_COMPLETES and "MemoryError" in text


@pytest.mark.timeout(10)
def test_an_interrupt_kills_the_child_and_reaches_the_caller():
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            G.check(3, ex3.Sender, SleepsInABareExcept, progress=False)
    finally:
        timer.cancel()
    with pytest.raises(ChildProcessError):  # the child was killed and reaped: no child is left
        os.waitpid(-1, os.WNOHANG)


def test_without_fork_the_grader_runs_in_the_kernel_and_says_so(monkeypatch):
    monkeypatch.setattr(isolation, "available", lambda: False)
    import semantics.grading.session as session
    monkeypatch.setattr(session, "available", lambda: False)
    with pytest.warns(RuntimeWarning, match="cannot start a child process"):
        verdict = G.check(3, ex3.Sender, ex3.Receiver, progress=False)
    assert verdict.passed and "graded in this kernel" in flat(str(verdict))


def test_in_process_and_isolated_verdicts_agree():
    for receiver in (ex3.Receiver, ex3.ProcessThenMark):
        isolated = G.check(3, ex3.Sender, receiver, progress=False)
        local = G.check(3, ex3.Sender, receiver, progress=False, isolate=False)
        assert str(isolated) == str(local)
        if isolated.counterexample is not None:
            assert isolated.counterexample.report.trace == local.counterexample.report.trace


KERNEL_CELLS = [
    "import os, threading, time\nimport semantics\nfrom semantics import Node\nfrom semantics.grading import check\n"
    "import semantics.grading.invariants as invariants\nbefore = (threading.active_count(), invariants.first_broken)",
    '''class Sender(Node):
    def on_start(self):
        self.unacked = {}
    def on_send(self, msg_id, body):
        self.unacked[msg_id] = body
        self.send("receiver", msg_id, body)
        self.set_timer(msg_id, 3.0)
    def on_ack(self, msg_id):
        self.unacked.pop(msg_id, None)
    def on_timer(self, msg_id):
        if msg_id in self.unacked:
            self.send("receiver", msg_id, self.unacked[msg_id])
            self.set_timer(msg_id, 3.0)''',
    '''class Sleeps(Node):
    def on_message(self, msg_id, body):
        while True:
            try:
                time.sleep(0.2)
            except:
                pass
class Exits(Node):
    def on_message(self, msg_id, body):
        os._exit(1)
class Patches(Node):
    def on_message(self, msg_id, body):
        invariants.first_broken = None
class Threads(Node):
    def on_message(self, msg_id, body):
        threading.Thread(target=lambda: [None for _ in iter(int, 1)], daemon=True).start()''',
    "verdicts = [check(3, Sender, cls, progress=False) for cls in (Sleeps, Exits, Patches, Threads)]\n"
    "print([v.invariant for v in verdicts])",
    "print('alive', (threading.active_count(), invariants.first_broken) == before)",
]


@pytest.mark.timeout(60)
def test_a_notebook_kernel_survives_every_case_and_answers():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in KERNEL_CELLS])
    root = Path(__file__).resolve().parent.parent
    NotebookClient(nb, timeout=40, kernel_name="python3", resources={"metadata": {"path": str(root)}}).execute()
    printed = ["".join(o.get("text", "") for o in cell.outputs) for cell in nb.cells]
    assert printed[3].strip() == str([G.RUN_COMPLETES, G.RUN_COMPLETES, G.NODE_ISOLATION, G.NODE_ISOLATION])
    assert printed[4].strip() == "alive True"
