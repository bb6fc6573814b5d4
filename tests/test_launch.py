"""`make lab`: the command line binds 127.0.0.1, always has a token, uses the port asked for, and the
JupyterLab settings turn the news feed and the update check off. No server is started here."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import jupyter_settings  # noqa: E402
import launch_lab  # noqa: E402

SCHEMA = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas" / "@jupyterlab" / "apputils-extension" / "notification.json"


def flags(cmd: list[str]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in cmd if arg.startswith("--") and "=" in arg)


def test_command_binds_loopback_with_token_and_port():
    cmd = launch_lab.command(9999, token="abc123")
    f = flags(cmd)
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f["ServerApp.ip"] == "127.0.0.1"
    assert f["ServerApp.port"] == "9999"
    assert f["ServerApp.port_retries"] == "0"  # the port asked for, or a clear failure
    assert f["IdentityProvider.token"] == "abc123"
    assert f["ServerApp.open_browser"] == "False"
    assert f["ServerApp.root_dir"] == str(ROOT)
    assert f["LabApp.news_url"] == "None"
    assert f["LabApp.check_for_updates_class"] == "jupyterlab.NeverCheckForUpdate"


@pytest.mark.parametrize("root, ip, allowed", [(True, "127.0.0.1", True), (True, "0.0.0.0", False),
                                               (False, "127.0.0.1", False)])
def test_root_is_allowed_on_loopback_only(monkeypatch, root, ip, allowed):
    monkeypatch.setattr(launch_lab, "_running_as_root", lambda: root)
    assert ("--ServerApp.allow_root=True" in launch_lab.command(8888, ip, token="t")) is allowed


@pytest.mark.parametrize("token", [None, "", "   "])
def test_command_refuses_an_empty_token(token):
    with pytest.raises(ValueError, match="token"):
        launch_lab.command(8888, token=token)


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_command_refuses_a_bad_port(port):
    with pytest.raises(ValueError, match="port"):
        launch_lab.command(port, token="t")


def test_command_refuses_a_non_int_port():
    with pytest.raises(TypeError, match="port"):
        launch_lab.command("8888", token="t")


def test_generated_tokens_are_long_and_fresh():
    tokens = {launch_lab.new_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(t) >= 32 for t in tokens)


def test_main_prints_the_url_and_execs_jupyter(monkeypatch, capsys):
    seen = {}
    monkeypatch.delenv("COURSE_TOKEN", raising=False)
    monkeypatch.setattr(launch_lab, "port_is_free", lambda port, ip: True)
    monkeypatch.setattr(launch_lab.os, "execve", lambda exe, cmd, env: seen.update(cmd=cmd, env=env))
    launch_lab.main(["--port", "9999", "--no-browser"])
    f = flags(seen["cmd"])
    token = f["IdentityProvider.token"]
    assert token and f["ServerApp.port"] == "9999" and f["ServerApp.ip"] == "127.0.0.1"
    assert f"http://127.0.0.1:9999/lab?token={token}" in capsys.readouterr().out


def test_main_uses_course_token_and_picks_a_free_port(monkeypatch, capsys):
    seen = {}
    monkeypatch.setenv("COURSE_TOKEN", "from-the-instructor")
    monkeypatch.setattr(launch_lab.os, "execve", lambda exe, cmd, env: seen.update(cmd=cmd))
    launch_lab.main(["--port", "0", "--no-browser"])
    f = flags(seen["cmd"])
    assert f["IdentityProvider.token"] == "from-the-instructor"
    assert 1 <= int(f["ServerApp.port"]) <= 65535


def test_main_says_which_port_is_busy(monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setattr(launch_lab.os, "execve", lambda *a: pytest.fail("must not start"))
        with pytest.raises(SystemExit, match=f"Port {port} .* in use.*PORT="):
            launch_lab.main(["--port", str(port), "--no-browser"])


@pytest.mark.parametrize("argv", [["--port", "70000"], ["--port", "-5"], ["--port", "x"], ["--ip", ""]])
def test_main_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        launch_lab.main(argv)
    assert exc.value.code == 2


def test_environment_moves_jupyter_state_but_keeps_the_kernel_reachable(tmp_path):
    env = launch_lab.environment(tmp_path, base={"PATH": "/usr/bin", "JUPYTER_PATH": "/x"})
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                 "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        assert Path(env[name]).is_dir() and Path(env[name]).is_relative_to(tmp_path), name
    assert env["JUPYTER_PATH"] == "/x"
    # PATH is kept, with the sbin directories (Debian's /usr/sbin/nats-server) added where they exist
    sbin = [d for d in launch_lab.SERVER_DIRS if Path(d).is_dir()]
    assert env["PATH"] == ":".join(["/usr/bin", *sbin])
    assert launch_lab.environment(None, base={"PATH": "/usr/sbin:/usr/bin"})["PATH"].split(":")[:2] == \
        ["/usr/sbin", "/usr/bin"]
    # the course kernel is found through sys.prefix, whatever JUPYTER_DATA_DIR says
    from jupyter_core.paths import jupyter_path
    assert str(Path(sys.prefix) / "share" / "jupyter") in jupyter_path()


def test_settings_turn_news_and_update_check_off(tmp_path):
    path = jupyter_settings.write(tmp_path)
    assert path == tmp_path / "share/jupyter/lab/settings/overrides.d/delivery-semantics-course.json"
    settings = json.loads(path.read_text())
    notification = settings["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}


@pytest.mark.skipif(not SCHEMA.exists(), reason=f"JupyterLab's schema {SCHEMA} is not installed")
def test_setting_names_and_values_exist_in_the_installed_jupyterlab():
    schema = json.loads(SCHEMA.read_text())["properties"]
    for name, value in jupyter_settings.OVERRIDES[jupyter_settings.PLUGIN].items():
        assert name in schema, f"{name} is not a setting of {jupyter_settings.PLUGIN}"
        prop = schema[name]
        if "oneOf" in prop:
            assert value in [choice["const"] for choice in prop["oneOf"]], (name, value)
        else:
            assert isinstance(value, {"boolean": bool, "string": str}[prop["type"]]), (name, value)


def test_jupyterlab_reads_the_drop_in_folder(tmp_path):
    """jupyterlab_server merges overrides.d/*.json: the file is where JupyterLab looks."""
    settings_utils = pytest.importorskip("jupyterlab_server.settings_utils")
    path = jupyter_settings.write(tmp_path)
    overrides, error = settings_utils._get_overrides(str(path.parent.parent))
    assert not error
    assert overrides[jupyter_settings.PLUGIN]["fetchNews"] == "false"
