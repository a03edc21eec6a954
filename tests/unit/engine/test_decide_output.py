"""`decide` checks a completed attempt's result against its executor's output schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from taskflow.engine.decide import Attempted, CancelRequest, decide
from taskflow.executors import Outcome
from taskflow.models import TaskStatus
from taskflow.validation import OutputValidator

S = TaskStatus
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status_code": {"type": "integer", "minimum": 100, "maximum": 599},
        "kind": {"enum": ["json", "text"]},
        "url": {"type": "string", "pattern": "^https?://"},
        "rows": {"type": "array", "items": {"type": "object", "required": ["id"]}, "maxItems": 3},
        "version": {"const": 2},
        "meta": {"$ref": "#/$defs/Meta"},
        "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    },
    "required": ["status_code"],
    "additionalProperties": False,
    "$defs": {
        "Meta": {
            "type": "object",
            "properties": {"tags": {"type": "array"}},
            "additionalProperties": False,
        }
    },
}
CHECK = OutputValidator(SCHEMA, executor="probe")
GOOD = {"status_code": 200, "kind": "json", "url": "https://x", "rows": [{"id": 1}], "version": 2}


def attempted(**policy: object) -> Attempted:
    return Attempted(
        attempt=1, attempts=(), started_at=NOW, retry=dict(policy) or None, default_policy=None
    )


def test_a_result_that_fits_completes() -> None:
    decision = decide(attempted(), Outcome(S.COMPLETED, result=GOOD), now=NOW, output=CHECK)
    assert (decision.status, decision.result) == (S.COMPLETED, GOOD)


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        ({"status_code": "200"}, "result.status_code", "type"),
        ({"status_code": None}, "result.status_code", "type"),
        ({"status_code": 42}, "result.status_code", "minimum"),
        ({"kind": "xml"}, "result.kind", "enum"),
        ({"url": "ftp://x"}, "result.url", "pattern"),
        ({"rows": [{"id": 1}, {"name": "x"}]}, "result.rows[1]", "required"),
        ({"rows": [{"id": n} for n in range(4)]}, "result.rows", "maxItems"),
        ({"version": 3}, "result.version", "const"),
        ({"meta": {"tags": "a,b"}}, "result.meta.tags", "type"),
        ({"meta": {"tag": []}}, "result.meta", "additionalProperties"),
        ({"either": 1.5}, "result.either", "oneOf"),
        ({"extra": True}, "result", "additionalProperties"),
    ],
)
def test_each_rule_fails_the_task_naming_the_field_and_the_rule(
    change: dict[str, Any], path: str, rule: str
) -> None:
    result = {**GOOD, **change}
    decision = decide(
        attempted(max_retries=3), Outcome(S.COMPLETED, result=result), now=NOW, output=CHECK
    )
    assert (decision.status, decision.error_type) == (S.FAILED, "OutputValidationError")
    assert decision.error is not None
    assert decision.error.startswith(f"{path}: "), decision.error
    assert decision.error.endswith(f"(output schema rule {rule!r} of executor 'probe')")
    assert decision.result == result  # kept, to show what came back
    assert decision.retry_at is None  # another attempt would return the same


def test_a_missing_required_field() -> None:
    decision = decide(attempted(), Outcome(S.COMPLETED, result={}), now=NOW, output=CHECK)
    assert decision.error == (
        "result: 'status_code' is a required property (output schema rule 'required' of "
        "executor 'probe')"
    )


def test_only_completed_results_are_checked() -> None:
    bad = {"status_code": "oops"}
    failed = Outcome(S.FAILED, result=bad, error="boom", error_type="ValueError")
    assert decide(attempted(), failed, now=NOW, output=CHECK).error_type == "ValueError"
    partial = Outcome(S.COMPLETED, result=bad)
    cancelled = decide(attempted(), partial, now=NOW, output=CHECK, cancel=CancelRequest("stop"))
    assert (cancelled.status, cancelled.result) == (S.CANCELLED, bad)  # a partial result


def test_without_a_validator_nothing_is_checked() -> None:
    odd = Outcome(S.COMPLETED, result={"status_code": "oops"})
    assert decide(attempted(), odd, now=NOW).status is S.COMPLETED
