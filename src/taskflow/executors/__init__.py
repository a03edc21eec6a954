"""Executors: the interface, the registry, plugin discovery, the built-in executors, trust."""

from __future__ import annotations

from taskflow.executors.base import BaseTask, ExecutableTask
from taskflow.executors.builtin import BUILTIN_EXECUTORS
from taskflow.executors.context import ExecutionContext, current_context
from taskflow.executors.invoke import Outcome, invoke, judge_result
from taskflow.executors.registry import (
    ENTRY_POINT_GROUP,
    ExecutorInfo,
    ExecutorRegistry,
    check_literal_inputs,
    check_tasks,
    executor_register,
    get_registry,
    registered,
)
from taskflow.executors.signals import Retry, TaskCtl, TaskSignal
from taskflow.executors.trust import (
    TRUST_PARAM,
    SafetySetting,
    TrustProfile,
    TrustSettings,
    tree_trust,
    trust_settings,
    use_trust,
)

for _executor in BUILTIN_EXECUTORS:
    get_registry().register(_executor, source="built-in")

__all__ = [
    "ENTRY_POINT_GROUP",
    "TRUST_PARAM",
    "BaseTask",
    "ExecutableTask",
    "ExecutionContext",
    "ExecutorInfo",
    "ExecutorRegistry",
    "Outcome",
    "Retry",
    "SafetySetting",
    "TaskCtl",
    "TaskSignal",
    "TrustProfile",
    "TrustSettings",
    "check_literal_inputs",
    "check_tasks",
    "current_context",
    "executor_register",
    "get_registry",
    "invoke",
    "judge_result",
    "registered",
    "tree_trust",
    "trust_settings",
    "use_trust",
]
