"""Put the course's quiet Jupyter settings into an environment: no news feed, no update check, so
no pop-up asks a room of 200 learners whether to fetch Jupyter news, and no request leaves the
server for the news feed or PyPI.

The settings are two files in jupyter-config/, which a (non-editable) `pip install` of the course
already puts into the environment (pyproject.toml's [tool.setuptools.data-files]):

    <prefix>/etc/jupyter/jupyter_lab_config.json
        the server half, read by `jupyter lab`, Binder and a hub's single-user server alike
        (LabApp.news_url = None, LabApp.check_for_updates_class = NeverCheckForUpdate);
    <prefix>/share/jupyter/lab/settings/overrides.d/delivery-semantics-course.json
        the front-end half, in JupyterLab 4's per-package drop-in folder (jupyterlab_server reads
        overrides.d/*.json, then the user-owned overrides.json, so a learner's own overrides.json is
        never touched). Setting names come from @jupyterlab/apputils-extension/notification.json:
        fetchNews "true" | "false" | "none" (Ask: shows the pop-up); checkForUpdates boolean.

and the prebuilt JupyterLab / Notebook 7 extension that gives every ipywidgets slider its
description as accessible name (labextension/, built into jupyter-config/labextension/), in
<prefix>/share/jupyter/labextensions/delivery-semantics-slider-names/.

An editable install (`make`'s development environment) installs no data files: `make` runs this
script, which writes the same files. An existing jupyter_lab_config.json in the environment is
merged into, not replaced. Usage: python scripts/jupyter_settings.py [--prefix PREFIX]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "jupyter-config"
PLUGIN = "@jupyterlab/apputils-extension:notification"
FILENAME = "delivery-semantics-course.json"
SERVER_FILENAME = "jupyter_lab_config.json"
LABEXTENSION = "delivery-semantics-slider-names"


def _load(name: str) -> dict:
    return json.loads((SOURCE / name).read_text(encoding="utf-8"))


#: the front-end overrides and the server config, as the files in jupyter-config/ hold them
OVERRIDES: dict = _load(FILENAME)
SERVER_CONFIG: dict = _load(SERVER_FILENAME)


def settings_path(prefix: Path | str = sys.prefix) -> Path:
    """Where the front-end overrides go for the environment at ``prefix``."""
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / FILENAME


def server_config_path(prefix: Path | str = sys.prefix) -> Path:
    """Where the server's config goes for the environment at ``prefix``."""
    return Path(prefix) / "etc" / "jupyter" / SERVER_FILENAME


def labextension_path(prefix: Path | str = sys.prefix) -> Path:
    """Where the slider-names extension goes for the environment at ``prefix``."""
    return Path(prefix) / "share" / "jupyter" / "labextensions" / LABEXTENSION


def write(prefix: Path | str = sys.prefix) -> Path:
    """Write both halves and the extension for the environment at ``prefix``; return the front-end
    settings file written."""
    path = settings_path(prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(OVERRIDES, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    server = server_config_path(prefix)
    server.parent.mkdir(parents=True, exist_ok=True)
    config = json.loads(server.read_text(encoding="utf-8")) if server.exists() else {}
    for section, values in SERVER_CONFIG.items():
        config.setdefault(section, {}).update(values)
    server.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    extension = labextension_path(prefix)
    if extension.exists():
        shutil.rmtree(extension)
    shutil.copytree(SOURCE / "labextension", extension)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", type=Path, default=Path(sys.prefix),
                        help="the environment to configure (default: this Python's sys.prefix)")
    args = parser.parse_args(argv)
    front = write(args.prefix)
    print(f"Jupyter settings (no news, no update check): {front} and {server_config_path(args.prefix)}; "
          f"slider names for screen readers: {labextension_path(args.prefix)}")


if __name__ == "__main__":
    main()
