"""A private server process for the broker labs (Redis, NATS): on 127.0.0.1, on a free port, in a
temporary directory, and never outliving its notebook or test.

``PrivateServer`` holds what every lab server shares: the port (picked free, or checked), the
directory, the start-up wait with a clear error (port in use, exited, no answer), and the clean-up:
the server leads its own process group, is stopped at interpreter exit (atexit), and gets SIGKILL
from the kernel if this Python process dies without cleaning up (``setpriv --pdeathsig`` where it
exists); its directory (``tempdirs.LabDirectory``, recording this process and the server) is then
swept at the next lab start. A subclass says how to start its program and how to tell that it answers.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__:
    from .harness import _signal_group
    from .tempdirs import LabDirectory
    from ..validation import check_int, check_number
else:
    # Run as a file by a lab consumer (faster start); see sqlite.py.
    from harness import _signal_group  # type: ignore[no-redef]
    from tempdirs import LabDirectory  # type: ignore[no-redef]
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # semantics/: validation.py
    from validation import check_int, check_number  # type: ignore[no-redef]


class ServerError(RuntimeError):
    """A lab's server cannot go on; the message says why and what to do."""


class PortInUse(ServerError):
    """The port asked for is taken on 127.0.0.1."""


class ServerDied(ServerError):
    """The server process exited while the lab was using it."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on (host, port), or the port cannot be bound."""
    port = check_int("port", port, low=1, high=65535)
    with socket.socket() as s:
        # SO_REUSEADDR, as redis-server and nats-server set it: connections of a previous server on
        # this port lingering in TIME_WAIT must not count as "in use"; a listener still does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def find_binary(name: str, binary: str | None, *, lab: str, hint: str, error: type[Exception]) -> str:
    """The path of ``binary`` (if given) or of ``name`` on PATH; else ``error`` saying how to install it."""
    if binary is not None and not isinstance(binary, str):
        raise TypeError(f"binary must be a path string or None, got {binary!r} of type {type(binary).__name__}")
    path = shutil.which(binary or name)
    if path is None:
        where = f"{binary!r} is not an executable file" if binary else f"no {name} on PATH"
        # Debian installs some servers (nats-server) in /usr/sbin, which a normal user's PATH lacks.
        hidden = None if binary else shutil.which(name, path=os.pathsep.join(SBIN_DIRS))
        if hidden:
            hint = (f"There is one at {hidden}, outside your PATH: add its directory to PATH (e.g. "
                    f"export PATH=\"$PATH:{os.path.dirname(hidden)}\") and restart JupyterLab. {hint}")
        raise error(f"The {lab} lab needs a {name} binary: {where}. {hint}")
    return path


def register_needs_magic(ipython: Any, name: str, available: Any) -> None:
    """Register the cell magic ``%%<name>``: the cell runs when ``available()`` returns (True, where),
    and otherwise prints why it was skipped (the first sentence of the reason: no binary, ...)."""

    def needs(line: str, cell: str) -> None:
        ok, why = available()
        if not ok:
            print(f"(cell skipped: {why.split('. ')[0]}; see the install instructions above)")
            return
        ipython.ex(cell)                 # exceptions propagate: a failing cell still fails

    ipython.register_magic_function(needs, "cell", name)


def available(url_env: str, find: Any, missing: type[Exception]) -> tuple[bool, str]:
    """(True, where) when a lab can run (``url_env`` names a server, or ``find()`` finds the binary),
    else (False, why and how to install): what notebooks print and tests skip with."""
    if os.environ.get(url_env):
        return True, f"{url_env}={os.environ[url_env]}"
    try:
        return True, find()
    except missing as e:
        return False, str(e)


_SERVERS: set["PrivateServer"] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_SERVERS):
        server.stop()


class PrivateServer:
    """A server program on 127.0.0.1 (a context manager; ``stop`` is idempotent). Subclasses set the
    class attributes and write ``command`` (its arguments) and ``answers`` (a readiness probe)."""

    program = "server"                  # the binary's name, in messages
    log_file = "server.log"             # in the directory; its tail goes into error messages
    Error: type[Exception] = ServerError      # a subclass may name its lab's own subclasses
    PortInUse: type[Exception] = PortInUse
    Died: type[Exception] = ServerDied

    def __init__(self, *, port: int | None, startup_timeout: float) -> None:
        self.port_requested = None if port is None else check_int("port", port, low=1, high=65535)
        self.startup_timeout = check_number("startup_timeout", startup_timeout, low=0.0, low_open=True)
        self.binary = ""                # the subclass finds it (after these checks, whose errors come first)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.directory: Path | None = None
        self._tmp: LabDirectory | None = None

    # -- what a subclass provides
    def command(self) -> list[str]:
        raise NotImplementedError

    def answers(self, sock: socket.socket) -> bool:
        """Given a fresh connection to the server, True when it is ready to serve."""
        raise NotImplementedError

    # -- life cycle
    def start(self) -> "PrivateServer":
        if self.proc is not None and self.proc.poll() is None:
            return self
        first = self._tmp is None
        if first:
            self._tmp = LabDirectory(self.program)       # sweeps what SIGKILLed kernels left first
            self.directory = self._tmp.path
        _SERVERS.add(self)
        try:
            return self._start()
        except BaseException:
            if first:          # nothing worth keeping yet: remove the directory now, not at exit
                self.stop()
            raise

    def _port_taken(self, port: int) -> Exception:
        return self.PortInUse(f"port {port} on 127.0.0.1 is already in use by another program; "
                              f"choose another port, or pass port=None to let the lab pick a free one")

    def _start(self) -> "PrivateServer":
        attempts = 1 if self.port_requested else 3    # a free port can be taken between pick and bind
        for attempt in range(attempts):
            port = self.port or self.port_requested or free_port()
            if port_in_use(port):
                if self.port_requested or self.port:
                    raise self._port_taken(port)
                continue
            self.port = port
            try:
                self._launch()
                return self
            except self.PortInUse:
                if self.port_requested or attempt == attempts - 1:
                    raise
                self.port = None
        raise self.Error(f"could not find a free port on 127.0.0.1 for {self.program}")

    def _launch(self) -> None:
        assert self.directory is not None and self.port is not None
        args = self.command()
        setpriv = shutil.which("setpriv")
        if setpriv and sys.platform.startswith("linux"):
            # The kernel SIGKILLs the server if this Python process dies without cleaning up
            # (a kernel killed by the OS, a test runner SIGKILLed by CI).
            args = [setpriv, "--pdeathsig", "KILL", "--"] + args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd=self.directory, start_new_session=True)
        if self._tmp is not None:
            self._tmp.add_user(self.proc.pid)           # its directory is swept only once it is gone too
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log_tail()
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self._reap()
                if "address already in use" in (log + err).lower():
                    raise self._port_taken(self.port)
                raise self.Error(f"{self.program} exited at start-up (exit code {self.proc.returncode}); "
                                 f"its log:\n{(log + err).strip() or '(empty)'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    if self.answers(s):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self._reap()
        raise self.Error(f"{self.program} did not answer on 127.0.0.1:{self.port} within "
                         f"startup_timeout={self.startup_timeout} s; its log:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the server (a crash, for the lab); its directory stays for ``start``."""
        self._reap()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and delete its directory."""
        if self.proc is not None and self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGTERM)     # a clean shutdown
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass                                     # _reap SIGKILLs it
        self._reap()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        _SERVERS.discard(self)

    def _reap(self) -> None:
        if self.proc is None:
            return
        _signal_group(self.proc, signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:                 # pragma: no cover
            pass
        if self.proc.stderr:
            self.proc.stderr.close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- state
    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 8) -> str:
        path = None if self.directory is None else self.directory / self.log_file
        if path is None or not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def check(self) -> None:
        """Raise ``Died`` with a clear message if the server is no longer running."""
        if not self.alive():
            code = None if self.proc is None else self.proc.returncode
            raise self.Died(f"{self.program} on 127.0.0.1:{self.port} is not running (exit code {code}): it died "
                            f"during the lab. Re-run the lab's start cell to start a fresh one. "
                            f"Last log lines:\n{self.log_tail() or '(none)'}")
