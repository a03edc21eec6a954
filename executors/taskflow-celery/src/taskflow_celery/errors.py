"""Errors of the ``celery.task`` executor.

The hierarchy (all are taskflow ``TaskExecutionError`` s, so a task fails with them)::

    CeleryTaskError             base
    ├── CeleryRemoteError       the Celery task raised (the task records the remote class name)
    ├── CeleryTaskRevoked       the result backend says the Celery task was revoked
    └── CeleryUnavailable       the broker or Redis cannot be reached

A timeout is not an exception class here: the task fails with ``error_type="TaskTimeout"``,
as for taskflow's own time limit, so that one retry policy covers both.
"""

from __future__ import annotations

from taskflow import TaskExecutionError


class CeleryTaskError(TaskExecutionError):
    """Base of the errors of a ``celery.task`` run."""


class CeleryRemoteError(CeleryTaskError):
    """Raised when the Celery task itself raised.

    The taskflow task fails with ``error_type`` set to the remote exception's class name
    (``remote_type``), so that retry policies can name it (``retry_on: [ConnectionError]``).

    Attributes:
        remote_type: The class name of the exception raised in the worker.
        remote_message: Its message.
        remote_traceback: The end of its traceback, when known.
        celery_task_id: The Celery task id.
    """

    def __init__(
        self,
        name: str,
        celery_task_id: str,
        remote_type: str,
        remote_message: str,
        remote_traceback: str | None = None,
    ) -> None:
        super().__init__(
            f"celery task {name!r} ({celery_task_id}) raised {remote_type}: {remote_message}"
        )
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback
        self.celery_task_id = celery_task_id


class CeleryTaskRevoked(CeleryTaskError):
    """Raised when the result backend reports the Celery task revoked (by someone else)."""


class CeleryUnavailable(CeleryTaskError):
    """Raised when the broker or the Redis of the progress streams cannot be reached."""
