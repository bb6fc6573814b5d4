"""Every control of every panel, moved in a real browser: JupyterLab (started as `make lab` starts it)
driven by headless Debian chromium through Playwright, as tests/test_browser.py drives it.

For every lesson (00 to 05, the notebooks but the labs): Run All, then for each panel (an output with controls
and a figure): no label, button or readout cut short with an ellipsis, no figure shown scaled; and for
each of its controls: a disabled control must say why it does not apply; an
enabled one is moved as a learner moves it, press by press (a slider's arrow keys, a toggle's next
button, a seed typed in, a dropdown's next option), and every press must change the panel's figure
or its numbers, and some press its figure. The time from each key press (or click) to the changed
figure, decoded and ready to paint, is measured in the page (performance.now(), a
MutationObserver on the panel's images): the medians per control go to
test-artifacts/browser-latency.json, which `make bench` prints (bench/bench_plots.py).

A scratch notebook (in test-artifacts/, never in the repository) shows the trace stepper and an
annotated diagram: its controls are moved and timed too, and with COURSE_SCREENSHOTS=1 the test
refreshes the README's docs/screenshots/stepper.png and annotated-diagram.png.
"""

from __future__ import annotations

import datetime
import json
import statistics
import time

import nbformat
import pytest

from test_browser import (ARTIFACTS, FIGURES_JS, LESSONS, ROOT, VIEWPORT, assert_no_errors, chromium_browser, lab_page,
                          open_notebook, run_all, screenshot, serving_lab)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPORT = ARTIFACTS / "browser-latency.json"
PRESSES = 6                 # per control: enough for a median (three steps up, three back)
CHANGE_TIMEOUT = 15.0       # s, a press until the panel shows its new output
TARGET_MS = 80.0            # issue 15: key press to changed figure, median per control (reported by bench)

CONTROLS = (".widget-slider, .widget-toggle-buttons, .widget-text, .widget-dropdown, .widget-button,"
            " .jupyter-button:not(.widget-toggle-button)")

# Outputs that hold a panel: controls and at least one figure.
PANELS_JS = r"""() => {
  const outs = Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output'));
  return outs.map((o, i) => [i, o.querySelectorAll('.widget-slider, .widget-toggle-buttons, .widget-button, .widget-dropdown').length,
                             o.querySelectorAll('img').length])
             .filter(([i, controls, imgs]) => controls > 0 && imgs > 0).map(([i]) => i);
}"""

# The panel's numbers: its text without the controls, the echo line ("ran with: ...") and the
# reasons line ("... does not apply: ...").
NUMBERS_JS = r"""(out) => {
  const copy = out.cloneNode(true);
  copy.querySelectorAll('.widget-slider, .widget-toggle-buttons, .widget-text, .widget-radio, .widget-dropdown,'
                        + ' .widget-checkbox, .widget-readout, .widget-label, .widget-button').forEach(e => e.remove());
  return copy.innerText.split('\n').filter(l => !l.startsWith('ran with:') && !l.includes(' does not apply: '))
             .join('\n').trim();
}"""

# Per output: when the last key press or click happened, and when a changed figure was decoded.
HOOK_JS = r"""(out) => {
  if (out.__latency) return;
  const state = out.__latency = {t0: null, figure: null};
  const mark = () => { state.t0 = performance.now(); state.figure = null; };
  out.addEventListener('keydown', mark, true);
  out.addEventListener('mousedown', mark, true);
  out.addEventListener('change', e => { if (e.target.tagName === 'SELECT') mark(); }, true);
  const seen = (img) => {
    const t0 = state.t0;
    if (t0 === null) return;
    img.decode().then(() => { if (state.t0 === t0 && state.figure === null) state.figure = performance.now(); })
       .catch(() => {});
  };
  new MutationObserver(mutations => {
    for (const m of mutations) {
      if (m.type === 'attributes' && m.target.tagName === 'IMG') seen(m.target);
      for (const node of m.addedNodes || []) {
        if (node.tagName === 'IMG') seen(node);
        else if (node.querySelectorAll) node.querySelectorAll('img').forEach(seen);
      }
    }
  }).observe(out, {subtree: true, attributes: true, attributeFilter: ['src'], childList: true});
}"""

LATENCY_JS = r"""(out) => out.__latency.figure === null ? null : out.__latency.figure - out.__latency.t0"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with serving_lab(tmp_path_factory, LESSONS) as server:
        yield server


@pytest.fixture(scope="module")
def browser(lab):
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser, lab):
    with lab_page(browser, lab) as page:
        yield page


@pytest.fixture(scope="module")
def measured():
    """Rows of the latency report, written once every test of the module has run."""
    rows: list[dict] = []
    yield rows
    if rows:
        ARTIFACTS.mkdir(exist_ok=True)
        REPORT.write_text(json.dumps({
            "measured": datetime.datetime.now().isoformat(timespec="seconds"), "viewport": VIEWPORT,
            "target_ms": TARGET_MS, "controls": rows}, indent=1), encoding="utf-8")


# -- moving one control ----------------------------------------------------------------------------


def control_name(control) -> str:
    label = control.query_selector(".widget-label")
    text = (label.inner_text() if label else "") or control.inner_text()
    return " ".join(text.split())[:30] or "control"


def is_disabled(control) -> bool:
    return bool(control.evaluate("""c => {
      const target = c.querySelector('.noUi-target');
      if (target) return target.hasAttribute('disabled');
      const inputs = Array.from(c.querySelectorAll('input, select, button'));
      if (c.tagName === 'BUTTON') return c.disabled;
      return inputs.length > 0 && inputs.every(i => i.disabled);
    }"""))


def press(page, control, k: int) -> str:
    """Move ``control`` once, as a learner does; return what was done. A slider goes three steps up
    and three back (down and up at the top of its range), so that each control is measured from the
    state the lesson left the panel in."""
    if control.query_selector(".noUi-handle"):
        handle = control.query_selector(".noUi-handle")
        handle.scroll_into_view_if_needed()
        if k == 0:
            top = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            control.evaluate("(c, top) => { c.__firstKey = top ? 'ArrowLeft' : 'ArrowRight'; }", top)
        first = control.evaluate("c => c.__firstKey")
        key = first if k % PRESSES < PRESSES // 2 else ("ArrowRight" if first == "ArrowLeft" else "ArrowLeft")
        handle.focus()
        page.keyboard.press(key)
        return key
    buttons = control.query_selector_all("button.widget-toggle-button")
    if buttons:
        active = next((i for i, b in enumerate(buttons) if "mod-active" in (b.get_attribute("class") or "")), 0)
        target = next(b for i, b in enumerate(buttons[active + 1:] + buttons[:active + 1]) if not b.is_disabled())
        target.scroll_into_view_if_needed()
        target.click()
        return f"click {target.inner_text()}"
    box = control.query_selector("input[type=number], input[type=text]")
    if box:
        box.scroll_into_view_if_needed()
        value = int(box.input_value() or 0) + 1
        box.click()
        box.fill(str(value))
        page.keyboard.press("Enter")
        return f"type {value}"
    select = control.query_selector("select")
    if select:
        options = select.evaluate("s => Array.from(s.options).map(o => o.value)")
        current = select.input_value()
        select.scroll_into_view_if_needed()
        select.select_option(options[(options.index(current) + 1) % len(options)])
        return "next option"
    control.scroll_into_view_if_needed()  # a button
    control.click()
    return f"click {control.inner_text()}"


def panel_state(output) -> tuple[str, str]:
    return output.evaluate(NUMBERS_JS), output.evaluate(FIGURES_JS)


def wait_for_change(page, output, before: tuple[str, str]) -> tuple[tuple[str, str], float | None]:
    """The panel's new (numbers, figure) once a press changed it, and the press-to-figure time."""
    deadline = time.monotonic() + CHANGE_TIMEOUT
    now = before
    while time.monotonic() < deadline:
        page.wait_for_timeout(30)
        now = panel_state(output)
        if "loading" in now[1]:
            continue
        latency = output.evaluate(LATENCY_JS)
        if now[1] != before[1] and latency is not None:
            page.wait_for_timeout(120)  # let the numbers, sent with the figure, arrive too
            return panel_state(output), latency
        if now[0] != before[0]:
            page.wait_for_timeout(250)  # the numbers changed: does the figure follow?
            later = panel_state(output)
            return later, output.evaluate(LATENCY_JS) if later[1] != before[1] else None
    return now, None


def move_every_control(page, output, where: str, rows: list[dict]) -> list[str]:
    """Press each control of the panel in ``output`` PRESSES times; return what went wrong."""
    output.evaluate(HOOK_JS)
    problems = []
    scaled = output.evaluate("o => Array.from(o.querySelectorAll('img')).filter(i => i.naturalWidth && "
                             "Math.abs(i.clientWidth - i.naturalWidth) > 1).map(i => [i.naturalWidth, i.clientWidth])")
    if scaled:
        problems.append(f"{where}: figures shown scaled (natural, shown width): {scaled}: blurred text")
    cut = output.evaluate("o => Array.from(o.querySelectorAll('button, .widget-label, .widget-readout'))"
                          ".filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.innerText)")
    if cut:
        problems.append(f"{where}: labels cut short (shown with an ellipsis): {cut}")
    controls = output.query_selector_all(CONTROLS)
    controls = [c for c in controls if not c.evaluate("c => c.parentElement.closest('.widget-toggle-buttons')")]
    # a choice of guarantee or of swept parameter last: it changes which other controls apply
    controls.sort(key=lambda c: bool(c.query_selector("button.widget-toggle-button")))
    # a stepper's "previous" right after its "next", so that it has steps to go back over (a median of 6)
    stepping = [c.evaluate("c => c.tagName === 'BUTTON' ? c.innerText : ''") for c in controls]
    back = next((i for i, t in enumerate(stepping) if "previous" in t), None)
    ahead = next((i for i, t in enumerate(stepping) if "next" in t), None)
    if back is not None and ahead is not None and back < ahead:
        controls.insert(ahead, controls.pop(back))
    names = []
    for control in controls:
        name = control_name(control)
        names.append(name)
        if is_disabled(control):
            if " does not apply: " not in output.inner_text() and "ran with:" in output.inner_text():
                problems.append(f"{where}: {name} is disabled and the panel does not say why")
            continue
        latencies, figure_changes = [], 0
        start = control.evaluate("c => { const i = c.querySelector('input'); return i ? i.value : null; }")
        is_text = bool(control.query_selector("input[type=number], input[type=text]"))
        toggles = len(control.query_selector_all("button.widget-toggle-button"))
        for k in range(2 * toggles or PRESSES):  # a toggle goes round its options twice (a median of 4-6)
            if is_disabled(control):  # a stepper's next button at the last step
                break
            before = panel_state(output)
            what = press(page, control, k)
            after, latency = wait_for_change(page, output, before)
            if after == before:
                problems.append(f"{where}: {name}: {what} changed neither the figure nor the numbers")
                continue
            if after[1] != before[1]:
                figure_changes += 1
                if latency is not None:
                    latencies.append(latency)
        if is_text and start is not None:  # the seed as the lesson set it, for the controls after it
            box = control.query_selector("input")
            before = panel_state(output)
            box.fill(start)
            page.keyboard.press("Enter")
            wait_for_change(page, output, before)
        if not figure_changes:
            problems.append(f"{where}: {name}: {PRESSES} presses never changed the figure")
        if latencies:
            rows.append({"lesson": where.split(" ")[0], "panel": where.split(" ", 1)[1], "control": name,
                         "median_ms": round(statistics.median(latencies), 1), "max_ms": round(max(latencies), 1),
                         "samples": len(latencies)})
    assert names, f"{where}: no control found"
    return problems


def panel_kind(output) -> str:
    text = output.inner_text()
    if "step " in text and "previous" in text:
        return "stepper"
    if "sweep" in text and "values of" in text:
        return "sweep panel"
    if "guarantee" in text:
        return "diagram panel"
    if "time per message" in text:
        return "outcome panel"
    if "crash point" in text:
        return "crash point panel"
    if "c1 works" in text:
        return "lease panel"
    return "notebook widgets"


# -- the tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lesson", LESSONS or [pytest.param(None, marks=pytest.mark.skip(
    reason="no lesson notebooks yet"))], ids=lambda p: p.stem if p else "none")
def test_every_control_of_every_panel_changes_the_figure(page, lab, lesson, measured):
    open_notebook(page, lab, lesson)
    run_all(page, lesson)
    assert_no_errors(page, lesson)
    indices = page.evaluate(PANELS_JS)
    assert indices, f"{lesson.name}: no panel (an output with controls and a figure) after Run All"
    problems = []
    for n, index in enumerate(indices):
        output = page.query_selector_all(".jp-NotebookPanel .jp-OutputArea-output")[index]
        output.evaluate("e => e.scrollIntoView({block: 'start'})")
        where = f"{lesson.stem[:2]} {panel_kind(output)} {n + 1}"
        problems += move_every_control(page, output, where, measured)
    assert_no_errors(page, lesson)
    assert not problems, "\n".join(problems)


STEPPER_DEMO = [
    "import semantics\n"
    "from semantics import Faults, Link, Node\n"
    "from semantics.sim.protocols import RetryingSender\n"
    "from semantics.views.plots import sequence_diagram\n"
    "from semantics.views.stepper import step_through",
    "class Receiver(Node):\n"
    "    \"\"\"Remembers in memory which messages it applied, and durably how many.\"\"\"\n"
    "    def on_start(self):\n"
    "        self.seen = set()\n"
    "\n"
    "    def on_message(self, msg_id, body):\n"
    "        if msg_id not in self.seen:\n"
    "            with self.atomic():\n"
    "                self.apply(body)\n"
    "                self.durable['applied'] = self.durable.get('applied', 0) + 1\n"
    "            self.seen.add(msg_id)\n"
    "        self.ack(msg_id)\n"
    "\n"
    "\n"
    "# the receiver crashes after applying m1, before m1's ack arrives: the retry of m1 is applied again\n"
    "view = step_through(RetryingSender, Receiver, n_messages=3, link=Link(ack_loss=0.5),\n"
    "                    faults=Faults(crash_times={'receiver': (1.5,)}, restart_after=4.0), seed=4)\n"
    "view.slider.value = next(s.number for s in view.recording.steps if s.wiped) + 1  # steps count from 1\n"
    "view",
    "report = semantics.simulate('at-least-once', n_messages=4, loss=0.1, ack_loss=0.1, seed=7, trace=True)\n"
    "sequence_diagram(report, title='at-least-once, seed 7: loss 0.10, ack loss 0.10')",
]


def test_the_stepper_and_an_annotated_diagram_in_the_browser(page, lab, measured):
    page.set_viewport_size({"width": VIEWPORT["width"], "height": 1300})  # the whole stepper in one screenshot
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "stepper-demo.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in STEPPER_DEMO])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (course)", "language": "python"}
    nbformat.write(nb, path)
    open_notebook(page, lab, path)
    run_all(page, path)
    assert_no_errors(page, path)
    outputs = page.query_selector_all(".jp-NotebookPanel .jp-OutputArea-output")
    stepper = next(o for o in outputs if "wiped by the crash" in o.inner_text())
    stepper.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    screenshot(page, "stepper", "stepper.png", element=stepper)
    assert "DOWN (crashed)" in stepper.inner_text() and "kept through the crash" in stepper.inner_text()
    diagram = outputs[-1]
    diagram.evaluate("e => e.scrollIntoView({block: 'start'})")
    size = diagram.query_selector("img").evaluate("img => [img.naturalWidth, img.clientWidth]")
    assert size[0] == size[1], f"the diagram is shown scaled ({size[1]} px for {size[0]}): blurred text"
    screenshot(page, "annotated-diagram", "annotated-diagram.png", element=diagram)
    problems = move_every_control(page, stepper, "stepper demo", measured)
    assert not problems, "\n".join(problems)
