"""The built-in executors honour the executor contract, their results included: each result is
valid against the executor's (precise) output schema, as references to it are checked."""

from __future__ import annotations

from typing import Any

import pytest

from taskflow.executors import BaseTask
from taskflow.executors.builtin import Aggregate, Noop, PythonCall, Sleep, WaitSignal
from taskflow.testing import check_executor

EXAMPLES: list[tuple[type[BaseTask], list[dict[str, Any]]]] = [
    (Noop, [{}, {"anything": [1, {"x": None}]}]),
    (Sleep, [{"seconds": 0}, {"seconds": 0.01}]),
    (Aggregate, [{}, {"merge": True}]),
    (
        PythonCall,
        [
            {"function": "builtins:len", "args": ["abc"]},
            {"function": "builtins:dict", "kwargs": {"a": 1}},
        ],
    ),
    (WaitSignal, [{"key": "go", "timeout": 0.01, "required": False}]),
]


@pytest.mark.parametrize(("executor", "examples"), EXAMPLES, ids=lambda e: getattr(e, "id", ""))
async def test_builtin_contract(executor: type[BaseTask], examples: list[dict[str, Any]]) -> None:
    await check_executor(executor, examples=examples)
