"""taskflow-http: the ``http.request`` executor, on aiohttp.

Installing the package registers ``http.request`` through the ``taskflow.executors`` entry point.
"""

from __future__ import annotations

from taskflow_http.errors import (
    HostNotAllowed,
    HttpRequestError,
    HttpStatusError,
    HttpTimeout,
    ResponseDecodeError,
    ResponseTooLarge,
)
from taskflow_http.executor import HttpRequest
from taskflow_http.hosts import (
    ALLOW_HOSTS_VARIABLE,
    DENY_HOSTS_VARIABLE,
    DENY_PRIVATE_VARIABLE,
    HttpSettings,
    current_settings,
    use_settings,
)

__all__ = [
    "ALLOW_HOSTS_VARIABLE",
    "DENY_HOSTS_VARIABLE",
    "DENY_PRIVATE_VARIABLE",
    "HostNotAllowed",
    "HttpRequest",
    "HttpRequestError",
    "HttpSettings",
    "HttpStatusError",
    "HttpTimeout",
    "ResponseDecodeError",
    "ResponseTooLarge",
    "current_settings",
    "use_settings",
]
__version__ = "0.1.0"
