"""Importing this registers the test executors (``taskflow ... --import ...`` in tests)."""

from __future__ import annotations

from control_executors import ALL

from taskflow.executors import get_registry

for _executor in ALL:
    get_registry().register(_executor, override=True)
