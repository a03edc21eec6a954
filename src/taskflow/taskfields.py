"""The fields of one task mapping in a tree definition, each checked and converted.

`taskflow.definition` builds tasks with these; the repository uses them for a task joining
a tree. Every error is a `DefinitionError` naming the task and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from taskflow.exceptions import DefinitionError
from taskflow.models import Dependency, RateLimit, RetryPolicy

#: "Not given" (``None`` is a value: a task with ``executor: null`` is a group).
UNSET: Any = object()


def executor_of(name: str, schemas: Mapping[str, Any] | None, executor: Any = UNSET) -> str | None:
    """The executor id of a task: ``executor`` if given, else ``schemas.method``, else ``name``."""
    if executor is not UNSET:
        return None if executor is None else str(executor)
    if schemas and "method" in schemas:
        method = schemas["method"]
        return None if method is None else str(method)
    return name


def check_priority(priority: Any, *, task: str) -> int:
    """Return ``priority`` if it is an integer from 0 to 3, else raise `DefinitionError`."""
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 3:
        raise DefinitionError(
            f"priority must be an integer from 0 (urgent) to 3, not {priority!r}", task=task
        )
    return priority


#: The most tasks a tree may run at once (the database stores a 32-bit integer).
MAX_CONCURRENCY = 2**31 - 1
LIMIT_FIELDS = frozenset({"timeout", "soft_timeout", "retry", "deadline", "concurrency"})


def _seconds(value: Any, field: str, task: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise DefinitionError(
            f"{field} must be a positive number of seconds, not {value!r}", task=task
        )
    return float(value)


def parse_limits(
    spec: Mapping[str, Any], *, task: str, is_root: bool, now: datetime
) -> dict[str, Any]:
    """The time limits and retry policy of a task definition, checked.

    ``timeout`` and ``soft_timeout`` limit one attempt (seconds); ``retry`` is a number of
    retries or a `RetryPolicy` mapping; ``deadline`` (root only) is the number of seconds, from
    creation, within which the whole tree must finish; ``concurrency`` (root only) is how many
    of the tree's tasks may run at once.
    """
    if not LIMIT_FIELDS.intersection(spec):
        return {}
    try:
        policy = RetryPolicy.parse(spec.get("retry"))
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"retry: {exc}", task=task) from exc
    deadline = _seconds(spec.get("deadline"), "deadline", task)
    concurrency = spec.get("concurrency")
    for field, value in (("deadline", deadline), ("concurrency", concurrency)):
        if value is not None and not is_root:
            raise DefinitionError(
                f"{field} belongs to the root (it limits the whole tree)", task=task
            )
    if concurrency is not None and (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_CONCURRENCY
    ):
        raise DefinitionError(
            f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, not {concurrency!r}",
            task=task,
        )
    try:
        deadline_at = now + timedelta(seconds=deadline) if deadline is not None else None
    except OverflowError:  # past the year 9999
        raise DefinitionError(
            f"deadline: {deadline!r} seconds is too far away", task=task
        ) from None
    return {
        "concurrency": concurrency,
        "timeout": _seconds(spec.get("timeout"), "timeout", task),
        "soft_timeout": _seconds(spec.get("soft_timeout"), "soft_timeout", task),
        "retry": policy.to_dict() if policy is not None else None,
        "deadline_at": deadline_at,
    }


def routing(spec: Mapping[str, Any], *, task: str) -> dict[str, Any]:
    """A task's ``queue`` (where a distributed backend runs it) and ``rate_limit`` (which
    replaces its executor's), kept in its params."""
    found: dict[str, Any] = {}
    queue = spec.get("queue")
    if queue is not None:
        if not isinstance(queue, str) or not queue.strip() or queue != queue.strip():
            raise DefinitionError(f"queue must be a non-empty name, not {queue!r}", task=task)
        found["queue"] = queue
    if spec.get("rate_limit") is not None:
        try:
            found["rate_limit"] = str(RateLimit.parse(spec["rate_limit"]))
        except ValueError as exc:
            raise DefinitionError(f"rate_limit: {exc}", task=task) from exc
    return found


def parse_dependencies(raw: Any, *, task: str) -> tuple[Dependency, ...]:
    """Dependencies as `Dependency` values; raise `DefinitionError` naming the task if malformed."""
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise DefinitionError(f"dependencies must be a list, not {type(raw).__name__}", task=task)
    try:
        return tuple(Dependency.parse(item) for item in raw)
    except TypeError as exc:
        raise DefinitionError(str(exc), task=task) from exc
