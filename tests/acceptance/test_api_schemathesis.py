"""A bounded schemathesis run against a real `taskflow serve`: no 5xx, nothing undocumented."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Cli
from serve_process import started, stop

pytestmark = pytest.mark.slow
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    )
)


def test_schemathesis_finds_no_server_error_and_no_contradiction(
    tmp_path: Path, sqlite_url: str
) -> None:
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if executable is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    cli = Cli(tmp_path / "home", sqlite_url)
    server = cli.start("serve", "--port", "0", "--read-rate", "100000", "--write-rate", "100000")
    try:
        url, admin = started(server)
        run = subprocess.run(
            [
                executable, "run", f"{url}/openapi.json",
                "--header", f"Authorization: Bearer {admin}",
                "--checks", CHECKS,
                "--max-examples", "8",
                "--max-time", "40",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--seed", "1",
                "--workers", "1",
            ],
            capture_output=True, text=True, timeout=120, check=False,
            cwd=tmp_path,  # its cache of crashes stays out of the work tree
        )  # fmt: skip
    finally:
        stop(server)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
