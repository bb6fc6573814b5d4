"""The labs' private servers (redis-server, nats-server), one life cycle (semantics.labs.servers):
a port in use is reported clearly (before start, and when taken between the check and the start),
``stop`` is idempotent and removes the directory, and no server outlives a SIGKILLed owner; and each
broker lab's notebook runs to the end, skipping its server cells with a message, when no server exists."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from semantics.labs import jetstream, servers
from semantics.labs import redis_streams as broker
from semantics.labs.sqlite import processes_mentioning

KINDS = {
    # kind: (server class, binary, its command-line marks: server, consumers)
    "redis": (broker.RedisServer, "redis-server", ("127.0.0.1:{port} ", "127.0.0.1:{port}/")),
    "nats": (jetstream.NatsServer, "nats-server", ("--port {port} ", "nats://127.0.0.1:{port} ")),
}
# kind: (the lab's notebook, the variable naming an external server, the lab's name in messages)
NOTEBOOKS = {
    "redis": ("07-lab-redis-streams.ipynb", broker.REDIS_URL_ENV, "Redis"),
    "nats": ("08-lab-nats-jetstream.ipynb", jetstream.NATS_URL_ENV, "NATS"),
}
SERVERS = [pytest.param(kind, id=kind, marks=[getattr(pytest.mark, kind), pytest.mark.skipif(
    shutil.which(binary) is None, reason=f"no {binary} binary")]) for kind, (_, binary, _) in KINDS.items()]


def leftovers(kind, port):
    """Live processes of the server on ``port`` or of consumers connected to it."""
    return [pid for mark in KINDS[kind][2] for pid in processes_mentioning(mark.format(port=port))]


@pytest.mark.parametrize("kind", SERVERS)
def test_port_in_use_is_reported_clearly(kind):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(servers.PortInUse, match=f"port {port} on 127.0.0.1 is already in use.*port=None"):
            KINDS[kind][0](port=port).start()
    assert leftovers(kind, port) == []


@pytest.mark.parametrize("kind", SERVERS)
def test_port_taken_between_check_and_start_is_reported_from_the_server_log(kind, monkeypatch):
    monkeypatch.setattr(servers, "port_in_use", lambda port, host="127.0.0.1": False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = KINDS[kind][0](port=port)
        try:
            with pytest.raises(servers.PortInUse, match=f"port {port} on 127.0.0.1 is already in use"):
                server.start()
        finally:
            server.stop()
    assert leftovers(kind, port) == []


@pytest.mark.parametrize("kind", SERVERS)
def test_stop_is_idempotent_and_removes_the_directory(kind):
    server = KINDS[kind][0]().start()
    directory, port = server.directory, server.port
    assert leftovers(kind, port)
    server.stop()
    server.stop()
    assert not directory.exists() and leftovers(kind, port) == []


@pytest.mark.parametrize("kind", SERVERS)
def test_no_server_outlives_a_sigkilled_python_process_and_its_directory_goes_at_the_next_start(
        kind, tmp_path, monkeypatch):
    """A kernel killed mid-lab runs no finally and no atexit; the server must still go, and the
    directory it leaves (the server's files) is swept when the next server starts."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) not installed: the parent-death signal is not available")
    base = tmp_path / "tmp"                 # a temporary folder of our own: sweep nobody else's
    base.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    cls = KINDS[kind][0]
    script = textwrap.dedent(f"""
        import time
        from {cls.__module__} import {cls.__name__}
        s = {cls.__name__}().start()
        print(s.port, s.directory, flush=True)
        time.sleep(60)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "TMPDIR": str(base)})
    try:
        port, directory = owner.stdout.readline().split()
        port = int(port)
        assert leftovers(kind, port)
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 5
        while leftovers(kind, port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(kind, port) == []
        assert pathlib.Path(directory).is_dir()                  # left behind by the dead owner
        with cls() as server:                                    # the next start sweeps it
            assert not pathlib.Path(directory).exists()
            assert server.directory.parent == base
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        owner.stdout.close()
    assert list(base.iterdir()) == []


@pytest.mark.parametrize("kind", [pytest.param(k, id=k, marks=getattr(pytest.mark, k)) for k in NOTEBOOKS])
def test_notebook_skips_its_server_cells_without_failing_when_no_server_exists(kind):
    """On a machine with no server binary (and no COURSE_*_URL), the lab says how to install one and
    every cell that needs the server prints that it was skipped; no cell fails."""
    import nbformat
    from nbclient import NotebookClient

    notebook, url_env, lab = NOTEBOOKS[kind]
    binary = KINDS[kind][1]
    path = pathlib.Path(__file__).parent.parent / "notebooks" / notebook
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k != url_env}
    env["PATH"] = str(pathlib.Path(sys.executable).parent)          # python, but no server binary
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"apt-get install {binary}" in text and f"conda install -c conda-forge {binary}" in text
    server_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(f"%%needs_{kind}")]
    assert server_cells and all(f"(cell skipped: The {lab} lab needs a {binary} binary" in
                                "".join(o.get("text", "") for o in c.outputs) for c in server_cells)
