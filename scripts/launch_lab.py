"""Launch JupyterLab on the course: bound to 127.0.0.1, with a fresh random token, the URL printed.

Usage: python scripts/launch_lab.py [--port 8888] [--ip 127.0.0.1] [--no-browser]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def command(port: int, ip: str, token: str, open_browser: bool) -> list[str]:
    return [sys.executable, "-m", "jupyter", "lab",
            f"--ServerApp.ip={ip}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
            f"--ServerApp.open_browser={open_browser}",
            "--LabApp.default_url=/lab/tree/notebooks/00-introduction.ipynb"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8888, help="port to listen on (default 8888)")
    parser.add_argument("--ip", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; only change it behind a firewall you control)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port must be in [1, 65535], got {args.port}")
    token = os.environ.get("COURSE_TOKEN") or secrets.token_urlsafe(24)
    print(f"\n  The course is at: http://{args.ip}:{args.port}/lab?token={token}\n", flush=True)
    os.execv(sys.executable, command(args.port, args.ip, token, not args.no_browser))


if __name__ == "__main__":
    main()
