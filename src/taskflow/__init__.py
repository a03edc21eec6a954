"""taskflow: run trees of tasks through pluggable executors, durably.

Write an executor (an `ExecutableTask` with a JSON Schema for its inputs), register it with
`executor_register`, and let a `TaskManager` run trees of tasks that use it.
"""

from __future__ import annotations

from taskflow.definition import build_tree, check_tree
from taskflow.engine import EngineSettings, ResumeResult, TerminalOutcome
from taskflow.events import EventBus, EventType, TaskEvent
from taskflow.exceptions import (
    ConfigurationError,
    DefinitionError,
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
from taskflow.repository import MemoryRepository, TaskRepository
from taskflow.runtime import TaskManager, Worker, WorkerSettings, create_session
from taskflow.schedules import ScheduleSpec

__version__ = "0.1.0"

__all__ = [
    "AttemptRecord",
    "BaseTask",
    "ConfigurationError",
    "DefinitionError",
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
