"""The checks of a built tree's graph, made before anything is written or run.

`taskflow.definition` turns a user's definition into `Task` values and checks their shape;
`check_tree` is the one place where a tree's graph is checked: parents and dependencies inside
the tree, unknown executors, cycles (a group waits for its children, so a task depending on a
group that contains it is one), references to tasks that are not upstream. Literal inputs are
checked against their executors' schemas by `taskflow.executors.check_literal_inputs`;
`taskflow.executors.check_tasks` runs all of them, for trees (``TaskManager.check``,
``create_tree``, ``run_tree``) and single tasks (``TaskRepository.create_task``) alike.

`similar_ids` and `did_you_mean` find the close matches an error message suggests.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

from taskflow.exceptions import (
    DefinitionError,
    DefinitionErrors,
    DependencyCycle,
    InvalidReference,
    UnknownExecutor,
)
from taskflow.models import Task
from taskflow.references import invalid_expressions, referenced_keys


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'a', 'b'?"`` naming up to three of ``choices`` close to ``word``, for
    the end of an error message (``""`` when none is)."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def similar_ids(word: str, choices: Iterable[str]) -> list[str]:
    """Up to three of ``choices`` that look like ``word``."""
    return difflib.get_close_matches(word, sorted(choices), n=3, cutoff=0.5)


class ExecutorCatalog(Protocol):
    """What `check_tree` needs to know about executors (an `ExecutorRegistry` is one)."""

    def __contains__(self, executor_id: object) -> bool: ...

    def ids(self) -> Collection[str]: ...


def _known_ids(executors: Collection[str] | ExecutorCatalog) -> Collection[str]:
    ids = getattr(executors, "ids", None)
    return ids() if callable(ids) else executors  # type: ignore[return-value]


def check_tree(
    tasks: Sequence[Task], *, executors: Collection[str] | ExecutorCatalog | None = None
) -> None:
    """Raise a `DefinitionError` if ``tasks`` (one whole tree) cannot run as defined — with
    every problem found (`DefinitionErrors`) when there are several.

    Checks: parents and dependencies name tasks of the tree, executors are known (when
    ``executors`` is given), the dependencies have no cycle, and every reference in the inputs
    names an upstream task with a well-formed expression.
    """
    DefinitionErrors.raise_if(tree_problems(tasks, executors=executors))


def _edge_problems(
    task: Task, by_id: Mapping[str, Task], executors: Collection[str] | ExecutorCatalog | None
) -> tuple[list[DefinitionError], bool]:
    """One task's parent, dependencies and executor: the problems, and whether an edge is
    broken (then the graph cannot be judged further)."""
    problems: list[DefinitionError] = []
    broken = False
    if task.parent_id is not None and task.parent_id not in by_id:
        message = f"parent {task.parent_id!r} is not a task of this tree"
        problems.append(DefinitionError(message, task=task.key))
        broken = True
    for dep in task.dependencies:
        if dep.id not in by_id:
            message = f"depends on {dep.id!r}, which is not a task of this tree"
            problems.append(DefinitionError(message, task=task.key))
            broken = True
        elif dep.id == task.id:
            problems.append(DependencyCycle([task.key, task.key]))
            broken = True
    if executors is not None and task.executor is not None and task.executor not in executors:
        close = similar_ids(task.executor, _known_ids(executors))
        problems.append(UnknownExecutor(task.executor, task=task.key, suggestions=close))
    return problems, broken


def tree_problems(
    tasks: Sequence[Task], *, executors: Collection[str] | ExecutorCatalog | None = None
) -> list[DefinitionError]:
    """Every problem `check_tree` would raise, in task order."""
    by_id = {task.id: task for task in tasks}
    by_key = {task.key: task for task in tasks}
    problems: list[DefinitionError] = []
    broken_edges = False
    for task in tasks:
        found, broken = _edge_problems(task, by_id, executors)
        problems.extend(found)
        broken_edges = broken_edges or broken
    if broken_edges:
        return problems  # the graph is not whole: cycles and references cannot be judged
    try:
        _check_acyclic(tasks, by_id)
    except DependencyCycle as cycle:
        return [*problems, cycle]
    for task in tasks:
        try:
            _check_references(task, by_id, by_key)
        except InvalidReference as exc:
            problems.append(exc)
    return problems


def _waits_for(tasks: Sequence[Task], by_id: Mapping[str, Task]) -> dict[str, list[str]]:
    """What each task waits for: its dependencies, and for a group also its children.

    A group finishes only when its children have, so a task that depends on a group
    containing it would wait for itself.
    """
    waits = {task.id: [d.id for d in task.dependencies] for task in tasks}
    for task in tasks:
        parent = by_id.get(task.parent_id) if task.parent_id else None
        if parent is not None and parent.executor is None:
            waits[parent.id].append(task.id)
    return waits


def _check_acyclic(tasks: Sequence[Task], by_id: Mapping[str, Task]) -> None:
    waits = _waits_for(tasks, by_id)
    waiting = {task_id: len(upstream) for task_id, upstream in waits.items()}
    dependents: dict[str, list[str]] = {}
    for task_id, upstream in waits.items():
        for other in upstream:
            dependents.setdefault(other, []).append(task_id)
    ready = [task_id for task_id, n in waiting.items() if n == 0]
    while ready:
        done = ready.pop()
        for follower in dependents.get(done, ()):
            waiting[follower] -= 1
            if waiting[follower] == 0:
                ready.append(follower)
    stuck = {task_id for task_id, n in waiting.items() if n > 0}
    if stuck:
        raise DependencyCycle(_find_cycle(stuck, by_id, waits))


def _find_cycle(
    stuck: set[str], by_id: Mapping[str, Task], waits: Mapping[str, list[str]]
) -> list[str]:
    """Walk what tasks wait for inside the stuck set until one repeats; return that loop."""
    current = min(stuck, key=lambda task_id: by_id[task_id].position)
    seen: list[str] = []
    while current not in seen:
        seen.append(current)
        current = next(other for other in waits[current] if other in stuck)
    loop = [*seen[seen.index(current) :], current]
    return [by_id[task_id].key for task_id in reversed(loop)]


def _upstream(task: Task, by_id: Mapping[str, Task]) -> set[str]:
    found: set[str] = set()
    stack = [d.id for d in task.dependencies]
    while stack:
        task_id = stack.pop()
        if task_id not in found:
            found.add(task_id)
            stack.extend(d.id for d in by_id[task_id].dependencies)
    return found


def _check_references(task: Task, by_id: Mapping[str, Task], by_key: Mapping[str, Task]) -> None:
    keys = referenced_keys(task.inputs)
    if not keys:
        return
    problems = invalid_expressions(task.inputs)
    if problems:
        raise InvalidReference(problems[0], task=task.key)
    upstream = _upstream(task, by_id)
    for key in sorted(keys):
        target = by_key.get(key) or by_id.get(key)
        if target is None:
            raise InvalidReference(
                f"inputs refer to {key!r}, which is not a task of this tree"
                + did_you_mean(key, by_key),
                task=task.key,
            )
        if target.id not in upstream:
            raise InvalidReference(
                f"inputs refer to {key!r}, which is not upstream; add it to dependencies",
                task=task.key,
            )
