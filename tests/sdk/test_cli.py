"""The CLI's handling of the key (environment or a 0600 config file, never argv), its
output modes and exit codes, against the live app."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from modelhouse.cli import main
from modelhouse.config import write_config_file


def test_the_installed_command_reads_the_key_from_the_environment(
    live_server, live_a, live_base_model, tmp_path
):
    env = {
        **os.environ,
        "MODELHOUSE_API_KEY": live_a.secret,
        "MODELHOUSE_BASE_URL": live_server.url,
    }
    listed = subprocess.run(
        [sys.executable, "-m", "modelhouse", "models", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert [m["id"] for m in json.loads(listed.stdout)] == [live_base_model.public_id]

    del env["MODELHOUSE_API_KEY"]
    keyless = subprocess.run(
        [sys.executable, "-m", "modelhouse", "models", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert keyless.returncode == 1 and "MODELHOUSE_API_KEY" in keyless.stderr


def test_there_is_no_api_key_option():
    with pytest.raises(SystemExit) as usage_error:
        main(["models", "list", "--api-key", "mh_test_x"])
    assert usage_error.value.code == 2


def test_configure_writes_a_private_file_and_the_cli_uses_it(
    live_server, live_a, monkeypatch, tmp_path, capsys
):
    path = tmp_path / "modelhouse" / "config.toml"
    monkeypatch.setenv("MODELHOUSE_CONFIG", str(path))
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{live_a.secret}\n"))
    assert main(["configure", "--base-url", live_server.url]) == 0
    assert path.stat().st_mode & 0o777 == 0o600
    assert live_a.secret not in capsys.readouterr().out

    assert main(["usage"]) == 0
    assert "METER" in capsys.readouterr().out  # the human table

    path.chmod(0o644)
    assert main(["usage"]) == 1
    assert "chmod 600" in capsys.readouterr().err


def test_configure_refuses_a_key_the_api_rejects(live_server, monkeypatch, tmp_path, capsys):
    path = tmp_path / "config.toml"
    monkeypatch.setenv("MODELHOUSE_CONFIG", str(path))
    monkeypatch.setattr(sys, "stdin", io.StringIO("mh_test_wrong\n"))
    assert main(["configure", "--base-url", live_server.url]) == 1
    assert "authentication_error" in capsys.readouterr().err and not path.exists()


def test_api_errors_exit_1_with_the_request_id(live_server, live_a, monkeypatch, capsys):
    # The environment wins over the file.
    write_config_file(Path(os.environ["MODELHOUSE_CONFIG"]), api_key="mh_test_stale")
    monkeypatch.setenv("MODELHOUSE_API_KEY", live_a.secret)
    monkeypatch.setenv("MODELHOUSE_BASE_URL", live_server.url)
    assert main(["fine-tunes", "cancel", "ft_doesnotexist"]) == 1
    err = capsys.readouterr().err
    assert "404 invalid_request_error/resource_missing" in err and "[request req_" in err


def test_the_command_runs_without_tqdm(live_server, live_a, live_base_model):
    env = {
        **os.environ,
        "MODELHOUSE_API_KEY": live_a.secret,
        "MODELHOUSE_BASE_URL": live_server.url,
    }
    code = (
        "import sys; sys.modules['tqdm'] = None\n"  # installed without the [cli] extra
        "from modelhouse.cli import main\n"
        "sys.exit(main(['models', 'list', '--json']))\n"
    )
    listed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert [m["id"] for m in json.loads(listed.stdout)] == [live_base_model.public_id]
