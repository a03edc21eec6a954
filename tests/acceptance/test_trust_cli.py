"""The trust profile through the CLI: validate refuses, executors show lists safety settings."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_support import EXAMPLES, Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home", f"sqlite:///{tmp_path / 'cli.db'}")


def run(cli: Cli, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli.command(*args),
        env={**cli.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_validate_refuses_os_system_under_the_server_profile(cli: Cli, tmp_path: Path) -> None:
    tree = tmp_path / "pwn.yaml"
    marker = tmp_path / "pwned.txt"
    tree.write_text(
        "tasks:\n  - key: pwn\n    executor: python.call\n"
        f"    inputs: {{function: 'os:system', args: ['id > {marker}']}}\n"
    )
    done = run(cli, "validate", str(tree), TASKFLOW_TRUST="server")
    assert done.returncode == 2, done.stdout
    assert "'os:system' is not allowed by the python.call allowlist" in done.stderr
    done = run(cli, "run", str(tree), TASKFLOW_TRUST="server")
    assert done.returncode == 2
    assert not marker.exists()
    # The CLI's own trees (local profile) are as they were.
    assert run(cli, "validate", str(EXAMPLES / "demo.yaml")).returncode == 0


def test_executors_show_lists_the_safety_settings_per_profile(cli: Cli) -> None:
    done = run(cli, "executors", "show", "python.call", "--json")
    assert done.returncode == 0, done.stderr
    (setting,) = json.loads(done.stdout)["safety"]
    assert (setting["name"], setting["local"], setting["server"], setting["current"]) == (
        "python_call_allow",
        None,
        [],
        None,
    )
    done = run(cli, "executors", "show", "python.call", TASKFLOW_PYTHON_CALL_ALLOW="myapp.*:*")
    assert "safety settings" in done.stdout
    assert "python_call_allow" in done.stdout and '["myapp.*:*"]' in done.stdout
    listed = {e["id"]: e for e in json.loads(run(cli, "executors", "list", "--json").stdout)}
    assert listed["noop"]["safety"] == []
    assert listed["python.call"]["safety"][0]["env"] == "TASKFLOW_PYTHON_CALL_ALLOW"
    for executor in ("shell.run", "http.request", "files.read"):  # the packages' own settings
        assert listed[executor]["safety"], executor
