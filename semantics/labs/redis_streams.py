"""The Redis Streams lab: a private redis-server, and the consumers the lab crashes.

``RedisServer`` starts ``redis-server`` on 127.0.0.1, on a free port, in a temporary directory,
with append-only persistence (``appendfsync always``: each write is fsync'ed before the reply),
and stops it (process group, atexit, and the parent-death signal when ``setpriv`` exists, so no
server outlives its notebook or test). ``open_lab`` uses the server named by ``COURSE_REDIS_URL``
when that variable is set, and otherwise starts a private one.

A consumer (``python semantics/labs/redis_streams.py consume ...``, a child process so that SIGKILL
is real) reads a consumer group with XREADGROUP, applies each entry's effect (a deposit: a balance
plus a per-message effect counter, the lab's measuring instrument) and acknowledges with XACK:

- ``plain``: effect, then XACK: at-least-once. A crash between them leaves the entry in the
  pending entries list (PEL). Redis never pushes it again by itself; it comes back when a consumer
  asks: the same consumer, restarted under its name, reading its own PEL with XREADGROUP and id
  ``0`` (``from_history``), or another consumer taking it over with XCLAIM / XAUTOCLAIM once idle
  for a minimum time (``claim_idle_ms``). Either way: duplicates.
- ``noack``: XREADGROUP NOACK (delivery counts as acknowledgement), then the effect: at-most-once.
  A crash between them: losses.
- ``idempotent``: a Lua script adds the entry id to a "processed" set and applies the effect only if
  the id was new, atomically (Redis runs a script with no other command in between), then XACK:
  at-least-once delivery + deduplication committed atomically with the effect = exactly-once effect.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

if __package__:
    from .harness import (READY, ConsumerRun, KillLoop, LabError, our_consumers, processes_mentioning,  # noqa: F401
                          run_to_end, start_kill_loop)
    from .sqlite import verdict
    from . import servers
    from .servers import (PrivateServer, ServerError, available, find_binary, free_port,  # noqa: F401
                          port_in_use, register_needs_magic)
    from ..validation import check_choice, check_int, check_number
else:
    # Run as a file by the lab (faster start: the simulator package is not imported); see sqlite.py.
    from harness import (READY, ConsumerRun, KillLoop, LabError, our_consumers,  # type: ignore  # noqa: F401
                         processes_mentioning, run_to_end, start_kill_loop)
    from sqlite import verdict  # type: ignore[no-redef]
    import servers  # type: ignore[no-redef]
    from servers import (PrivateServer, ServerError, available, find_binary, free_port,  # type: ignore  # noqa: F401
                         port_in_use, register_needs_magic)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # semantics/: validation.py
    from validation import check_choice, check_int, check_number  # type: ignore[no-redef]

REDIS_URL_ENV = "COURSE_REDIS_URL"
MODES = ("plain", "noack", "idempotent")
INSTALL_HINT = ("Install it with `sudo apt-get install redis-server` (Debian/Ubuntu), "
                "`conda install -c conda-forge redis-server` (conda, Binder) or `brew install redis` (macOS), "
                f"or set {REDIS_URL_ENV}=redis://HOST:PORT/0 to use a server you already run.")
ORPHANED = 3
#: What the consumer imports, loaded once by the kill loop's launcher (see harness.py).
CONSUMER_IMPORTS = ("redis",)

# The idempotent consumer's atomic step: remember the entry id and apply the effect, or neither.
# KEYS: processed set, balance, effects hash, suppressed counter; ARGV: entry id, amount, message id.
APPLY_ONCE = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then
  redis.call('INCR', KEYS[4])
  return 0
end
redis.call('INCRBY', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
return 1
"""


class BrokerError(ServerError):
    """The broker lab cannot go on; the message says why and what to do."""


class RedisUnavailable(BrokerError):
    """No redis-server binary, and no COURSE_REDIS_URL."""


class PortInUse(BrokerError, servers.PortInUse):
    """The port asked for is taken on 127.0.0.1."""


class BrokerDied(BrokerError, servers.ServerDied):
    """The redis-server process exited while the lab was using it."""


# --------------------------------------------------------------------------- finding and starting a server

def find_redis_server(binary: str | None = None) -> str:
    """The path of the redis-server binary (``binary`` if given, else the one on PATH), or
    RedisUnavailable saying how to install one."""
    return find_binary("redis-server", binary, lab="Redis", hint=INSTALL_HINT, error=RedisUnavailable)


def redis_available() -> tuple[bool, str]:
    """(True, where) when the lab can run (COURSE_REDIS_URL set, or a redis-server binary found),
    else (False, why and how to install): what notebooks print and tests skip with."""
    return available(REDIS_URL_ENV, find_redis_server, RedisUnavailable)


class RedisServer(PrivateServer):
    """A private redis-server on 127.0.0.1 (a context manager; ``stop`` is idempotent).

    ``appendfsync`` is "always" by default: Redis fsyncs the append-only file before replying to a
    write, so an acknowledged write survives a crash of the server (or of the machine).
    """

    program, log_file = "redis-server", "redis.log"
    Error, PortInUse, Died = BrokerError, PortInUse, BrokerDied

    def __init__(self, *, port: int | None = None, binary: str | None = None, appendfsync: str = "always",
                 startup_timeout: float = 10.0) -> None:
        self.appendfsync = check_choice("appendfsync", appendfsync, ("always", "everysec", "no"))
        super().__init__(port=port, startup_timeout=startup_timeout)
        self.binary = find_redis_server(binary)

    def command(self) -> list[str]:
        return [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
                "--appendonly", "yes", "--appendfsync", self.appendfsync, "--save", "",
                "--daemonize", "no", "--protected-mode", "yes", "--logfile", self.log_file]

    def answers(self, sock: socket.socket) -> bool:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __repr__(self) -> str:
        state = "running" if self.alive() else "stopped"
        return f"RedisServer(127.0.0.1:{self.port}, {state}, appendonly yes, appendfsync {self.appendfsync})"


# --------------------------------------------------------------------------- the lab's connection

@dataclass
class Lab:
    """A connection for the lab: a redis-py client, the server (None when COURSE_REDIS_URL names
    an external one) and a key prefix (so an external server's other keys are never touched)."""

    client: Any
    server: RedisServer | None
    url: str
    prefix: str

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``client.<method>(...)``, turning a lost connection into a clear BrokerDied."""
        import redis

        try:
            return getattr(self.client, method)(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as e:
            if self.server is not None:
                self.server.check()
            raise BrokerDied(f"lost the connection to Redis at {self.url}: {e}") from e

    def close(self) -> None:
        try:
            if self.server is None:      # external server: remove only our keys
                keys = list(self.client.scan_iter(match=f"{self.prefix}*"))
                if keys:
                    self.client.delete(*keys)
        except Exception:
            pass
        finally:
            self.client.close()
            if self.server is not None:
                self.server.stop()

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def open_lab(*, port: int | None = None, binary: str | None = None, appendfsync: str = "always") -> Lab:
    """Connect to ``COURSE_REDIS_URL`` if set, else start a private RedisServer; return a Lab.
    Raises RedisUnavailable (with install instructions) when neither is possible."""
    import redis

    url = os.environ.get(REDIS_URL_ENV)
    server = None
    if not url:
        server = RedisServer(port=port, binary=binary, appendfsync=appendfsync).start()
        url = server.url
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=10)
    try:
        client.ping()
    except redis.ConnectionError as e:
        if server is not None:
            server.stop()
        raise BrokerError(f"cannot reach Redis at {url} ({REDIS_URL_ENV}): {e}") from e
    prefix = f"course:{os.getpid()}:{random.randrange(16**6):06x}:"
    return Lab(client=client, server=server, url=url, prefix=prefix)


# --------------------------------------------------------------------------- producing and counting

def produce(lab_or_client: Any, stream: str, n_messages: int, *, seed: int = 0) -> list[str]:
    """XADD ``n_messages`` deposits (fields ``msg`` = 1..n, ``amount`` seeded); return entry ids."""
    client = _client(lab_or_client)
    stream = _check_key("stream", stream)
    n_messages = check_int("n_messages", n_messages, low=1, high=1_000_000)
    rng = random.Random(check_int("seed", seed, low=0))
    pipe = client.pipeline(transaction=False)
    for i in range(1, n_messages + 1):
        pipe.xadd(stream, {"msg": i, "amount": rng.randint(1, 100)})
    return list(pipe.execute())


@dataclass(frozen=True)
class StreamTally:
    """What the consumers did to each message of the stream. lost + once + duplicated == n_messages."""

    n_messages: int
    lost: int
    once: int
    duplicated: int
    effects: int
    pending: int
    suppressed: int          # redeliveries the idempotent consumer recognised and skipped
    balance: int
    expected_balance: int

    @property
    def exactly_once(self) -> bool:
        return self.lost == 0 and self.duplicated == 0

    def line(self) -> str:
        return (f"messages {self.n_messages}: lost {self.lost}, once {self.once}, duplicated {self.duplicated}; "
                f"pending {self.pending}; suppressed {self.suppressed}; balance {self.balance} (expected {self.expected_balance})")


def tally(lab: Lab, stream: str, group: str, prefix: str) -> StreamTally:
    """Count effects per message from the effects hash ``{prefix}effects`` and the balance."""
    entries = lab.call("xrange", stream)
    effects = {int(k): int(v) for k, v in lab.call("hgetall", f"{prefix}effects").items()}
    counts = [effects.get(int(fields["msg"]), 0) for _, fields in entries]
    pending = lab.call("xpending", stream, group)["pending"]
    return StreamTally(n_messages=len(entries), lost=sum(c == 0 for c in counts), once=sum(c == 1 for c in counts),
                       duplicated=sum(c >= 2 for c in counts), effects=sum(counts), pending=pending,
                       suppressed=int(lab.call("get", f"{prefix}suppressed") or 0),
                       balance=int(lab.call("get", f"{prefix}balance") or 0),
                       expected_balance=sum(int(f["amount"]) for _, f in entries))


# --------------------------------------------------------------------------- the consumer

def consume(url: str, *, stream: str, group: str, consumer: str, mode: str, prefix: str, count: int = 1,
            pause: float = 0.0, claim_idle_ms: int | None = None, from_history: bool = False,
            crash_in_window: int | None = None, parent_pid: int | None = None, announce: bool = False,
            batches: int | None = None) -> int:
    """Process entries of ``group`` as ``consumer`` in ``mode``; return how many it handled.

    First, with ``from_history``, the entries pending for ``consumer`` itself (what its previous
    incarnation read and did not acknowledge): XREADGROUP with id ``0``, then with the id of the
    last entry returned, until a reply is empty (the recovery loop of the XREADGROUP reference).
    Then, when ``claim_idle_ms`` is set, XAUTOCLAIM every pending entry idle at least that long
    (entries another, crashed, consumer left behind). Then XREADGROUP new entries (">"), ``count``
    per call, until none are left (or after ``batches`` calls). ``crash_in_window=k`` SIGKILLs this
    process inside the failure window of the k-th entry (between effect and XACK; with noack,
    between delivery and effect): a deterministic crash point for the notebook.
    """
    import redis

    mode = check_choice("mode", mode, MODES)
    count = check_int("count", count, low=1, high=10_000)
    pause = check_number("pause", pause, low=0.0, high=1.0)
    r = redis.Redis.from_url(url, decode_responses=True)
    apply_once = r.register_script(APPLY_ONCE)
    processed, balance, effects = f"{prefix}processed", f"{prefix}balance", f"{prefix}effects"
    handled = 0
    if announce:
        r.ping()        # connect first: the harness's kill delays count from "able to work"
        print(READY, flush=True)

    def window() -> None:
        time.sleep(pause)
        if crash_in_window is not None and handled + 1 == crash_in_window:
            os.kill(os.getpid(), signal.SIGKILL)      # a real crash: no finally, no atexit

    def handle(entry_id: str, fields: dict) -> None:
        msg, amount = fields["msg"], int(fields["amount"])
        if mode == "noack":
            window()                                  # already "acknowledged" by delivery
            _apply(r, balance, effects, msg, amount)
        elif mode == "plain":
            _apply(r, balance, effects, msg, amount)
            window()
            r.xack(stream, group, entry_id)
        else:
            apply_once(keys=[processed, balance, effects, f"{prefix}suppressed"], args=[entry_id, amount, msg])
            window()
            r.xack(stream, group, entry_id)

    if from_history:
        last = "0"
        while True:
            if parent_pid is not None and os.getppid() != parent_pid:
                raise SystemExit(ORPHANED)
            reply = r.xreadgroup(group, consumer, {stream: last}, count=count)
            entries = reply[0][1] if reply else []
            if not entries:
                break                                 # its own pending list is done: on to ">"
            for entry_id, fields in entries:
                last = entry_id
                if fields:                            # None/empty: trimmed entry
                    handle(entry_id, fields)
                    handled += 1
    if claim_idle_ms is not None:
        start = "0-0"
        while True:
            if parent_pid is not None and os.getppid() != parent_pid:
                raise SystemExit(ORPHANED)
            start, claimed, _deleted = r.xautoclaim(stream, group, consumer, claim_idle_ms, start, count=count)
            for entry_id, fields in claimed:
                if fields:                            # None/empty: trimmed entry
                    handle(entry_id, fields)
                    handled += 1
            if start == "0-0":
                break
    calls = 0
    while batches is None or calls < batches:
        if parent_pid is not None and os.getppid() != parent_pid:
            raise SystemExit(ORPHANED)                # the harness died: never outlive it
        reply = r.xreadgroup(group, consumer, {stream: ">"}, count=count, noack=(mode == "noack"))
        calls += 1
        if not reply:
            break
        for entry_id, fields in reply[0][1]:
            handle(entry_id, fields)
            handled += 1
    r.close()
    return handled


def apply_effect(lab: Lab, prefix: str, msg: str | int, amount: int) -> None:
    """Apply one deposit by hand (what a consumer does), for the notebook's step-by-step cells."""
    if not isinstance(lab, Lab):
        raise TypeError(f"lab must be the Lab that open_lab returned, got {type(lab).__name__}")
    _check_key("prefix", prefix)
    amount = check_int("amount", int(amount) if isinstance(amount, str) else amount, low=0)
    try:
        _apply(lab.client, f"{prefix}balance", f"{prefix}effects", str(msg), amount)
    except Exception as e:
        import redis
        if isinstance(e, (redis.ConnectionError, redis.TimeoutError)):
            lab.call("ping")     # raises the clear BrokerDied
        raise


def _apply(r: Any, balance: str, effects: str, msg: str, amount: int) -> None:
    # MULTI/EXEC: the deposit and its measurement commit together (no deduplication here).
    pipe = r.pipeline(transaction=True)
    pipe.incrby(balance, amount)
    pipe.hincrby(effects, msg, 1)
    pipe.execute()


def consumer_command(lab: Lab, *, stream: str, group: str, consumer: str, mode: str, count: int = 1,
                     pause: float = 0.0, claim_idle_ms: int | None = None, from_history: bool = False,
                     crash_in_window: int | None = None, batches: int | None = None,
                     prefix: str | None = None) -> list[str]:
    """The command line of a consumer child process (what ``run_consumer`` and the kill loop start).
    ``prefix`` names the consumer's keys (``{prefix}balance``, ``effects``, ``processed``); default lab.prefix."""
    mode = check_choice("mode", mode, MODES)
    for name, value in (("stream", stream), ("group", group), ("consumer", consumer)):
        _check_key(name, value)
    prefix = lab.prefix if prefix is None else _check_key("prefix", prefix)
    cmd = [sys.executable, str(Path(__file__).resolve()), "consume", "--url", lab.url, "--stream", stream,
           "--group", group, "--consumer", consumer, "--mode", mode, "--prefix", prefix,
           "--count", str(check_int("count", count, low=1, high=10_000)),
           "--pause", repr(check_number("pause", pause, low=0.0, high=1.0)), "--parent-pid", str(os.getpid())]
    if claim_idle_ms is not None:
        cmd += ["--claim-idle-ms", str(check_int("claim_idle_ms", claim_idle_ms, low=0))]
    if not isinstance(from_history, bool):
        raise TypeError(f"from_history must be True or False, got {from_history!r}")
    if from_history:
        cmd += ["--from-history"]
    if crash_in_window is not None:
        cmd += ["--crash-in-window", str(check_int("crash_in_window", crash_in_window, low=1))]
    if batches is not None:
        cmd += ["--batches", str(check_int("batches", batches, low=1))]
    return cmd


def run_consumer(lab: Lab, *, timeout: float = 60.0, **kwargs: Any) -> ConsumerRun:
    """Run one consumer child process to its end (its work done, or its planned crash)."""
    timeout = check_number("timeout", timeout, low=0.0, low_open=True)
    return run_to_end(consumer_command(lab, **kwargs), timeout=timeout, consumer=kwargs.get("consumer", ""),
                      on_failure=None if lab.server is None else lab.server.check)


@dataclass(frozen=True)
class BrokerLabResult:
    mode: str
    kills: int
    starts: int
    tally: StreamTally
    seconds: float

    # the three counts storage.plot_results draws
    @property
    def lost(self) -> int:
        return self.tally.lost

    @property
    def once(self) -> int:
        return self.tally.once

    @property
    def duplicated(self) -> int:
        return self.tally.duplicated

    def verdict(self) -> str:
        return verdict(self.mode, self.tally.lost, self.tally.duplicated)

    def summary(self) -> str:
        return f"{self.mode:10s} kills {self.kills:3d}  {self.tally.line()}  {self.seconds:.1f} s"


def run_broker_lab(lab: Lab, mode: str, *, n_messages: int = 100, kills: int = 20, max_delay: float = 0.03,
                   pause: float = 0.005, seed: int = 0, timeout: float = 120.0) -> BrokerLabResult:
    """The SQLite lab's harness on Redis: a fresh stream of ``n_messages`` deposits and a group; a
    consumer in ``mode`` SIGKILLed ``kills`` times at random moments and restarted under the same
    name, each restart first reading its own pending entries (XREADGROUP with id 0: what the killed
    incarnation read and did not acknowledge), then new ones."""
    return compare_modes(lab, (mode,), n_messages=n_messages, kills=kills, max_delay=max_delay, pause=pause,
                         seed=seed, timeout=timeout)[mode]


def compare_modes(lab: Lab, modes: Sequence[str] = MODES, *, n_messages: int = 100, kills: int = 20,
                  max_delay: float = 0.03, pause: float = 0.005, seed: int = 0,
                  timeout: float = 120.0) -> dict[str, BrokerLabResult]:
    """``run_broker_lab`` for each mode with the same settings (and seed), the modes side by side
    (each kill loop in its own launcher process, on its own stream): mode -> result."""
    if not isinstance(lab, Lab):
        raise TypeError(f"lab must be the Lab that open_lab returned, got {type(lab).__name__}")
    if isinstance(modes, str) or not isinstance(modes, Sequence) or not modes:
        raise TypeError(f"modes must be a non-empty sequence of {', '.join(map(repr, MODES))}; got {modes!r}")
    modes = [check_choice("mode", m, MODES) for m in modes]
    if len(set(modes)) != len(modes):
        raise ValueError(f"modes must not repeat a mode, got {modes!r}")
    n_messages = check_int("n_messages", n_messages, low=1, high=1_000_000)
    kills = check_int("kills", kills, low=0, high=100_000)
    max_delay = check_number("max_delay", max_delay, low=0.0, high=10.0, low_open=True)
    pause = check_number("pause", pause, low=0.0, high=1.0)
    seed = check_int("seed", seed, low=0)
    timeout = check_number("timeout", timeout, low=0.0, low_open=True)
    runs: dict[str, tuple[str, str, KillLoop]] = {}
    try:
        for mode in modes:
            stream, group = lab.key(f"kill:{mode}:{seed}:stream"), "workers"
            prefix = lab.key(f"kill:{mode}:{seed}:")
            lab.call("delete", stream, *(f"{prefix}{k}" for k in ("processed", "balance", "effects", "suppressed")))
            produce(lab.client, stream, n_messages, seed=seed)
            lab.call("xgroup_create", stream, group, id="0")
            cmd = consumer_command(lab, stream=stream, group=group, consumer="worker", mode=mode, pause=pause,
                                   from_history=True, prefix=prefix)
            loop = start_kill_loop(cmd, kills=kills, max_delay=max_delay, seed=seed, timeout=timeout,
                                   what=f"{mode} Redis consumer")
            runs[mode] = (stream, prefix, loop)
        results = {}
        for mode, (stream, prefix, loop) in runs.items():
            try:
                done, starts = loop.result()
            except LabError:
                if lab.server is not None:
                    lab.server.check()          # a dead server explains the failure better
                raise
            results[mode] = BrokerLabResult(mode=mode, kills=done, starts=starts,
                                            tally=tally(lab, stream, "workers", prefix),
                                            seconds=loop.seconds)
        return results
    finally:
        for _, _, loop in runs.values():
            loop.stop()


# --------------------------------------------------------------------------- notebook support

def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext semantics.labs.redis_streams`` registers ``%%needs_redis``: the cell runs when the lab can
    reach a Redis server, and otherwise prints why it was skipped (and how to install one)."""
    register_needs_magic(ipython, "needs_redis", redis_available)


def _client(lab_or_client: Any) -> Any:
    return lab_or_client.client if isinstance(lab_or_client, Lab) else lab_or_client


def _check_key(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string (a Redis key), got {value!r}")
    return value


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semantics.labs.redis_streams",
                                     description="The Redis Streams lab's consumer (the process the lab crashes).")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("consume")
    c.add_argument("--url", required=True)
    c.add_argument("--stream", required=True)
    c.add_argument("--group", required=True)
    c.add_argument("--consumer", required=True)
    c.add_argument("--mode", choices=MODES, required=True)
    c.add_argument("--prefix", required=True)
    c.add_argument("--count", type=int, default=1)
    c.add_argument("--pause", type=float, default=0.0)
    c.add_argument("--claim-idle-ms", type=int, default=None)
    c.add_argument("--from-history", action="store_true")
    c.add_argument("--crash-in-window", type=int, default=None)
    c.add_argument("--batches", type=int, default=None)
    c.add_argument("--parent-pid", type=int, default=None)
    a = parser.parse_args(argv)
    consume(a.url, stream=a.stream, group=a.group, consumer=a.consumer, mode=a.mode, prefix=a.prefix,
            count=a.count, pause=a.pause, claim_idle_ms=a.claim_idle_ms, from_history=a.from_history,
            crash_in_window=a.crash_in_window,
            parent_pid=a.parent_pid, announce=True, batches=a.batches)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
