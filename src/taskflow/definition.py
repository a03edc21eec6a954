"""Tree definitions: plain data in, checked `Task` values out.

Two shapes are accepted (see docs/trees.md):

* **nested**: a task mapping whose ``children`` list holds more task mappings;
* **flat** (the flat task list of the aipartnerupflow lineage): a list of task mappings with
  ``id`` (a local key such as ``"task_1"``), ``parent_id`` (another local key) and
  ``dependencies``.

A task mapping may have ``key``/``id``, ``name``, ``executor`` (or the lineage's
``schemas: {method: ...}``), ``inputs``, ``params``, ``dependencies``, ``priority``,
``user_id``, ``queue`` and ``rate_limit`` (kept in ``params``), the limits
``timeout``, ``soft_timeout`` and ``retry``, ``deadline`` and
``concurrency`` (the root only; see `parse_limits`), and ``children`` (nested) or ``parent_id``
(flat); any other field is an error. The key defaults to one derived from the name, the name to
the key. Without an executor, a task with children is a *group*; one without is run by the
executor whose id is its ``name`` (the lineage's convention).

`build_tree` (a whole tree) and `build_task` (one task joining a tree) check the shape
(fields, keys, and each field's value with `taskflow.taskfields`) and link dependencies to
task ids. The graph of the tasks
built is checked by `taskflow.treecheck.check_tree` (parents, executors, cycles, references);
`taskflow.executors.check_tasks` runs it with the other checks a tree passes before it is
written or run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from taskflow.exceptions import DefinitionError
from taskflow.models import (
    PRIORITY_DEFAULT,
    Dependency,
    Task,
    new_task_id,
    utcnow,
)
from taskflow.models.task import task_from_fields
from taskflow.models.values import json_problem
from taskflow.taskfields import (
    LIMIT_FIELDS,
    UNSET,
    check_priority,
    executor_of,
    parse_dependencies,
    parse_limits,
    routing,
)
from taskflow.treecheck import did_you_mean

TASK_FIELDS = frozenset(
    {
        "timeout",
        "soft_timeout",
        "retry",
        "deadline",
        "concurrency",
        "id",
        "key",
        "name",
        "executor",
        "schemas",
        "inputs",
        "params",
        "queue",
        "rate_limit",
        "dependencies",
        "priority",
        "children",
        "parent_id",
        "user_id",
    }
)


class _Builder:
    """Turns one definition into tasks, giving each a fresh id and a unique key."""

    def __init__(
        self, user_id: str | None, explicit_keys: set[str], tree_id: str | None = None
    ) -> None:
        self.user_id = user_id
        self.tree_id = tree_id  # set when adding a task to an existing tree
        self.explicit_keys = explicit_keys  # derived keys keep clear of these
        self.root_id: str | None = None  # the id the first task (the root) gets, if given
        self.tasks: list[Task] = []
        self.ids_by_key: dict[str, str] = {}
        self.now = utcnow()

    def key_for(self, spec: Mapping[str, Any], index: int) -> str:
        key = spec.get("key", spec.get("id"))
        if key is None:
            base = re.sub(r"[^A-Za-z0-9_-]+", "_", str(spec.get("name") or f"task_{index}")).strip(
                "_"
            )
            key, n = base or f"task_{index}", 2
            while key in self.ids_by_key or key in self.explicit_keys:
                key, n = f"{base}_{n}", n + 1
        if not isinstance(key, str) or not key or "." in key:
            raise DefinitionError(f"key {key!r} must be a non-empty string without dots")
        if key in self.ids_by_key:
            raise DefinitionError(f"the key {key!r} is used by more than one task")
        return key

    def add(
        self,
        spec: Any,
        index: int,
        *,
        parent: str | None,
        has_children: bool,
        task_id: str | None = None,
    ) -> Task:
        if not isinstance(spec, dict | Mapping):
            raise DefinitionError(f"task #{index} must be a mapping, not {type(spec).__name__}")
        key = self.key_for(spec, index)
        if not spec.keys() <= TASK_FIELDS:
            unknown = sorted(set(spec) - TASK_FIELDS)
            raise DefinitionError(f"unknown field(s) {', '.join(unknown)}", task=key)
        name = spec.get("name", key)
        if not isinstance(name, str) or not name.strip():
            raise DefinitionError(f"name must be a non-empty string, not {name!r}", task=key)
        executor = spec.get("executor", UNSET)
        if executor is UNSET and not (spec.get("schemas") or {}).get("method") and has_children:
            executor = None
        inputs = spec.get("inputs") or {}
        params = spec.get("params") or {}
        for field, value in (("inputs", inputs), ("params", params)):
            if not isinstance(value, dict | Mapping):
                raise DefinitionError(
                    f"{field} must be a mapping, not {type(value).__name__}", task=key
                )
            problem = json_problem(value, field) if value else None
            if problem:
                raise DefinitionError(problem, task=key)
        params = {**params, **routing(spec, task=key)}
        task_id = task_id or (self.root_id if not self.tasks else None) or new_task_id()
        self.ids_by_key[key] = task_id
        values = {
            "id": task_id,
            "tree_id": self.tree_id or (self.tasks[0].id if self.tasks else task_id),
            "parent_id": parent,
            "key": key,
            "name": name,
            "executor": executor_of(name, spec.get("schemas"), executor),
            "user_id": spec.get("user_id", self.user_id),
            "inputs": dict(inputs),
            "params": dict(params),
            "dependencies": parse_dependencies(spec.get("dependencies"), task=key),
            "priority": check_priority(spec.get("priority", PRIORITY_DEFAULT), task=key),
            "position": len(self.tasks),
            "created_at": self.now,
            "updated_at": self.now,
        }
        if not LIMIT_FIELDS.isdisjoint(spec):
            values.update(parse_limits(spec, task=key, is_root=parent is None, now=self.now))
        task = task_from_fields(values)
        self.tasks.append(task)
        return task

    def add_nested(self, root: Any) -> None:
        """Add a nested definition, parents before children, depth first (no recursion: the
        nesting depth is the user's to choose)."""
        stack: list[tuple[Any, str | None]] = [(root, None)]
        while stack:
            spec, parent = stack.pop()
            children = spec.get("children", []) if isinstance(spec, dict | Mapping) else []
            if not isinstance(children, list):
                raise DefinitionError(
                    "children must be a list", task=str(spec.get("key", spec.get("name")))
                )
            if isinstance(spec, dict | Mapping) and "parent_id" in spec:
                raise DefinitionError(
                    "parent_id belongs to the flat format; nest the task under children instead"
                )
            task = self.add(spec, len(self.tasks), parent=parent, has_children=bool(children))
            stack.extend((child, task.id) for child in reversed(children))

    def add_flat(self, specs: Sequence[Any]) -> None:
        parents = {s.get("parent_id") for s in specs if isinstance(s, Mapping)}
        order = _parents_first(specs)
        local_parent: dict[int, Any] = {}
        for index in order:
            spec = specs[index]
            if isinstance(spec, Mapping) and "children" in spec:
                raise DefinitionError(
                    "children belongs to the nested format; use parent_id", task=spec.get("id")
                )
            has_children = isinstance(spec, Mapping) and spec.get("id") in parents
            local_parent[index] = spec.get("parent_id") if isinstance(spec, Mapping) else None
            parent_key = local_parent[index]
            if parent_key is not None and parent_key not in self.ids_by_key:
                raise DefinitionError(
                    f"parent_id {parent_key!r} is not a task of this tree", task=spec.get("id")
                )
            parent = self.ids_by_key[parent_key] if parent_key is not None else None
            self.add(spec, index, parent=parent, has_children=has_children)

    def link_dependencies(self) -> list[Task]:
        linked = []
        for task in self.tasks:
            if not task.dependencies:
                linked.append(task)
                continue
            deps = []
            for dep in task.dependencies:
                target = self.ids_by_key.get(dep.id)
                if target is None:
                    raise DefinitionError(
                        f"depends on {dep.id!r}, which is not a task of this tree"
                        + did_you_mean(dep.id, self.ids_by_key),
                        task=task.key,
                    )
                deps.append(Dependency(target, dep.required))
            linked.append(task.evolve(dependencies=tuple(deps)))
        return linked


def _parents_first(specs: Sequence[Any]) -> list[int]:
    """Indexes of ``specs`` ordered so that every parent comes before its children."""
    by_key = {s.get("id"): i for i, s in enumerate(specs) if isinstance(s, Mapping)}
    roots = [
        i for i, s in enumerate(specs) if not isinstance(s, Mapping) or s.get("parent_id") is None
    ]
    if len(roots) != 1:
        raise DefinitionError(
            f"a tree has exactly one root (a task without parent_id); found {len(roots)}"
        )
    children: dict[int, list[int]] = {}
    for i, spec in enumerate(specs):
        parent = spec.get("parent_id") if isinstance(spec, Mapping) else None
        if parent is not None:
            if parent not in by_key:
                raise DefinitionError(
                    f"parent_id {parent!r} is not a task of this tree", task=spec.get("id")
                )
            children.setdefault(by_key[parent], []).append(i)
    order, stack = [], [roots[0]]
    while stack:
        index = stack.pop()
        order.append(index)
        stack.extend(reversed(children.get(index, [])))
    if len(order) != len(specs):
        raise DefinitionError("parent_id links form a loop that does not reach the root")
    return order


def build_tree(
    definition: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    user_id: str | None = None,
    tree_id: str | None = None,
) -> list[Task]:
    """Tasks for a nested or flat definition, root first; raise `DefinitionError` if malformed.

    ``tree_id`` is the id the root (and so the tree) gets (default: a new one). Only the
    shape is checked here; `check_tree` checks the graph.
    """
    builder = _Builder(user_id, _explicit_keys(definition))
    builder.root_id = tree_id
    if isinstance(definition, Mapping):
        builder.add_nested(definition)
    elif isinstance(definition, Sequence) and not isinstance(definition, str):
        if not definition:
            raise DefinitionError("the task list is empty")
        builder.add_flat(definition)
    else:
        raise DefinitionError(
            f"a tree definition is a mapping or a list of tasks, not {type(definition).__name__}"
        )
    return builder.link_dependencies()


def build_task(
    spec: Mapping[str, Any],
    *,
    task_id: str,
    parent: Task | None,
    siblings: Sequence[Task],
    user_id: str | None = None,
) -> Task:
    """One task for ``spec`` (a task mapping, as in a tree definition), to be added to the tree
    of ``parent`` (whose tasks are ``siblings``), or as a new root when ``parent`` is ``None``.

    Its dependencies name tasks of that tree by key or id. The same shape checks as
    `build_tree` apply; `check_tree` checks the graph.
    """
    if "children" in spec or "parent_id" in spec:
        raise DefinitionError("a single task is created without children or parent_id")
    builder = _Builder(
        user_id if user_id is not None else (parent.user_id if parent else None),
        {t.key for t in siblings},
        tree_id=parent.tree_id if parent else None,
    )
    builder.ids_by_key = {t.key: t.id for t in siblings}
    key = spec.get("key", spec.get("id"))
    if key in builder.ids_by_key:
        tree = parent.tree_id if parent else "?"
        raise DefinitionError(f"the key {key!r} is already used in tree {tree!r}", task=key)
    builder.tasks = list(siblings)
    position = max((t.position for t in siblings), default=-1) + 1
    task = builder.add(spec, position, parent=parent.id if parent else None, has_children=False,
                       task_id=task_id)  # fmt: skip
    by_key = {**builder.ids_by_key, **{t.id: t.id for t in siblings}}
    dependencies = []
    for dep in task.dependencies:
        target = by_key.get(dep.id)
        if target is None:
            raise DefinitionError(
                f"depends on {dep.id!r}, which is not a task of this tree"
                + did_you_mean(dep.id, builder.ids_by_key),
                task=task.key,
            )
        dependencies.append(Dependency(target, dep.required))
    return task.evolve(position=position, dependencies=tuple(dependencies))


def _explicit_keys(definition: Any) -> set[str]:
    """Keys (or local ids) written in the definition."""
    keys: set[str] = set()
    stack = list(definition) if isinstance(definition, list) else [definition]
    while stack:
        spec = stack.pop()
        if isinstance(spec, Mapping):
            key = spec.get("key", spec.get("id"))
            if isinstance(key, str):
                keys.add(key)
            children = spec.get("children")
            if isinstance(children, list):
                stack.extend(children)
    return keys
