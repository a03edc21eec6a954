"""`taskflow serve` in a subprocess: what it printed on start, curl-like requests, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any


def request(
    url: str, key: str | None, method: str = "GET", body: Any = None
) -> tuple[int, Any, Any]:
    """What curl -H 'Authorization: Bearer KEY' would do."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} | (
        {"Authorization": f"Bearer {key}"} if key else {}
    )
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), exc.headers


def started(process: subprocess.Popen[str]) -> tuple[str, str | None]:
    """The URL the server printed, and the admin key if it made one."""
    assert process.stderr is not None
    key = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        assert line, f"serve exited: {process.wait()}"
        if line.startswith("tf_"):
            key = line.strip()
        if line.startswith("taskflow API on "):
            return line.split()[3], key
    raise AssertionError("serve did not start")


def stop(process: subprocess.Popen[str]) -> int:
    """SIGTERM, then the exit code (the pipes closed); what it printed is in ``process.said``."""
    process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    process.said = out + err  # type: ignore[attr-defined]
    return process.returncode
