"""`make lab` as a learner runs it, in headless Debian chromium (Playwright):

- the URL it prints opens lesson 00, with its token; the token is on no process's command line; the
  server's runtime files are private (0600 in 0700 folders);
- a lesson run and saved in the lab lands in the learner's working copy: the tracked notebooks stay
  as they are, `git status` is as clean as before, and the stored-outputs test of `make test` passes;
- the widget panels' controls render uncut in JupyterLab and in Notebook 7, and every slider has an
  accessible name (what a screen reader announces when the keyboard reaches it: ipywidgets 8 gives
  none; the course's extension in labextension/ names each handle after its description).

The server is the one `make lab` starts (PORT, WORKDIR and LAB_ARGS point it at a free port, a
temporary working copy and a temporary Jupyter state)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import launch_lab  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
LESSON = "notebooks/00-introduction.ipynb"
PANEL_LESSON = "notebooks/01-at-most-once.ipynb"
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# every code cell has run (or an error stopped the run), and none is running
DONE_JS = r"""(nCode) => {
  const prompts = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt'))
    .map(p => p.innerText.trim());
  if (prompts.some(p => p.includes('*'))) return false;
  const executed = prompts.filter(p => /\[\d+\]/.test(p)).length;
  const error = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  return executed >= nCode || (executed > 0 && error !== null);
}"""

# The controls of every widget panel: cut when a control or its label is wider than what shows it.
CUT_JS = r"""() => {
  const cut = [];
  for (const out of document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')) {
    const box = out.getBoundingClientRect();
    for (const control of out.querySelectorAll('.widget-slider, .widget-text, .widget-radio-box, .widget-toggle-buttons')) {
      const r = control.getBoundingClientRect();
      const label = control.querySelector('.widget-label');
      if (r.right > box.right + 1 || r.width < 40) cut.push(`control ${control.innerText.trim()}: ${r.left}-${r.right} in ${box.left}-${box.right}`);
      if (label && label.textContent.trim() && label.scrollWidth > label.clientWidth + 1)
        cut.push(`label ${label.textContent.trim()}: ${label.scrollWidth}px in ${label.clientWidth}px`);
    }
  }
  return cut;
}"""

# The accessible name of every slider a keyboard reaches (role=slider), as the ARIA spec computes it
# for these elements: aria-labelledby, aria-label, then title.
NAMES_JS = r"""() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output [role=slider]')).map(s => {
  const ids = (s.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean);
  const byId = ids.map(id => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
  return byId || (s.getAttribute('aria-label') || '').trim() || (s.getAttribute('title') || '').trim();
})"""


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: apt-get install chromium (.ci/run does)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright Python package is not installed"
    return None


class MakeLab:
    """`make lab` in a process group of its own, its printed URL read from its output."""

    def __init__(self, tmp: Path) -> None:
        self.work, self.state = tmp / "work", tmp / "state"
        # test-only user setting: render every cell, so that Run All's prompts are all in the DOM
        # (autosave stays on, as a learner has it)
        tracker = self.state / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
        tracker.mkdir(parents=True)
        (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        self.port = launch_lab.free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("COURSE_TOKEN", "JUPYTER_TOKEN", "MAKEFLAGS")}
        self.proc = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"PORT={self.port}", f"WORKDIR={self.work}",
             f"LAB_ARGS=--no-browser --state-dir {self.state}", f"PYTHON={sys.executable}"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.output: list[str] = []
        deadline = time.monotonic() + 120
        self.url = ""
        while not self.url:
            line = self.proc.stdout.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError("make lab exited:\n" + "".join(self.output))
            self.output.append(line)
            if m := re.search(r"The course is at: (\S+)", line):
                self.url = m.group(1)
            assert time.monotonic() < deadline, "make lab printed no URL:\n" + "".join(self.output)
        self.token = self.url.split("token=", 1)[1]
        self.base = f"http://127.0.0.1:{self.port}"
        while True:
            try:
                self.api("/api/status")
                break
            except (OSError, urllib.error.URLError):
                assert time.monotonic() < deadline, "JupyterLab did not answer"
                time.sleep(0.25)

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(self.base + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def stop(self) -> None:
        import psutil

        children = []
        with contextlib.suppress(Exception):
            children = psutil.Process(self.proc.pid).children(recursive=True)
        with contextlib.suppress(Exception):
            self.api("/api/shutdown", "POST")
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        for child in children:
            with contextlib.suppress(Exception):
                child.kill()


def _git_status() -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    before = _git_status()
    tracked = {p: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")}
    server = MakeLab(tmp_path_factory.mktemp("make-lab"))
    server.git_before, server.tracked = before, tracked
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()
            chromium.close()


def _code_cells(path: Path) -> int:
    return sum(1 for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")


def _run_all(page, path: Path) -> None:
    page.click(".lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
    page.wait_for_function(DONE_JS, arg=_code_cells(path), timeout=120_000, polling=250)


def test_make_lab_prints_lesson_00_with_its_token_and_keeps_the_token_private(lab):
    assert lab.url == f"{lab.base}/lab/tree/{LESSON}?token={lab.token}"
    assert len(lab.token) >= 32
    import psutil

    on_command_lines = [p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
                        if any(lab.token in arg for arg in (p.info["cmdline"] or []))]
    assert not on_command_lines, f"the token is on a command line: {on_command_lines}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{lab.base}/api/status", timeout=5)
    assert refused.value.code == 403
    assert lab.api("/lab/api/news") == {"news": []}  # the environment's config: no news feed
    runtime = lab.state / "runtime"
    files = [p for p in runtime.rglob("*") if p.is_file()]
    assert any(p.name.startswith("jpserver-") for p in files), files
    for path in [lab.state, runtime, *runtime.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path} is readable by others ({oct(mode)})"


def test_a_learning_session_leaves_the_repository_clean(lab, browser):
    page = browser.new_page()
    page.goto(lab.url)  # the printed URL, as a learner pastes it
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").inner_text()
    assert "00-introduction.ipynb" in tab, tab
    deadline = time.monotonic() + 60
    while not any(s["path"] == LESSON and (s.get("kernel") or {}).get("execution_state") == "idle"
                  for s in lab.api("/api/sessions")):
        assert time.monotonic() < deadline, "no kernel for lesson 00"
        page.wait_for_timeout(250)
    _run_all(page, ROOT / LESSON)
    page.keyboard.press("Control+s")  # the learner saves (autosave would do the same)
    mine = lab.work / LESSON
    deadline = time.monotonic() + 30
    while '"execution_count": 1' not in mine.read_text():
        assert time.monotonic() < deadline, "the saved lesson has no outputs in the working copy"
        page.wait_for_timeout(250)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "make-lab-lesson-00.png"))
    page.close()
    assert {p: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")} == lab.tracked
    assert _git_status() == lab.git_before, "the session changed the repository's files"
    # what `make test` failed on before: stored outputs of the tracked notebooks
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/test_notebooks.py", "-k", "stored_outputs"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-3000:]


@pytest.mark.parametrize("interface", ["lab", "notebooks"], ids=["jupyterlab", "notebook7"])
def test_panel_controls_render_uncut(lab, browser, interface):
    page = browser.new_page()
    where = "lab/workspaces/controls/tree" if interface == "lab" else "notebooks"  # a workspace of its own
    page.goto(f"{lab.base}/{where}/{PANEL_LESSON}?token={lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_timeout(3000)  # the kernel starts
    _run_all(page, ROOT / PANEL_LESSON)
    visible = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output .widget-slider"
    page.wait_for_selector(visible, timeout=60_000)
    page.wait_for_timeout(1000)
    sliders = page.locator(visible).count()
    assert sliders >= 3
    cut = page.evaluate(CUT_JS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(visible).first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"controls-{interface}.png"))
    page.close()
    assert not cut, f"{interface}: controls cut: {cut}"


@pytest.mark.parametrize("interface", ["lab", "notebooks"], ids=["jupyterlab", "notebook7"])
def test_every_slider_has_an_accessible_name(lab, browser, interface):
    """ipywidgets 8 gives its slider handles no name; the course's small extension (labextension/)
    names each after its description, in both interfaces."""
    page = browser.new_page()
    where = "lab/workspaces/names/tree" if interface == "lab" else "notebooks"
    page.goto(f"{lab.base}/{where}/{PANEL_LESSON}?token={lab.token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_timeout(3000)
    _run_all(page, ROOT / PANEL_LESSON)
    page.wait_for_selector(".jp-OutputArea-output [role=slider]", timeout=60_000)
    page.wait_for_timeout(500)
    names = page.evaluate(NAMES_JS)
    page.close()
    assert names and all(names), f"{interface}: sliders without an accessible name: {names.count('')} of {len(names)}"
    assert {"loss", "ack loss", "max retries"} <= set(names), names
