"""The HTTP API (``taskflow serve``): trees over REST, live events over SSE, OpenAPI, keys.

`create_app` builds the aiohttp application around a `taskflow.TaskManager`; `serve` runs it
(with a worker loop in the same process, by default) until SIGTERM. The pieces, one module
each: `settings` (limits and timings), `problems` (the one error boundary: every error is
``application/problem+json``), `auth` (API keys), `limits` (token buckets), `views` (the JSON
of trees and tasks), `trees`, `tasks`, `executors`, `schedules` and `health` (the routes),
`sse` (the event stream), `openapi` (the document at ``/openapi.json``) and `metrics`.
"""

from __future__ import annotations

from taskflow.api.app import create_app
from taskflow.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
