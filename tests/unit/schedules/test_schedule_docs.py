"""The Python example of docs/schedules.md runs and prints what the page says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[3] / "docs" / "schedules.md"


def test_the_page_example_prints_its_comments() -> None:
    (block,) = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)
    expected = [
        re.sub(r"\s{2,}\(.*\)$", "", line.strip()[2:])
        for line in block.splitlines()
        if line.startswith("# ")
    ]
    done = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == expected
