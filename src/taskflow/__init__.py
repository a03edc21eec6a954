"""taskflow: run trees of tasks through pluggable executors, durably.

Write an executor (an `ExecutableTask` with a JSON Schema for its inputs), register it with
`executor_register`, and let a `TaskManager` run trees of tasks that use it.

Public names load on first use (importing `taskflow` itself is cheap: the command line starts
fast), from the modules listed in `_WHERE`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskflow._lazy import lazy_exports

if TYPE_CHECKING:
    from taskflow.definition import (
        build_tree,
    )
    from taskflow.engine import (
        EngineSettings,
        ResumeResult,
        TerminalOutcome,
    )
    from taskflow.events import (
        EventBus,
        EventType,
        TaskEvent,
    )
    from taskflow.exceptions import (
        AmbiguousId,
        ConfigurationError,
        DefinitionError,
        DefinitionErrors,
        DependencyCycle,
        IncompatibleReference,
        InputValidationError,
        InvalidReference,
        InvalidTransition,
        LeaseLost,
        OutputValidationError,
        RegistryError,
        ResultError,
        ScheduleError,
        StorageError,
        TaskConflict,
        TaskExecutionError,
        TaskflowError,
        TaskNotFound,
        TreeBusy,
        UnknownExecutor,
    )
    from taskflow.executors import (
        BaseTask,
        ExecutableTask,
        ExecutionContext,
        ExecutorInfo,
        ExecutorRegistry,
        Retry,
        TaskCtl,
        TaskSignal,
        executor_register,
        get_registry,
    )
    from taskflow.models import (
        AttemptRecord,
        Dependency,
        ErrorType,
        RetryPolicy,
        Task,
        TaskStatus,
        TaskTree,
        TaskTreeNode,
        TreeStatus,
    )
    from taskflow.repository import (
        MemoryRepository,
        TaskRepository,
    )
    from taskflow.runtime import (
        TaskManager,
        Worker,
        WorkerSettings,
        create_session,
    )
    from taskflow.schedules import (
        ScheduleSpec,
    )
    from taskflow.treecheck import (
        check_tree,
    )

__version__ = "0.1.0"

#: Where each public name lives.
_WHERE = {
    "AttemptRecord": "taskflow.models",
    "AmbiguousId": "taskflow.exceptions",
    "BaseTask": "taskflow.executors",
    "ConfigurationError": "taskflow.exceptions",
    "DefinitionError": "taskflow.exceptions",
    "DefinitionErrors": "taskflow.exceptions",
    "Dependency": "taskflow.models",
    "DependencyCycle": "taskflow.exceptions",
    "EngineSettings": "taskflow.engine",
    "ErrorType": "taskflow.models",
    "EventBus": "taskflow.events",
    "EventType": "taskflow.events",
    "ExecutableTask": "taskflow.executors",
    "ExecutionContext": "taskflow.executors",
    "ExecutorInfo": "taskflow.executors",
    "ExecutorRegistry": "taskflow.executors",
    "IncompatibleReference": "taskflow.exceptions",
    "InputValidationError": "taskflow.exceptions",
    "InvalidReference": "taskflow.exceptions",
    "InvalidTransition": "taskflow.exceptions",
    "LeaseLost": "taskflow.exceptions",
    "MemoryRepository": "taskflow.repository",
    "OutputValidationError": "taskflow.exceptions",
    "RegistryError": "taskflow.exceptions",
    "ResultError": "taskflow.exceptions",
    "ResumeResult": "taskflow.engine",
    "Retry": "taskflow.executors",
    "RetryPolicy": "taskflow.models",
    "ScheduleError": "taskflow.exceptions",
    "ScheduleSpec": "taskflow.schedules",
    "StorageError": "taskflow.exceptions",
    "Task": "taskflow.models",
    "TaskConflict": "taskflow.exceptions",
    "TaskCtl": "taskflow.executors",
    "TaskEvent": "taskflow.events",
    "TaskExecutionError": "taskflow.exceptions",
    "TaskManager": "taskflow.runtime.manager",
    "TaskNotFound": "taskflow.exceptions",
    "TaskRepository": "taskflow.repository",
    "TaskSignal": "taskflow.executors",
    "TaskStatus": "taskflow.models",
    "TaskTree": "taskflow.models",
    "TaskTreeNode": "taskflow.models",
    "TaskflowError": "taskflow.exceptions",
    "TerminalOutcome": "taskflow.engine",
    "TreeBusy": "taskflow.exceptions",
    "TreeStatus": "taskflow.models",
    "UnknownExecutor": "taskflow.exceptions",
    "Worker": "taskflow.runtime.worker",
    "WorkerSettings": "taskflow.runtime.worker",
    "build_tree": "taskflow.definition",
    "check_tree": "taskflow.treecheck",
    "create_session": "taskflow.runtime.session",
    "executor_register": "taskflow.executors",
    "get_registry": "taskflow.executors",
}

__all__ = [
    "AmbiguousId",
    "AttemptRecord",
    "BaseTask",
    "ConfigurationError",
    "DefinitionError",
    "DefinitionErrors",
    "Dependency",
    "DependencyCycle",
    "EngineSettings",
    "ErrorType",
    "EventBus",
    "EventType",
    "ExecutableTask",
    "ExecutionContext",
    "ExecutorInfo",
    "ExecutorRegistry",
    "IncompatibleReference",
    "InputValidationError",
    "InvalidReference",
    "InvalidTransition",
    "LeaseLost",
    "MemoryRepository",
    "OutputValidationError",
    "RegistryError",
    "ResultError",
    "ResumeResult",
    "Retry",
    "RetryPolicy",
    "ScheduleError",
    "ScheduleSpec",
    "StorageError",
    "Task",
    "TaskConflict",
    "TaskCtl",
    "TaskEvent",
    "TaskExecutionError",
    "TaskManager",
    "TaskNotFound",
    "TaskRepository",
    "TaskSignal",
    "TaskStatus",
    "TaskTree",
    "TaskTreeNode",
    "TaskflowError",
    "TerminalOutcome",
    "TreeBusy",
    "TreeStatus",
    "UnknownExecutor",
    "Worker",
    "WorkerSettings",
    "build_tree",
    "check_tree",
    "create_session",
    "executor_register",
    "get_registry",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
