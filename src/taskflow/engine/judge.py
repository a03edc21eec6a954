"""`decide` and `recovery` (pure, in `taskflow.engine.decide`) applied to a running tree's
task: what is known of its attempts read off its node, and its executor's policies — the
default retry policy, the output schema, whether it is safe to re-run — looked up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from taskflow.engine.decide import (
    Attempted,
    CancelRequest,
    Decision,
    decide,
    recovery,
    unsafe_to_rerun,
)
from taskflow.engine.graph import Node
from taskflow.executors import ExecutorRegistry, Outcome
from taskflow.models import RetryPolicy


def judge(
    node: Node,
    outcome: Outcome,
    *,
    registry: ExecutorRegistry,
    now: datetime,
    cancel: CancelRequest | None,
    stopping: bool,
    max_result_bytes: int,
) -> Decision:
    """What ``node`` becomes now that its attempt ended with ``outcome`` (see `decide`)."""
    executor = node.base.executor or ""
    info = registry.get(executor)
    safe = info is None or info.rerun_safe
    outcome = unsafe_to_rerun(outcome, rerun_safe=safe, executor=executor)
    policy = info.cls.retry_policy if info is not None else None
    return decide(
        _attempted(node, node.base.retry, policy),
        outcome,
        now=now,
        cancel=cancel,
        stopping=stopping,
        max_result_bytes=max_result_bytes,
        output=info.output_validator if info is not None else None,
    )


def judge_left_running(node: Node, *, registry: ExecutorRegistry, now: datetime) -> Decision:
    """What ``node``, found ``in_progress`` when a manager takes its tree over, becomes."""
    executor = node.base.executor or ""
    info = registry.get(executor)
    safe = info is not None and info.rerun_safe
    return recovery(_attempted(node, None, None), rerun_safe=safe, executor=executor, now=now)


def _attempted(
    node: Node, retry: Mapping[str, Any] | None, default_policy: RetryPolicy | None
) -> Attempted:
    return Attempted(
        attempt=node.attempt,
        attempts=node.attempts,
        started_at=node.started_at,
        retry=retry,
        default_policy=default_policy,
    )
