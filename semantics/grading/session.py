"""One call of ``check``: the arguments checked, the grading run in a child process (``isolation``),
and whatever happened there turned into a ``Verdict`` the learner can act on.

When the child cannot give a verdict itself (a handler call stuck in real time, a bare ``except:``
that swallowed the stop, a process that died), a second child replays the run that did it with its
trace, up to the point where it got stuck or died, so that even then the verdict shows the run.
"""

from __future__ import annotations

import re
import time
import warnings
import types
from collections.abc import Mapping
from typing import Any

from ..sim.checker import Event, Report
from ..sim.choices import Oracle
from ..sim.nodes import Node
from ..sim.state import encode
from .isolation import Channel, Ended, Limits, available, in_child
from .exercises import EXERCISES, Exercise
from .grade import Outcome, grade, plain, plain_report
from .hints import RUNAWAY, causes, chosen, levels
from .invariants import RUN_COMPLETES, Finding
from .outside import salted_hash_notes
from .progress import Progress
from .render import covered, numbered
from .runner import Runner
from .scenarios import Scenario
from .verdict import Counterexample, Verdict


# -- arguments ---------------------------------------------------------------------------------------


def exercise_of(exercise: Any) -> Exercise:
    if isinstance(exercise, bool) or not isinstance(exercise, (int, str)):
        raise TypeError(f"exercise must be an exercise number (1 to {len(EXERCISES)}) or a key such as 'ex1', "
                        f"got {exercise!r}")
    if isinstance(exercise, str):
        match = re.fullmatch(r"(?:ex)?(\d+)", exercise.strip().lower())
        number = int(match.group(1)) if match else None
    else:
        number = exercise
    if number not in EXERCISES:
        raise ValueError(f"exercise must be one of {', '.join(map(str, EXERCISES))} (or 'ex1' to "
                         f"'ex{len(EXERCISES)}'), got {exercise!r}")
    return EXERCISES[number]


def _node_class(param: str, value: Any) -> type[Node]:
    if isinstance(value, Node):
        raise TypeError(f"{param} must be a class, not an instance: pass {type(value).__name__}, not "
                        f"{type(value).__name__}() (the simulator builds a fresh node at every restart)")
    if not isinstance(value, type) or not issubclass(value, Node):
        raise TypeError(f"{param} must be a subclass of semantics.Node, got {value!r}")
    return value


def _same_code(a: type, b: type) -> bool:
    """True when two classes behave alike: the same methods (same bytecode) and attributes."""
    def shape(cls: type) -> dict:
        out = {}
        for name, value in vars(cls).items():
            if name.startswith("__") and name != "__init__":
                continue
            if isinstance(value, types.FunctionType):
                code = value.__code__
                out[name] = (code.co_code, tuple(c for c in code.co_consts if not isinstance(c, types.CodeType)),
                             code.co_names)
            else:
                out[name] = encode(value)
        return out
    return [c.__name__ for c in a.__mro__[1:]] == [c.__name__ for c in b.__mro__[1:]] and shape(a) == shape(b)


def classes_for(ex: Exercise, sender: Any, receiver: Any) -> tuple[dict[str, type[Node]], list[str]]:
    """The node classes to grade ({node name: class}), and notes about partner classes. ``sender`` and
    ``receiver`` (check's two classes) play the nodes ``ex.slots`` names."""
    params = dict(zip(ex.slots, ("sender", "receiver")))
    given = dict(zip(ex.slots, (sender, receiver)))
    notes = []
    for name, partner in ex.partners.items():
        value = given.get(name)
        if name in ex.exact_partners:
            if value is not None and not (isinstance(value, type) and issubclass(value, partner)):
                raise ValueError(f"exercise {ex.number} grades your {', '.join(ex.learner)} against semantics."
                                 f"grading.{partner.__name__}: pass {params.get(name, name)}={partner.__name__} (or "
                                 f"leave it out), got {value!r}")
        elif value is not None:
            value = _node_class(params.get(name, name), value)
            if value is not partner and not _same_code(value, partner):
                notes.append(f"exercise {ex.number} grades against its own {name} (semantics.grading.partners."
                             f"{partner.__name__}, the one the notebook gives): your {value.__name__} is not used")
        given[name] = partner
    for name, param in params.items():
        if given[name] is None:
            raise TypeError(f"check(exercise, sender, receiver): the {param} class is missing")
        given[name] = _node_class(param, given[name])
    return given, notes


# -- the call ----------------------------------------------------------------------------------------


def check(exercise: int | str, sender: type[Node] | None = None, receiver: type[Node] | None = None, *,
          progress: bool = True, isolate: bool = True) -> Verdict:
    """Grade a protocol for one exercise of the ladder and explain the verdict.

    exercise: the exercise number, 1 to 10 (or "ex1" ... "ex10").
    sender, receiver: the two classes of your protocol, as the exercise's last cell passes them (its
              notebook shows the call). Where the exercise gives one side (a broker, a client, a queue
              of leases, a producer: ``semantics.grading.partners``), your code is graded against that
              one: pass it, or None, in its place.
    progress: show progress when grading takes more than a second.
    isolate:  run your classes in a child process (the default; False runs them in this process,
              where an endless loop that catches every exception could hang it).

    First a systematic search: every schedule of faults within the exercise's stated scope (lost,
    duplicated, delayed and late copies, an outage, a crash at every crash point), fewest messages
    and faults first; then seeded random scenarios at a larger scope. The first broken invariant
    stops grading; its run (the smallest found) is replayed with its trace, and the ``Verdict``
    names the invariant, what happened, the scenario, how to replay it, and a hint.
    """
    ex = exercise_of(exercise)
    classes, notes = classes_for(ex, sender, receiver)
    notes.extend(salted_hash_notes(c for name, c in classes.items() if name not in ex.partners))
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    if not isinstance(isolate, bool):
        raise TypeError(f"isolate must be True or False, got {isolate!r}")
    started = time.perf_counter()
    bar = Progress(f"exercise {ex.number}", progress)
    try:
        if isolate and available():
            outcome = _graded_in_child(ex, classes, bar)
        else:
            if isolate:
                note = ("this system cannot start a child process: your code was graded in this kernel, "
                        "where an endless loop that catches every exception would hang it")
                notes.append(note)
                warnings.warn(note, RuntimeWarning, stacklevel=2)
            outcome = grade(ex, classes, progress=bar.update)
    finally:
        bar.close()
    return verdict_of(ex, classes, outcome, notes, time.perf_counter() - started)


def _graded_in_child(ex: Exercise, classes: dict[str, type[Node]], bar: Progress) -> Outcome:
    def target(channel: Channel) -> Outcome:
        runner = Runner(ex, classes)
        runner.on_run = channel.count_run
        channel.on_stuck = lambda info, run: info.update(scenario=runner.current)
        last = [0.0]

        def progress(done: int, label: str) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.2:
                last[0] = now
                channel.send("progress", done, label)
        return grade(ex, classes, runner=runner, progress=progress)

    ended = in_child(target, on_message=lambda m: bar.update(m[1], m[2]) if m[0] == "progress" else None,
                     meanwhile=_warm_up)
    if ended.how == "returned":
        outcome = ended.value
        outcome.output, outcome.printed = ended.output, ended.printed
        return outcome
    if ended.how == "stuck":
        return _stuck(ex, classes, ended)
    return _died(ex, classes, ended)


def _warm_up() -> None:
    """While the child grades: import what drawing a counterexample needs (matplotlib takes a few
    hundred milliseconds to import, once per kernel), so that showing the verdict is quick."""
    import sys
    if "semantics.views.plots" not in sys.modules:
        import semantics.views.plots  # noqa: F401


# -- when the child could not answer -----------------------------------------------------------------


def _stuck(ex: Exercise, classes: dict[str, type[Node]], ended: Ended) -> Outcome:
    info = ended.stuck
    scenario: Scenario | None = info.get("scenario")
    line = info.get("line")
    where = f" (line {line[1]}: {line[2]})" if line else ""
    call = f"{info['class']}.{info['method']}({', '.join(info['args'])}) on node {info['node']!r}"
    if info["kind"] == "swallowed":
        budget = info.get("budget") or "budget"
        what = (f"{call} exceeded its {budget}{where} and kept running: your code caught the exception that "
                "stops it (a bare `except:`, or `except BaseException:`) and went on looping. Catch only the "
                "exceptions you expect (except KeyError:), never everything")
    elif info["kind"] == "busy":
        what = (f"{call} computed for {info['seconds']:g} s of CPU time without returning{where}: one line "
                "that never ends (a huge range, a regular expression that backtracks, a number with millions "
                "of digits?). A handler must return at once: use set_timer for anything that should happen later")
    else:
        what = (f"{call} waited {info['seconds']:g} s without returning and without computing{where}: it sleeps "
                "or waits (time.sleep, input(), a lock, a socket, a thread's join?). A handler must return at "
                "once: use set_timer for anything that should happen later")
    report = None
    if scenario is not None:  # the same run again, traced, up to the same call
        def target(channel: Channel) -> Report | None:
            runner = Runner(ex, classes)

            def partial(stuck: dict, run: Any) -> None:
                stuck["report"] = plain_report(run.report())
            channel.on_stuck = partial
            return plain_report(runner.run(scenario, trace=True).report)

        again = in_child(target, limits=Limits(call=min(info["seconds"], 1.0), blocked=min(info["seconds"], 1.0)))
        report = again.value if again.how == "returned" else again.stuck.get("report")
    return _rules_outcome(ex, scenario, report, what, ended)


def _died(ex: Exercise, classes: dict[str, type[Node]], ended: Ended) -> Outcome:
    """The child died or was killed: find the run that did it (the grading is deterministic, so a
    second child reaches the same run) and stream its trace until the end comes."""
    if ended.how == "raised":
        what = f"the grader itself failed while grading your code (please report it): {ended.detail}"
    else:
        what = f"the process that ran your code ended before a verdict: {ended.detail}"
    events: list[Event] = []
    found: list[Scenario] = []

    def target(channel: Channel) -> None:
        runner = _Locating(ex, classes, channel, ended.runs)
        grade(ex, classes, runner=runner)

    def collect(message: tuple) -> None:
        if message[0] == "scenario":
            found.append(message[1])
        elif message[0] == "events":
            events.extend(message[1])

    scenario, report = None, None
    if ended.runs:
        # the same run again (grading is deterministic) to find it: a stuck line is known to be stuck now
        in_child(target, on_message=collect, limits=Limits(call=0.5, blocked=0.5, quiet=10.0, total=60.0))
        if found:
            scenario = found[0]
            report = _partial_report(scenario, events)
    return _rules_outcome(ex, scenario, report, what, ended)


class _Locating(Runner):
    """Grades as usual up to run number ``stop_at``, then sends that run's scenario and its trace,
    event by event, to the parent."""

    def __init__(self, ex: Exercise, classes: dict, channel: Channel, stop_at: int) -> None:
        super().__init__(ex, classes)
        self.channel, self.stop_at = channel, stop_at

    def run(self, scenario: Scenario, oracle: Oracle | None = None, *, trace: bool = False):
        if self.runs + 1 != self.stop_at:
            return super().run(scenario, oracle, trace=trace)
        self.channel.send("scenario", scenario)
        return super().run(scenario, _Streaming(self.channel, oracle, scenario), trace=True)


class _Streaming(Oracle):
    """Takes the choices of ``inner`` (if any) and sends the trace's new events after every event."""

    def __init__(self, channel: Channel, inner: Oracle | None, scenario: Scenario) -> None:
        super().__init__(**scenario.oracle_lengths())
        self.channel, self.inner, self.sent = channel, inner or scenario.oracle(), 0

    def copy(self, *args):
        return self.inner.copy(*args)

    def crash(self, *args):
        return self.inner.crash(*args)

    def boundary(self, run: Any) -> None:
        if run.trace is not None and len(run.trace) > self.sent:
            new = [e if type(e.msg_id) in (str, int, type(None)) else
                   Event(e.time, e.node, e.kind, plain(e.msg_id), e.logical, e.peer, e.wire, e.message, e.fate,
                         e.until, e.text, e.receipt) for e in run.trace[self.sent:]]
            self.sent = len(run.trace)
            self.channel.send("events", new)


def _partial_report(scenario: Scenario, events: list[Event]) -> Report:
    """A report rebuilt from the events of a run that never finished."""
    n = scenario.n_messages
    attempts, deliveries, effects = [0] * n, [0] * n, [0] * n
    acked = [False] * n
    for e in events:
        if e.logical is None or e.logical >= n:
            continue
        if e.kind == "send" and e.message == "data" and e.node == "sender" and "duplicate" not in e.text:
            attempts[e.logical] += 1
        elif e.kind == "receive" and e.message == "data":
            deliveries[e.logical] += 1
        elif e.kind == "effect":
            effects[e.logical] += 1
        elif e.kind == "receive" and e.message == "ack" and e.node == "sender":
            acked[e.logical] = True
    ids = tuple(f"m{i + 1}" for i in range(n))
    contents = tuple(scenario.contents[:n]) if scenario.contents else tuple(f"op {i + 1}" for i in range(n))
    lost, once = effects.count(0), effects.count(1)
    end = events[-1].time if events else 0.0
    return Report(n_messages=n, lost=lost, once=once, duplicated=n - lost - once, effects=sum(effects),
                  attempts=sum(attempts), acked=sum(acked), indefinite=n - sum(acked), indefinite_applied=0,
                  status="stopped", problem="the process running it ended", seed=scenario.seed, events=len(events),
                  crashes=sum(e.kind == "crash" for e in events), end_time=end, points={}, trace=tuple(events),
                  _per_message=(ids, contents, tuple(attempts), tuple(deliveries), tuple(deliveries), tuple(effects),
                                tuple(acked)))


def _rules_outcome(ex: Exercise, scenario: Scenario | None, report: Report | None, what: str,
                   ended: Ended) -> Outcome:
    scenario = scenario or Scenario("unknown", 1)
    finding = Finding(RUN_COMPLETES, None, None, what)
    seen = (*causes(report), RUNAWAY) if report is not None else (RUNAWAY,)
    return Outcome("failed", finding, scenario, scenario, report, None, "isolation", reproduced=report is not None,
                   causes=seen, output=ended.output, printed=ended.printed,
                   notes=("the verdict comes from the guard on the process that ran your code (a call that computes "
                          "or waits without end, or the process's end), not from the counted budgets",))


# -- the verdict -------------------------------------------------------------------------------------


def verdict_of(ex: Exercise, classes: Mapping[str, type[Node]], outcome: Outcome, notes: list[str],
               elapsed: float) -> Verdict:
    runs = outcome.coverage.schedules + outcome.random_runs
    notes = list(notes) + list(outcome.notes) + list(outcome.warnings)
    if outcome.printed:
        notes.append(f"your code printed {outcome.printed:,} characters while it was graded (the first "
                     f"{min(outcome.printed, len(outcome.output)):,} are in verdict.output)")
    if outcome.status == "passed":
        names = ", ".join(ex.names)
        text = (f"No broken invariant ({names}).\nCovered: {covered(outcome, ex)}.\nReached: {ex.goal}.")
        return Verdict(ex.number, ex.title, True, "passed", text, scenarios=runs, elapsed=elapsed,
                       covered=covered(outcome, ex), output=outcome.output, notes=tuple(notes))
    if outcome.status == "not implemented":
        report = outcome.report
        where = report.problem if report is not None else outcome.problem
        where = re.sub(r" at t=[\d.e+-]+$", "", where or "").replace(":  (", " (")
        text = (f"Not implemented yet: {where}.\nReplace `raise NotImplementedError()` in the cell marked YOUR CODE "
                "HERE with your code,\nrun that cell, then this one again.")
        return Verdict(ex.number, ex.title, False, "not implemented", text, scenarios=runs, elapsed=elapsed,
                       output=outcome.output, notes=tuple(notes))
    return _failed(ex, classes, outcome, notes, runs, elapsed)


def _failed(ex: Exercise, classes: Mapping[str, type[Node]], outcome: Outcome, notes: list[str], runs: int,
            elapsed: float) -> Verdict:
    f = outcome.finding
    invariant = next((i for i in ex.invariants if i.name == f.invariant), None)
    statement = invariant.statement if invariant is not None else ""
    scenario, original = outcome.scenario, outcome.original
    which = f"message {f.msg_id!r} " if f.msg_id is not None else ""
    others = {n: c for n, c in {**ex.others, **classes}.items() if n not in ("sender", "receiver")}
    call = scenario.call(classes["sender"].__name__, classes["receiver"].__name__,
                         "{" + ", ".join(f"{n!r}: {c.__name__}" for n, c in others.items()) + "}" if others else "")
    lines = [f"Broken invariant: {f.invariant}: {statement}.", f"What happened: {which}{f.explanation}."]
    shrunk = ""
    if original is not None and original != scenario:
        shrunk = f" (shrunk from: {original.describe()})"
    if scenario.label != "unknown":
        lines.append(f"Scenario: {scenario.describe(list(outcome.faults) if scenario.choices else None)}{shrunk}.")
    c = outcome.coverage
    if outcome.phase == "systematic":
        lines.append(f"Found by: the systematic search, at schedule {c.schedules:,} (bases and faults are tried "
                     "smallest first, so no smaller run in its scope breaks an invariant).")
    elif outcome.phase == "random":
        lines.append(f"Found by: seeded random scenario {outcome.random_runs} ({original.label}), after all "
                     f"{numbered(c.schedules, 'schedule')} of the systematic search passed.")
    if outcome.phase == "isolation":
        lines.append("Replay it: not in this kernel (it would hang or end it); the trace below is the run up to "
                     f"that point, and {call} is the run, to try in a separate process")
    elif scenario.label != "unknown":
        same = f", the same run as {call}" if len(call) <= 400 else " (the same run as verdict.counterexample.replay_call)"
        lines.append(f"Replay it: verdict.counterexample.replay(){same}; step through it, event by event, with "
                     "verdict.counterexample.step_through()")
    if not outcome.reproduced and outcome.report is not None and outcome.phase != "isolation":
        lines.append("Warning: the replay of this scenario did not break the invariant again, so the trace below "
                     "may not show the failure. Does your code use randomness, the wall clock or state shared "
                     "between runs (class attributes, globals)? Use self.now for time and keep state on self or in "
                     "self.durable.")
    cause, texts = chosen(ex.hints, f.invariant, outcome.causes)
    report = outcome.report
    crashes = tuple(f"{e.node} at t={e.time:g}, {e.text}" for e in (report.trace or ()) if e.kind == "crash") \
        if report is not None else ()
    cx = Counterexample(f.invariant, f.msg_id, f.explanation, scenario, original or scenario, report, crashes, call,
                        outcome.reproduced, classes["sender"], classes["receiver"], outcome.faults, outcome.causes,
                        outcome.phase, others, ex.number)
    more = next_hint(ex, f.invariant, cause, 2, len(texts)) if texts else ""
    return Verdict(ex.number, ex.title, False, "failed", "\n".join(lines), texts[0] if texts else "", cx, runs,
                   elapsed, hints=texts, output=outcome.output, notes=tuple(notes), more=more)


def hint(exercise: int | str, invariant: str | None = None, cause: str | None = None, level: int = 1) -> str:
    """A hint for exercise ``exercise``, at ``level`` 1 (a nudge) or more (closer to the answer; the
    last level is repeated beyond it).

    Without ``invariant``: the exercise's own hints, to read before any verdict (``hint(3)``, then
    ``hint(3, level=2)``...). With it: the hint for that broken invariant (and, if given, a cause
    such as "crash" or "lost ack": see ``semantics.grading.hints``), which a failed verdict shows at
    level 1 and names the call for the next level."""
    ex = exercise_of(exercise)
    if invariant is not None and invariant not in ex.names:
        raise ValueError(f"invariant must be one of exercise {ex.number}'s: {', '.join(map(repr, ex.names))}; "
                         f"got {invariant!r}")
    if isinstance(level, bool) or not isinstance(level, int) or level < 1:
        raise ValueError(f"level must be an integer >= 1, got {level!r}")
    if invariant is None:
        if cause is not None:
            raise ValueError(f"cause needs an invariant: hint({ex.number}, invariant, {cause!r}), got no invariant")
        texts = ex.guide
    else:
        cause, texts = chosen(ex.hints, invariant, (cause,) if cause else ())  # (None: the general hint)
    if not texts:
        return ""
    text = texts[min(level, len(texts)) - 1]
    if level > len(texts):
        return f"(There are {len(texts)} levels of this hint; here is the last one again.) {text}"
    more = next_hint(ex, invariant, cause, level + 1, len(texts))
    return f"{text} {more}" if more else text


def next_hint(ex: Exercise, invariant: str | None, cause: str | None, level: int, levels_: int) -> str:
    """The call that shows hint level ``level`` (of ``levels_``), in words ("" past the last)."""
    if level > levels_:
        return ""
    args = [str(ex.number)]
    if invariant is not None:
        args.append(repr(invariant))
        if cause is not None:
            args.append(repr(cause))
    args.append(f"level={level}")
    return f"(Hint {level - 1} of {levels_}; the next one, closer to the answer: hint({', '.join(args)}).)"
