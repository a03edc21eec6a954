"""The in-memory view of one tree while it runs: who waits on whom, and what follows.

`RunGraph` answers, without touching the database, which tasks become ready or must be
cancelled when a task finishes, and when a group is done. The scheduler persists what it says.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from taskflow.models import Task, TaskStatus
from taskflow.references import needs_resolution

_COMPLETED = TaskStatus.COMPLETED
_PENDING = TaskStatus.PENDING


class Node:
    """One task of a running tree, with its edges and live state."""

    __slots__ = (
        "children",
        "dependents",
        "failed_requirement",
        "has_references",
        "opened",
        "parent",
        "progress_sum",
        "requirements",
        "task",
        "unfinished_children",
        "waiting",
    )

    def __init__(self, task: Task) -> None:
        self.task = task
        self.parent: Node | None = None
        self.children: list[Node] = []
        self.requirements: list[tuple[Node, bool]] = []
        self.dependents: list[tuple[Node, bool]] = []
        self.waiting = 0  # dependencies not yet terminal
        self.unfinished_children = 0
        self.failed_requirement: Node | None = None
        self.progress_sum = 0.0  # a group's: its children's effective progress, added up
        self.has_references = bool(task.inputs) and needs_resolution(task.inputs)
        self.opened = task.executor is None and task.status is TaskStatus.IN_PROGRESS

    def __repr__(self) -> str:
        return f"Node({self.task.key!r}, {self.task.status.value})"

    @property
    def status(self) -> TaskStatus:
        """The task's current status."""
        return self.task.status

    @property
    def is_group(self) -> bool:
        """Whether the task only groups its children."""
        return self.task.executor is None

    @property
    def effective_progress(self) -> float:
        """What this task contributes to its parent's progress (1.0 once finished)."""
        return 1.0 if self.task.is_terminal else self.task.progress

    def lookup(self) -> dict[str, Any]:
        """What a reference to this task sees: its result, status and error."""
        task = self.task
        return {"result": task.result, "status": task.status.value, "error": task.error}


class RunGraph:
    """Dependency and parent edges of one tree, with counters kept as tasks finish."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        self.nodes: dict[str, Node] = {task.id: Node(task) for task in tasks}
        self.by_key: dict[str, Node] = {node.task.key: node for node in self.nodes.values()}
        roots = [node for node in self.nodes.values() if node.task.parent_id is None]
        if len(roots) != 1:
            raise ValueError(f"a tree has one root, not {len(roots)}")
        self.root = roots[0]
        for node in self.nodes.values():
            self._link(node)
        for node in self.nodes.values():
            node.progress_sum = sum(child.effective_progress for child in node.children)

    def _link(self, node: Node) -> None:
        parent_id = node.task.parent_id
        if parent_id is not None and parent_id in self.nodes:
            node.parent = self.nodes[parent_id]
            node.parent.children.append(node)
            if not node.task.is_terminal:
                node.parent.unfinished_children += 1
        for dep in node.task.dependencies:
            upstream = self.nodes[dep.id]
            node.requirements.append((upstream, dep.required))
            upstream.dependents.append((node, dep.required))
            if not upstream.task.is_terminal:
                node.waiting += 1
            elif dep.required and upstream.task.status is not _COMPLETED:
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

    def dependency_results(self, node: Node) -> dict[str, Any]:
        """The results of a node's direct dependencies, by key."""
        return {upstream.task.key: upstream.task.result for upstream, _ in node.requirements}

    @staticmethod
    def startable(node: Node) -> bool:
        """Pending, every dependency finished, none required of it failed."""
        return (
            node.task.status is _PENDING and node.waiting == 0 and node.failed_requirement is None
        )

    @staticmethod
    def doomed(node: Node) -> bool:
        """Pending but a required dependency failed or was cancelled."""
        return node.task.status is _PENDING and node.failed_requirement is not None

    def finished(self, node: Node) -> list[Node]:
        """Record that ``node`` reached a terminal status; return the nodes to re-examine.

        Those are its dependents (one dependency fewer to wait for; doomed if it was required
        and did not complete) and its parent (one unfinished child fewer).
        """
        affected: list[Node] = []
        completed = node.task.status is _COMPLETED
        for dependent, required in node.dependents:
            dependent.waiting -= 1
            if required and not completed and dependent.failed_requirement is None:
                dependent.failed_requirement = node
            affected.append(dependent)
        if node.parent is not None:
            node.parent.unfinished_children -= 1
            affected.append(node.parent)
        return affected

    @staticmethod
    def progress_changed(node: Node, before: float) -> list[tuple[Node, float]]:
        """``node``'s effective progress moved from ``before``: the groups above it whose
        progress changes, with their new progress (incremental: O(depth))."""
        changed: list[tuple[Node, float]] = []
        delta = node.effective_progress - before
        group = node.parent
        while group is not None and group.is_group and delta and not group.task.is_terminal:
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
    failed = [c.task.key for c in children if c.task.status is TaskStatus.FAILED]
    cancelled = [c.task.key for c in children if c.task.status is TaskStatus.CANCELLED]
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
