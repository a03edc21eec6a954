"""The progress stream of one Celery task: its key, and the entries published on it.

Each Celery task has a Redis stream ``task:{task_id}:progress``. Every entry has a ``status``
field, and the fields that go with it (all strings, as Redis stores them):

============  ===========================================================================
``status``    other fields
============  ===========================================================================
``progress``  ``progress`` (a fraction, 0.0 to 1.0; optional), ``message`` (optional)
``retry``     ``message``: Celery will run the task again (``self.retry()``)
``done``      ``result`` (JSON), only when the task handed its result to the notifier
``error``     ``error_type`` (the exception's class name), ``error`` (its message),
              ``traceback`` (its end)
============  ===========================================================================

``done`` and ``error`` are final. The stream is capped (``MAXLEN ~ 1000``) and expires a day
(by default) after its last entry. A reader starts from the beginning of the stream (``0-0``),
never from ``$``: a task may have finished before anyone started to read.
"""

from __future__ import annotations

import dataclasses
import json
import math
import traceback
from collections.abc import Mapping
from typing import Any

STREAM_KEY = "task:{task_id}:progress"
STREAM_MAXLEN = 1000  # entries kept per stream (approximately: MAXLEN ~)
STREAM_TTL_SECONDS = 86400
TRACEBACK_CHARS = 8000  # the end of a traceback is kept: that is where the error is
MESSAGE_CHARS = 4000

PROGRESS, RETRY, DONE, ERROR = "progress", "retry", "done", "error"
FINAL = frozenset({DONE, ERROR})


def stream_key(task_id: str) -> str:
    """The Redis key of the progress stream of Celery task ``task_id``."""
    return STREAM_KEY.format(task_id=task_id)


def json_ready(value: Any) -> Any:
    """``value`` as plain JSON data: a pydantic model becomes ``model_dump(mode="json")``."""
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return dump(mode="json")
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class StreamEntry:
    """One entry of a progress stream, decoded.

    Attributes:
        status: ``progress``, ``retry``, ``done`` or ``error``.
        fraction: How far the task is (progress entries), 0.0 to 1.0.
        message: Text for people (progress and retry entries).
        has_result: Whether a done entry carries the result.
        result: That result (JSON data).
        error_type: The exception's class name (error entries).
        error: Its message.
        traceback: The end of its traceback.
    """

    status: str
    fraction: float | None = None
    message: str | None = None
    has_result: bool = False
    result: Any = None
    error_type: str | None = None
    error: str | None = None
    traceback: str | None = None

    @property
    def is_final(self) -> bool:
        """Whether the entry says how the task ended."""
        return self.status in FINAL

    @classmethod
    def progress(cls, fraction: float | None, message: str | None = None) -> StreamEntry:
        """A progress entry.

        Raises:
            ValueError: ``fraction`` is not between 0.0 and 1.0.
        """
        if fraction is not None and not (
            isinstance(fraction, int | float) and 0.0 <= fraction <= 1.0
        ):
            raise ValueError(f"fraction must be between 0.0 and 1.0, not {fraction!r}")
        text = None if message is None else str(message)[:MESSAGE_CHARS]
        return cls(PROGRESS, fraction=None if fraction is None else float(fraction), message=text)

    @classmethod
    def done(cls, *, has_result: bool = False, result: Any = None) -> StreamEntry:
        """A done entry, carrying ``result`` if ``has_result``."""
        return cls(DONE, has_result=has_result, result=json_ready(result) if has_result else None)

    @classmethod
    def failed(cls, exc: BaseException) -> StreamEntry:
        """An error entry describing ``exc``."""
        text = "".join(traceback.format_exception(exc))
        return cls(
            ERROR,
            error_type=type(exc).__name__,
            error=(str(exc) or type(exc).__name__)[:MESSAGE_CHARS],
            traceback=text[-TRACEBACK_CHARS:],
        )

    def to_fields(self) -> dict[str, str]:
        """The entry as Redis stream fields.

        Raises:
            TypeError: a done entry's result is not JSON-serialisable.
        """
        fields = {"status": self.status}
        if self.fraction is not None:
            fields["progress"] = repr(self.fraction)
        optional = {
            "message": self.message,
            "error_type": self.error_type,
            "error": self.error,
            "traceback": self.traceback,
        }
        fields.update({name: value for name, value in optional.items() if value is not None})
        if self.has_result:
            fields["result"] = json.dumps(self.result)
        return fields

    @classmethod
    def from_fields(cls, fields: Mapping[Any, Any]) -> StreamEntry:
        """Decode an entry read from Redis (bytes or str); unknown fields are ignored."""
        text = {_text(name): _text(value) for name, value in fields.items()}
        has_result, result = _result(text.get("result"))
        return cls(
            status=text.get("status", ""),
            fraction=_fraction(text.get("progress")),
            message=text.get("message"),
            has_result=has_result,
            result=result,
            error_type=text.get("error_type"),
            error=text.get("error"),
            traceback=text.get("traceback"),
        )


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _fraction(value: str | None) -> float | None:
    """A progress fraction, or ``None`` when absent or not a number in 0..1 (kept as text)."""
    if value is None:
        return None
    try:
        fraction = float(value)
    except ValueError:
        return None
    return fraction if math.isfinite(fraction) and 0.0 <= fraction <= 1.0 else None


def _result(value: str | None) -> tuple[bool, Any]:
    """Whether a done entry carries a result, and the result (not JSON: as if absent)."""
    if value is None:
        return False, None
    try:
        return True, json.loads(value)
    except ValueError:
        return False, None
