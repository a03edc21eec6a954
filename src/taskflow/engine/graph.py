"""The in-memory view of one tree while it runs: each task's live state, and its edges.

A `Node` holds a task's definition (the `Task` as loaded) and the state that changes while the
tree runs, in plain attributes: a status change costs a few assignments, not a copy of the
task. `Node.task` builds the `Task` value on demand (for ``get_state``, hooks, results).
`RunGraph` answers, without touching the database, which tasks become ready or must be
cancelled when a task finishes, and when a group is done.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from taskflow.models import AttemptRecord, Task, TaskStatus, TaskTreeNode
from taskflow.references import needs_resolution
from taskflow.storage import TaskState

_COMPLETED = TaskStatus.COMPLETED
_PENDING = TaskStatus.PENDING
_TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


#: The edges of a task that has none (never appended to: the first edge makes a list).
_NONE: Any = ()


class Node:
    """One task of a running tree: its definition, live state and edges."""

    __slots__ = (
        "_task",
        "attempt",
        "attempts",
        "base",
        "children",
        "completed_at",
        "cursor",
        "dependents",
        "dirty_from",
        "error",
        "error_type",
        "failed_requirement",
        "has_references",
        "message",
        "opened",
        "parent",
        "progress",
        "progress_sum",
        "requirements",
        "result",
        "retry_at",
        "started_at",
        "status",
        "traceback",
        "unfinished_children",
        "updated_at",
        "waiting",
        "waiting_on",
    )

    def __init__(self, task: Task) -> None:
        self.base = task
        self._task: Task | None = task
        self.status = task.status
        self.progress = task.progress
        self.message = task.message
        self.result = task.result
        self.error = task.error
        self.error_type = task.error_type
        self.traceback = task.traceback
        self.attempt = task.attempt
        self.attempts: tuple[AttemptRecord, ...] = task.attempts
        self.started_at = task.started_at
        self.completed_at = task.completed_at
        self.retry_at = task.retry_at
        self.waiting: Mapping[str, Any] | None = task.waiting
        self.cursor = task.cursor  # how far the backend's reports of the attempt are stored
        self.updated_at = task.updated_at
        self.dirty_from: TaskStatus | None = None  # status when first changed in the open batch
        self.parent: Node | None = None
        # the edges: a shared empty tuple until the first one (most tasks have no children,
        # many no dependents: thousands of empty lists would only keep the collector busy)
        self.children: list[Node] = _NONE
        self.requirements: list[tuple[Node, bool]] = _NONE
        self.dependents: list[tuple[Node, bool]] = _NONE
        self.waiting_on = 0  # dependencies not yet terminal
        self.unfinished_children = 0
        self.failed_requirement: Node | None = None
        self.progress_sum = 0.0  # a group's: its children's effective progress, added up
        self.has_references = bool(task.inputs) and needs_resolution(task.inputs)
        self.opened = task.executor is None and task.status is TaskStatus.IN_PROGRESS

    def __repr__(self) -> str:
        return f"Node({self.base.key!r}, {self.status.value})"

    @property
    def id(self) -> str:
        """The task's id."""
        return self.base.id

    @property
    def key(self) -> str:
        """The task's key."""
        return self.base.key

    @property
    def is_group(self) -> bool:
        """Whether the task only groups its children."""
        return self.base.executor is None

    @property
    def is_terminal(self) -> bool:
        """Whether the task has finished."""
        return self.status in _TERMINAL

    @property
    def effective_progress(self) -> float:
        """What this task contributes to its parent's progress (1.0 once finished)."""
        return 1.0 if self.status in _TERMINAL else self.progress

    def touched(self, now: datetime) -> None:
        """The state is about to change: remember the stored status for the open batch."""
        if self.dirty_from is None:
            self.dirty_from = self.status
        self.updated_at = now
        self._task = None

    def set_progress(self, progress: float) -> None:
        """A group's rolled-up progress moved (written later, at most every 0.2 s)."""
        self.progress = progress
        self._task = None

    @property
    def task(self) -> Task:
        """The task as it stands now (built on demand, then kept until the next change)."""
        if self._task is None:
            self._task = self.base.evolve_known(
                {
                    "status": self.status,
                    "progress": self.progress,
                    "message": self.message,
                    "result": self.result,
                    "error": self.error,
                    "error_type": self.error_type,
                    "traceback": self.traceback,
                    "attempt": self.attempt,
                    "attempts": self.attempts,
                    "started_at": self.started_at,
                    "completed_at": self.completed_at,
                    "retry_at": self.retry_at,
                    "waiting": self.waiting,
                    "cursor": self.cursor,
                    "updated_at": self.updated_at,
                }
            )
        return self._task

    def written(self) -> TaskState:
        """The state to write for the open batch (and mark the node clean)."""
        expected, self.dirty_from = self.dirty_from, None
        assert expected is not None
        return TaskState(
            self.base.id,
            expected,
            self.status,
            self.progress,
            self.message,
            self.result,
            self.error,
            self.error_type,
            self.traceback,
            self.attempt,
            self.attempts,
            self.started_at,
            self.completed_at,
            self.retry_at,
            self.waiting,
            self.cursor,
            self.updated_at,
        )

    def lookup(self) -> dict[str, Any]:
        """What a reference to this task sees: its result, status and error (a group's
        result is its children's, by key)."""
        result = self.group_result() if self.is_group and self.children else self.result
        return {"result": result, "status": self.status.value, "error": self.error}

    def group_result(self) -> dict[str, Any]:
        """A group's result: its children's results by key (never stored: built on demand)."""
        return {child.key: child.lookup()["result"] for child in self.children}


class RunGraph:
    """Dependency and parent edges of one tree, with counters kept as tasks finish."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        self.nodes: dict[str, Node] = {task.id: Node(task) for task in tasks}
        self.by_key: dict[str, Node] = {node.key: node for node in self.nodes.values()}
        roots = [node for node in self.nodes.values() if node.base.parent_id is None]
        if len(roots) != 1:
            raise ValueError(f"a tree has one root, not {len(roots)}")
        self.root = roots[0]
        for node in self.nodes.values():
            self._link(node)
        for node in self.nodes.values():
            node.progress_sum = sum(child.effective_progress for child in node.children)

    def _link(self, node: Node) -> None:
        parent_id = node.base.parent_id
        if parent_id is not None and parent_id in self.nodes:
            parent = node.parent = self.nodes[parent_id]
            if parent.children:
                parent.children.append(node)
            else:
                parent.children = [node]
            if not node.is_terminal:
                node.parent.unfinished_children += 1
        for dep in node.base.dependencies:
            upstream = self.nodes[dep.id]
            if node.requirements:
                node.requirements.append((upstream, dep.required))
            else:
                node.requirements = [(upstream, dep.required)]
            if upstream.dependents:
                upstream.dependents.append((node, dep.required))
            else:
                upstream.dependents = [(node, dep.required)]
            if not upstream.is_terminal:
                node.waiting_on += 1
            elif dep.required and upstream.status is not _COMPLETED:
                node.failed_requirement = upstream

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, key_or_id: str) -> Node:
        """The node with this key or id."""
        return self.by_key.get(key_or_id) or self.nodes[key_or_id]

    def lookup(self, key: str) -> dict[str, Any]:
        """Reference lookup by key or id (see `taskflow.references`)."""
        return self.node(key).lookup()

    @staticmethod
    def dependency_results(node: Node) -> dict[str, Any]:
        """The results of a node's direct dependencies, by key."""
        return {upstream.key: upstream.lookup()["result"] for upstream, _ in node.requirements}

    @staticmethod
    def startable(node: Node) -> bool:
        """Pending, every dependency finished, none required of it failed."""
        return node.status is _PENDING and node.waiting_on == 0 and node.failed_requirement is None

    @staticmethod
    def doomed(node: Node) -> bool:
        """Pending but a required dependency failed or was cancelled."""
        return node.status is _PENDING and node.failed_requirement is not None

    def tree_view(self) -> TaskTreeNode:
        """The tree as it stands, as `TaskTreeNode` values (children in creation order)."""
        views = {node_id: TaskTreeNode(node.task) for node_id, node in self.nodes.items()}
        for node_id, node in self.nodes.items():
            if node.parent is not None:
                views[node.parent.id].children.append(views[node_id])
        return views[self.root.id]

    @property
    def all_terminal(self) -> bool:
        """Whether every task of the tree has finished."""
        return all(node.status in _TERMINAL for node in self.nodes.values())

    @staticmethod
    def finished(node: Node) -> list[Node]:
        """Record that ``node`` reached a terminal status; return the nodes to re-examine.

        Those are its dependents (one dependency fewer to wait for; doomed if it was required
        and did not complete) and its parent (one unfinished child fewer).
        """
        affected: list[Node] = []
        completed = node.status is _COMPLETED
        for dependent, required in node.dependents:
            dependent.waiting_on -= 1
            if required and not completed and dependent.failed_requirement is None:
                dependent.failed_requirement = node
            affected.append(dependent)
        if node.parent is not None:
            node.parent.unfinished_children -= 1
            affected.append(node.parent)
        return affected

    @staticmethod
    def reopened(node: Node) -> None:
        """Undo `finished` for a node that runs again (a resumed task back to pending)."""
        for dependent, _ in node.dependents:
            dependent.waiting_on += 1
            if dependent.failed_requirement is node:
                dependent.failed_requirement = None
        if node.parent is not None:
            node.parent.unfinished_children += 1

    @staticmethod
    def progress_changed(node: Node, before: float) -> list[tuple[Node, float]]:
        """``node``'s effective progress moved from ``before``: the groups above it whose
        progress changes, with their new progress (incremental: O(depth))."""
        changed: list[tuple[Node, float]] = []
        delta = node.effective_progress - before
        group = node.parent
        while group is not None and group.is_group and delta and not group.is_terminal:
            old = group.progress_sum / len(group.children)
            group.progress_sum += delta
            new = group.progress_sum / len(group.children)
            changed.append((group, new))
            delta, group = new - old, group.parent
        return changed

    @staticmethod
    def subtree(node: Node) -> Iterator[Node]:
        """Every descendant of ``node`` (not ``node`` itself)."""
        stack = list(node.children)
        while stack:
            current = stack.pop()
            yield current
            stack.extend(current.children)


def rolled_up(children: Sequence[Node]) -> tuple[TaskStatus, str | None]:
    """A finished group's status from its children's, and an error summary if not completed."""
    failed = [c.key for c in children if c.status is TaskStatus.FAILED]
    cancelled = [c.key for c in children if c.status is TaskStatus.CANCELLED]
    if failed:
        return (
            TaskStatus.FAILED,
            f"{len(failed)} of {len(children)} children failed: {', '.join(failed[:5])}",
        )
    if cancelled:
        return (
            TaskStatus.CANCELLED,
            f"{len(cancelled)} of {len(children)} children were cancelled: "
            + ", ".join(cancelled[:5]),
        )
    return TaskStatus.COMPLETED, None
