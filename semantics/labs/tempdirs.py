"""The labs' temporary directories: each carries a record of the processes that work in it, and a
directory whose processes are all gone is swept when the next lab directory is made.

A notebook kernel killed with SIGKILL (the OOM killer, "Restart kernel" on a hung cell, a CI runner
stopped) runs no ``finally`` and no ``atexit``: the databases, the server's append-only file or
JetStream store stay in the temporary folder. So every directory a lab makes (``LabDirectory``) holds
an owner record, ``.course-owner.json``: the process that made it and every process that works in it
(a lab server), each with its start time (a reused pid is not the same process). ``sweep`` removes a
directory only when all of this is true:

- its name starts with ``course-`` and it is a real directory (not a link) owned by this user;
- it holds an owner record that parses (so the course made it);
- the record was written in this pid namespace (a container sharing /tmp cannot be judged from here);
- none of its processes is alive: gone, a zombie, or a different process under a reused pid.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import weakref
from pathlib import Path
from typing import Any

PREFIX = "course-"
OWNER_FILE = ".course-owner.json"


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:                     # not Linux: one namespace as far as we can tell
        return "host"


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from /proc), "" where there is no /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(pid: int, started: str, boot: str) -> bool:
    """Whether the process recorded as (``pid``, ``started``) in boot ``boot`` still runs."""
    if boot and boot != _boot_id():
        return False                    # recorded before the machine restarted
    if Path("/proc/self/stat").exists():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False                # no such process
        if fields[0] == "Z":
            return False                # exited, not yet reaped by its parent
        return not started or fields[19] == started    # another process under a reused pid: the owner is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                     # someone else's process: alive
    return True


def sweep(base: str | os.PathLike | None = None) -> list[str]:
    """Remove the labs' directories in ``base`` (default: the temporary folder) whose processes are
    all gone (the rules are in the module's docstring); return the paths removed."""
    root = os.fspath(base) if base is not None else tempfile.gettempdir()
    namespace, removed = _pid_namespace(), []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
                continue
            record_path = os.path.join(entry.path, OWNER_FILE)
            if not stat.S_ISREG(os.lstat(record_path).st_mode):
                continue
            with open(record_path, encoding="utf-8") as f:
                record = json.load(f)
            users = [(int(pid), str(started)) for pid, started in record["users"]]
            if record["namespace"] != namespace or not users:
                continue
            boot = str(record.get("boot", ""))
        except (OSError, ValueError, KeyError, TypeError):
            continue                    # not ours, or not readable: leave it
        if not any(_alive(pid, started, boot) for pid, started in users):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


def owned_by(pid: int, base: str | os.PathLike | None = None) -> list[str]:
    """The labs' directories in ``base`` (default: the temporary folder) whose record names process
    ``pid``: what a notebook checks to show that it left nothing behind."""
    root = os.fspath(base) if base is not None else tempfile.gettempdir()
    found = []
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(PREFIX) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return found
    for entry in entries:
        try:
            with open(os.path.join(entry.path, OWNER_FILE), encoding="utf-8") as f:
                if any(int(user[0]) == pid for user in json.load(f)["users"]):
                    found.append(entry.path)
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
    return found


class LabDirectory:
    """A temporary directory for a lab (like ``tempfile.TemporaryDirectory``: ``name``, ``cleanup()``,
    a context manager that gives the name), made after sweeping the directories of dead labs, with
    an owner record naming this process. ``add_user(pid)`` adds a process that works in it (a lab
    server): the directory is swept only once all of them are gone."""

    def __init__(self, kind: str, *, base: str | os.PathLike | None = None) -> None:
        if not isinstance(kind, str) or not kind or any(c in kind for c in "/\\\0"):
            raise ValueError(f"kind must be a non-empty name without slashes, got {kind!r}")
        sweep(base)
        self.name = tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-", dir=base)
        self.path = Path(self.name)
        self._users: list[tuple[int, str]] = []
        # Removed when cleaned up, garbage collected or at interpreter exit; sweep() covers SIGKILL.
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.name, ignore_errors=True)
        self.add_user(os.getpid())

    def add_user(self, pid: int) -> None:
        """Record that process ``pid`` works in this directory (written atomically: a sweep never
        reads half a record)."""
        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
            raise ValueError(f"pid must be a positive integer, got {pid!r}")
        if not self.path.is_dir():
            return
        self._users.append((pid, _start_time(pid)))
        record = {"namespace": _pid_namespace(), "boot": _boot_id(), "users": self._users,
                  "made_by": "the delivery-semantics course (semantics.labs.tempdirs)"}
        partial = self.path / f"{OWNER_FILE}.{os.getpid()}.partial"
        partial.write_text(json.dumps(record), encoding="utf-8")
        os.replace(partial, self.path / OWNER_FILE)

    def cleanup(self) -> None:
        """Delete the directory (idempotent)."""
        self._finalizer()

    @property
    def exists(self) -> bool:
        return self.path.is_dir()

    def __enter__(self) -> str:
        return self.name

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"LabDirectory({self.name!r}{'' if self.exists else ', removed'})"
