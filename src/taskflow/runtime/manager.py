"""`TaskManager`: the engine with its execution backend chosen by the settings."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from taskflow.backends import Attempt, ExecutionBackend, LocalBackend
from taskflow.engine import Engine, EngineSettings
from taskflow.events import EventBus
from taskflow.exceptions import ConfigurationError
from taskflow.executors import ExecutorRegistry, get_registry
from taskflow.repository import TaskRepository

if TYPE_CHECKING:
    from taskflow.backends.celery import CelerySettings
    from taskflow.runtime.scheduler import Scheduler

BACKEND_VARIABLE = "TASKFLOW_BACKEND"


def build_backend(registry: ExecutorRegistry, name: str | None = None) -> ExecutionBackend:
    """The execution backend named by ``name`` or ``$TASKFLOW_BACKEND`` (default: local).

    Raises:
        ConfigurationError: an unknown backend name.
    """
    chosen = (name or os.environ.get(BACKEND_VARIABLE) or "local").strip().lower()
    if chosen == "local":
        return LocalBackend(registry)
    if chosen == "celery":
        return build_celery_backend(registry)
    raise ConfigurationError(f"unknown execution backend {chosen!r} (known: local, celery)")


def build_celery_backend(
    registry: ExecutorRegistry, settings: CelerySettings | None = None
) -> ExecutionBackend:
    """Attempts on Celery workers, except those of executors that run locally (named in
    ``settings.local_executors``, or with ``runs_locally = True``), which run here.

    Raises:
        ConfigurationError: the ``celery`` extra is not installed, or a setting is malformed.
    """
    from taskflow.backends.celery import CeleryBackend, CelerySettings
    from taskflow.backends.routing import RoutingBackend

    settings = settings or CelerySettings.from_env()
    local_ids = settings.local_executors

    def runs_locally(attempt: Attempt) -> bool:
        info = registry.get(attempt.executor)
        return attempt.executor in local_ids or (info is not None and info.cls.runs_locally)

    return RoutingBackend(LocalBackend(registry), CeleryBackend(settings), runs_locally)


class TaskManager(Engine):
    """Persists task trees, runs them, and controls them while they run.

    Args:
        db: The repository (from `taskflow.create_session`); also ``task_repository``.
        settings: Concurrency limits and timings.
        registry: Where executor ids are looked up (default: the repository's, which is the
            process-wide registry unless given).
        backend: Where executors run (default: chosen by ``$TASKFLOW_BACKEND``; ``local``, the
            default, runs them as asyncio tasks in this process).
        events: The bus that committed events are published on.

    Example:
        >>> db = create_session()
        >>> task_manager = TaskManager(db)
        >>> task = await task_manager.task_repository.create_task(name="noop", user_id="me")
        >>> tree = await task_manager.distribute_task_tree(TaskTreeNode(task))
    """

    def __init__(
        self,
        db: TaskRepository,
        *,
        settings: EngineSettings | None = None,
        registry: ExecutorRegistry | None = None,
        backend: ExecutionBackend | None = None,
        events: EventBus | None = None,
    ) -> None:
        registry = registry or getattr(db, "registry", None) or get_registry()
        super().__init__(
            db,
            backend=backend or build_backend(registry),
            settings=settings,
            registry=registry,
            events=events,
        )

    @functools.cached_property
    def schedules(self) -> Scheduler:
        """The schedules in this manager's database (add, pause, trigger, fire the due ones):
        see `taskflow.runtime.scheduler.Scheduler`."""
        from taskflow.runtime.scheduler import Scheduler

        return Scheduler(self)
