"""The course in a real browser: JupyterLab started as `make lab` starts it, driven by headless
Debian chromium through Playwright.

For every lesson (the notebooks but the labs, 06-08): open it, Run > Run All Cells, wait for the kernel,
check that no cell shows an error, move a slider of a widget panel with the keyboard and check that
the panel's printed numbers and its figure both change, and click an answer of the self-check quiz.
A learner's wrong answer to exercise 1 must show the grader's counterexample with its sequence
diagram. The server must refuse requests without the token and make no news or update request.

Screenshots go to test-artifacts/ (gitignored) on every run. With COURSE_SCREENSHOTS=1 the test also
refreshes the README's docs/screenshots/lesson.png and counterexample.png (off by default, so that a
test run never changes tracked files).

Never runs `playwright install`: it uses /usr/bin/chromium (Debian's `chromium` package, which
.ci/run installs) and skips with the reason when it or the playwright package is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from itertools import count
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import launch_lab  # noqa: E402  (the README's launch logic: same command line, same environment)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LESSONS = sorted(p for p in ROOT.glob("notebooks/[0-9][0-9]-*.ipynb") if "-lab-" not in p.name)  # 00 to 05
EXERCISE = ROOT / "exercises" / "01-retries.ipynb"
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
README_LESSON = "01-at-most-once"           # the lesson shown in the README, when it exists
UPDATE_README_SHOTS = os.environ.get("COURSE_SCREENSHOTS") == "1"
VIEWPORT = {"width": 1280, "height": 900}

SERVER_START_TIMEOUT = 60.0     # s, until /api/status answers
RUN_ALL_TIMEOUT = 90_000        # ms, Run All Cells until the kernel is idle again
CHANGE_TIMEOUT = 20_000         # ms, a slider move until the panel shows new numbers and a new figure

# A plausible first attempt at exercise 1: retries, but gives up after 3. The grader must refute it
# with a counterexample (a partition longer than 3 timeouts) and draw its sequence diagram.
WRONG_SENDER = '''\
class Sender(Node):
    """A first attempt: resend on a timeout, but give up after 3 retries."""

    timeout = 3.0

    def on_start(self):
        self.unacked = {}  # msg_id -> (body, retries left)

    def on_send(self, msg_id, body):
        self.unacked[msg_id] = (body, 3)
        self.send("receiver", msg_id, body)
        self.set_timer(msg_id, self.timeout)

    def on_ack(self, msg_id):
        if self.unacked.pop(msg_id, None) is not None:
            self.cancel_timer(msg_id)

    def on_timer(self, msg_id):
        body, left = self.unacked.get(msg_id, (None, 0))
        if left > 0:
            self.unacked[msg_id] = (body, left - 1)
            self.send("receiver", msg_id, body)
            self.set_timer(msg_id, self.timeout)
'''


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium), as .ci/run does"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


# -- the server ------------------------------------------------------------------------------------


class LabServer:
    """JupyterLab on 127.0.0.1 with a fresh token and a free port, its state in ``state_dir``.

    Started as a process group of its own; stop() ends it (and every kernel it started, which
    jupyter_client puts in sessions of their own) whatever state the test left it in.
    """

    def __init__(self, root: Path, state_dir: Path) -> None:
        self.root, self.state_dir = root, state_dir
        self.token = launch_lab.new_token()
        self.port = launch_lab.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = state_dir / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None
        self._pids: set[int] = set()
        self._workspace = count(1)

    def start(self) -> LabServer:
        env = launch_lab.environment(self.state_dir, token=self.token)  # the token in JUPYTER_TOKEN
        # Test-only user settings: render every cell, so that outputs far down a lesson are in the
        # DOM; never autosave, so that running (or editing) a notebook never rewrites the repository.
        user_settings = {("notebook-extension", "tracker"): {"windowingMode": "none"},
                         ("docmanager-extension", "plugin"): {"autosave": False}}
        for (extension, plugin), values in user_settings.items():
            folder = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / extension
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
        cmd = launch_lab.command(self.port, "127.0.0.1", open_browser=False, root=self.root)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode}:\n{self.log()}")
            try:
                status = self.api("GET", "/api/status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer /api/status within "
                                       f"{SERVER_START_TIMEOUT:.0f} s:\n{self.log()}") from None
                time.sleep(0.25)
        assert "started" in status, status
        return self

    def api(self, method: str, path: str, timeout: float = 5.0):
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel_ready(self, path: str) -> bool:
        """True when a session for ``path`` has a kernel that is idle."""
        try:
            sessions = self.api("GET", "/api/sessions")
        except (OSError, urllib.error.URLError):
            return False
        return any(s.get("path") == path and (s.get("kernel") or {}).get("execution_state") == "idle"
                   for s in sessions)

    def page_url(self, path: str) -> str:
        """The URL of ``path`` in a workspace of its own (no tabs restored from an earlier test)."""
        return f"{self.url}/lab/workspaces/test{next(self._workspace)}/tree/{path}?token={self.token}"

    def remember_children(self) -> None:
        """Note the server's descendants (kernels) so that stop() can end them too."""
        with contextlib.suppress(Exception):
            import psutil
            self._pids.update(p.pid for p in psutil.Process(self.proc.pid).children(recursive=True))

    def shutdown_kernels(self) -> None:
        self.remember_children()
        with contextlib.suppress(Exception):
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        self.remember_children()
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.api("POST", "/api/shutdown")  # stops the kernels, then the server
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        for pid in self._pids:  # kernels run in sessions of their own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def serving_lab(tmp_path_factory, opened):
    """JupyterLab for a browser test module (skipped without chromium or playwright); afterwards, the
    notebooks it ``opened`` must be as they were (a learning session writes nothing into the course)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    before = {path: path.read_bytes() for path in opened if path.exists()}
    server = LabServer(ROOT, tmp_path_factory.mktemp("jupyter-state"))
    try:
        yield server.start()
    finally:
        server.stop()
    changed = [path.name for path, data in before.items() if path.read_bytes() != data]
    assert not changed, f"the browser test changed notebooks in the repository: {changed}"


@contextlib.contextmanager
def chromium_browser():
    """Debian's chromium, driven headless by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def lab_page(browser, lab):
    """A fresh page that collects the page's errors in ``page.problems``; the kernels it started are
    shut down afterwards."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.problems = problems
    try:
        yield page
    finally:
        context.close()
        lab.shutdown_kernels()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with serving_lab(tmp_path_factory, [*LESSONS, EXERCISE]) as server:
        yield server


@pytest.fixture(scope="module")
def browser(lab):
    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser, lab):
    with lab_page(browser, lab) as page:
        yield page


# -- driving JupyterLab ------------------------------------------------------------------------------

# Outputs a learner would read as "something broke": a traceback (JupyterLab renders error outputs
# with the stderr MIME type), or a widget that could not be displayed.
ERRORS_JS = r"""() => {
  const found = [];
  for (const out of document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output')) {
    const text = out.innerText || '';
    const stderr = out.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr';
    if ((stderr && /Traceback|^\w*(Error|Exception)\b/m.test(text)) || /Traceback \(most recent call last\)/.test(text)
        || /Error displaying widget|Failed to (create|render) (the )?(widget|model)/i.test(text)) {
      const cell = out.closest('.jp-Cell');
      const prompt = cell && cell.querySelector('.jp-InputPrompt');
      found.push(((prompt && prompt.innerText.trim()) || '?') + ' ' + text.slice(0, 1500));
    }
  }
  return found;
}"""

# Run All has finished when the kernel is idle, no prompt shows [*], and every code cell has run
# (or an error stopped the run: JupyterLab then leaves the rest unexecuted).
DONE_JS = r"""(nCode) => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return false;
  const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  if (indicator && indicator.getAttribute('data-status') !== 'idle') return false;
  const prompts = Array.from(panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')).map(p => p.innerText.trim());
  if (prompts.some(p => p.includes('*'))) return false;
  const executed = prompts.filter(p => /\[\d+\]/.test(p)).length;
  const error = panel.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  return executed >= nCode || (executed > 0 && error !== null);
}"""

STATE_JS = r"""() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const indicator = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
  return {status: indicator ? indicator.getAttribute('data-status') : 'no indicator',
          prompts: panel ? Array.from(panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')).map(p => p.innerText.trim()) : []};
}"""


def _code_cells(path: Path) -> int:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return sum(1 for cell in notebook["cells"] if cell["cell_type"] == "code")


def open_notebook(page, lab: LabServer, path: Path) -> None:
    relative = path.relative_to(lab.root).as_posix()
    page.goto(lab.page_url(relative))
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=60_000)
    # The kernel must start by itself (a "Select Kernel" dialog means its kernelspec is unreachable).
    # The toolbar says "idle" before any kernel exists, so ask the server for the session first.
    deadline = time.monotonic() + 60
    while not lab.kernel_ready(relative):
        dialog = page.query_selector(".jp-Dialog")
        assert dialog is None, f"JupyterLab shows a dialog on opening {path.name}: {dialog.inner_text()[:500]}"
        assert time.monotonic() < deadline, f"no kernel started for {relative} within 60 s:\n{lab.log()}"
        page.wait_for_timeout(250)
    page.wait_for_function(r"""() => {
      const i = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');
      return document.querySelector('.jp-Dialog') !== null || (i !== null && i.getAttribute('data-status') === 'idle');
    }""", timeout=60_000)
    dialog = page.query_selector(".jp-Dialog")
    assert dialog is None, f"JupyterLab shows a dialog on opening {path.name}: {dialog.inner_text()[:500]}"
    # more room for the notebook (and the screenshots): collapse the file browser, as a click on its
    # tab does (cosmetic: never a reason to fail)
    with contextlib.suppress(Exception):
        page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current", timeout=2_000)


def run_all(page, path: Path) -> None:
    """Run > Run All Cells, as a learner would, and wait until it has finished."""
    page.click(".lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    n_code = _code_cells(path)
    try:
        page.wait_for_function(DONE_JS, arg=n_code, timeout=RUN_ALL_TIMEOUT, polling=250)
    except PlaywrightTimeout:
        shot = screenshot(page, f"timeout-{path.stem}")
        state = page.evaluate(STATE_JS)
        raise AssertionError(f"{path.name}: Run All did not finish within {RUN_ALL_TIMEOUT / 1000:.0f} s "
                             f"({n_code} code cells); kernel {state['status']}, prompts {state['prompts']}; "
                             f"screenshot {shot}") from None


def assert_no_errors(page, path: Path) -> None:
    errors = page.evaluate(ERRORS_JS)
    assert not errors, f"{path.name} shows error output(s) in the browser:\n" + "\n---\n".join(errors)
    assert not page.problems, f"{path.name}: JavaScript errors in the page: {page.problems}"


def assert_no_news_popup(page) -> None:
    toasts = [t.inner_text() for t in page.query_selector_all(".Toastify__toast")]
    assert not [t for t in toasts if re.search(r"news|update", t, re.I)], f"news/update pop-up shown: {toasts}"


# A widget panel: an output holding an enabled slider and a figure. Its "numbers" are the output's
# text without the controls' own labels and readouts (which change with any slider move).
PANELS_JS = r"""() => {
  const outs = Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-OutputArea-output'));
  return outs.map((o, i) => [i, o.querySelectorAll('.widget-slider .noUi-target:not([disabled]) .noUi-handle').length,
                             o.querySelectorAll('img').length])
             .filter(([i, sliders, imgs]) => sliders > 0 && imgs > 0).map(([i]) => i);
}"""
PANEL_TEXT_JS = r"""(out) => {
  const copy = out.cloneNode(true);
  copy.querySelectorAll('.widget-slider, .widget-toggle-buttons, .widget-text, .widget-radio, .widget-dropdown,'
                        + ' .widget-checkbox, .widget-readout, .widget-label').forEach(e => e.remove());
  return copy.innerText.trim();
}"""


# A fingerprint of every figure in the output, from its full decoded pixels (an element screenshot
# would only see the part inside the viewport).
FIGURES_JS = r"""(out) => Array.from(out.querySelectorAll('img')).map(img => {
  if (!img.complete || !img.naturalWidth) return 'loading';
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let h = 2166136261;
  for (let i = 0; i < data.length; i++) { h ^= data[i]; h = Math.imul(h, 16777619); }
  return canvas.width + 'x' + canvas.height + ':' + (h >>> 0).toString(16);
}).join(' ')"""


def panel_state(output) -> tuple[str, str]:
    """(the numbers as text, a fingerprint of the figures' pixels) of a panel output."""
    return output.evaluate(PANEL_TEXT_JS), output.evaluate(FIGURES_JS)


def move_slider(page, output, nth: int) -> str:
    """Focus the nth enabled slider of ``output`` and press an arrow key until its value moves.

    The value is read from the slider's readout (noUiSlider's aria-valuenow lags behind it)."""
    slider = output.query_selector_all(".widget-slider:has(.noUi-target:not([disabled]))")[nth]
    handle = slider.query_selector(".noUi-handle")
    readout = slider.query_selector(".widget-readout")
    label = slider.query_selector(".widget-label").inner_text()
    handle.scroll_into_view_if_needed()
    before = readout.inner_text()
    # PageUp/PageDown: five steps at once (one "change" event): a one-step move of a seeded run
    # can leave a short run's outcome as it was
    at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
    keys = ("PageDown", "ArrowLeft") if at_max else ("PageUp", "ArrowRight")
    handle.focus()
    after = before
    for key in (*keys, *keys):
        page.keyboard.press(key)
        page.wait_for_timeout(150)
        after = readout.inner_text()
        if after != before:
            break
    assert after != before, f"slider {label!r} did not move with {keys} (readout {before})"
    return f"{label}: {before} -> {after}"


def wait_for_change(page, output, before: tuple[str, str]) -> tuple[str, str]:
    deadline = time.monotonic() + CHANGE_TIMEOUT / 1000
    while True:
        page.wait_for_timeout(250)
        now = panel_state(output)
        if now[0] != before[0] and now[1] != before[1] and "loading" not in now[1]:
            return now
        if time.monotonic() > deadline:
            return now


def screenshot(page, name: str, readme_name: str | None = None, element=None) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    (element or page).screenshot(path=str(path))
    if readme_name and UPDATE_README_SHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / readme_name)
    return path


# -- the tests -------------------------------------------------------------------------------------


def test_lab_is_private_and_quiet(lab):
    """The server `make lab` starts: a token is required, and no news or update check reaches out."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{lab.url}/api/status", timeout=5)
    assert refused.value.code == 403
    notification = lab.api("GET", "/lab/api/settings/@jupyterlab/apputils-extension:notification")
    defaults = {name: prop.get("default") for name, prop in notification["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False, (
        f"news/update settings not applied ({defaults}): run `python scripts/jupyter_settings.py` (make does)")
    assert lab.api("GET", "/lab/api/news") == {"news": []}


@pytest.mark.parametrize("lesson", LESSONS or [pytest.param(None, marks=pytest.mark.skip(
    reason="no lesson notebooks yet"))], ids=lambda p: p.stem if p else "none")
def test_lesson_runs_and_its_widgets_respond(page, lab, lesson):
    open_notebook(page, lab, lesson)
    run_all(page, lesson)
    assert_no_errors(page, lesson)
    assert_no_news_popup(page)

    panels = page.evaluate(PANELS_JS)
    assert panels, f"{lesson.name}: no widget panel (an output with a slider and a figure) after Run All"
    outputs = page.query_selector_all(".jp-NotebookPanel .jp-OutputArea-output")
    output = outputs[panels[0]]
    output.evaluate("e => e.scrollIntoView({block: 'start'})")
    before = panel_state(output)
    assert before[0], f"{lesson.name}: the panel shows no numbers as text"
    assert before[1] and "loading" not in before[1], f"{lesson.name}: the panel's figure is not shown"

    moves = []
    n_sliders = len(output.query_selector_all(".widget-slider:has(.noUi-target:not([disabled]))"))
    for nth in range(min(n_sliders, 3)):  # a slider that changes nothing is possible; three are not
        moves.append(move_slider(page, output, nth))
        after = wait_for_change(page, output, before)
        if after[0] != before[0] and after[1] != before[1]:
            break
    text_changed, figure_changed = after[0] != before[0], after[1] != before[1]
    output.evaluate("e => e.scrollIntoView({block: 'start'})")
    shot = screenshot(page, f"lesson-{lesson.stem}", "lesson.png" if lesson.stem == README_LESSON else None)
    assert text_changed and figure_changed, (
        f"{lesson.name}: after moving {moves}, numbers changed: {text_changed}, figure changed: {figure_changed}"
        f"\nbefore: {before[0][:400]!r}\nafter:  {after[0][:400]!r}\n(screenshot: {shot})")
    answer_a_quiz(page, lesson)
    assert_no_errors(page, lesson)


def answer_a_quiz(page, lesson: Path) -> None:
    """Click an option of the lesson's first self-check quiz: it must answer with an explanation."""
    quiz = page.locator(".jp-NotebookPanel .jp-OutputArea-output", has_text="Self-check.").filter(
        has=page.locator(".widget-radio-box input")).first
    assert quiz.count() > 0, f"{lesson.name}: no self-check quiz (semantics.views.quiz) shown after Run All"
    quiz.scroll_into_view_if_needed()
    quiz.locator(".widget-radio-box label").first.click()
    feedback = quiz.locator("text=/^(Correct|Not quite)\\./")
    feedback.first.wait_for(timeout=10_000)
    assert len(quiz.inner_text()) > 80, f"{lesson.name}: the quiz's feedback explains nothing: {quiz.inner_text()!r}"


@pytest.mark.skipif(not EXERCISE.exists(), reason=f"{EXERCISE.relative_to(ROOT)} does not exist yet")
def test_wrong_answer_shows_a_counterexample_diagram(page, lab):
    """A learner types a wrong Sender into exercise 1 and runs the notebook: the grader's verdict
    names the broken invariant and draws the counterexample's sequence diagram."""
    open_notebook(page, lab, EXERCISE)
    cells = json.loads(EXERCISE.read_text(encoding="utf-8"))["cells"]
    index = next(i for i, c in enumerate(cells) if "solution" in c.get("metadata", {}).get("tags", []))
    cell = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    assert "class Sender" in cell.inner_text(), cell.inner_text()[:300]
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(WRONG_SENDER)  # as a paste: no auto-indent
    page.keyboard.press("Escape")
    assert "give up after 3 retries" in cell.inner_text()
    run_all(page, EXERCISE)
    assert_no_errors(page, EXERCISE)
    check_cell = page.locator(".jp-NotebookPanel .jp-CodeCell",
                              has=page.locator(".jp-OutputArea-output", has_text="NOT PASSED")).first
    check_cell.wait_for(timeout=30_000)
    text = check_cell.locator(".jp-OutputArea").inner_text()
    assert "Broken invariant" in text and "Replay it" in text, text[:1000]
    diagram = check_cell.locator(".jp-OutputArea img").last
    diagram.wait_for(timeout=30_000)
    size = diagram.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size[0] > 200 and size[1] > 100, f"counterexample diagram too small: {size}"
    diagram.evaluate("e => e.scrollIntoView({block: 'end'})")
    screenshot(page, "counterexample", "counterexample.png")
