"""Running one executor for one task: validate inputs, call `execute`, judge what came back."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import traceback
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from taskflow.exceptions import InputValidationError, ResultError
from taskflow.executors.base import ExecutableTask
from taskflow.executors.context import ExecutionContext, reset_context, set_context
from taskflow.executors.models import json_value
from taskflow.executors.registry import ExecutorInfo
from taskflow.executors.signals import Retry, TaskCtl, TaskSignal
from taskflow.models import ErrorType, TaskStatus


@dataclasses.dataclass(slots=True)
class Outcome:
    """How a run ended: its status, and the result or the error.

    ``retry_delay`` is set when the executor raised `Retry`; ``message`` is the text of a
    terminal `TaskCtl` signal.
    """

    status: TaskStatus
    result: Mapping[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    retry_delay: float | None = None
    message: str | None = None

    @classmethod
    def failure(cls, exc: BaseException, error_type: str | None = None) -> Outcome:
        """A failed outcome describing ``exc``, with its traceback."""
        return cls(
            TaskStatus.FAILED,
            error=str(exc) or type(exc).__name__,
            error_type=error_type or type(exc).__name__,
            traceback="".join(traceback.format_exception(exc)),
        )

    def to_json(self) -> dict[str, Any]:
        """The outcome as a JSON object (for backends that run attempts elsewhere)."""
        data = dataclasses.asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        """The outcome of `to_json`."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["status"] = TaskStatus(values["status"])
        return cls(**values)


def judge_result(result: Any, *, task_id: str) -> Outcome:
    """Turn what `execute` returned into an outcome.

    A dict with ``"status": "failed"`` is a failure (the "returning errors" pattern); any
    other dict is the result; a pydantic model is stored as its ``model_dump(mode="json")``.
    Whether its values can be stored is checked by the engine when it judges the outcome, with
    the same rules on every database.
    """
    if not isinstance(result, dict):
        result = json_value(result)
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
            error_type=str(result.get("error_type") or ErrorType.TASK_FAILED),
        )
    return Outcome(TaskStatus.COMPLETED, result=result)


def _as_result(data: Any) -> dict[str, Any]:
    data = json_value(data)
    if data is None:
        return {}
    return data if isinstance(data, dict) else {"data": data}


async def drive_signals(generator: AsyncGenerator[Any, None], context: ExecutionContext) -> Outcome:
    """Run an async-generator ``execute`` to its first terminal `TaskCtl` (or its end)."""
    last_data: Any = None
    try:
        async for ctl in generator:
            if not isinstance(ctl, TaskCtl):
                raise ResultError(
                    f"an async-generator execute() must yield TaskCtl, not {type(ctl).__name__}"
                )
            if ctl.data is not None:
                last_data = ctl.data
            if ctl.signal is TaskSignal.PROGRESS:
                await context.report_progress(ctl.progress or 0.0, ctl.message or None)
            elif ctl.signal is TaskSignal.SUCCESS:
                outcome = judge_result(_as_result(ctl.data), task_id=context.task_id)
                return dataclasses.replace(outcome, message=ctl.message or None)
            elif ctl.signal is TaskSignal.FAIL:
                kind = (
                    type(ctl.data).__name__
                    if isinstance(ctl.data, BaseException)
                    else ErrorType.TASK_FAILED
                )
                detail = f": {ctl.data}" if ctl.data is not None else ""
                return Outcome(
                    TaskStatus.FAILED,
                    error=f"{ctl.message}{detail}",
                    error_type=kind,
                    message=ctl.message,
                )
            else:
                return Outcome(
                    TaskStatus.CANCELLED,
                    error=ctl.message,
                    error_type=ErrorType.CANCELLED,
                    message=ctl.message,
                )
    finally:
        await generator.aclose()
    return judge_result(_as_result(last_data), task_id=context.task_id)


async def invoke(
    info: ExecutorInfo,
    inputs: Mapping[str, Any],
    context: ExecutionContext,
    executor: ExecutableTask | None = None,
) -> Outcome:
    """Validate ``inputs`` against the executor's schema, run it in ``context``, judge the result.

    Checked inputs also go through the executor's `ExecutableTask.check_inputs` before it runs.

    Never raises for an executor's failure: every error becomes a failed `Outcome` — including
    ``BaseException``s raised inside the executor (``SystemExit`` from ``sys.exit``,
    ``KeyboardInterrupt``, ``GeneratorExit``), which must not take the process down — and
    `Retry` becomes one with ``retry_delay`` set. Only `asyncio.CancelledError` is let
    through: cancellation is the backend's business.
    """
    try:
        checked: Any = info.validator.validate(inputs, task_id=context.task_id)
        if info.models is not None:  # the model's own validators, and the instance to pass
            checked = info.models.load_inputs(checked, task_id=context.task_id)
    except InputValidationError as exc:
        return Outcome(TaskStatus.FAILED, error=str(exc), error_type=ErrorType.INPUT_VALIDATION)
    token = set_context(context)
    try:
        runner = executor or info.create()
        runner.check_inputs(checked)  # the settings may refuse what references brought in
        returned = runner.execute(checked)
        if inspect.isasyncgen(returned):
            return await drive_signals(returned, context)
        return judge_result(await returned, task_id=context.task_id)
    except Retry as exc:
        return dataclasses.replace(
            Outcome.failure(exc), error_type=ErrorType.RETRY, retry_delay=exc.delay or 0.0
        )
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # an executor never takes the engine down
        return Outcome.failure(exc)
    finally:
        reset_context(token)
