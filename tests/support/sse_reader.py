"""Read a Server-Sent Events stream frame by frame (for tests)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp


async def frames(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """Each frame as ``{"id": int|None, "event": str, "data": parsed JSON}``; comment lines
    (pings) as ``{"event": "comment"}``."""
    current: dict[str, Any] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if "event" in current or "data" in current:
                yield current
            current = {}
            continue
        if line.startswith(":"):
            yield {"event": "comment", "text": line[1:].strip()}
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id":
            current["id"] = int(value)
        elif name == "event":
            current["event"] = value
        elif name == "data":
            current["data"] = json.loads(value)
