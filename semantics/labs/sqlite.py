"""The SQLite durability lab: a real consumer process, real databases, real SIGKILLs.

Two SQLite databases (WAL mode) stand for two systems that share no transaction:

- the *broker* (``broker.db``, owned by the harness): a queue of messages. Fetching a message
  is a committed delivery (its ``deliveries`` counter goes up); acknowledging it is a separate
  committed write (``acked = 1``). An unacknowledged message is delivered again, to the next
  incarnation of the consumer: at-least-once delivery.
- the *service* (``service.db``, owned by the consumer): the effect, an account balance plus a
  ledger row per applied effect (the ledger is our measuring instrument: it commits in the same
  transaction as the balance update, so it counts exactly the effects that committed), and in
  inbox mode an ``inbox`` table of processed message ids.

The consumer runs in a child process (``python semantics/labs/sqlite.py consume DIR --mode ...``;
``python -m semantics.labs.sqlite`` works too) in three modes:

- ``naive``: effect, then ack. A kill between the two commits redelivers: duplicates.
- ``ack-first``: ack, then effect. A kill between the two commits: losses.
- ``inbox``: effect and the message id's inbox row in ONE transaction, then ack. A kill
  between the commits redelivers, the inbox recognises the id, the effect is skipped:
  at-least-once delivery + deduplication committed atomically with the effect = exactly-once effect.

``run_lab`` SIGKILLs the consumer at seeded random moments and restarts it until the queue is
drained (the harness: ``harness.start_kill_loop``), then counts per message: lost / once /
duplicated; ``compare_modes`` runs the three modes side by side. ``pause`` (seconds the consumer
sleeps between its two commits) widens the failure window so that a few dozen kills land in it;
it changes how often the window is hit, never whether it exists.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

if __package__:
    from ..validation import check_choice, check_int, check_number
    from .harness import (ORPHANED, READY, ConsumerRun, KillLoop, LabError, kill_and_restart,  # noqa: F401
                          our_consumers, processes_mentioning, run_to_end, start_kill_loop, start_process)
    from .tempdirs import LabDirectory
else:
    # Run as a file (``python .../semantics/labs/sqlite.py consume ...``, or imported by the harness's
    # launcher): the simulator package is not imported, so a consumer starts fast.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # semantics/: validation.py
    from validation import check_choice, check_int, check_number  # type: ignore[no-redef]
    from harness import (ORPHANED, READY, ConsumerRun, KillLoop, LabError, kill_and_restart,  # type: ignore  # noqa: F401
                         our_consumers, processes_mentioning, run_to_end, start_kill_loop, start_process)
    from tempdirs import LabDirectory  # type: ignore[no-redef]

MODES = ("naive", "ack-first", "inbox")
BROKER_DB, SERVICE_DB = "broker.db", "service.db"


# --------------------------------------------------------------------------- databases

def _connect(path: Path, synchronous: str = "FULL") -> sqlite3.Connection:
    # isolation_level=None: we write BEGIN/COMMIT ourselves, so every commit point is visible
    # in the code (they are exactly the points where a kill changes the outcome).
    db = sqlite3.connect(path, isolation_level=None, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is fsync'ed before COMMIT returns. A SIGKILL alone would not lose a
    # committed transaction even with NORMAL (the OS keeps the written pages); FULL also
    # survives a power cut, which is what "durable" means in the lessons.
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db


def create_lab(directory: str | os.PathLike, *, n_messages: int, seed: int = 0) -> Path:
    """Create the broker queue (``n_messages`` deposits, seeded amounts) and an empty service
    database in ``directory``; return the directory as a Path."""
    n_messages = check_int("n_messages", n_messages, low=1, high=1_000_000)
    seed = check_int("seed", seed, low=0)
    d = Path(_check_dir("directory", directory))
    for suffix in ("", "-wal", "-shm"):
        (d / (BROKER_DB + suffix)).unlink(missing_ok=True)
    rng = random.Random(seed)
    with _closing(_connect(d / BROKER_DB, "NORMAL")) as broker:
        broker.execute("CREATE TABLE queue (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL, "
                       "deliveries INTEGER NOT NULL DEFAULT 0, acked INTEGER NOT NULL DEFAULT 0)")
        broker.execute("BEGIN")
        broker.executemany("INSERT INTO queue (id, amount) VALUES (?, ?)",
                           ((i, rng.randint(1, 100)) for i in range(1, n_messages + 1)))
        broker.execute("COMMIT")
    create_service(d)
    return d


def create_service(directory: str | os.PathLike) -> Path:
    """Create the service database (account, ledger, inbox) in ``directory``, the consumer's side of
    the labs (the SQLite lab's and the NATS lab's); return the directory as a Path."""
    d = Path(_check_dir("directory", directory))
    for suffix in ("", "-wal", "-shm"):
        (d / (SERVICE_DB + suffix)).unlink(missing_ok=True)
    with _closing(_connect(d / SERVICE_DB, "NORMAL")) as service:
        service.execute("CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
        service.execute("INSERT INTO account VALUES (1, 0)")
        # No unique key on msg_id: the ledger must be able to show a duplicate effect.
        service.execute("CREATE TABLE ledger (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                        "msg_id INTEGER NOT NULL, amount INTEGER NOT NULL, pid INTEGER NOT NULL)")
        service.execute("CREATE TABLE inbox (msg_id INTEGER PRIMARY KEY)")
        # How many redeliveries the inbox recognised: proof that kills hit the window in inbox mode too.
        service.execute("CREATE TABLE suppressed (msg_id INTEGER NOT NULL)")
    return d


class _closing:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: Any) -> None:
        self.db.close()


# --------------------------------------------------------------------------- the consumer

def consume(directory: str | os.PathLike, *, mode: str, pause: float = 0.0,
            parent_pid: int | None = None, announce: bool = False) -> int:
    """Drain the queue in ``directory`` in ``mode``; return the number of messages handled.

    This is the code the harness kills. Each numbered step is its own commit, so a kill lands
    between two of them (or inside one, which SQLite rolls back as a whole).
    """
    mode = check_choice("mode", mode, MODES)
    pause = check_number("pause", pause, low=0.0, high=1.0)
    d = Path(_check_dir("directory", directory))
    broker = _connect(d / BROKER_DB)
    service = _connect(d / SERVICE_DB)
    pid = os.getpid()
    if announce:
        print(READY, flush=True)
    handled = 0
    while True:
        if parent_pid is not None and os.getppid() != parent_pid:
            raise SystemExit(ORPHANED)   # the harness died: never outlive it
        # 1. delivery: the broker records that it handed this message out (committed).
        row = broker.execute(
            "UPDATE queue SET deliveries = deliveries + 1 WHERE id = "
            "(SELECT id FROM queue WHERE acked = 0 ORDER BY id LIMIT 1) RETURNING id, amount").fetchone()
        if row is None:
            return handled           # drained
        msg_id, amount = row
        if mode == "ack-first":
            _ack(broker, msg_id)             # 2. ack (commit) ...
            time.sleep(pause)                # ... the loss window ...
            _apply(service, msg_id, amount, pid, inbox=False)   # 3. ... effect (commit)
        else:
            _apply(service, msg_id, amount, pid, inbox=(mode == "inbox"))  # 2. effect (commit) ...
            time.sleep(pause)                # ... the duplicate window ...
            _ack(broker, msg_id)             # 3. ... ack (commit)
        handled += 1


def _apply(service: sqlite3.Connection, msg_id: int, amount: int, pid: int, *, inbox: bool) -> bool:
    """Apply one deposit in one transaction; with ``inbox``, the inbox row commits in the same
    transaction, so "effect applied" and "id remembered" are never seen apart. Returns whether
    the effect was applied (False: a duplicate the inbox recognised)."""
    service.execute("BEGIN IMMEDIATE")
    try:
        if inbox and service.execute("INSERT OR IGNORE INTO inbox (msg_id) VALUES (?)", (msg_id,)).rowcount == 0:
            service.execute("INSERT INTO suppressed (msg_id) VALUES (?)", (msg_id,))
            service.execute("COMMIT")        # seen before: the effect committed with that row
            return False
        service.execute("UPDATE account SET balance = balance + ? WHERE id = 1", (amount,))
        service.execute("INSERT INTO ledger (msg_id, amount, pid) VALUES (?, ?, ?)", (msg_id, amount, pid))
        service.execute("COMMIT")
        return True
    except BaseException:
        service.execute("ROLLBACK")
        raise


def _ack(broker: sqlite3.Connection, msg_id: int) -> None:
    broker.execute("UPDATE queue SET acked = 1 WHERE id = ?", (msg_id,))   # autocommit: one transaction


# --------------------------------------------------------------------------- counting

def verdict(mode: str, lost: int, duplicated: int, *, held: bool | None = None, otherwise: str = "") -> str:
    """One deterministic line for a lab run (any lab): whether the exactly-once effect held."""
    if held if held is not None else (lost == 0 and duplicated == 0):
        return f"{mode}: 0 lost, 0 duplicated: exactly-once effect held"
    seen = [f"{what} seen" for what, n in (("losses", lost), ("duplicates", duplicated)) if n]
    return f"{mode}: {' and '.join(seen) or otherwise}: exactly-once effect broken"


@dataclass(frozen=True)
class LabResult:
    """What a lab run did to every message. ``lost + once + duplicated == n_messages``."""

    mode: str
    n_messages: int
    kills: int                 # SIGKILLs that struck a running consumer
    starts: int                # consumer processes started (kills + 1 when the queue drained)
    lost: int                  # messages with no effect
    once: int                  # messages with exactly one effect
    duplicated: int            # messages with two or more effects
    effects: int               # effects applied in total (ledger rows)
    deliveries: int            # deliveries recorded by the broker (redeliveries included)
    redelivered: int           # messages delivered more than once
    suppressed: int            # redeliveries the inbox recognised and skipped (inbox mode)
    unacked: int               # messages still in the queue (0 when drained)
    balance: int               # the account balance at the end
    expected_balance: int      # the sum of all deposits: each applied exactly once
    atomic: bool               # balance == sum of the ledger: every effect transaction was all-or-nothing
    intact: bool               # PRAGMA integrity_check says "ok" for both databases after all the kills
    pause: float
    max_delay: float
    seconds: float
    per_message: dict[int, tuple[int, int]] = field(repr=False, default_factory=dict)  # id -> (deliveries, effects)

    @property
    def exactly_once(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.unacked == 0

    def verdict(self) -> str:
        """One deterministic line: what the guarantee was and whether it held."""
        return verdict(self.mode, self.lost, self.duplicated, held=self.exactly_once, otherwise="queue not drained")

    def summary(self) -> str:
        """Counts (they vary from run to run: kill moments land differently on each machine)."""
        return (f"{self.mode:9s}  kills {self.kills:4d}  lost {self.lost:4d}  once {self.once:4d}  "
                f"duplicated {self.duplicated:4d}  redelivered {self.redelivered:4d}  suppressed {self.suppressed:4d}  "
                f"balance {self.balance} (expected {self.expected_balance})  {self.seconds:.1f} s")


def count_outcomes(directory: str | os.PathLike, *, mode: str = "naive", kills: int = 0, starts: int = 0,
                   pause: float = 0.0, max_delay: float = 0.0, seconds: float = 0.0) -> LabResult:
    """Read both databases and count, for every message in the queue, its deliveries and effects."""
    d = Path(_check_dir("directory", directory))
    with _closing(_connect(d / BROKER_DB)) as broker, _closing(_connect(d / SERVICE_DB)) as service:
        queue = broker.execute("SELECT id, amount, deliveries, acked FROM queue ORDER BY id").fetchall()
        effects = dict(service.execute("SELECT msg_id, COUNT(*) FROM ledger GROUP BY msg_id").fetchall())
        (balance,) = service.execute("SELECT balance FROM account WHERE id = 1").fetchone()
        (ledger_sum,) = service.execute("SELECT COALESCE(SUM(amount), 0) FROM ledger").fetchone()
        (suppressed,) = service.execute("SELECT COUNT(*) FROM suppressed").fetchone()
        intact = all(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok" for db in (broker, service))
    per = {i: (dl, effects.get(i, 0)) for i, _, dl, _ in queue}
    n_eff = [e for _, e in per.values()]
    return LabResult(
        mode=mode, n_messages=len(queue), kills=kills, starts=starts,
        lost=sum(e == 0 for e in n_eff), once=sum(e == 1 for e in n_eff), duplicated=sum(e >= 2 for e in n_eff),
        effects=sum(n_eff), deliveries=sum(dl for dl, _ in per.values()),
        redelivered=sum(dl > 1 for dl, _ in per.values()), suppressed=suppressed, unacked=sum(not a for *_, a in queue),
        balance=balance, expected_balance=sum(a for _, a, _, _ in queue), atomic=(balance == ledger_sum), intact=intact,
        pause=pause, max_delay=max_delay, seconds=seconds, per_message=per)


# --------------------------------------------------------------------------- the kill loops

def _consumer_command(directory: Path, mode: str, pause: float) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "consume", str(directory), "--mode", mode,
            "--pause", repr(pause), "--parent-pid", str(os.getpid())]


@dataclass(frozen=True)
class _Settings:
    n_messages: int
    kills: int
    max_delay: float
    pause: float
    seed: int
    timeout: float

    @classmethod
    def checked(cls, n_messages: Any, kills: Any, max_delay: Any, pause: Any, seed: Any, timeout: Any) -> "_Settings":
        return cls(n_messages=check_int("n_messages", n_messages, low=1, high=1_000_000),
                   kills=check_int("kills", kills, low=0, high=100_000),
                   max_delay=check_number("max_delay", max_delay, low=0.0, high=10.0, low_open=True),
                   pause=check_number("pause", pause, low=0.0, high=1.0),
                   seed=check_int("seed", seed, low=0),
                   timeout=check_number("timeout", timeout, low=0.0, low_open=True))


class _ModeRun:
    """One mode's kill loop, started (a fresh queue, a launcher process); ``result()`` waits and
    counts, ``close()`` stops the launcher and removes the temporary directory (idempotent)."""

    def __init__(self, mode: str, directory: str | None, s: _Settings) -> None:
        self.mode, self.s = mode, s
        self.tmp = LabDirectory(f"sqlite-{mode}") if directory is None else None
        self.directory = self.tmp.path if self.tmp is not None else Path(directory)
        self.loop: KillLoop | None = None
        create_lab(self.directory, n_messages=s.n_messages, seed=s.seed)
        self.loop = start_kill_loop(_consumer_command(self.directory, mode, s.pause), kills=s.kills,
                                    max_delay=s.max_delay, seed=s.seed, timeout=s.timeout, what=f"{mode} consumer")
        if self.tmp is not None:
            self.tmp.add_user(self.loop.pid)

    def result(self) -> "LabResult":
        assert self.loop is not None
        done, starts = self.loop.result()
        return count_outcomes(self.directory, mode=self.mode, kills=done, starts=starts, pause=self.s.pause,
                              max_delay=self.s.max_delay, seconds=self.loop.seconds)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.stop()
        if self.tmp is not None:
            self.tmp.cleanup()


def run_lab(mode: str, *, n_messages: int = 200, kills: int = 30, max_delay: float = 0.03,
            pause: float = 0.005, seed: int = 0, directory: str | os.PathLike | None = None,
            timeout: float = 120.0) -> LabResult:
    """Run the consumer in ``mode`` over a fresh queue of ``n_messages``, SIGKILL it ``kills``
    times (each after a seeded random delay in [0, max_delay] s from the moment it is ready),
    restart it after each kill, let the last incarnation drain the queue, and count outcomes.

    Fewer kills happen when the queue drains first (``LabResult.kills`` says how many struck).
    ``directory`` keeps the databases for inspection; by default a temporary one is removed.
    Raises LabError when a consumer fails on its own or the run exceeds ``timeout`` seconds.
    """
    mode = check_choice("mode", mode, MODES)
    s = _Settings.checked(n_messages, kills, max_delay, pause, seed, timeout)
    run = _ModeRun(mode, None if directory is None else _check_dir("directory", directory), s)
    try:
        return run.result()
    finally:
        run.close()


def compare_modes(modes: Sequence[str] = MODES, *, n_messages: int = 200, kills: int = 30,
                  max_delay: float = 0.03, pause: float = 0.005, seed: int = 0,
                  timeout: float = 120.0) -> dict[str, LabResult]:
    """``run_lab`` for each mode with the same settings (and seed), the modes side by side (each
    kill loop in its own launcher process, each over its own queue): mode -> result."""
    if isinstance(modes, str) or not isinstance(modes, Sequence) or not modes:
        raise TypeError(f"modes must be a non-empty sequence of {', '.join(map(repr, MODES))}; got {modes!r}")
    modes = [check_choice("modes[]", m, MODES) for m in modes]
    if len(set(modes)) != len(modes):
        raise ValueError(f"modes must not repeat a mode, got {modes!r}")
    s = _Settings.checked(n_messages, kills, max_delay, pause, seed, timeout)
    runs: list[_ModeRun] = []
    try:
        for mode in modes:
            runs.append(_ModeRun(mode, None, s))
        return {run.mode: run.result() for run in runs}
    finally:
        for run in runs:
            run.close()


def plot_results(results: dict[str, LabResult], ax: Any = None) -> Any:
    """Grouped bars: messages lost / once / duplicated, per mode. Returns the matplotlib Axes."""
    import matplotlib.pyplot as plt
    import numpy as np

    if not isinstance(results, dict) or not results or not all(
            all(hasattr(r, a) for a in ("lost", "once", "duplicated", "kills")) for r in results.values()):
        raise TypeError("results must be a non-empty dict mode -> LabResult (what compare_modes returns)")
    from ..views.plots import COLORS, HATCHES, OUTCOMES  # the lessons' colours and hatches (colour-blind safe)

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(results))
    width = 0.27
    for k, kind in enumerate(OUTCOMES):
        values = [getattr(r, kind) for r in results.values()]
        bars = ax.bar(x + (k - 1) * width, values, width, label=kind, color=COLORS[kind], hatch=HATCHES[kind],
                      edgecolor="black", linewidth=0.6)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(x, [f"{m}\n({r.kills} kills)" for m, r in results.items()])
    ax.set_ylabel("messages")
    ax.set_ylim(0, 1.25 * max(max(r.lost, r.once, r.duplicated) for r in results.values()) + 1)
    ax.set_title("Effects per message after SIGKILLs and restarts")
    ax.legend(ncols=3, loc="upper center", frameon=False)  # above the bars, in the headroom
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax



def _check_dir(name: str, value: Any) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {value!r} of type {type(value).__name__}")
    if not Path(value).is_dir():
        raise ValueError(f"{name} must be an existing directory, got {os.fspath(value)!r}")
    return os.fspath(value)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semantics.labs.sqlite",
                                     description="The SQLite lab's consumer (the process the harness kills).")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("consume", help="drain the queue in DIR")
    c.add_argument("directory")
    c.add_argument("--mode", choices=MODES, required=True)
    c.add_argument("--pause", type=float, default=0.0, help="seconds between the two commits")
    c.add_argument("--parent-pid", type=int, default=None, help="exit when this process is no longer the parent")
    s = sub.add_parser("create", help="create a fresh queue of N messages in DIR")
    s.add_argument("directory")
    s.add_argument("-n", type=int, default=100)
    args = parser.parse_args(argv)
    if args.command == "create":
        create_lab(args.directory, n_messages=args.n)
        return 0
    consume(args.directory, mode=args.mode, pause=args.pause, parent_pid=args.parent_pid, announce=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
