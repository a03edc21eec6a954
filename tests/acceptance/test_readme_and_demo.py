"""The README's promises, run as a new user runs them: the quickstart, and ``make demo``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKFLOW_")}
    env["TASKFLOW_HOME"] = str(home)
    return env


def test_readme_quickstart_runs_and_prints_every_task(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert len(blocks) == 1, "the README has one Python quickstart"
    script = tmp_path / "quickstart.py"
    script.write_text(blocks[0])
    done = subprocess.run(
        [sys.executable, str(script)],
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("hello completed")
    assert "echo completed {'said': 'Hello, Ann!'}" in lines
    assert (
        tmp_path / "home" / "taskflow.db"
    ).exists()  # the embedded default, where the README says


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_runs_the_example_tree_with_the_cli_on_the_default_database(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        ["make", "--no-print-directory", "demo"],
        cwd=ROOT,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "taskflow run examples/demo.yaml" in done.stdout
    assert re.search(r"tree [0-9a-f-]{36} completed", done.stdout)
    result = json.loads(done.stdout[done.stdout.index("{") :])
    assert result["count"] == {"value": 11}
    assert result["summary"]["sorted"]["value"][:2] == ["and", "dependencies"]
    assert (home / "taskflow.db").exists()  # the embedded default, where the README says
