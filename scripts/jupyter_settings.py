"""Write the course's JupyterLab settings defaults into the environment: no news feed, no update
check, so no pop-up asks a room of 200 learners whether to fetch Jupyter news.

The file goes to <sys.prefix>/share/jupyter/lab/settings/overrides.d/delivery-semantics-course.json,
the per-package drop-in folder of JupyterLab 4 (jupyterlab_server reads overrides.d/*.json, then the
user-owned overrides.json), so a learner's own overrides.json is never touched. Setting names come
from the schema @jupyterlab/apputils-extension/notification.json:

    fetchNews        "true" (Always) | "false" (Never) | "none" (Ask: shows the pop-up)
    checkForUpdates  boolean; only active when fetchNews is "true"

scripts/launch_lab.py turns the same two things off on the server side (LabApp.news_url=None,
NeverCheckForUpdate). `make` runs this script once after installing the course; a Binder/JupyterHub
image runs it from postBuild. Usage: python scripts/jupyter_settings.py [--prefix PREFIX]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PLUGIN = "@jupyterlab/apputils-extension:notification"
OVERRIDES = {
    PLUGIN: {"fetchNews": "false", "checkForUpdates": False},
}
FILENAME = "delivery-semantics-course.json"


def settings_path(prefix: Path | str = sys.prefix) -> Path:
    """Where the overrides go for the environment at ``prefix``."""
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / FILENAME


def write(prefix: Path | str = sys.prefix) -> Path:
    """Write the overrides for the environment at ``prefix``; return the file written."""
    path = settings_path(prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(OVERRIDES, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", type=Path, default=Path(sys.prefix),
                        help="the environment to configure (default: this Python's sys.prefix)")
    args = parser.parse_args(argv)
    print(f"JupyterLab settings (no news, no update check): {write(args.prefix)}")


if __name__ == "__main__":
    main()
