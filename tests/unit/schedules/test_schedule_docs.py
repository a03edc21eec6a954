"""The Python examples of docs/schedules.md run; the arithmetic one prints what the page says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[3] / "docs" / "schedules.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)


def test_the_arithmetic_example_prints_its_comments() -> None:
    (block,) = [b for b in BLOCKS if "from taskflow.schedules import" in b]
    expected = [
        re.sub(r"\s{2,}\(.*\)$", "", line.strip()[2:])
        for line in block.splitlines()
        if line.startswith("# ")
    ]
    done = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == expected


def test_the_schedules_api_example_runs(tmp_path: Path) -> None:
    (block,) = [b for b in BLOCKS if "manager.schedules" in b]
    done = subprocess.run(
        [sys.executable, "-c", block],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == "started True"
