"""``taskflow executors show celery.task`` documents every input, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

INPUTS = {
    "name",
    "args",
    "kwargs",
    "queue",
    "countdown",
    "timeout",
    "expect_stream",
    "redis_url",
    "broker_url",
    "result_backend",
}


def taskflow(home: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "taskflow.cli", "executors", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"NO_COLOR": "1", "COLUMNS": "200", "HOME": str(home), "TASKFLOW_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_executors_show_documents_every_input(tmp_path: Path) -> None:
    shown: dict[str, Any] = json.loads(taskflow(tmp_path, "show", "celery.task", "--json"))
    assert shown["source"] == "package taskflow-celery 0.1.0"
    properties = shown["input_schema"]["properties"]
    assert set(properties) == INPUTS
    assert all(len(spec["description"]) > 20 for spec in properties.values())
    assert shown["input_schema"]["required"] == ["name"]
    assert shown["rerun_safe"] is True
    text = taskflow(tmp_path, "show", "celery.task")
    for name, spec in properties.items():
        assert f'"{name}"' in text
        assert json.dumps(spec["description"]) in text
    assert set(shown["output_schema"]["required"]) <= set(shown["output_schema"]["properties"])


def test_executors_list_names_the_package(tmp_path: Path) -> None:
    listing = taskflow(tmp_path, "list")
    line = next(line for line in listing.splitlines() if line.strip().startswith("celery.task"))
    assert "package taskflow-celery" in line
