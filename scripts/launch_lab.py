"""Launch JupyterLab on the course: bound to 127.0.0.1, with a fresh random token, on the learner's
own working copy of the notebooks, the URL of lesson 00 printed.

Usage: python scripts/launch_lab.py [--port 8888] [--ip 127.0.0.1] [--no-browser]
                                    [--workdir work] [--state-dir DIR]

    --port 0          pick a free port
    --workdir DIR     the learner's working copy (default: work/ in the repository, gitignored). The
                      lessons, labs and exercises are copied there the first time (and any notebook
                      added to the course later); the lab opens that copy, never the tracked notebooks,
                      so autosave writes a learner's outputs and edits there and `git status` stays
                      clean. A notebook already in DIR is never overwritten: it is the learner's work.
    --state-dir DIR   keep Jupyter's own state (config, runtime files, workspaces, user settings,
                      IPython profile) under DIR instead of the home directory: a clean, disposable
                      lab, as the browser tests use. The course's kernel, the JupyterLab extensions
                      and the quiet settings stay reachable: they live in the environment
                      (sys.prefix), not in DIR. DIR and everything made in it are private (0700).
    COURSE_TOKEN      environment variable: use this token instead of a generated one (at least 16
                      characters, 8 of them different; weak tokens are refused).

The token reaches Jupyter through its JUPYTER_TOKEN environment variable, which only the user (and
root) can read in /proc/PID/environ, never through the command line, which any local user sees with
`ps`. The news feed and the update check are off through the environment's Jupyter config
(scripts/jupyter_settings.py), so that a plain `jupyter lab` or a hub gets the same.

`make lab PORT=9999` passes --port. The tests import command(), environment() and prepare_workdir()
from here so that they start JupyterLab exactly as the README's command does.
"""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import shutil
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_LESSON = "notebooks/00-introduction.ipynb"
#: The folders a learner works in: copied into the working copy (solutions/ never is).
COURSE_FOLDERS = ("notebooks", "exercises")
DEFAULT_WORKDIR = ROOT / "work"
LOOPBACK = "127.0.0.1"
LOOPBACKS = (LOOPBACK, "localhost", "::1")
MIN_TOKEN_LENGTH = 16
MIN_TOKEN_DISTINCT = 8
PRIVATE_DIR = 0o700
PRIVATE_UMASK = 0o077


class WeakTokenError(ValueError):
    """A token anyone could guess: too short, or too few different characters."""


def new_token() -> str:
    """A fresh random token (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(24)


def check_token(token: object, name: str = "token") -> str:
    """``token`` if it is strong enough to guard a shell on this machine; else a clear error.

    A Jupyter token is a password to a shell: it must be at least MIN_TOKEN_LENGTH characters with at
    least MIN_TOKEN_DISTINCT different ones (new_token() gives 32, nearly all different)."""
    if not isinstance(token, str):
        raise TypeError(f"{name} must be a str (see new_token()), got {type(token).__name__}")
    stripped = token.strip()
    if not stripped:
        # An empty token would turn authentication off: anyone who can reach the port gets a shell.
        raise ValueError(f"{name} must be a non-empty str (see new_token()), got {token!r}")
    if len(stripped) < MIN_TOKEN_LENGTH or len(set(stripped)) < MIN_TOKEN_DISTINCT:
        raise WeakTokenError(
            f"{name} is too weak ({len(stripped)} characters, {len(set(stripped))} different): use at least "
            f"{MIN_TOKEN_LENGTH} characters with at least {MIN_TOKEN_DISTINCT} different ones, e.g. "
            f"python -c \"import secrets; print(secrets.token_urlsafe(24))\", or leave it unset for a fresh one")
    return stripped


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


def lab_url(ip: str, port: int, token: str, root: Path = ROOT) -> str:
    """The URL to open: lesson 00 (default_url) with the token, which logs the browser in."""
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}{default_url(root)}?token={token}"


def command(port: int, ip: str = LOOPBACK, open_browser: bool = False, root: Path = ROOT) -> list[str]:
    """The command line that starts JupyterLab on the course (no token on it: see environment()).

    port:  1..65535 (choose a free one with free_port()); ip: the address to bind;
    open_browser: open the user's browser; root: the folder the lab shows (the working copy).
    """
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, got {port!r} of type {type(port).__name__}")
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be in [1, 65535], got {port}")
    if not isinstance(ip, str) or not ip.strip():
        raise ValueError(f"ip must be a non-empty address such as {LOOPBACK!r}, got {ip!r}")
    return [sys.executable, "-m", "jupyterlab",
            f"--ServerApp.ip={ip}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            f"--ServerApp.open_browser={bool(open_browser)}",
            f"--LabApp.default_url={default_url(root)}",
            # Jupyter refuses to run as root (containers, CI): allowed on loopback only, behind the token
            *(["--ServerApp.allow_root=True"] if _running_as_root() and ip in LOOPBACKS else [])]


SERVER_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def environment(state_dir: Path | str | None, base: Mapping[str, str] | None = None, *,
                token: str | None = None) -> dict[str, str]:
    """The environment for the server: ``base`` (default os.environ) with the token in
    JUPYTER_TOKEN, and Jupyter's per-user state moved under ``state_dir`` when it is given.

    token: the access token (checked by check_token); None leaves JUPYTER_TOKEN as ``base`` has it.
    JUPYTER_DATA_DIR moves too; the course's kernelspec and the widget extension stay reachable
    because Jupyter also searches sys.prefix/share/jupyter (where `make` installs them), and
    JUPYTER_PATH is left as it was. ``state_dir`` and its folders are made private (0700).
    """
    env = dict(os.environ if base is None else base)
    if token is not None:
        env["JUPYTER_TOKEN"] = check_token(token)
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
    _private_dir(state)
    for name, path in dirs.items():
        _private_dir(path, below=state)
        env[name] = str(path)
    return env


def _private_dir(path: Path, below: Path | None = None) -> None:
    """Make ``path`` (and its parents inside ``below``) a folder only its owner can enter: the
    runtime files hold the token and the kernels' connection keys."""
    path.mkdir(parents=True, exist_ok=True)
    folders = [path] + ([p for p in path.parents if p.is_relative_to(below)] if below is not None else [])
    for folder in folders:
        os.chmod(folder, PRIVATE_DIR)


@dataclass(frozen=True)
class Workdir:
    """The learner's working copy: where it is, and which notebooks were copied into it now."""

    path: Path
    added: tuple[str, ...]


def prepare_workdir(workdir: Path | str, root: Path = ROOT) -> Workdir:
    """Copy the course's notebooks (COURSE_FOLDERS) into ``workdir``, keeping what is there.

    A notebook already in ``workdir`` is the learner's work and is never overwritten; a notebook the
    course added since the last launch is copied. The tracked notebooks are only read.
    """
    workdir = Path(workdir).resolve()
    if workdir == root.resolve() or any(workdir == (root / f).resolve() for f in COURSE_FOLDERS):
        raise ValueError(f"workdir must be a folder of its own, not the course's {workdir}: "
                         f"the lab would write into the tracked notebooks")
    added = []
    for folder in COURSE_FOLDERS:
        for source in sorted((root / folder).glob("*.ipynb")):
            target = workdir / folder / source.name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                added.append(f"{folder}/{source.name}")
    return Workdir(workdir, tuple(added))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8888, help="port to listen on (default 8888; 0: any free port)")
    parser.add_argument("--ip", default=LOOPBACK,
                        help="address to bind (default 127.0.0.1; only change it behind a firewall you control)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="the learner's working copy of the notebooks (default: work/ in the repository)")
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
    chosen = os.environ.get("COURSE_TOKEN", "")
    try:
        token = check_token(chosen, "COURSE_TOKEN") if chosen.strip() else new_token()
    except WeakTokenError as exc:
        sys.exit(str(exc))
    port = args.port or free_port(args.ip)
    if not port_is_free(port, args.ip):
        sys.exit(f"Port {port} on {args.ip} is already in use (another lab?). "
                 f"Choose another one: make lab PORT={port + 1}")
    work = prepare_workdir(args.workdir)
    env = environment(args.state_dir, token=token)
    cmd = command(port, args.ip, open_browser=not args.no_browser, root=work.path)
    copied = f"{len(work.added)} notebooks copied there now" if work.added else "your notebooks as you left them"
    print(f"\n  Your working copy: {work.path} ({copied}; the course's own notebooks stay untouched)"
          f"\n  The course is at: {lab_url(args.ip, port, token, work.path)}\n"
          f"  (stop it with Ctrl-C)\n", flush=True)
    # Everything the server writes from here on (runtime files with the token, kernels' connection
    # files, the learner's saved notebooks) is readable by the learner only.
    os.umask(PRIVATE_UMASK)
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
