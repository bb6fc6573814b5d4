"""Launch JupyterLab on the course: bound to 127.0.0.1, with a fresh random token, the URL printed,
and no news feed or update check (see scripts/jupyter_settings.py for the front-end half).

Usage: python scripts/launch_lab.py [--port 8888] [--ip 127.0.0.1] [--no-browser] [--state-dir DIR]

    --port 0          pick a free port
    --state-dir DIR   keep Jupyter's own state (config, runtime files, workspaces, user settings,
                      IPython profile) under DIR instead of the home directory: a clean, disposable
                      lab, as the browser test uses. The course's kernel and JupyterLab extensions
                      stay reachable: they live in the environment (sys.prefix), not in DIR.
    COURSE_TOKEN      environment variable: use this token instead of a generated one.

`make lab PORT=9999` passes --port. The tests import command() and environment() from here so that
they start JupyterLab exactly as the README's command does.
"""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_LESSON = "notebooks/00-introduction.ipynb"
LOOPBACK = "127.0.0.1"
LOOPBACKS = (LOOPBACK, "localhost", "::1")
# Server-side halves of "no news, no update check": the front-end settings live in
# jupyter_settings.py; these make sure no request to the news feed or PyPI leaves the server even
# when those settings are missing (an environment built without `make`).
QUIET_FLAGS = ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]


def new_token() -> str:
    """A fresh random token (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(24)


def free_port(ip: str = LOOPBACK) -> int:
    """A TCP port that is free on ``ip`` right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def port_is_free(port: int, ip: str = LOOPBACK) -> bool:
    """True when ``port`` can be bound on ``ip`` (a quick check before Jupyter tries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((ip, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
        return True


def default_url(root: Path = ROOT) -> str:
    """The page the lab opens on: the first lesson when it exists, else the notebooks folder."""
    if (root / FIRST_LESSON).exists():
        return f"/lab/tree/{FIRST_LESSON}"
    return "/lab/tree/notebooks" if (root / "notebooks").is_dir() else "/lab"


def command(port: int, ip: str = LOOPBACK, token: str | None = None, open_browser: bool = False,
            root: Path = ROOT) -> list[str]:
    """The command line that starts JupyterLab on the course.

    port:  1..65535 (choose a free one with free_port()); ip: the address to bind;
    token: the access token, never empty; open_browser: open the user's browser;
    root:  the folder the lab shows (the repository).
    """
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, got {port!r} of type {type(port).__name__}")
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be in [1, 65535], got {port}")
    if not isinstance(ip, str) or not ip.strip():
        raise ValueError(f"ip must be a non-empty address such as {LOOPBACK!r}, got {ip!r}")
    if not isinstance(token, str) or not token.strip():
        # An empty token would turn authentication off: anyone who can reach the port gets a shell.
        raise ValueError(f"token must be a non-empty str (see new_token()), got {token!r}")
    return [sys.executable, "-m", "jupyterlab",
            f"--ServerApp.ip={ip}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            f"--ServerApp.open_browser={bool(open_browser)}",
            f"--LabApp.default_url={default_url(root)}",
            *QUIET_FLAGS,
            # Jupyter refuses to run as root (containers, CI): allowed on loopback only, behind the token
            *(["--ServerApp.allow_root=True"] if _running_as_root() and ip in LOOPBACKS else [])]


SERVER_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def environment(state_dir: Path | str | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for the server: ``base`` (default os.environ), with Jupyter's per-user state
    moved under ``state_dir`` when it is given.

    JUPYTER_DATA_DIR moves too; the course's kernelspec and the widget extension stay reachable
    because Jupyter also searches sys.prefix/share/jupyter (where `make` installs them), and
    JUPYTER_PATH is left as it was.
    """
    env = dict(os.environ if base is None else base)
    # Debian installs nats-server in /usr/sbin, outside a normal user's PATH: the labs' kernels
    # inherit this PATH, so that the NATS lab finds its server after a plain `apt-get install`.
    parts = env.get("PATH", "").split(os.pathsep) if env.get("PATH") else []
    env["PATH"] = os.pathsep.join(parts + [d for d in SERVER_DIRS if d not in parts and os.path.isdir(d)])
    if state_dir is None:
        return env
    state = Path(state_dir).resolve()
    dirs = {
        "JUPYTER_CONFIG_DIR": state / "config",
        "JUPYTER_DATA_DIR": state / "data",
        "JUPYTER_RUNTIME_DIR": state / "runtime",
        "IPYTHONDIR": state / "ipython",
        "JUPYTERLAB_SETTINGS_DIR": state / "lab" / "user-settings",
        "JUPYTERLAB_WORKSPACES_DIR": state / "lab" / "workspaces",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    return env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8888, help="port to listen on (default 8888; 0: any free port)")
    parser.add_argument("--ip", default=LOOPBACK,
                        help="address to bind (default 127.0.0.1; only change it behind a firewall you control)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="keep Jupyter's config, runtime, workspaces and settings under this folder")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be in [0, 65535] (0: any free port), got {args.port}")
    if not args.ip.strip():
        parser.error("--ip must not be empty")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    token = os.environ.get("COURSE_TOKEN", "").strip() or new_token()
    port = args.port or free_port(args.ip)
    if not port_is_free(port, args.ip):
        sys.exit(f"Port {port} on {args.ip} is already in use (another lab?). "
                 f"Choose another one: make lab PORT={port + 1}")
    env = environment(args.state_dir)
    cmd = command(port, args.ip, token, open_browser=not args.no_browser)
    print(f"\n  The course is at: http://{args.ip}:{port}/lab?token={token}\n"
          f"  (stop it with Ctrl-C)\n", flush=True)
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
