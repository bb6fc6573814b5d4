"""The course website, built once per test run (tests/test_site.py checks its HTML,
tests/test_browser_site.py opens it in chromium): scripts/build_site.py into a temporary folder."""

from __future__ import annotations

import atexit
import functools
import importlib.util
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def missing() -> str | None:
    """Why the site cannot be built here, or None."""
    if importlib.util.find_spec("jupyter_book") is None:
        return "jupyter-book is not installed (pip install -e '.[site]'; make installs it)"
    return None


@functools.lru_cache(maxsize=1)
def built() -> tuple[Path, dict[str, float]]:
    """(the HTML folder, the build's timings in seconds): built on first use, removed at exit."""
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "scripts" / "build_site.py")
    build_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_site)
    folder = Path(tempfile.mkdtemp(prefix="course-site-test-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    start = time.monotonic()
    timings = build_site.build(folder / "html")
    timings["total"] = time.monotonic() - start
    return folder / "html", timings
