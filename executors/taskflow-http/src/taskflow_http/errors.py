"""Why an ``http.request`` task fails; the class name becomes the task's ``error_type``.

The hierarchy::

    TaskExecutionError (taskflow)
    └── HttpRequestError        the request could not be made or finished (bad URL,
        │                       connection failed after retries, too many redirects)
        ├── HostNotAllowed      the host (or a redirect's, or an address it resolves to) is
        │                       refused by allow_hosts, deny_hosts or deny_private
        ├── HttpTimeout         an attempt took longer than its timeout
        ├── HttpStatusError     the final status is 400 or more (raise_for_status)
        ├── ResponseTooLarge    the body is larger than max_response_bytes
        └── ResponseDecodeError the body is not valid JSON, or not in its declared charset
"""

from __future__ import annotations

from taskflow import TaskExecutionError


class HttpRequestError(TaskExecutionError):
    """Raised when the request could not be made or finished."""


class HostNotAllowed(HttpRequestError):
    """Raised when the settings refuse the host of the URL, of a redirect, or an address it
    resolves to; nothing is sent to it (and it is not retried).

    Attributes:
        host: The host (or address) refused.
    """

    def __init__(self, message: str, *, host: str) -> None:
        super().__init__(message)
        self.host = host


class HttpTimeout(HttpRequestError):
    """Raised when an attempt takes longer than the task's ``timeout`` input."""


class HttpStatusError(HttpRequestError):
    """Raised when the final response has a status of 400 or more and ``raise_for_status``.

    Attributes:
        status: The response status.
        url: The URL that answered it.
    """

    def __init__(self, message: str, *, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class ResponseTooLarge(HttpRequestError):
    """Raised when the body is larger than ``max_response_bytes``; reading stops there."""


class ResponseDecodeError(HttpRequestError):
    """Raised when the body cannot be returned as asked (invalid JSON, undecodable text)."""
