"""Every error taskflow raises on purpose.

The hierarchy::

    TaskflowError
    ├── ConfigurationError          bad settings or a missing optional extra
    ├── StorageError                the database failed or is at the wrong revision
    ├── TaskNotFound                no task with that id
    ├── AmbiguousId                 an id prefix matches several tasks or trees
    ├── InvalidTransition           a status change the state table forbids, or a lost race
    ├── TaskConflict                the change would break the tree (orphans, running task)
    ├── LeaseLost                   another manager took over a tree this one was running
    ├── TreeBusy                    the tree is being run by another live manager
    ├── DefinitionError             a task or tree that cannot be created or run as given
    │   ├── DefinitionErrors        several of them at once (``errors``)
    │   ├── UnknownExecutor         a task names an executor nobody registered
    │   ├── DependencyCycle         the dependency edges form a cycle
    │   ├── InvalidReference        an input refers to a task that is not upstream
    │   │   └── IncompatibleReference  a reference the producer's output schema cannot satisfy
    │   └── ScheduleError           a schedule that cannot be parsed or evaluated as given
    ├── RegistryError               an executor cannot be registered
    └── TaskExecutionError          raised inside a run; becomes the task's error
        ├── InputValidationError    inputs violate the executor's JSON Schema
        ├── OutputValidationError   a result violates the executor's output schema
        └── ResultError             the executor returned something that is not a JSON object

Each error carries the ids it concerns, so that its message tells a user what to fix.
"""

from __future__ import annotations

from collections.abc import Sequence


class TaskflowError(Exception):
    """The root of every error taskflow raises on purpose."""


class ConfigurationError(TaskflowError):
    """Raised for invalid settings, or when an optional extra is not installed."""


class StorageError(TaskflowError):
    """Raised when the database cannot be reached, or is at an unexpected schema revision."""


class TaskNotFound(TaskflowError):
    """Raised when a task id is not in the repository."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id!r} does not exist")
        self.task_id = task_id


class AmbiguousId(TaskflowError):
    """Raised when an id prefix matches more than one task or tree; ``matches`` lists them."""

    def __init__(self, prefix: str, matches: Sequence[str]) -> None:
        shown = ", ".join(matches[:5]) + (" …" if len(matches) > 5 else "")
        super().__init__(f"{prefix!r} matches more than one: {shown}; give more of the id")
        self.prefix = prefix
        self.matches = list(matches)


class InvalidTransition(TaskflowError):
    """Raised when a status change is not allowed, or another writer moved the task first.

    Nothing is written when it is raised.
    """

    def __init__(self, task_id: str, current: str | None, target: str, reason: str = "") -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"task {task_id!r} cannot go from {current!r} to {target!r}{detail}")
        self.task_id = task_id
        self.current = current
        self.target = target


class TaskConflict(TaskflowError):
    """Raised when an operation would break a tree: deleting a task that has children or
    dependents, or editing a task while it runs. Nothing is written when it is raised."""

    def __init__(self, task_id: str, message: str) -> None:
        super().__init__(f"task {task_id!r}: {message}")
        self.task_id = task_id


class LeaseLost(TaskflowError):
    """Raised when another manager took over a tree this manager was running (its lease
    expired, e.g. after a long pause). This manager stops the tree's attempts at once and
    writes nothing more for it; the new owner finishes the tree."""

    def __init__(self, tree_id: str, new_owner: str | None) -> None:
        holder = f"is now held by {new_owner}" if new_owner else "is no longer held by it"
        super().__init__(
            f"tree {tree_id!r} {holder}: this manager lost its lease and stops running the tree"
        )
        self.tree_id = tree_id
        self.new_owner = new_owner


class TreeBusy(TaskflowError):
    """Raised when a tree is already being run by another live manager."""

    def __init__(self, tree_id: str, owner: str | None, until: object) -> None:
        when = until.isoformat(timespec="seconds") if hasattr(until, "isoformat") else until
        super().__init__(f"tree {tree_id!r} is being run by {owner} (its lease runs until {when})")
        self.tree_id = tree_id
        self.owner = owner


class DefinitionError(TaskflowError):
    """Raised when a task or tree cannot be created or run as defined.

    Nothing has been written or run when it is raised.
    """

    def __init__(self, message: str, *, task: str | None = None) -> None:
        super().__init__(f"task {task!r}: {message}" if task else message)
        self.task = task


class DefinitionErrors(DefinitionError):
    """Raised when a definition has several problems: ``errors`` holds each of them (every one
    a `DefinitionError` naming its task), so that all can be fixed at once."""

    def __init__(self, errors: Sequence[DefinitionError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        message = f"{len(self.errors)} problems: " + "; ".join(str(e) for e in self.errors)
        super().__init__(message, task=None)
        self.task = first.task

    @classmethod
    def raise_if(cls, errors: Sequence[DefinitionError]) -> None:
        """Raise the one error, or all of them together; nothing if there is none."""
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise cls(errors)


class UnknownExecutor(DefinitionError):
    """Raised when a task names an executor id that is not registered."""

    def __init__(self, executor: str, *, task: str | None, suggestions: Sequence[str]) -> None:
        hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
        super().__init__(f"unknown executor {executor!r}{hint}", task=task)
        self.executor = executor
        self.suggestions = list(suggestions)


class DependencyCycle(DefinitionError):
    """Raised when dependencies form a cycle; ``path`` lists it, first task repeated last."""

    def __init__(self, path: Sequence[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(path), task=path[0] if path else None)
        self.path = list(path)


class InvalidReference(DefinitionError):
    """Raised when an input refers to a task that is not upstream of the task using it."""


class IncompatibleReference(InvalidReference):
    """Raised when a reference cannot work, judging by the schemas at both ends of its edge:
    the producer's output schema cannot produce its path, or what it produces can never be
    what the consumer's input schema accepts at the field where the reference sits.

    ``task`` is the consumer's key; ``producer`` the producer's; ``reference`` the reference as
    written (``${fetch.result.body}``); ``field`` where it sits (``inputs.rows[0]``);
    ``produced`` and ``expected`` the two schema fragments (``None`` where a side says nothing).
    """

    def __init__(
        self,
        message: str,
        *,
        task: str,
        producer: str,
        reference: str,
        field: str,
        produced: object = None,
        expected: object = None,
    ) -> None:
        super().__init__(message, task=task)
        self.producer = producer
        self.reference = reference
        self.field = field
        self.produced = produced
        self.expected = expected


class ScheduleError(DefinitionError):
    """Raised when a schedule's fields are invalid, or a request on it cannot be met (a
    backfill range with more fire times than allowed).

    ``field`` is the path of the offending field (``schedule.cron``), or ``None``;
    ``detail`` is the message without it.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message


class RegistryError(TaskflowError):
    """Raised when an executor cannot be registered (bad id, or the id is taken)."""


class TaskExecutionError(TaskflowError):
    """Base of errors raised while running a task; the task fails with it."""

    def __init__(self, message: str, *, task_id: str | None = None) -> None:
        super().__init__(message)
        self.task_id = task_id


class InputValidationError(TaskExecutionError):
    """Raised when a task's inputs violate its executor's input schema.

    ``path`` is the JSON path of the offending field, ``rule`` the schema keyword that failed.
    """

    def __init__(self, message: str, *, path: str, rule: str, task_id: str | None = None) -> None:
        super().__init__(message, task_id=task_id)
        self.path = path
        self.rule = rule


class OutputValidationError(TaskExecutionError):
    """Raised when a result violates its executor's output schema; the task fails with
    ``error_type="OutputValidationError"``.

    ``path`` is the JSON path of the offending value (``result.items[2]``), ``rule`` the
    schema keyword that failed.
    """

    def __init__(self, message: str, *, path: str, rule: str, task_id: str | None = None) -> None:
        super().__init__(message, task_id=task_id)
        self.path = path
        self.rule = rule


class ResultError(TaskExecutionError):
    """Raised when an executor returns something that is not a JSON object (a dict), or yields
    something that is not a `TaskCtl`.

    A result that is a dict but cannot be stored (a NaN, a key that is not a string, a NUL
    character, too large ...) fails its task with ``error_type="ResultError"`` too, and an
    error naming the path of the bad value.
    """
