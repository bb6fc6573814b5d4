"""The ladder's difficulty table (scripts/ladder.py): measured from the reference answers and the
grader's specifications, kept current in docs/instructor.md, and able to see a stale copy."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("ladder", ROOT / "scripts" / "ladder.py")
ladder = importlib.util.module_from_spec(_spec)
sys.modules["ladder"] = ladder  # (its dataclass looks its module up)
_spec.loader.exec_module(ladder)


def test_the_table_in_the_instructor_guide_is_current(capsys):
    assert ladder.main(["--check"]) == 0, capsys.readouterr().err


def test_a_stale_table_is_caught(tmp_path, monkeypatch, capsys):
    guide = (ROOT / "docs" / "instructor.md").read_text(encoding="utf-8")
    stale = tmp_path / "instructor.md"
    section = guide[guide.index(ladder.BEGIN):guide.index(ladder.END)]
    row = next(line for line in section.split("\n") if line.startswith("| 2 "))
    stale.write_text(guide.replace(row, row.replace(" min |", " min (edited) |", 1)), encoding="utf-8")
    monkeypatch.setattr(ladder, "GUIDE", stale)
    assert ladder.main(["--check"]) == 1
    assert "the difficulty table in docs/instructor.md is stale" in capsys.readouterr().err
    assert ladder.main(["--write"]) == 0 and ladder.main(["--check"]) == 0  # --write repairs it
    assert stale.read_text(encoding="utf-8") == guide


def test_every_rung_is_measured():
    from semantics.grading import EXERCISES
    rungs = ladder.measure()
    assert [r.number for r in rungs] == sorted(EXERCISES) and len(rungs) >= 9
    for r in rungs:
        assert r.lines > 0 and 0 < r.changed <= r.lines and r.concepts and r.invariants, r
        assert set(r.new_invariants) <= set(r.invariants)
    # rung 1 changes everything (nothing came before it); rung 2 adds deduplication and a new invariant
    assert rungs[0].changed == rungs[0].lines and "no duplicate effects" in rungs[1].new_invariants
    # the API elements are counted once, where the ladder first needs them
    assert "atomic" in rungs[2].api and all("atomic" not in r.api for r in rungs[3:])


def test_lines_ignore_comments_docstrings_and_layout(tmp_path):
    import json
    source = ('class Receiver(Node):\n    """Doc."""\n\n    def on_message(self, msg_id, body):\n'
              '        ### BEGIN SOLUTION\n        # a comment\n        self.apply(body)   # effect\n\n'
              '        self.ack(msg_id)\n        ### END SOLUTION')
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["solution"]}, "source": source, "outputs": [],
                     "execution_count": None}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "01-x.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert ladder.answer_lines(path) == ["class Receiver(Node):", "def on_message(self, msg_id, body):",
                                         "self.apply(body)", "self.ack(msg_id)"]
    assert ladder.api_used(path) == {"apply", "ack", "on_message"}


def test_the_estimate_follows_its_stated_formula():
    r = ladder.Rung(1, "t", "n", lines=40, changed=20, concepts=("a", "b"), api=(), invariants=("x",),
                    new_invariants=())
    raw = ladder.BASE_MINUTES + ladder.PER_LINE * 20 + ladder.PER_CONCEPT * 2
    assert r.minutes == 5 * round(raw / 5) and r.minutes % 5 == 0
    text = ladder.table(ladder.measure())
    assert f"{ladder.PER_LINE:g} min per changed line" in text and "a 2-hour lab" in text and "a 3-hour lab" in text
