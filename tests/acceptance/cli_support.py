"""Running the ``taskflow`` command as a user does: in a subprocess, on a temp database."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@dataclasses.dataclass
class Cli:
    """The taskflow command with its own TASKFLOW_HOME and database."""

    home: Path
    db_url: str

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKFLOW_")}
        env.update(
            TASKFLOW_HOME=str(self.home),
            TASKFLOW_DATABASE_URL=self.db_url,
            NO_COLOR="1",
            COLUMNS="120",
        )
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "taskflow.cli", *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run to the end; capture output."""
        return subprocess.run(
            self.command(*args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=ROOT,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start in the background (stdout and stderr piped)."""
        return subprocess.Popen(
            self.command(*args),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def json(self, *args: str) -> Any:
        done = self.run(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def wait_for(self, predicate: Any, timeout: float = 20, what: str = "condition") -> Any:
        """Poll (another process does the work: there is nothing to wait on but the database)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def tasks_by_key(self, tree_id: str) -> dict[str, Any]:
        return {
            task["key"]: task
            for task in self.json(
                "tasks", "list", "--tree", tree_id, "--limit", "1000", "--results"
            )
        }
