"""Placeholder."""

from __future__ import annotations

from typing import Any

from aiohttp import web

routes = web.RouteTableDef()
SCHEDULE_SCHEMAS: dict[str, Any] = {}


def schedule_paths() -> dict[str, Any]:
    """Placeholder."""
    return {}
