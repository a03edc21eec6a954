"""Executors that ship with the core: ``noop``, ``sleep``, ``aggregate``, ``python.call`` and
``signal.wait``.

Their output schemas say exactly what they return, so that references to their results are
checked before a tree runs (see `taskflow.edges`); where a result depends on the task (the
inputs ``noop`` returns, the results ``aggregate`` collects), they say so and no more.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from taskflow.exceptions import InputValidationError
from taskflow.executors.base import BaseTask
from taskflow.executors.trust import (
    PYTHON_CALL_ALLOW_VARIABLE,
    SafetySetting,
    TrustSettings,
    trust_settings,
)


class Noop(BaseTask):
    """Does nothing and returns its inputs (demos, benchmarks, placeholders)."""

    id = "noop"
    name = "No-op"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "description": "Anything; returned as the result.",
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "description": "The task's inputs, unchanged (references resolved).",
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Return ``inputs`` unchanged."""
        return inputs


class Sleep(BaseTask):
    """Waits a number of seconds, then returns ``{"slept": seconds}``."""

    id = "sleep"
    name = "Sleep"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {
            "seconds": {
                "type": "number",
                "minimum": 0,
                "maximum": 86400,
                "default": 1,
                "description": "How long to wait.",
            },
        },
        "additionalProperties": False,
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {
            "slept": {
                "type": "number",
                "minimum": 0,
                "description": "Seconds waited (less than asked when cancelled early).",
            },
        },
        "required": ["slept"],
        "additionalProperties": False,
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Sleep, waking early if the task is cancelled."""
        seconds = float(inputs["seconds"])
        loop = asyncio.get_running_loop()
        started = loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.context.cancel_requested.wait(), seconds)
        return {"slept": round(min(seconds, loop.time() - started), 3)}


class Aggregate(BaseTask):
    """Collects the results of the tasks it depends on into one object, keyed by task key."""

    id = "aggregate"
    name = "Aggregate"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {
            "merge": {
                "type": "boolean",
                "default": False,
                "description": "Merge the results into one object instead of keying them by task.",
            },
        },
        "additionalProperties": False,
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "description": (
            "The dependencies' results by task key (null for an optional dependency that "
            "ended without one), or, with merge, their keys in one object."
        ),
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Key each dependency's result by its task key, or merge them when ``merge`` is true."""
        results = self.context.dependency_results
        if not inputs["merge"]:
            return dict(results)
        merged: dict[str, Any] = {}
        for result in results.values():
            if isinstance(result, Mapping):
                merged.update(result)
        return merged


class PythonCall(BaseTask):
    """Calls an importable function (sync or async) with the given arguments.

    What it may call depends on the trust settings (`taskflow.executors.trust`): anything
    under the ``local`` profile unless an allowlist is set, only what the allowlist
    (``$TASKFLOW_PYTHON_CALL_ALLOW``) names under ``server``. A function outside it is refused
    before anything is imported, and the function found must be defined under an allowed name
    too (``mymodule:os.system`` does not pass for ``mymodule:*``).
    """

    id = "python.call"
    name = "Python call"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {
            "function": {
                "type": "string",
                "pattern": r"^[\w.]+:[\w.]+$",
                "description": "What to call, as 'package.module:function'.",
            },
            "args": {"type": "array", "default": [], "description": "Positional arguments for it."},
            "kwargs": {"type": "object", "default": {}, "description": "Keyword arguments for it."},
        },
        "required": ["function"],
        "additionalProperties": False,
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "description": "The returned dict, or {'value': returned} for anything else.",
        "properties": {
            "value": {"description": "What the function returned, when it is not a dict."},
        },
    }

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Refuse a function that the ``python.call`` allowlist does not name."""
        _check_allowed(inputs["function"], trust_settings(), found=None)

    def safety(self) -> Sequence[SafetySetting]:
        """The allowlist of callables, per trust profile."""
        local = TrustSettings.from_environment("local", environ={})
        server = TrustSettings.from_environment("server", environ={})
        return [
            SafetySetting(
                name="python_call_allow",
                description=(
                    "module:function patterns python.call may call (null: anything; []: nothing)"
                ),
                local=_listed(local.python_call_allow),
                server=_listed(server.python_call_allow),
                current=_listed(trust_settings().python_call_allow),
                env=PYTHON_CALL_ALLOW_VARIABLE,
            )
        ]

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Import and call the function; a sync one runs in a worker thread."""
        function = inputs["function"]
        module_name, _, qualname = function.partition(":")
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
        _check_allowed(function, trust_settings(), found=target)
        args, kwargs = inputs["args"], inputs["kwargs"]
        if inspect.iscoroutinefunction(target):
            value = await target(*args, **kwargs)
        else:
            value = await asyncio.to_thread(target, *args, **kwargs)
        return value if isinstance(value, dict) else {"value": value}


def _check_allowed(function: str, settings: TrustSettings, *, found: Any) -> None:
    """Raise `InputValidationError` unless ``function`` (and what it named) is allowed.

    ``found`` is the object the name led to, once imported: its own module and qualified name
    must be allowed too, so that an allowed module's imports are not a way around the list.
    """
    patterns = settings.python_call_allow
    if patterns is None:
        return
    names = [function]
    defined = _defined_name(found) if found is not None else None
    if defined is not None and defined != function:
        names.append(defined)
    for name in names:
        if not settings.allows_call(name):
            shown = repr(function) if name == function else f"{function!r} (that is {name!r})"
            allowed = ", ".join(patterns) or "nothing"
            raise InputValidationError(
                f"inputs.function: {shown} is not allowed by the python.call allowlist "
                f"(${PYTHON_CALL_ALLOW_VARIABLE}, trust profile {settings.profile.value}: "
                f"{allowed})",
                path="inputs.function",
                rule="python_call_allow",
            )


def _defined_name(target: Any) -> str | None:
    """``module:qualname`` where ``target`` was defined, if it says."""
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}:{qualname}"
    return None


def _listed(patterns: tuple[str, ...] | None) -> list[str] | None:
    return None if patterns is None else list(patterns)


class WaitSignal(BaseTask):
    """Waits for data sent with notify (taskflow tasks notify ID KEY --data JSON)."""

    id = "signal.wait"
    name = "Wait for a signal"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {
            "key": {"type": "string", "default": "approval", "description": "What to wait for."},
            "timeout": {
                "type": ["number", "null"],
                "minimum": 0,
                "default": None,
                "description": "Give up after this many seconds (null: wait forever).",
            },
            "required": {
                "type": "boolean",
                "default": True,
                "description": "Fail when the timeout passes without a signal.",
            },
        },
        "additionalProperties": False,
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {
            "data": {
                "description": "What notify sent (null when the timeout passed without a "
                "signal and required is false)."
            },
        },
        "required": ["data"],
        "additionalProperties": False,
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Park until the signal comes (holding no concurrency slot)."""
        data = await self.context.wait(inputs["key"], timeout=inputs["timeout"])
        if data is None and inputs["required"] and inputs["timeout"] is not None:
            raise TimeoutError(f"no {inputs['key']!r} signal within {inputs['timeout']} s")
        return {"data": data}


BUILTIN_EXECUTORS = (Noop, Sleep, Aggregate, PythonCall, WaitSignal)
