"""The course website in a real browser: the built site (tests/site_build.py) served on 127.0.0.1,
every lesson and lab page opened in headless Debian chromium (Playwright): no page error, no console
error, every figure decoded and shown, and a quiz's folded answer opens. The test machine is offline:
a request to another host (only MathJax's CDN is expected; a new one fails the test) is answered
empty, so that the check is about the site's own files."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

import site_build

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
PAGES = ["index"] + [f"notebooks/{p.stem}" for p in sorted((ROOT / "notebooks").glob("*.ipynb"))] + \
        [f"exercises/{p.stem}" for p in sorted((ROOT / "exercises").glob("*.ipynb"))][:1]
EXPECTED_HOSTS = {"cdn.jsdelivr.net"}   # MathJax, which Sphinx loads for the lessons' formulas
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: apt-get install chromium (.ci/run does)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright Python package is not installed"
    return site_build.missing()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def site():
    reason = _missing()
    if reason:
        pytest.skip(reason)
    html_dir, _ = site_build.built()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(html_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.parametrize("name", PAGES)
def test_page_opens_without_errors_and_shows_its_figures(browser, site, name):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems, elsewhere = [], set()
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)

    def route(request_route):
        host = urlparse(request_route.request.url).hostname
        if host in ("127.0.0.1", None):
            return request_route.continue_()
        elsewhere.add(host)
        return request_route.fulfill(status=200, body="", content_type="application/javascript")

    page.route("**/*", route)
    try:
        response = page.goto(f"{site}/{name}.html", wait_until="load")
        assert response is not None and response.ok, f"{name}: {response and response.status}"
        page.wait_for_timeout(500)
        broken = page.evaluate("""() => Array.from(document.images)
            .filter(img => !img.complete || img.naturalWidth === 0).map(img => (img.alt || img.src).slice(0, 120))""")
        assert not broken, f"{name}: figures not shown: {broken}"
        shown = page.evaluate("() => document.querySelectorAll('main img').length")
        if name.startswith("notebooks/") and "-lab-" not in name:
            assert shown >= 1, f"{name}: no figure on the page"
        folded = page.locator("main details").first
        if folded.count():
            folded.locator("summary").click()
            assert folded.evaluate("d => d.open"), f"{name}: a quiz's answer does not open"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"site-{name.replace('/', '-')}.png"))
        assert not problems, f"{name}: " + "\n".join(problems)
        assert elsewhere <= EXPECTED_HOSTS, f"{name}: requests to unexpected hosts {sorted(elsewhere - EXPECTED_HOSTS)}"
    finally:
        context.close()
