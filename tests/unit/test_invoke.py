from __future__ import annotations

from typing import Any

import pytest

from taskflow import BaseTask, ExecutorRegistry, TaskStatus
from taskflow.executors import ExecutionContext, current_context, invoke


class Behaviour(BaseTask):
    id = "test.behaviour"
    input_schema = {
        "type": "object",
        "properties": {"mode": {"type": "string"}},
        "required": ["mode"],
    }

    async def execute(self, inputs: dict[str, Any]) -> Any:
        mode = inputs["mode"]
        if mode == "raise":
            raise ValueError("bad things")
        if mode == "failed-dict":
            return {"status": "failed", "error": "upstream said no", "error_type": "Upstream"}
        if mode == "not-a-dict":
            return ["x"]
        if mode == "not-json":
            return {"when": object()}
        if mode == "context":
            return {"task": self.context.task_id, "deps": dict(self.context.dependency_results)}
        return {"status": "completed", "mode": mode}


@pytest.fixture
def info() -> Any:
    return ExecutorRegistry(discover_plugins=False).register(Behaviour)


def context() -> ExecutionContext:
    return ExecutionContext(task_id="t1", tree_id="r", key="k", dependency_results={"up": {"v": 1}})


@pytest.mark.parametrize(
    ("mode", "status", "error", "error_type"),
    [
        ("ok", TaskStatus.COMPLETED, None, None),
        ("raise", TaskStatus.FAILED, "bad things", "ValueError"),
        ("failed-dict", TaskStatus.FAILED, "upstream said no", "Upstream"),
        ("not-a-dict", TaskStatus.FAILED, "execute() must return a dict, not list", "ResultError"),
    ],
)
async def test_outcomes(
    info: Any, mode: str, status: TaskStatus, error: str | None, error_type: str | None
) -> None:
    outcome = await invoke(info, {"mode": mode}, context())
    assert outcome.status is status
    assert outcome.error_type == error_type
    if error is None:
        assert outcome.error is None and outcome.result == {"status": "completed", "mode": mode}
    else:
        assert outcome.error is not None and error in outcome.error


async def test_exceptions_keep_their_traceback(info: Any) -> None:
    outcome = await invoke(info, {"mode": "raise"}, context())
    assert outcome.traceback is not None and "ValueError: bad things" in outcome.traceback
    assert "in execute" in outcome.traceback


async def test_invalid_inputs_fail_before_execute(info: Any) -> None:
    outcome = await invoke(info, {}, context())
    assert (outcome.status, outcome.error_type) == (TaskStatus.FAILED, "InputValidationError")
    assert outcome.error == "inputs: 'mode' is a required property (schema rule 'required')"


async def test_context_is_visible_inside_execute_only(info: Any) -> None:
    outcome = await invoke(info, {"mode": "context"}, context())
    assert outcome.result == {"task": "t1", "deps": {"up": {"v": 1}}}
    with pytest.raises(RuntimeError, match="only inside execute"):
        current_context()


async def test_a_result_that_cannot_be_stored_fails_when_the_engine_judges_it(info: Any) -> None:
    from taskflow.engine.decide import Attempted, decide
    from taskflow.models import utcnow

    outcome = await invoke(info, {"mode": "not-json"}, context())
    attempted = Attempted(attempt=1, attempts=(), started_at=None, retry=None, default_policy=None)
    decision = decide(attempted, outcome, now=utcnow())
    assert decision.status is TaskStatus.FAILED
    assert decision.error_type == "ResultError"
    assert decision.error == "result.when: a value of type object is not JSON"
