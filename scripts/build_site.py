"""Build the course website (Jupyter Book 1) with every lesson and lab executed at build time.

    python scripts/build_site.py [--out _site] [--keep-stage DIR]     (make site)

The build stages the book in a temporary folder (site/ holds its configuration and front page):

1. every notebook of notebooks/ (lessons and labs) is executed there with nbclient on the course's
   kernel, as a learner would run it; the labs start their own redis-server / nats-server when one is
   installed (/usr/sbin is searched, as `make lab` does);
2. every figure gets real alt text: while the build runs a notebook, IPython describes each
   matplotlib figure in text (its kind, titles, axis labels and legend), and that description becomes
   the figure's alt text on the page;
3. widgets, which need a kernel, are rendered statically from the state the run left: a panel shows
   its controls' values, its numbers and its figure at their defaults; a quiz shows the text/html
   fallback it carries (the question, then the answer folded in a <details>) or, without one, its
   question and options;
4. the exercises' statements are copied without running them (an unsolved exercise only says "not
   implemented yet"; the answers are never published);
5. `jupyter-book build` renders the staged book (its execution is off: step 1 did it) and the HTML
   goes to --out.

Jupyter Book 1 (Sphinx, myst-nb) rather than Jupyter Book 2 / mystmd: it installs from Python
packages alone (pip install -e '.[site]'), while mystmd needs Node.js and downloads its theme at
build time, which a fresh CI machine without internet access beyond the package registries cannot do.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
CELL_TIMEOUT = 600  # s: the labs' kill loops take tens of seconds on a busy machine

sys.path.insert(0, str(ROOT / "scripts"))
import launch_lab  # noqa: E402  (the labs' server search path, as `make lab` sets it)

# Run in the kernel before the notebook's own cells (and removed from the page): every matplotlib
# figure the notebook shows also gets a text/plain description, which becomes its alt text.
PREAMBLE = r'''
def _course_alt_text(fig):
    """A description of a figure for readers who cannot see it: what it plots, from its own text."""
    parts = []
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    if title:
        parts.append(title)
    for ax in fig.axes:
        bits = []
        if ax.get_title():
            bits.append(ax.get_title())
        if ax.get_xlabel() or ax.get_ylabel():
            bits.append("plotted " + " against ".join(l for l in (ax.get_ylabel(), ax.get_xlabel()) if l))
        legend = ax.get_legend()
        if legend is not None:
            labels = [t.get_text() for t in legend.get_texts() if t.get_text()]
            if labels:
                bits.append("legend: " + ", ".join(labels))
        elif not ax.get_xlabel() and not ax.get_ylabel():
            names = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
            if names:
                bits.append("rows: " + ", ".join(names))
        if bits:
            parts.append("; ".join(bits))
    text = ". ".join(p.strip().rstrip(".") for p in parts if p.strip())
    return "Figure: " + (text or "a figure without titles or labels") + "."

# IPython's text/plain printer asks a class for _repr_pretty_ before its __repr__; a printer
# registered with for_type would not last: `%matplotlib inline` and the first pyplot import remove
# every formatter registered for Figure.
from matplotlib.figure import Figure as _CourseFigure
_CourseFigure._repr_pretty_ = lambda fig, printer, cycle: printer.text(_course_alt_text(fig))
'''


# -- execution ---------------------------------------------------------------------------------------


def execute(source: Path, target: Path) -> float:
    """Run ``source`` (in the folder of ``target``) and write it, with its outputs, to ``target``."""
    nb = nbformat.read(source, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(PREAMBLE))
    env = launch_lab.environment(None)  # PATH with the sbin folders: the labs find nats-server
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(target.parent)}})
    client.km = client.create_kernel_manager()
    with _environment(env):
        client.execute()
    del nb.cells[0]
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            describe_figures(cell)
            cell.outputs = [static_widget(o, state) for o in cell.outputs]
    nbformat.write(nb, target)
    return time.monotonic() - start


class _environment:
    """os.environ as ``env`` while the kernel starts (nbclient starts it with os.environ)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env, self.saved = env, None

    def __enter__(self) -> None:
        self.saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)

    def __exit__(self, *exc: object) -> None:
        os.environ.clear()
        os.environ.update(self.saved)


def describe_figures(cell: nbformat.NotebookNode) -> None:
    """Put the figures' descriptions (their text/plain, from PREAMBLE) into the cell's myst-nb image
    options, where Jupyter Book reads the alt text of the cell's images."""
    descriptions = [o.data["text/plain"] for o in cell.outputs
                    if "image/png" in o.get("data", {}) and str(o.data.get("text/plain", "")).startswith("Figure: ")]
    if descriptions:
        alt = " ".join(dict.fromkeys(descriptions))  # a cell with several figures: all of them, once each
        cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt


# -- widgets, statically ---------------------------------------------------------------------------------


def static_widget(output: nbformat.NotebookNode, state: dict) -> nbformat.NotebookNode:
    """A widget output as a page can show it without a kernel: its own text/html fallback when it has
    one (the quizzes), else a rendering of the state its run left (controls, text, figures)."""
    data = output.get("data", {})
    if WIDGET_VIEW not in data:
        return output
    if "text/html" in data:
        rendered = data["text/html"]
    else:
        model = data[WIDGET_VIEW].get("model_id", "")
        rendered = ('<div class="course-static-widget" style="border-left:3px solid #999;padding:0.3em 0.8em">'
                    '<p><em>An interactive panel, shown at its defaults: run this notebook in JupyterLab to move '
                    'its controls.</em></p>' + _render(model, state, set(), model) + "</div>")
    return nbformat.v4.new_output("display_data", data={"text/html": rendered,
                                                        "text/plain": data.get("text/plain", "")})


def _render(model_id: str, state: dict, seen: set[str], panel: str = "") -> str:
    if model_id in seen or model_id not in state:
        return ""
    seen.add(model_id)
    entry = state[model_id]
    name, values = entry.get("model_name", ""), entry.get("state", {})
    label = html.escape(str(values.get("description", "")))
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"<div>{values.get('value', '')}</div>"
    if name == "LabelModel":
        return f"<p>{html.escape(str(values.get('value', '')))}</p>"
    if name == "ImageModel":
        buffers = {tuple(b["path"]): b["data"] for b in entry.get("buffers", [])}
        png = buffers.get(("value",)) or values.get("value", "")
        if not png:
            return ""
        return (f'<p><img src="data:image/png;base64,{png}" alt="{html.escape(_image_alt(state, panel))}" '
                f'style="max-width:100%"></p>')
    if name.endswith("SliderModel") or name in ("BoundedIntTextModel", "BoundedFloatTextModel", "IntTextModel",
                                                 "FloatTextModel", "CheckboxModel", "ToggleButtonModel"):
        return f"<span style='margin-right:1.2em'>{label} = <code>{html.escape(str(values.get('value')))}</code></span>"
    if name in ("RadioButtonsModel", "DropdownModel", "ToggleButtonsModel", "SelectModel"):
        options = values.get("_options_labels", [])
        items = "".join(f"<li>{html.escape(str(o))}</li>" for o in options)
        return f"<p>{label}</p><ul>{items}</ul>"
    children = values.get("children", [])
    inner = "".join(_render(c.removeprefix("IPY_MODEL_"), state, seen, panel) for c in children)
    return f"<div>{inner}</div>" if inner else ""


def _image_alt(state: dict, panel: str) -> str:
    """A panel figure's alt text: the panel's own numbers (its HTML texts, before or after the figure),
    which the figure draws."""
    texts = [html.unescape(_strip_tags(state[m]["state"].get("value", ""))) for m in _descendants(panel, state)
             if state.get(m, {}).get("model_name") == "HTMLModel"]
    summary = " ".join(" ".join(texts).split())
    return "Figure of the panel at its defaults" + (f": {summary[:600]}" if summary else "")


def _descendants(model_id: str, state: dict) -> list[str]:
    """The models a widget shows, itself first, in the order it shows them."""
    found, todo = [], [model_id]
    while todo:
        current = todo.pop(0)
        if current in found or current not in state:
            continue
        found.append(current)
        todo += [c.removeprefix("IPY_MODEL_") for c in state[current].get("state", {}).get("children", [])]
    return found


def _strip_tags(text: str) -> str:
    import re

    return re.sub(r"<[^>]+>", " ", text)


# -- the book ----------------------------------------------------------------------------------------------


def toc(lessons: list[str], labs: list[str], exercises: list[str]) -> str:
    def part(caption: str, files: list[str]) -> str:
        return f"  - caption: {caption}\n    chapters:\n" + "".join(f"      - file: {f}\n" for f in files)

    return ("# Generated by scripts/build_site.py from the notebooks present.\nformat: jb-book\nroot: index\nparts:\n"
            + part("Lessons", lessons) + part("Labs on real systems", labs) + part("Exercises", exercises))


def stage(book: Path) -> dict[str, float]:
    """Write the book's sources into ``book``: configuration, executed notebooks, exercises."""
    for name in ("_config.yml", "index.md", "favicon.png"):
        shutil.copyfile(SITE / name, book / name)
    shutil.copytree(SITE / "_ext", book / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    timings = {}
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        timings[path.name] = execute(path, book / "notebooks" / path.name)
        print(f"executed notebooks/{path.name} in {timings[path.name]:.1f} s", flush=True)
    (book / "exercises").mkdir(parents=True, exist_ok=True)
    exercises = sorted((ROOT / "exercises").glob("*.ipynb"))
    for path in exercises:
        shutil.copyfile(path, book / "exercises" / path.name)
    labs = [f"notebooks/{p.stem}" for p in notebooks if "-lab-" in p.name]
    lessons = [f"notebooks/{p.stem}" for p in notebooks if "-lab-" not in p.name]
    (book / "_toc.yml").write_text(toc(lessons, labs, [f"exercises/{p.stem}" for p in exercises]), encoding="utf-8")
    return timings


def build(out: Path, keep_stage: Path | None = None) -> dict[str, float]:
    """Stage, execute and build the site into ``out``; return the seconds each step took."""
    with tempfile.TemporaryDirectory(prefix="course-site-") as tmp:
        book = (keep_stage or Path(tmp) / "book").resolve()
        if book.exists():
            shutil.rmtree(book)
        book.mkdir(parents=True)
        start = time.monotonic()
        timings = stage(book)
        timings["execute (all)"] = time.monotonic() - start
        start = time.monotonic()
        done = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(book), "--path-output",
                               str(Path(tmp) / "output"), "--builder", "html", "--keep-going"],
                              capture_output=True, text=True)
        timings["jupyter-book build"] = time.monotonic() - start
        if done.returncode != 0:
            raise RuntimeError(f"jupyter-book build failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        warnings = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "WARNING" in line]
        if warnings:
            raise RuntimeError("jupyter-book build warned (every warning is a page that renders wrong):\n"
                               + "\n".join(warnings[:30]))
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(Path(tmp) / "output" / "_build" / "html", out)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_site", help="where the HTML goes (default _site/)")
    parser.add_argument("--keep-stage", type=Path, default=None,
                        help="stage the book here and keep it (to look at the executed notebooks)")
    args = parser.parse_args(argv)
    timings = build(args.out.resolve(), args.keep_stage)
    for step, seconds in timings.items():
        print(f"  {step:<40} {seconds:6.1f} s")
    print(f"site: {args.out.resolve() / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
