"""Importing this registers the typed-edges test executors (``--import`` in CLI tests)."""

from __future__ import annotations

from edge_executors import ALL

from taskflow.executors import get_registry

for _executor in ALL:
    get_registry().register(_executor, override=True)
