"""Self-check quizzes for the lessons: one multiple-choice question whose every option, right or
wrong, comes with an explanation shown when the learner picks it.

``quiz(question, options, answer)`` returns an ipywidgets widget. Headless use (tests, CI)::

    q = quiz("Which one?", {"a": "Right, because...", "b": "No: ..."}, answer="a")
    q.choose("b")
    q.feedback      # "Not quite. No: ..."
    q.correct       # False
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import ipywidgets

__all__ = ["quiz", "Quiz"]

RIGHT = "Correct."
WRONG = "Not quite."


class Quiz(ipywidgets.VBox):
    """A question, its options as radio buttons, and the feedback for the option picked.

    ``controls`` holds the radio buttons (the widget a learner, or a test, changes);
    ``choose(option)`` picks an option; ``feedback`` and ``correct`` read the result.
    """

    def __init__(self, question: str, options: Mapping[str, str], answer: str) -> None:
        self.question = question
        self.options = dict(options)
        self.answer = answer
        self._feedback = ""
        self._title = ipywidgets.HTML(f"<b>Self-check.</b> {html.escape(question)}")
        self.controls = ipywidgets.RadioButtons(options=list(self.options), value=None,
                                                layout=ipywidgets.Layout(width="max-content"))
        self._out = ipywidgets.HTML("")
        self.controls.observe(self._picked, names="value")
        super().__init__([self._title, self.controls, self._out])

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


def quiz(question: str, options: Mapping[str, str], answer: str) -> Quiz:
    """A multiple-choice self-check question.

    question: the question, as plain text.
    options:  each choice (plain text) -> the explanation shown when it is picked: why it is
              right, or why it is wrong. At least two choices, every explanation non-empty.
    answer:   the right choice: one of the keys of ``options``.
    """
    if not isinstance(question, str):
        raise TypeError(f"question must be a str, got {question!r} of type {type(question).__name__}")
    if not question.strip():
        raise ValueError("question must be a non-empty str, got an empty one")
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be a dict mapping each choice to its explanation, "
                        f"got {type(options).__name__}")
    if len(options) < 2:
        raise ValueError(f"options must hold at least two choices, got {len(options)}")
    for choice, why in options.items():
        if not isinstance(choice, str) or not choice.strip():
            raise TypeError(f"options keys must be non-empty str choices, got {choice!r}")
        if not isinstance(why, str):
            raise TypeError(f"options[{choice!r}] must be a str explanation, got {why!r} "
                            f"of type {type(why).__name__}")
        if not why.strip():
            raise ValueError(f"options[{choice!r}] must explain why the choice is right or wrong, "
                             "got an empty explanation")
    if not isinstance(answer, str):
        raise TypeError(f"answer must be a str (one of the options), got {answer!r} "
                        f"of type {type(answer).__name__}")
    if answer not in options:
        raise ValueError(f"answer must be one of the options {', '.join(map(repr, options))}; got {answer!r}")
    return Quiz(question, options, answer)
