"""Feedback a learner can act on: the text wraps at word boundaries, the trace shows the events around
the violation with totals that agree with it, every counterexample has a diagram that fits, the hint
follows the cause seen in the counterexample, and the display is text, HTML and a PNG."""

from __future__ import annotations

import re

import pytest

from semantics import grading as G
from semantics.grading.grade import grade
from semantics.grading.render import WIDTH, fitted, focus
from semantics.grading.session import classes_for, exercise_of, verdict_of
from wrong_solutions import all_cases

CASES = {c.id: c for c in all_cases()}


def verdict(case_id, **phases):
    case = CASES[case_id]
    ex = exercise_of(case.exercise)
    classes, notes = classes_for(ex, case.sender, case.receiver)
    return verdict_of(ex, classes, grade(ex, classes, random=False, **phases), notes, 0.0)


SAMPLE = ["ex1-del-on-ack", "ex2-time-window-100", "ex3-mark-then-process", "ex5-commits-whatever-arrives",
          "ex6-growing-string", "ex10-relay-gives-up", "ex3-setdefault-in-place", "ex4-no-window",
          "ex7-lesson-05-last-reply", "ex8-dedup-only", "ex9-no-cutoff"]


@pytest.mark.parametrize("case_id", SAMPLE)
def test_prose_wraps_at_word_boundaries(case_id):
    v = verdict(case_id)
    trace = v.counterexample.trace_text()
    prose = str(v).replace(trace, "")
    for line in prose.splitlines():
        assert len(line) <= WIDTH or " " not in line.strip(), line
    # no word was cut: every word of the unwrapped text is still whole
    words = set(re.findall(r"[A-Za-z_]{4,}", v.explanation + " " + v.hint))
    assert words <= set(re.findall(r"[A-Za-z_]{4,}", prose))


def test_the_trace_shows_the_violation_and_totals_that_agree():
    v = verdict("ex3-mark-then-process")
    cx = v.counterexample
    text = cx.trace_text()
    m = next(m for m in cx.report.messages() if m.msg_id == cx.msg_id)
    assert f"in this run {cx.msg_id!r} was sent" in " ".join(text.split())
    effects = sum(1 for e in cx.report.trace if e.kind == "effect" and e.msg_id == cx.msg_id)
    assert effects == m.effects == 0 and "took effect never" in " ".join(text.split())
    # a long run: the window holds the violation, and says what it left out
    long = verdict("ex6-growing-string").counterexample
    text = long.trace_text()
    assert re.search(r"events \d[\d,]* to \d[\d,]* of \d[\d,]*", text) and "earlier events" in text
    at = focus(long.report, long.invariant, None)
    assert long.report.trace[at].kind == "error" and "more than the bound" in text


def test_every_kind_of_counterexample_has_a_diagram_that_fits():
    for case_id in ("ex2-time-window-100", "ex6-growing-string", "ex1-retries-forever", "ex10-volatile-sender",
                    "ex5-never-commits", "ex8-dedup-only", "ex9-no-cutoff", "ex7-reply-before-commit"):
        v = verdict(case_id)
        figure = v.diagram()
        assert figure is not None, case_id
        width, height = figure.get_size_inches()
        assert height <= 14 and width <= 12, (case_id, width, height)
    late = verdict("ex2-time-window-100").counterexample
    shown, shortened = fitted(late.report, 0, len(late.report.trace))
    assert shortened and max(e.time for e in shown.trace) < 100 < max(e.time for e in late.report.trace)


def test_the_hint_follows_the_cause_in_the_counterexample():
    from semantics.grading.hints import CRASH, DUPLICATE, LATE_COPY
    crash = verdict("ex3-process-then-mark")
    assert CRASH in crash.counterexample.causes and G.hint(3, G.NO_DUPLICATES, CRASH).startswith(crash.hint)
    assert "Hint 1 of 2; the next one, closer to the answer: hint(3, 'no duplicate effects', 'crash', level=2)" \
        in " ".join(str(crash).split())
    late = verdict("ex2-time-window-100")
    assert LATE_COPY in late.counterexample.causes and "long after everything else" in late.hint
    duplicate = verdict("ex2-retry-without-dedup")
    assert duplicate.hint != late.hint
    double_ack = verdict("ex1-del-on-ack")
    assert DUPLICATE in double_ack.counterexample.causes and "dict.pop(msg_id, None)" in double_ack.hint
    in_place = verdict("ex3-setdefault-in-place")
    assert "reading a value gives you a copy" in in_place.hint
    assert "Note: you changed the value of durable key 'seen' in place" in str(in_place)


def test_an_exception_is_blamed_on_the_learners_line():
    v = verdict("ex2-dict-keyerror")
    text = " ".join(str(v).split())
    assert "raised KeyError: 'm1' (line" in text and "self.copies[msg_id] += 1" in text
    assert "semantics/" not in v.explanation


def test_display_is_text_html_and_a_png(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    v = verdict("ex3-process-then-mark")
    v._ipython_display_()
    assert "Broken invariant: no duplicate effects" in shown[0]["text/plain"] and "<pre" in shown[0]["text/html"]
    assert shown[1]["image/png"].startswith(b"\x89PNG")
    assert v.png() is shown[1]["image/png"]  # drawn once


def test_html_escapes_learner_text():
    v = verdict("ex2-dict-keyerror")
    page = v._repr_html_()
    assert "<pre" in page and "NOT PASSED" in page and "&#x27;m1&#x27;" in page


def test_no_timing_in_the_text():
    v = G.check(3, CASES["ex3-solution"].sender, CASES["ex3-solution"].receiver, progress=False)
    assert v.elapsed > 0 and not re.search(r"\d\s?(s|ms|seconds)\b", str(v))
