"""Running one executor for one task: validate inputs, call `execute`, judge what came back."""

from __future__ import annotations

import dataclasses
import json
import traceback
from collections.abc import Mapping
from typing import Any

from taskflow.exceptions import InputValidationError, ResultError
from taskflow.executors.context import ExecutionContext, reset_context, set_context
from taskflow.executors.registry import ExecutorInfo
from taskflow.models import TaskStatus

_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended: its status, and the result or the error."""

    status: TaskStatus
    result: Mapping[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None

    @classmethod
    def failure(cls, exc: BaseException) -> Outcome:
        """A failed outcome describing ``exc``, with its traceback."""
        return cls(
            TaskStatus.FAILED,
            error=str(exc) or type(exc).__name__,
            error_type=type(exc).__name__,
            traceback="".join(traceback.format_exception(exc)),
        )


def judge_result(result: Any, *, task_id: str) -> Outcome:
    """Turn what `execute` returned into an outcome.

    A dict with ``"status": "failed"`` is a failure (the seed's "returning errors" pattern);
    any other dict is the result, and must be JSON-serialisable.
    """
    if not isinstance(result, dict):
        raise ResultError(
            f"execute() must return a dict, not {type(result).__name__}", task_id=task_id
        )
    if result.get("status") == "failed":
        error = result.get("error") or "the executor reported a failure"
        return Outcome(
            TaskStatus.FAILED,
            result=result,
            error=str(error),
            error_type=str(result.get("error_type") or "TaskFailed"),
        )
    if not all(type(v) in _JSON_SCALARS for v in result.values()):
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise ResultError(
                f"the result is not JSON-serialisable: {exc}", task_id=task_id
            ) from exc
    return Outcome(TaskStatus.COMPLETED, result=result)


async def invoke(
    info: ExecutorInfo, inputs: Mapping[str, Any], context: ExecutionContext
) -> Outcome:
    """Validate ``inputs`` against the executor's schema, run it in ``context``, judge the result.

    Never raises for an executor's failure: every error becomes a failed `Outcome`.
    (`asyncio.CancelledError` is let through: cancellation is the caller's business.)
    """
    try:
        checked = info.validator.validate(inputs, task_id=context.task_id)
    except InputValidationError as exc:
        return Outcome(TaskStatus.FAILED, error=str(exc), error_type="InputValidationError")
    token = set_context(context)
    try:
        executor = info.create()
        return judge_result(await executor.execute(checked), task_id=context.task_id)
    except Exception as exc:
        return Outcome.failure(exc)
    finally:
        reset_context(token)
