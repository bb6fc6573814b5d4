"""The NATS JetStream lab: a private nats-server with JetStream, publish-side deduplication by
``Nats-Msg-Id`` within the stream's duplicate window, and a durable pull consumer the lab crashes.

``NatsServer`` starts ``nats-server --jetstream`` on 127.0.0.1, on a free port, with its store in a
temporary directory (the life cycle is ``servers.PrivateServer``'s, shared with the Redis lab).
``open_lab`` uses the server named by ``COURSE_NATS_URL`` when that variable is set. ``NatsLab``
is a small synchronous facade over the asyncio client ``nats-py``: it runs a private event loop in
a thread, so notebook cells call plain functions, and every call has a timeout.

A consumer (``python semantics/labs/jetstream.py consume ...``, a child process so that SIGKILL is
real) fetches from a durable pull consumer with explicit acks, applies each deposit to a SQLite
service database (``sqlite.create_service``: the SQLite lab's account, ledger and inbox) and
acknowledges with a double ack (``ack_sync``: it waits for the server's confirmation):

- ``naive``: effect, then ack. A kill between them: the server redelivers after AckWait: duplicates.
- ``ack-first``: ack, then effect. A kill between them: the message is never delivered again: losses.
- ``inbox``: effect and the message id's inbox row in ONE SQLite transaction, then ack. A redelivery
  finds the id and skips the effect: at-least-once delivery + deduplication committed atomically
  with the effect = exactly-once effect.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import random
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

if __package__:
    from .harness import (READY, ConsumerRun, KillLoop, LabError, our_consumers, processes_mentioning,  # noqa: F401
                          run_to_end, start_kill_loop)
    from .servers import (PortInUse, PrivateServer, ServerDied, ServerError, available, find_binary,
                          register_needs_magic)
    from .sqlite import MODES, SERVICE_DB, _apply, _check_dir, _closing, _connect, create_service, verdict
    from .tempdirs import LabDirectory
    from ..validation import check_choice, check_int, check_number
else:
    # Run as a file by the lab (faster start: the simulator package is not imported); see sqlite.py.
    from harness import (READY, ConsumerRun, KillLoop, LabError, our_consumers,  # type: ignore  # noqa: F401
                         processes_mentioning, run_to_end, start_kill_loop)
    from servers import (PortInUse, PrivateServer, ServerDied, ServerError,  # type: ignore[no-redef]
                         available, find_binary, register_needs_magic)
    from sqlite import (MODES, SERVICE_DB, _apply, _check_dir, _closing, _connect,  # type: ignore
                        create_service, verdict)
    from tempdirs import LabDirectory  # type: ignore[no-redef]
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # semantics/: validation.py
    from validation import check_choice, check_int, check_number  # type: ignore[no-redef]

__all__ = ["MODES", "NATS_URL_ENV", "INSTALL_HINT", "NatsServer", "NatsLab", "open_lab", "nats_available",
           "produce", "publish_schedule", "run_consumer", "run_jetstream_lab", "compare_modes", "tally",
           "service_directory", "our_consumers", "processes_mentioning", "JetStreamError", "NatsUnavailable",
           "PortInUse", "ServerDied", "LabError"]

NATS_URL_ENV = "COURSE_NATS_URL"
INSTALL_HINT = ("Install it with `sudo apt-get install nats-server` (Debian/Ubuntu), "
                "`conda install -c conda-forge nats-server` (conda, Binder) or `brew install nats-server` (macOS), "
                f"or set {NATS_URL_ENV}=nats://HOST:PORT to use a server you already run (with JetStream enabled).")
ORPHANED = 3
DURABLE = "workers"
#: What the consumer imports, loaded once by the kill loop's launcher (see harness.py).
CONSUMER_IMPORTS = ("nats", "nats.js", "nats.errors")


class JetStreamError(ServerError):
    """The NATS lab cannot go on; the message says why and what to do."""


class NatsUnavailable(JetStreamError):
    """No nats-server binary, and no COURSE_NATS_URL."""


# --------------------------------------------------------------------------- the server

def find_nats_server(binary: str | None = None) -> str:
    """The path of the nats-server binary (``binary`` if given, else the one on PATH), or
    NatsUnavailable saying how to install one."""
    return find_binary("nats-server", binary, lab="NATS", hint=INSTALL_HINT, error=NatsUnavailable)


def nats_available() -> tuple[bool, str]:
    """(True, where) when the lab can run (COURSE_NATS_URL set, or a nats-server binary found),
    else (False, why and how to install): what notebooks print and tests skip with."""
    return available(NATS_URL_ENV, find_nats_server, NatsUnavailable)


class NatsServer(PrivateServer):
    """A private ``nats-server --jetstream`` on 127.0.0.1, its file store in a temporary directory
    (a context manager; ``stop`` is idempotent)."""

    program, log_file = "nats-server", "nats.log"
    Error = JetStreamError          # PortInUse and ServerDied: servers' own (no NATS specifics)

    def __init__(self, *, port: int | None = None, binary: str | None = None, startup_timeout: float = 10.0) -> None:
        super().__init__(port=port, startup_timeout=startup_timeout)
        self.binary = find_nats_server(binary)

    def command(self) -> list[str]:
        return [self.binary, "--addr", "127.0.0.1", "--port", str(self.port), "--jetstream",
                "--store_dir", str(self.directory / "jetstream"), "--log", self.log_file]

    def answers(self, sock: socket.socket) -> bool:
        return sock.recv(5) == b"INFO "        # a NATS server greets every client with INFO {...}

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        state = "running" if self.alive() else "stopped"
        return f"NatsServer(127.0.0.1:{self.port}, {state}, JetStream file store)"


# --------------------------------------------------------------------------- the lab's connection

def _connect_options(timeout: float) -> dict[str, Any]:
    # One attempt, no reconnection: a lab must fail clearly, not wait for a server that is gone
    # (in nats-py, max_reconnect_attempts=0 would mean "retry forever").
    return dict(connect_timeout=timeout, allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0.1)


@dataclass(frozen=True)
class ConsumerState:
    """A durable consumer as the server sees it."""

    pending: int            # messages never delivered to it yet
    ack_pending: int        # delivered, not acknowledged yet (redelivered after AckWait)
    deliveries: int         # deliveries so far, redeliveries included (the consumer sequence)


class NatsLab:
    """A connection for the lab: nats-py on a private event loop (a thread), the server (None when
    COURSE_NATS_URL names an external one), and a name prefix for the lab's streams (so that an
    external server's other streams are never touched). Every call waits at most ``timeout`` s."""

    def __init__(self, url: str, server: NatsServer | None = None, *, timeout: float = 10.0) -> None:
        import nats

        self.url, self.server = url, server
        self.timeout = check_number("timeout", timeout, low=0.0, low_open=True)
        self.prefix = f"course_{os.getpid()}_{random.randrange(16**6):06x}"
        self.errors: list[str] = []        # what the client reported asynchronously (for error messages)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="course-nats-loop", daemon=True)
        self._thread.start()
        self._streams: set[str] = set()

        async def on_error(e: Exception) -> None:
            self.errors.append(str(e))

        try:
            self.nc = self.run(nats.connect(url, error_cb=on_error, **_connect_options(min(self.timeout, 5.0))),
                               what=f"connecting to {url}")
            self.js = self.nc.jetstream(timeout=self.timeout)
            self.run(self.js.account_info(), what="asking for JetStream account information")
        except BaseException as e:
            self._stop_loop()
            if isinstance(e, JetStreamError):
                raise
            raise JetStreamError(f"cannot use JetStream at {url}: {type(e).__name__}: {e or 'no reply'} "
                                 f"(is it a NATS server started with --jetstream?)") from e

    # -- running a coroutine on the private loop
    def run(self, coro: Any, *, what: str = "a NATS call", timeout: float | None = None) -> Any:
        """Run ``coro`` on the lab's event loop and return its result, within ``timeout`` s
        (default: the lab's); a clear error instead of a hung kernel."""
        limit = self.timeout if timeout is None else check_number("timeout", timeout, low=0.0, low_open=True)
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(limit)
        except concurrent.futures.TimeoutError:
            future.cancel()
            self._check_server()
            raise LabError(f"{what} did not finish within {limit:g} s (server {self.url})") from None
        except Exception as e:
            if isinstance(e, (JetStreamError, LabError, ValueError, TypeError)):
                raise
            self._check_server()
            if type(e).__name__ == "NoStreamResponseError":
                raise LabError(f"{what}: no stream answered (does the stream exist? create it first with "
                               f"lab.add_stream(name))") from e
            raise

    def _check_server(self) -> None:
        if self.server is not None:
            self.server.check()          # a dead server explains a failure best

    # -- names
    def stream(self, name: str) -> str:
        """The stream's full name on the server (the lab's prefix + ``name``)."""
        return f"{self.prefix}_{_check_name('name', name)}"

    def subject(self, name: str) -> str:
        return f"{self.prefix}.{_check_name('name', name)}"

    # -- streams and consumers
    def add_stream(self, name: str, *, duplicate_window: float = 120.0) -> str:
        """Create a fresh stream ``name`` (file storage; a previous one of that name is deleted)
        whose duplicate window is ``duplicate_window`` s (the server's default: 120 s)."""
        from nats.js.api import StorageType, StreamConfig
        from nats.js.errors import NotFoundError

        window = check_number("duplicate_window", duplicate_window, low=0.0, high=86_400.0, low_open=True)
        stream = self.stream(name)

        async def create() -> None:
            try:
                await self.js.delete_stream(stream)
            except NotFoundError:
                pass
            await self.js.add_stream(StreamConfig(name=stream, subjects=[self.subject(name)],
                                                  storage=StorageType.FILE, duplicate_window=window))

        self.run(create(), what=f"creating stream {stream}")
        self._streams.add(stream)
        return stream

    def publish(self, name: str, payload: bytes | str = b"", *, msg_id: str | None = None) -> Any:
        """Publish to stream ``name``, with the ``Nats-Msg-Id`` header when ``msg_id`` is given;
        return the server's PubAck (``seq``: where it is stored; ``duplicate``: True when the id
        was seen within the duplicate window, so nothing new was stored)."""
        if isinstance(payload, str):
            payload = payload.encode()
        if not isinstance(payload, bytes):
            raise TypeError(f"payload must be bytes or str, got {type(payload).__name__}")
        headers = None if msg_id is None else {"Nats-Msg-Id": _check_name("msg_id", msg_id)}
        return self.run(self.js.publish(self.subject(name), payload, headers=headers),
                        what=f"publishing to {self.stream(name)}")

    def messages(self, name: str) -> int:
        """How many messages stream ``name`` stores."""
        info = self.run(self.js.stream_info(self.stream(name)), what=f"reading stream {self.stream(name)}")
        return info.state.messages

    def duplicate_window(self, name: str) -> float:
        info = self.run(self.js.stream_info(self.stream(name)), what=f"reading stream {self.stream(name)}")
        return info.config.duplicate_window

    def add_consumer(self, name: str, *, ack_wait: float = 1.0, durable: str = DURABLE) -> str:
        """A durable pull consumer on stream ``name`` with explicit acks: a message delivered and not
        acknowledged within ``ack_wait`` s is delivered again."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        ack_wait = check_number("ack_wait", ack_wait, low=0.1, high=3600.0)
        durable = _check_name("durable", durable)
        config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=ack_wait,
                                deliver_policy=DeliverPolicy.ALL)
        self.run(self.js.add_consumer(self.stream(name), config), what=f"creating consumer {durable}")
        return durable

    def consumer_state(self, name: str, durable: str = DURABLE) -> ConsumerState:
        info = self.run(self.js.consumer_info(self.stream(name), durable), what=f"reading consumer {durable}")
        return ConsumerState(pending=info.num_pending, ack_pending=info.num_ack_pending,
                             deliveries=info.delivered.consumer_seq)

    # -- the end
    def close(self) -> None:
        """Delete the lab's streams (on an external server), close the connection, stop the private
        server (if any) and the event loop. Idempotent."""
        if not self._loop.is_closed():
            try:
                if self.server is None:
                    for stream in self._streams:
                        self.run(self.js.delete_stream(stream), what=f"deleting {stream}")
                self.run(self.nc.close(), what="closing the connection", timeout=5)
            except Exception:
                pass
            self._stop_loop()
        if self.server is not None:
            self.server.stop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> "NatsLab":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_lab(*, port: int | None = None, binary: str | None = None, timeout: float = 10.0) -> NatsLab:
    """Connect to ``COURSE_NATS_URL`` if set, else start a private NatsServer; return a NatsLab.
    Raises NatsUnavailable (with install instructions) when neither is possible."""
    url = os.environ.get(NATS_URL_ENV)
    server = None
    if not url:
        server = NatsServer(port=port, binary=binary).start()
        url = server.url
    try:
        return NatsLab(url, server, timeout=timeout)
    except BaseException:
        if server is not None:
            server.stop()
        raise


# --------------------------------------------------------------------------- producing

def produce(lab: NatsLab, name: str, n_messages: int, *, seed: int = 0) -> list[int]:
    """Publish ``n_messages`` deposits to stream ``name``: payload "<msg> <amount>" (msg = 1..n, amount
    seeded), ``Nats-Msg-Id`` "deposit-<msg>" (a stable id, chosen before the first attempt). Return the amounts."""
    _check_lab(lab)
    n_messages = check_int("n_messages", n_messages, low=1, high=100_000)
    rng = random.Random(check_int("seed", seed, low=0))
    amounts = [rng.randint(1, 100) for _ in range(n_messages)]

    async def publish_all() -> None:
        acks = [await lab.js.publish(lab.subject(name), f"{i} {a}".encode(), headers={"Nats-Msg-Id": f"deposit-{i}"})
                for i, a in enumerate(amounts, 1)]
        assert not any(ack.duplicate for ack in acks)

    lab.run(publish_all(), what=f"publishing {n_messages} deposits", timeout=max(lab.timeout, n_messages * 0.05))
    return amounts


@dataclass(frozen=True)
class Attempt:
    """One publish attempt of a producer that retries: when (s on the schedule), which id, the PubAck;
    ``late``: how much later than scheduled it was sent (s; a busy machine delays a little)."""

    at: float
    msg_id: str
    seq: int
    duplicate: bool
    late: float = 0.0

    def line(self) -> str:
        return (f"t = {self.at:4.1f} s  {self.msg_id}: stored at seq {self.seq}"
                f"{'  (duplicate: acknowledged, not stored again)' if self.duplicate else ''}")


def publish_schedule(lab: NatsLab, name: str, schedule: dict[str, Sequence[float]]) -> list[Attempt]:
    """A producer that never sees its acks (as if each were lost) and retries: publish each message
    id of ``schedule`` at each of its times, with the same ``Nats-Msg-Id`` every time. Return the
    attempts in time order with the server's answers.

    The attempts at time 0 go first; the clock of the schedule starts when the server has
    acknowledged all of them, so each id was stored *before* time 0: an attempt at ``t`` reaches
    the server at least ``t`` s after the id was stored (later, on a busy machine, never sooner).
    """
    _check_lab(lab)
    if not isinstance(schedule, dict) or not schedule:
        raise TypeError(f"schedule must be a non-empty dict msg_id -> list of times, got {schedule!r}")
    plan = []
    for msg_id, times in schedule.items():
        _check_name("msg_id", msg_id)
        for t in times:
            plan.append((check_number("schedule time", t, low=0.0, high=60.0), msg_id))
    plan.sort()

    async def run() -> list[Attempt]:
        out, start = [], None
        for at, msg_id in plan:
            if at > 0 and start is None:
                start = time.monotonic()         # every attempt at time 0 is acknowledged: stored
            wait = 0.0 if start is None else at - (time.monotonic() - start)
            await asyncio.sleep(max(0.0, wait))
            ack = await lab.js.publish(lab.subject(name), msg_id.encode(), headers={"Nats-Msg-Id": msg_id})
            out.append(Attempt(at=at, msg_id=msg_id, seq=ack.seq, duplicate=bool(ack.duplicate), late=max(0.0, -wait)))
        return out

    return lab.run(run(), what="the publish schedule", timeout=plan[-1][0] + lab.timeout)


def service_directory() -> LabDirectory:
    """A fresh temporary directory holding the consumer's service database (the SQLite lab's account,
    ledger and inbox); ``.name`` is its path, ``.cleanup()`` removes it. If the kernel dies, the next
    lab start sweeps it (``tempdirs``)."""
    directory = LabDirectory("nats-service")
    create_service(directory.name)
    return directory


# --------------------------------------------------------------------------- the consumer

async def _consume(url: str, *, stream: str, durable: str, directory: str, mode: str, pause: float = 0.0,
                   crash_in_window: int | None = None, parent_pid: int | None = None, announce: bool = False,
                   fetch_timeout: float = 0.2) -> int:
    import nats
    from nats.errors import TimeoutError as NatsTimeout

    service = _connect(Path(directory) / SERVICE_DB)
    async def on_error(e: Exception) -> None:
        print(f"nats: {type(e).__name__}: {e}", file=sys.stderr)

    nc = await nats.connect(url, error_cb=on_error, **_connect_options(5.0))
    js = nc.jetstream(timeout=10)
    sub = await js.pull_subscribe_bind(durable, stream=stream)
    pid, handled = os.getpid(), 0
    if announce:
        print(READY, flush=True)        # connected: the harness's kill delays count from "able to work"

    def window() -> None:
        time.sleep(pause)
        if crash_in_window is not None and handled + 1 == crash_in_window:
            os.kill(pid, signal.SIGKILL)        # a real crash: no finally, no atexit, no ack

    while True:
        if parent_pid is not None and os.getppid() != parent_pid:
            raise SystemExit(ORPHANED)          # the harness died: never outlive it
        try:
            msgs = await sub.fetch(1, timeout=fetch_timeout)
        except NatsTimeout:
            state = await js.consumer_info(stream, durable)
            if state.num_pending == 0 and state.num_ack_pending == 0:
                break                           # every message delivered and acknowledged
            continue                            # some wait for their AckWait to run out
        for msg in msgs:
            msg_id, amount = (int(x) for x in msg.data.split())
            if mode == "ack-first":
                await msg.ack_sync(timeout=10)  # 1. ack, confirmed by the server ...
                window()                        # ... the loss window ...
                _apply(service, msg_id, amount, pid, inbox=False)       # 2. ... effect
            else:
                _apply(service, msg_id, amount, pid, inbox=(mode == "inbox"))  # 1. effect (commit) ...
                window()                        # ... the duplicate window ...
                await msg.ack_sync(timeout=10)  # 2. ... ack, confirmed by the server
            handled += 1
    await nc.close()
    service.close()
    return handled


def consumer_command(lab: NatsLab, name: str, *, directory: str | os.PathLike, mode: str, pause: float = 0.0,
                     crash_in_window: int | None = None, durable: str = DURABLE) -> list[str]:
    """The command line of a consumer child process (what ``run_consumer`` and the kill loop start)."""
    _check_lab(lab)
    mode = check_choice("mode", mode, MODES)
    cmd = [sys.executable, str(Path(__file__).resolve()), "consume", "--url", lab.url, "--stream", lab.stream(name),
           "--durable", _check_name("durable", durable), "--dir", _check_dir("directory", directory), "--mode", mode,
           "--pause", repr(check_number("pause", pause, low=0.0, high=1.0)), "--parent-pid", str(os.getpid())]
    if crash_in_window is not None:
        cmd += ["--crash-in-window", str(check_int("crash_in_window", crash_in_window, low=1))]
    return cmd


def run_consumer(lab: NatsLab, name: str, *, directory: str | os.PathLike, mode: str, pause: float = 0.0,
                 crash_in_window: int | None = None, timeout: float = 60.0) -> ConsumerRun:
    """Run one consumer child process on stream ``name`` to its end: every message acknowledged
    (it waits for redeliveries), or its planned crash (``crash_in_window=k``: SIGKILL inside the
    failure window of the k-th message it handles)."""
    cmd = consumer_command(lab, name, directory=directory, mode=mode, pause=pause, crash_in_window=crash_in_window)
    lab._check_server()
    return run_to_end(cmd, timeout=timeout, consumer=f"{mode} consumer", on_failure=lab._check_server)


# --------------------------------------------------------------------------- counting

@dataclass(frozen=True)
class JetStreamResult:
    """What the consumers did to each message of a stream. lost + once + duplicated == n_messages."""

    mode: str
    n_messages: int
    kills: int                 # SIGKILLs that struck a running consumer
    starts: int                # consumer processes started
    lost: int                  # messages with no effect
    once: int                  # messages with exactly one effect
    duplicated: int            # messages with two or more effects
    effects: int               # effects applied in total (ledger rows)
    deliveries: int            # deliveries by the server, redeliveries included
    suppressed: int            # redeliveries the inbox recognised and skipped
    ack_pending: int           # delivered and not acknowledged (0 at the end of a run)
    balance: int
    expected_balance: int
    seconds: float = 0.0
    lost_ids: tuple[int, ...] = ()          # which messages (1..n) had no effect
    duplicated_ids: tuple[int, ...] = ()    # which took effect more than once

    @property
    def exactly_once(self) -> bool:
        return self.lost == 0 and self.duplicated == 0

    def verdict(self) -> str:
        """One deterministic line: whether the exactly-once effect held."""
        return verdict(self.mode, self.lost, self.duplicated)

    def line(self) -> str:
        return (f"messages {self.n_messages}: lost {self.lost}, once {self.once}, duplicated {self.duplicated}; "
                f"deliveries {self.deliveries}; suppressed {self.suppressed}; "
                f"balance {self.balance} (expected {self.expected_balance})")

    def summary(self) -> str:
        """Counts (they vary from run to run: kill moments land differently on each machine)."""
        return f"{self.mode:9s}  kills {self.kills:3d}  {self.line()}  {self.seconds:.1f} s"


def tally(lab: NatsLab, name: str, directory: str | os.PathLike, amounts: Sequence[int], *, mode: str = "",
          kills: int = 0, starts: int = 0, seconds: float = 0.0) -> JetStreamResult:
    """Count effects per message (the service database's ledger) and the consumer's deliveries."""
    with _closing(_connect(Path(_check_dir("directory", directory)) / SERVICE_DB)) as service:
        effects = dict(service.execute("SELECT msg_id, COUNT(*) FROM ledger GROUP BY msg_id").fetchall())
        (balance,) = service.execute("SELECT balance FROM account WHERE id = 1").fetchone()
        (suppressed,) = service.execute("SELECT COUNT(*) FROM suppressed").fetchone()
    counts = [effects.get(i, 0) for i in range(1, len(amounts) + 1)]
    state = lab.consumer_state(name)
    return JetStreamResult(mode=mode, n_messages=len(amounts), kills=kills, starts=starts,
                           lost=sum(c == 0 for c in counts), once=sum(c == 1 for c in counts),
                           duplicated=sum(c >= 2 for c in counts), effects=sum(counts), deliveries=state.deliveries,
                           suppressed=suppressed, ack_pending=state.ack_pending, balance=balance,
                           expected_balance=sum(amounts), seconds=seconds,
                           lost_ids=tuple(i for i, c in enumerate(counts, 1) if c == 0),
                           duplicated_ids=tuple(i for i, c in enumerate(counts, 1) if c >= 2))


def run_jetstream_lab(lab: NatsLab, mode: str, *, n_messages: int = 60, kills: int = 10, max_delay: float = 0.05,
                      pause: float = 0.005, ack_wait: float = 1.0, seed: int = 0,
                      timeout: float = 120.0) -> JetStreamResult:
    """The SQLite lab's harness on JetStream: a fresh stream of ``n_messages`` deposits and a
    durable pull consumer (AckWait ``ack_wait`` s); a consumer in ``mode`` SIGKILLed ``kills``
    times at seeded random moments and restarted; the last one runs until every message is
    acknowledged (the server redelivers what the killed ones left unacknowledged)."""
    return compare_modes(lab, (mode,), n_messages=n_messages, kills=kills, max_delay=max_delay, pause=pause,
                         ack_wait=ack_wait, seed=seed, timeout=timeout)[mode]


def compare_modes(lab: NatsLab, modes: Sequence[str] = MODES, *, n_messages: int = 60, kills: int = 10,
                  max_delay: float = 0.05, pause: float = 0.005, ack_wait: float = 1.0, seed: int = 0,
                  timeout: float = 120.0) -> dict[str, JetStreamResult]:
    """``run_jetstream_lab`` for each mode with the same settings (and seed), the modes side by side
    (each kill loop in its own launcher process, on its own stream and service database)."""
    _check_lab(lab)
    if isinstance(modes, str) or not isinstance(modes, Sequence) or not modes:
        raise TypeError(f"modes must be a non-empty sequence of {', '.join(map(repr, MODES))}; got {modes!r}")
    modes = [check_choice("mode", m, MODES) for m in modes]
    if len(set(modes)) != len(modes):
        raise ValueError(f"modes must not repeat a mode, got {modes!r}")
    n_messages = check_int("n_messages", n_messages, low=1, high=100_000)
    kills = check_int("kills", kills, low=0, high=10_000)
    max_delay = check_number("max_delay", max_delay, low=0.0, high=10.0, low_open=True)
    pause = check_number("pause", pause, low=0.0, high=1.0)
    seed = check_int("seed", seed, low=0)
    timeout = check_number("timeout", timeout, low=0.0, low_open=True)
    runs: dict[str, tuple[str, list[int], LabDirectory, KillLoop]] = {}
    try:
        for mode in modes:
            name = f"kill-{mode}-{seed}"
            lab.add_stream(name)
            amounts = produce(lab, name, n_messages, seed=seed)
            lab.add_consumer(name, ack_wait=ack_wait)
            service = service_directory()
            cmd = consumer_command(lab, name, directory=service.name, mode=mode, pause=pause)
            loop = start_kill_loop(cmd, kills=kills, max_delay=max_delay, seed=seed, timeout=timeout,
                                   what=f"{mode} JetStream consumer")
            service.add_user(loop.pid)
            runs[mode] = (name, amounts, service, loop)
        results = {}
        for mode, (name, amounts, service, loop) in runs.items():
            try:
                done, starts = loop.result()
            except LabError:
                lab._check_server()         # a dead server explains the failure better
                raise
            results[mode] = tally(lab, name, service.name, amounts, mode=mode, kills=done, starts=starts,
                                  seconds=loop.seconds)
        return results
    finally:
        for _, _, service, loop in runs.values():
            loop.stop()
            service.cleanup()


# --------------------------------------------------------------------------- notebook support

def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext semantics.labs.jetstream`` registers ``%%needs_nats``: the cell runs when the lab can
    reach a NATS server, and otherwise prints why it was skipped (and how to install one)."""
    register_needs_magic(ipython, "needs_nats", nats_available)


def _check_lab(lab: Any) -> None:
    if not isinstance(lab, NatsLab):
        raise TypeError(f"lab must be the NatsLab that open_lab returned, got {type(lab).__name__}")


def _check_name(name: str, value: Any) -> str:
    """Stream, consumer and message-id names: non-empty, no spaces, dots or wildcards."""
    if not isinstance(value, str) or not value or any(c in value for c in " \t\r\n.*>/\\"):
        raise ValueError(f"{name} must be a non-empty string without spaces, '.', '*', '>' or slashes, got {value!r}")
    return value


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python semantics/labs/jetstream.py",
                                     description="The NATS JetStream lab's consumer (the process the lab crashes).")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("consume")
    for flag in ("--url", "--stream", "--durable", "--dir"):
        c.add_argument(flag, required=True)
    c.add_argument("--mode", choices=MODES, required=True)
    c.add_argument("--pause", type=float, default=0.0)
    for flag in ("--crash-in-window", "--parent-pid"):
        c.add_argument(flag, type=int, default=None)
    a = parser.parse_args(argv)
    asyncio.run(_consume(a.url, stream=a.stream, durable=a.durable, directory=a.dir, mode=a.mode, pause=a.pause,
                         crash_in_window=a.crash_in_window, parent_pid=a.parent_pid, announce=True))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
