"""The self-check quiz widget: argument checks, and feedback read headlessly."""

import ipywidgets
import pytest

from semantics.views.quiz import RIGHT, WRONG, Quiz, quiz

OPTIONS = {
    "retry": "Right: a retry after a lost ack is processed twice.",
    "give up": "No: giving up can lose the message, it cannot duplicate it.",
    "nothing": "No: something must happen after a timeout.",
}


def make():
    return quiz("What duplicates a message?", OPTIONS, answer="retry")


def test_is_a_widget_with_no_choice_at_first():
    q = make()
    assert isinstance(q, Quiz) and isinstance(q, ipywidgets.VBox)
    assert isinstance(q.controls, ipywidgets.RadioButtons)
    assert list(q.controls.options) == list(OPTIONS)
    assert q.controls.value is None and q.feedback == "" and q.correct is None


def test_right_answer_explains_why():
    q = make()
    text = q.choose("retry")
    assert text == f"{RIGHT} {OPTIONS['retry']}" == q.feedback
    assert q.correct is True


@pytest.mark.parametrize("wrong", ["give up", "nothing"])
def test_wrong_answer_explains_why_it_is_wrong(wrong):
    q = make()
    q.choose(wrong)
    assert q.feedback == f"{WRONG} {OPTIONS[wrong]}" and q.correct is False


def test_a_click_is_the_same_as_choose():
    q = make()
    q.controls.value = "give up"  # what the front end does
    assert q.feedback.startswith(WRONG) and OPTIONS["give up"] in q.feedback
    q.controls.value = "retry"
    assert q.correct is True
    q.choose(None)
    assert q.feedback == "" and q.correct is None


def test_feedback_is_escaped_in_the_view():
    q = quiz("a < b?", {"<b>yes</b>": "x < y & z", "no": "because"}, answer="no")
    q.choose("<b>yes</b>")
    assert "x &lt; y &amp; z" in q.children[2].value
    assert "a &lt; b?" in q.children[0].value


def test_choose_refuses_unknown_option():
    with pytest.raises(ValueError, match="option must be one of"):
        make().choose("maybe")


@pytest.mark.parametrize("args, error, words", [
    ((3, OPTIONS, "retry"), TypeError, "question must be a str"),
    (("  ", OPTIONS, "retry"), ValueError, "question must be a non-empty"),
    (("q", ["a", "b"], "a"), TypeError, "options must be a dict"),
    (("q", {"a": "only one"}, "a"), ValueError, "at least two choices"),
    (("q", {"a": "x", 2: "y"}, "a"), TypeError, "options keys"),
    (("q", {"a": "x", "b": None}, "a"), TypeError, r"options\['b'\]"),
    (("q", {"a": "x", "b": " "}, "a"), ValueError, r"options\['b'\] must explain"),
    (("q", OPTIONS, 1), TypeError, "answer must be a str"),
    (("q", OPTIONS, "maybe"), ValueError, "answer must be one of the options"),
])
def test_arguments_are_checked(args, error, words):
    with pytest.raises(error, match=words):
        quiz(*args)
