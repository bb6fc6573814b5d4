"""`make lab`: the command line binds 127.0.0.1 and never carries the token (JUPYTER_TOKEN does), weak
tokens are refused, the port is the one asked for, the lab opens the learner's working copy (never the
tracked notebooks) at lesson 00, Jupyter's state is private, and the Jupyter settings in the
environment turn the news feed and the update check off. No server is started here (the browser
tests start one through `make lab`)."""

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


STRONG = "k3Jq9xV2mPz8Lw4tR7"


def test_command_binds_loopback_with_port_and_never_carries_the_token():
    cmd = launch_lab.command(9999, root=ROOT / "work")
    f = flags(cmd)
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f["ServerApp.ip"] == "127.0.0.1"
    assert f["ServerApp.port"] == "9999"
    assert f["ServerApp.port_retries"] == "0"  # the port asked for, or a clear failure
    assert f["ServerApp.open_browser"] == "False"
    assert f["ServerApp.root_dir"] == str(ROOT / "work")
    # any local user reads a command line with `ps`: the token travels in JUPYTER_TOKEN instead
    assert not any("token" in arg.lower() for arg in cmd), cmd


@pytest.mark.parametrize("root, ip, allowed", [(True, "127.0.0.1", True), (True, "0.0.0.0", False),
                                               (False, "127.0.0.1", False)])
def test_root_is_allowed_on_loopback_only(monkeypatch, root, ip, allowed):
    monkeypatch.setattr(launch_lab, "_running_as_root", lambda: root)
    assert ("--ServerApp.allow_root=True" in launch_lab.command(8888, ip)) is allowed


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_token_is_refused(token):
    with pytest.raises(ValueError, match="token must be a non-empty"):
        launch_lab.environment(None, base={}, token=token)


@pytest.mark.parametrize("token", ["a", "password", "abc123abc123abc123", "aaaaaaaaaaaaaaaaaaaaaaaa", "0123456789ab"])
def test_a_weak_token_is_refused(token):
    with pytest.raises(launch_lab.WeakTokenError, match="too weak"):
        launch_lab.check_token(token)


def test_a_token_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="token must be a str"):
        launch_lab.check_token(123)


def test_the_token_goes_into_the_environment():
    env = launch_lab.environment(None, base={"PATH": "/usr/bin"}, token=STRONG)
    assert env["JUPYTER_TOKEN"] == STRONG
    assert launch_lab.check_token(launch_lab.new_token())


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_command_refuses_a_bad_port(port):
    with pytest.raises(ValueError, match="port"):
        launch_lab.command(port)


def test_command_refuses_a_non_int_port():
    with pytest.raises(TypeError, match="port"):
        launch_lab.command("8888")


def test_generated_tokens_are_long_and_fresh():
    tokens = {launch_lab.new_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(t) >= 32 for t in tokens)


def _launch(monkeypatch, tmp_path, argv):
    seen = {}
    monkeypatch.setattr(launch_lab, "port_is_free", lambda port, ip: True)
    monkeypatch.setattr(launch_lab.os, "execve", lambda exe, cmd, env: seen.update(cmd=cmd, env=env))
    monkeypatch.setattr(launch_lab.os, "umask", lambda mask: seen.update(umask=mask))
    launch_lab.main(["--workdir", str(tmp_path / "work"), *argv])
    return seen


def test_main_prints_the_url_of_lesson_00_and_execs_jupyter(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("COURSE_TOKEN", raising=False)
    seen = _launch(monkeypatch, tmp_path, ["--port", "9999", "--no-browser"])
    f = flags(seen["cmd"])
    token = seen["env"]["JUPYTER_TOKEN"]
    assert len(token) >= 32 and f["ServerApp.port"] == "9999" and f["ServerApp.ip"] == "127.0.0.1"
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:9999/lab/tree/notebooks/00-introduction.ipynb?token={token}" in out
    # the server shows the working copy, not the repository; files it makes are private
    assert f["ServerApp.root_dir"] == str(tmp_path / "work")
    assert seen["umask"] == 0o077


def test_main_uses_course_token_and_picks_a_free_port(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_TOKEN", STRONG)
    seen = _launch(monkeypatch, tmp_path, ["--port", "0", "--no-browser"])
    assert seen["env"]["JUPYTER_TOKEN"] == STRONG
    assert 1 <= int(flags(seen["cmd"])["ServerApp.port"]) <= 65535


def test_main_refuses_a_weak_course_token(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_TOKEN", "a")
    monkeypatch.setattr(launch_lab.os, "execve", lambda *a: pytest.fail("must not start"))
    with pytest.raises(SystemExit, match="COURSE_TOKEN is too weak .*secrets.token_urlsafe"):
        launch_lab.main(["--port", "0", "--no-browser", "--workdir", str(tmp_path / "work")])


def test_main_says_which_port_is_busy(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_TOKEN", raising=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setattr(launch_lab.os, "execve", lambda *a: pytest.fail("must not start"))
        with pytest.raises(SystemExit, match=f"Port {port} .* in use.*PORT="):
            launch_lab.main(["--port", str(port), "--no-browser", "--workdir", str(tmp_path / "work")])


@pytest.mark.parametrize("argv", [["--port", "70000"], ["--port", "-5"], ["--port", "x"], ["--ip", ""]])
def test_main_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        launch_lab.main(argv)
    assert exc.value.code == 2


# -- the learner's working copy ----------------------------------------------------------------------


def test_working_copy_gets_every_lesson_and_exercise_and_keeps_the_learners_work(tmp_path):
    first = launch_lab.prepare_workdir(tmp_path / "work")
    expected = sorted(f"{folder}/{p.name}" for folder in ("notebooks", "exercises")
                      for p in (ROOT / folder).glob("*.ipynb"))
    assert sorted(first.added) == expected and "notebooks/00-introduction.ipynb" in expected
    assert not (tmp_path / "work" / "solutions").exists()
    mine = tmp_path / "work" / "notebooks" / "00-introduction.ipynb"
    mine.write_text("my edits")
    (tmp_path / "work" / "exercises" / "01-retries.ipynb").unlink()
    again = launch_lab.prepare_workdir(tmp_path / "work")
    assert again.added == ("exercises/01-retries.ipynb",)  # a notebook new to the copy is added
    assert mine.read_text() == "my edits"                     # the learner's work is never overwritten


@pytest.mark.parametrize("where", [".", "notebooks", "exercises"])
def test_working_copy_cannot_be_the_tracked_notebooks(where):
    with pytest.raises(ValueError, match="workdir must be a folder of its own"):
        launch_lab.prepare_workdir(ROOT / where)


def test_state_dir_is_private(tmp_path):
    env = launch_lab.environment(tmp_path / "state", base={"PATH": "/usr/bin"})
    for name in ("JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR"):
        for folder in [Path(env[name]), *Path(env[name]).parents]:
            if folder.is_relative_to(tmp_path / "state"):
                assert folder.stat().st_mode & 0o777 == 0o700, (folder, oct(folder.stat().st_mode))


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
    server = json.loads((tmp_path / "etc/jupyter/jupyter_lab_config.json").read_text())
    assert server["LabApp"] == {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}


def test_the_slider_names_extension_is_built_from_its_source_and_installed(tmp_path):
    """labextension/ (ipywidgets sliders get their description as accessible name) is committed
    prebuilt in jupyter-config/labextension/; the settings script and the wheel install it where
    JupyterLab and Notebook 7 load extensions. The browser test checks the names themselves."""
    source = json.loads((ROOT / "labextension" / "package.json").read_text())
    built = json.loads((ROOT / "jupyter-config" / "labextension" / "package.json").read_text())
    assert (built["name"], built["version"]) == (source["name"], source["version"]) == \
        (jupyter_settings.LABEXTENSION, built["version"])
    chunks = " ".join(p.read_text() for p in (ROOT / "jupyter-config" / "labextension" / "static").glob("*.js"))
    for needle in ("widget-slider", "aria-label", '[role="slider"]', "MutationObserver"):
        assert needle in chunks, f"the built extension lacks {needle!r}: rebuild it (make labextension)"
    jupyter_settings.write(tmp_path)
    installed = tmp_path / "share/jupyter/labextensions" / jupyter_settings.LABEXTENSION
    assert (installed / "package.json").is_file() and list((installed / "static").glob("remoteEntry.*.js"))


def test_server_settings_are_merged_into_an_existing_config(tmp_path):
    config = tmp_path / "etc/jupyter/jupyter_lab_config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"LabApp": {"collaborative": True}, "ServerApp": {"x": 1}}))
    jupyter_settings.write(tmp_path)
    merged = json.loads(config.read_text())
    assert merged["ServerApp"] == {"x": 1} and merged["LabApp"]["collaborative"] is True
    assert merged["LabApp"]["news_url"] is None


def test_a_non_editable_install_carries_the_settings_into_the_environment():
    """pyproject's data-files put jupyter-config/ where JupyterLab reads it: a plain `jupyter lab`,
    Binder and a hub get the quiet settings without `make` (tests/test_install.py installs it)."""
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert data["etc/jupyter"] == ["jupyter-config/jupyter_lab_config.json"]
    assert data["share/jupyter/lab/settings/overrides.d"] == ["jupyter-config/delivery-semantics-course.json"]
    assert jupyter_settings.server_config_path("/p") == Path("/p/etc/jupyter/jupyter_lab_config.json")


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
