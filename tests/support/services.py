"""Tests that need a service skip with a reason when it is absent, and fail instead when
``TASKFLOW_REQUIRE_SERVICES=1`` (as CI sets)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_SERVICES = os.environ.get("TASKFLOW_REQUIRE_SERVICES") == "1"


def service_unavailable(name: str, reason: str) -> NoReturn:
    """Skip, or fail when services are required."""
    message = f"{name} is not available: {reason}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (TASKFLOW_REQUIRE_SERVICES=1)")
    pytest.skip(message)
