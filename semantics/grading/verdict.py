"""The grader's answer: a ``Verdict`` (passed or not, why, what was covered) and, when it failed, the
``Counterexample`` that shows it: the smallest run found, its trace, and how to replay it.

A verdict is a pure function of the protocol's code and the exercise: ``str(verdict)`` holds no
timing (``elapsed`` is an attribute only). Rendering (text, HTML, the sequence diagram) is in
``render``.
"""

from __future__ import annotations

import io
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..sim.checker import Report
from .scenarios import Scenario

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Counterexample:
    """A smallest run found that breaks an invariant, replayable from its scenario."""

    invariant: str
    msg_id: Hashable
    explanation: str
    scenario: Scenario          # the counterexample (shrunk)
    original: Scenario          # the scenario that failed first
    report: Report | None       # the traced replay of ``scenario`` (None: a node could not be built)
    crashes: tuple[str, ...]    # where each crash struck, in words
    replay_call: str
    reproduced: bool = True     # the traced replay broke the invariant again (learner code is deterministic)
    sender: Any = field(repr=False, default=None)
    receiver: Any = field(repr=False, default=None)
    faults: tuple[str, ...] = ()        # the adversary's choices, in words (systematic search)
    causes: tuple[str, ...] = ()        # what the counterexample shows (a crash, a lost ack...), most telling first
    phase: str = "systematic"           # "systematic", "random" or "isolation"
    others: Mapping[str, Any] = field(repr=False, default_factory=dict)
    exercise: int = 0

    @property
    def seed(self) -> int:
        return self.scenario.seed

    def replay(self) -> Report:
        """Run the counterexample again, traced, in this process: the same run, event for event, as the
        grader ran it (budgets, and the state measured where the exercise bounds it). It runs your
        code in the kernel: a handler that never returns would hang it."""
        from .exercises import EXERCISES
        from .runner import Runner
        if self.phase == "isolation":
            raise RuntimeError("this run does not end (a handler call never returns, or the process ends): "
                               "replaying it in this process would hang or end it. Its trace up to that point is "
                               "verdict.counterexample.report")
        classes = {"sender": self.sender, "receiver": self.receiver, **self.others}
        trial = Runner(EXERCISES[self.exercise], classes).run(self.scenario, trace=True)
        if trial.report is None:
            raise RuntimeError(f"a node could not be built: {trial.problem}")
        return trial.report

    def step_through(self) -> Any:
        """A trace stepper over the counterexample: the diagram up to each event, each node's volatile
        and durable state, the timers and the messages in flight, one step at a time (a widget; its
        ``recording`` holds the states). Like ``replay``, it runs your code in this process."""
        if self.phase == "isolation" or self.report is None:
            raise RuntimeError("this counterexample cannot be stepped through in this process (its run does not "
                               "end, or a node could not be built): read verdict.counterexample.report instead")
        from ..views.stepper import step_through_counterexample
        return step_through_counterexample(self)

    def trace_text(self, limit: int = 40) -> str:
        """The events of the counterexample around the violation, in words ("" when there is no trace)."""
        from .render import trace_window
        return trace_window(self, limit=limit)

    def diagram(self) -> Figure | None:
        """The sequence diagram of the counterexample, shrunk to fit (None without matplotlib or a trace)."""
        from .render import diagram
        return diagram(self)


@dataclass(frozen=True)
class Verdict:
    """The grader's answer: passed or not, and why, with the counterexample when there is one."""

    exercise: int
    title: str
    passed: bool
    status: str                 # "passed", "failed", "not implemented"
    explanation: str
    hint: str = ""
    counterexample: Counterexample | None = None
    scenarios: int = 0          # runs: schedules of the systematic search, then random scenarios
    elapsed: float = field(default=0.0, compare=False)  # seconds (never part of the text)
    covered: str = ""           # what was covered, in words
    hints: tuple[str, ...] = () # the hint's levels, from a nudge to nearly the answer (``hint`` is the first)
    output: str = ""            # what your code printed while it was graded (truncated)
    notes: tuple[str, ...] = () # warnings: a durable value changed in place, grading in the kernel...
    more: str = ""              # the call that shows the hint's next level ("" when there is none)
    _png: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def invariant(self) -> str | None:
        return self.counterexample.invariant if self.counterexample else None

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        from .render import text
        return text(self)

    def _repr_html_(self) -> str:
        from .render import html
        return html(self)

    def diagram(self) -> Figure | None:
        """The counterexample's sequence diagram (None when the verdict has none)."""
        return self.counterexample.diagram() if self.counterexample else None

    def png(self) -> bytes | None:
        """The diagram as PNG bytes (drawn once, then kept)."""
        if "png" not in self._png:
            figure = self.diagram()
            data = None
            if figure is not None:
                buffer = io.BytesIO()
                # fast zlib (level 1): the PNG is shown once, its size hardly matters
                figure.savefig(buffer, format="png", dpi=80, pil_kwargs={"compress_level": 1})
                data = buffer.getvalue()
            self._png["png"] = data
        return self._png["png"]

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display({"text/plain": str(self), "text/html": self._repr_html_()}, raw=True)
        data = self.png()
        if data is not None:
            # A PNG made here: a Figure built without pyplot has no inline formatter of its own.
            display({"image/png": data, "text/plain": f"<sequence diagram: {self.invariant}>"}, raw=True)
