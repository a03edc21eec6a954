"""taskflow-http: the ``http.request`` executor, on aiohttp.

Installing the package registers ``http.request`` through the ``taskflow.executors`` entry point.
"""

from __future__ import annotations

from taskflow_http.errors import (
    HttpRequestError,
    HttpStatusError,
    HttpTimeout,
    ResponseDecodeError,
    ResponseTooLarge,
)
from taskflow_http.executor import HttpRequest

__all__ = [
    "HttpRequest",
    "HttpRequestError",
    "HttpStatusError",
    "HttpTimeout",
    "ResponseDecodeError",
    "ResponseTooLarge",
]
__version__ = "0.1.0"
