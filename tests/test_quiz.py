"""The self-check quizzes: the widget (argument checks, feedback read headlessly), the bank of
questions keyed by id, the secret kept out of the lessons' code, the static fallback a viewer
without a kernel shows, and the instructor guide's answers kept in step with the bank."""

from __future__ import annotations

import ast
import html
import json
import re
from pathlib import Path

import ipywidgets
import pytest

from semantics.views.quiz import RIGHT, WRONG, QUIZZES, Question, Quiz, quiz, static_html

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("0[0-5]-*.ipynb"))
LESSONS = [p for p in LESSONS if "-lab-" not in p.name]
GUIDE = ROOT / "docs" / "instructor.md"

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


# -- the bank: questions keyed by id ---------------------------------------------------------------


def test_a_quiz_id_gives_the_bank_question():
    q = quiz("02-payment-timeout")
    spec = QUIZZES["02-payment-timeout"]
    assert q.quiz_id == "02-payment-timeout" and q.question == spec.question
    assert list(q.controls.options) == list(spec.options)
    wrong = next(o for o in spec.options if o != spec.answer)
    assert q.choose(wrong) == f"{WRONG} {spec.options[wrong]}" and q.correct is False
    assert q.choose(spec.answer) == f"{RIGHT} {spec.options[spec.answer]}" and q.correct is True


@pytest.mark.parametrize("bad, error, words", [
    ("02-payment-timeuot", ValueError, "did you mean '02-payment-timeout'"),
    ("no such quiz", ValueError, "quiz_id must be one of the ids"),
    (7, TypeError, "quiz_id must be a str"),
])
def test_an_unknown_quiz_id_is_named(bad, error, words):
    with pytest.raises(error, match=words):
        quiz(bad)


def test_every_bank_question_is_well_formed():
    assert len(QUIZZES) >= 17
    for quiz_id, spec in QUIZZES.items():
        assert re.fullmatch(r"0[0-5]-[a-z0-9-]+", quiz_id), quiz_id
        assert isinstance(spec, Question) and spec.answer in spec.options
        # the id names the topic, never the answer
        assert not any(word in quiz_id.split("-")[1:] for word in ("yes", "no", "answer")), quiz_id


def test_the_bank_cannot_be_changed_by_a_learner_cell():
    with pytest.raises(TypeError):
        QUIZZES["00-timeout"] = QUIZZES["00-what-counts"]  # type: ignore[index]
    with pytest.raises(TypeError):
        QUIZZES["00-timeout"].options["x"] = "y"  # type: ignore[index]


# -- the secret stays out of the lessons' code -------------------------------------------------------


def lesson_sources(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lessons_show_only_the_quiz_id(path):
    """Every quiz call in a lesson is quiz("<id>") with an id of the bank, and no explanation of any
    option appears anywhere in the notebook's sources (markdown or code)."""
    sources = lesson_sources(path)
    calls = []
    for source in sources:
        try:
            tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith(("%", "!"))))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "quiz":
                assert len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant), (
                    f"{path.name}: a quiz must be called with its id only, found {ast.unparse(node)[:120]}")
                calls.append(node.args[0].value)
    assert calls, f"{path.name}: no quiz"
    prefix = path.name[:2]
    for quiz_id in calls:
        assert quiz_id in QUIZZES and quiz_id.startswith(prefix + "-"), f"{path.name}: quiz id {quiz_id!r}"
    text = "\n".join(sources)
    for spec in QUIZZES.values():
        for why in spec.options.values():
            assert why[:60] not in text, f"{path.name} shows the explanation {why[:60]!r}"


def test_every_bank_question_is_asked_by_exactly_one_lesson():
    asked = []
    for path in LESSONS:
        asked += re.findall(r'quiz\("([^"]+)"\)', "\n".join(lesson_sources(path)))
    assert sorted(asked) == sorted(QUIZZES), "a bank question is never asked, or asked twice"


# -- a viewer without a kernel ------------------------------------------------------------------


def test_the_display_carries_a_static_fallback_with_the_answer_folded():
    q = quiz("03-two-steps")
    spec = QUIZZES["03-two-steps"]
    bundle = q._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # JupyterLab shows the widget
    page = bundle["text/html"]
    assert page == static_html(spec)
    assert html.escape(spec.question) in page
    before, details = page.split("<details>", 1)
    for option in spec.options:
        assert f"<li>{html.escape(option)}</li>" in before  # every option, before the fold
    assert html.escape(spec.options[spec.answer]) not in before  # the answer only inside the fold
    assert html.escape(spec.answer) in details and "</details>" in details
    plain = bundle["text/plain"]
    assert spec.question in plain and spec.options[spec.answer] not in plain


# -- the instructor guide lists every answer ------------------------------------------------------


def test_the_instructor_guide_gives_every_answer():
    guide = GUIDE.read_text(encoding="utf-8")
    table = guide.split("## Answers to the self-check quizzes", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(QUIZZES), f"the guide lists {len(rows)} answers for {len(QUIZZES)} questions"
    for quiz_id, spec in QUIZZES.items():
        row = next((r for r in rows if f"`{quiz_id}`" in r), None)
        assert row is not None, f"the guide has no row for {quiz_id}"
        assert spec.answer.rstrip(".")[:50] in row, f"the guide's answer to {quiz_id} is not the bank's"


@pytest.mark.slow
def test_a_static_html_export_shows_the_question_and_folds_the_answer(tmp_path):
    """Execute a cell that shows a quiz and save it without widget state (JupyterLab's default, and
    this course's rule), then render it as a viewer without a kernel does (nbconvert's HTML export,
    which leaves out a widget whose state is not saved): the quiz's own HTML shows instead."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('from semantics.views.quiz import quiz\nquiz("00-timeout")')]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=False,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert "application/vnd.jupyter.widget-view+json" in nb.cells[0].outputs[0]["data"]
    page, _ = HTMLExporter().from_notebook_node(nb)
    spec = QUIZZES["00-timeout"]
    assert html.escape(spec.question, quote=False) in page
    before, after = page.split("<details>", 1)
    assert all(html.escape(option, quote=False) in before for option in spec.options)
    assert html.escape(spec.options[spec.answer], quote=False) in after.split("</details>", 1)[0]
