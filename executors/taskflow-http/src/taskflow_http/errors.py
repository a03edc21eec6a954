"""Why an ``http.request`` task fails; the class name becomes the task's ``error_type``.

The hierarchy::

    TaskExecutionError (taskflow)
    └── HttpRequestError        the request could not be made or finished (bad URL,
        │                       connection failed after retries, too many redirects)
        ├── HttpTimeout         an attempt took longer than its timeout
        ├── HttpStatusError     the final status is 400 or more (raise_for_status)
        ├── ResponseTooLarge    the body is larger than max_response_bytes
        └── ResponseDecodeError the body is not valid JSON, or not in its declared charset
"""

from __future__ import annotations

from taskflow import TaskExecutionError


class HttpRequestError(TaskExecutionError):
    """Raised when the request could not be made or finished."""


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
