"""Self-check quizzes for the lessons: one multiple-choice question whose every option, right or
wrong, comes with an explanation shown when the learner picks it.

The questions live in ``semantics.views.quiz_bank``, keyed by a quiz id, so that a lesson's code
cell holds only ``quiz("02-payment-timeout")``: the learner sees the question and its options, and
learns the answer by picking one. Headless use (tests, CI)::

    q = quiz("02-payment-timeout")
    q.choose(q.options_list[0])
    q.feedback      # "Not quite. ..." or "Correct. ..."
    q.correct       # False / True

``quiz(question, options, answer=...)`` builds a quiz that is not in the bank (an instructor's own).

Displayed in JupyterLab, a quiz is a widget (radio buttons, feedback computed in the kernel). Its
display also carries a static HTML fallback, for a notebook viewer or a static site without a
kernel: the question, the options, then the answer and why in a collapsed ``<details>``.
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Mapping
from typing import Any

import ipywidgets

from .quiz_bank import QUIZZES, Question

__all__ = ["quiz", "Quiz", "Question", "QUIZZES", "static_html"]

RIGHT = "Correct."
WRONG = "Not quite."


class Quiz(ipywidgets.VBox):
    """A question, its options as radio buttons, and the feedback for the option picked.

    ``controls`` holds the radio buttons (the widget a learner, or a test, changes);
    ``choose(option)`` picks an option; ``feedback`` and ``correct`` read the result.
    The answer stays in the kernel: the front end receives the options, and the feedback for
    the option picked once it is picked.
    """

    def __init__(self, question: Question, quiz_id: str | None = None) -> None:
        self.quiz_id = quiz_id
        self.question = question.question
        self.options = dict(question.options)
        self.answer = question.answer
        self._spec = question
        self._feedback = ""
        self._title = ipywidgets.HTML(f"<b>Self-check.</b> {html.escape(question.question)}")
        self.controls = ipywidgets.RadioButtons(options=list(self.options), value=None,
                                                layout=ipywidgets.Layout(width="max-content"))
        self._out = ipywidgets.HTML("")
        self.controls.observe(self._picked, names="value")
        super().__init__([self._title, self.controls, self._out])

    @property
    def options_list(self) -> list[str]:
        """The options, in the order they are shown."""
        return list(self.options)

    def _picked(self, change: dict) -> None:
        option = change["new"]
        if option is None:
            self._feedback = ""
            self._out.value = ""
            return
        verdict = RIGHT if option == self.answer else WRONG
        self._feedback = f"{verdict} {self.options[option]}"
        colour = "#1a7f37" if option == self.answer else "#b35900"
        self._out.value = (f'<div style="color:{colour}"><b>{verdict}</b> '
                           f"{html.escape(self.options[option])}</div>")

    def choose(self, option: str | None) -> str:
        """Pick ``option`` (as a click would) and return the feedback text."""
        if option is not None and option not in self.options:
            raise ValueError(f"option must be one of {', '.join(map(repr, self.options))}; got {option!r}")
        self.controls.value = option
        return self._feedback

    @property
    def feedback(self) -> str:
        """The feedback for the current choice, as plain text ("" when nothing is picked)."""
        return self._feedback

    @property
    def correct(self) -> bool | None:
        """True / False for the current choice; None when nothing is picked."""
        value = self.controls.value
        return None if value is None else value == self.answer

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """The widget view, plus a static fallback: plain text without the answer, and HTML with
        the answer folded away (what a viewer without a kernel or widget manager shows)."""
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = static_text(self._spec)
        bundle["text/html"] = static_html(self._spec)
        return bundle


def static_text(question: Question) -> str:
    """The question and its options as plain text (no answer: plain text cannot fold it away)."""
    lines = [f"Self-check. {question.question}"]
    lines += [f"  ( ) {option}" for option in question.options]
    return "\n".join(lines)


def static_html(question: Question) -> str:
    """The question, its options, then the answer and why in a collapsed <details> element."""
    options = "".join(f"<li>{html.escape(option)}</li>" for option in question.options)
    return (f'<div class="course-quiz"><p><b>Self-check.</b> {html.escape(question.question)}</p>'
            f"<ul>{options}</ul>"
            f"<details><summary>Show the answer</summary>"
            f"<p><b>{html.escape(question.answer)}</b> {html.escape(question.options[question.answer])}</p>"
            f"</details></div>")


def quiz(question: str, options: Mapping[str, str] | None = None, answer: str | None = None) -> Quiz:
    """A multiple-choice self-check question.

    ``quiz(quiz_id)``: the question of the bank (``semantics.views.quiz_bank.QUIZZES``) with that id.

    ``quiz(question, options, answer=...)``: a question of your own.
      question: the question, as plain text.
      options:  each choice (plain text) -> the explanation shown when it is picked: why it is
                right, or why it is wrong. At least two choices, every explanation non-empty.
      answer:   the right choice: one of the keys of ``options``.
    """
    if options is None and answer is None:
        if not isinstance(question, str):
            raise TypeError(f"quiz_id must be a str (one of the ids in semantics.views.quiz_bank.QUIZZES), "
                            f"got {question!r} of type {type(question).__name__}")
        if question not in QUIZZES:
            near = difflib.get_close_matches(question, list(QUIZZES), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"quiz_id must be one of the ids in semantics.views.quiz_bank.QUIZZES "
                             f"(such as {next(iter(QUIZZES))!r}); got {question!r}{hint}")
        return Quiz(QUIZZES[question], quiz_id=question)
    return Quiz(Question(question, options, answer))  # type: ignore[arg-type]
