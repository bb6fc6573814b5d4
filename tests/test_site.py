"""The course website (`make site`, scripts/build_site.py), built here as CI builds it: every lesson
and lab page shows the figures its executed notebook drew, each with real alt text (a description,
not a file name), every widget rendered without a kernel (panels at their defaults with their figure,
quizzes with their question), the labs' outputs, and no solution code anywhere."""

from __future__ import annotations

import ast
import base64
import hashlib
import html
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

import site_build

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LESSONS = [p for p in NOTEBOOKS if "-lab-" not in p.name]
LABS = [p for p in NOTEBOOKS if "-lab-" in p.name]
LAB_SERVERS = {"07-lab-redis-streams.ipynb": "redis-server", "08-lab-nats-jetstream.ipynb": "nats-server"}
MARK = "NBVAL_CHECK_OUTPUT"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(site_build.missing() is not None, reason=str(site_build.missing()))]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.scripts: list[dict[str, str]] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(attrs)
        elif tag == "script":
            self.scripts.append(attrs)
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def page(name: str) -> tuple[_Page, str]:
    html_dir, _ = site_build.built()
    raw = (html_dir / "notebooks" / f"{Path(name).stem}.html").read_text(encoding="utf-8")
    parsed = _Page()
    parsed.feed(raw)
    return parsed, " ".join(" ".join(parsed.text).split())


def executed(name: str) -> dict:
    """The notebook as the build executed it (Jupyter Book publishes it under _sources/)."""
    html_dir, _ = site_build.built()
    return json.loads((html_dir / "_sources" / "notebooks" / name).read_text(encoding="utf-8"))


def _outputs(nb: dict):
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            yield cell, out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_of_the_run_is_on_the_page_with_alt_text(path):
    parsed, _ = page(path.name)
    by_file = {Path(img.get("src", "")).name: img for img in parsed.images}
    figures = 0
    for cell, out in _outputs(executed(path.name)):
        png = out.get("data", {}).get("image/png")
        if not png:
            continue
        figures += 1
        name = hashlib.sha256(base64.b64decode(png)).hexdigest() + ".png"  # how myst-nb names it
        assert name in by_file, f"{path.name}: a figure of the run is not on the page ({name})"
        alt = by_file[name].get("alt", "")
        assert alt.startswith("Figure: ") and len(alt) > 30 and not alt.endswith(".png"), alt
    inline = [img for img in parsed.images if img.get("src", "").startswith("data:image/png")]
    for img in inline:  # the panels' figures, drawn by their run
        assert img.get("alt", "").startswith("Figure of the panel") and len(img["alt"]) > 40, img.get("alt")
    if path in LESSONS:  # every lesson draws (a figure of its own or a panel's)
        assert figures + len(inline) >= 1, f"{path.name}: no figure on the page"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_widgets_need_no_kernel(path):
    parsed, text = page(path.name)
    raw = (site_build.built()[0] / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-view+json" not in raw, f"{path.name}: a widget left for JavaScript"
    assert not any("widget" in s.get("src", "") for s in parsed.scripts)
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or "quiz(" not in "".join(cell["source"]):
            continue
        for call in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "quiz" and call.args:
                question = ast.literal_eval(call.args[0])
                assert " ".join(question.split()) in text, f"{path.name}: quiz not readable: {question[:80]}"


@pytest.mark.parametrize("path", LABS, ids=lambda p: p.stem)
def test_lab_pages_show_their_outputs(path):
    server = LAB_SERVERS.get(path.name)
    if server and not shutil.which(server) and not any(Path(d, server).exists() for d in ("/usr/sbin", "/usr/local/sbin")):
        pytest.skip(f"no {server}: the lab's page shows its skip message instead")
    _, text = page(path.name)
    stored = json.loads(path.read_text())
    checked = 0
    for cell in stored["cells"]:
        if cell["cell_type"] == "code" and MARK in "".join(cell["source"]):
            for out in cell["outputs"]:
                lines = "".join(out.get("text", "") or out.get("data", {}).get("text/plain", "")).splitlines()
                first = next((" ".join(line.split()) for line in lines if line.strip()), "")
                if first:
                    assert first in text, f"{path.name}: the page lacks the output line {first!r}"
                    checked += 1
    assert checked >= 3


def test_the_site_holds_no_solution_and_every_page(tmp_path):
    html_dir, timings = site_build.built()
    for path in NOTEBOOKS:
        assert (html_dir / "notebooks" / f"{path.stem}.html").is_file()
    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        assert (html_dir / "exercises" / f"{path.stem}.html").is_file()
    for path in html_dir.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".ipynb", ".txt", ".js"):
            assert "### BEGIN SOLUTION" not in path.read_text(encoding="utf-8", errors="replace"), path
    print("site build:", {k: round(v, 1) for k, v in timings.items()})
