"""`TaskTreeNode`: a task with its children, and the status and progress rolled up from them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from taskflow.models.task import Task, TaskStatus


class TaskTreeNode:
    """A task and its children, as a tree.

    Build one by hand (``TaskTreeNode(task)`` then `add_child`) or from a tree's tasks with
    `from_tasks`. Nodes are views: changing them does not change the repository.
    """

    __slots__ = ("children", "task")

    def __init__(self, task: Task) -> None:
        self.task = task
        self.children: list[TaskTreeNode] = []

    def __repr__(self) -> str:
        task = self.task
        return f"TaskTreeNode({task.key!r}, {task.status.value}, {len(self.children)} children)"

    def add_child(self, child: TaskTreeNode) -> TaskTreeNode:
        """Append ``child`` and return it."""
        self.children.append(child)
        return child

    @classmethod
    def from_tasks(cls, tasks: Iterable[Task]) -> TaskTreeNode:
        """Assemble the tree of ``tasks`` (one root; children in creation order)."""
        ordered = sorted(tasks, key=lambda t: t.position)
        nodes = {task.id: cls(task) for task in ordered}
        roots = [node for node in nodes.values() if node.task.parent_id not in nodes]
        if len(roots) != 1:
            raise ValueError(f"expected one root among the tasks, found {len(roots)}")
        for node in nodes.values():
            parent_id = node.task.parent_id
            if parent_id is not None and parent_id in nodes:
                nodes[parent_id].children.append(node)
        return roots[0]

    def walk(self) -> Iterator[TaskTreeNode]:
        """This node and every node below it, depth first, parents before children."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    @property
    def result(self) -> Mapping[str, Any] | None:
        """The task's result; for a group, its children's results by key (built on demand:
        a group's result is never stored, so a large result is kept once)."""
        if not self.task.is_group or not self.children:
            return self.task.result
        return {child.task.key: child.result for child in self.children}

    def tasks(self) -> list[Task]:
        """Every task of the subtree, parents before children."""
        return [node.task for node in self.walk()]

    def find(self, key_or_id: str) -> TaskTreeNode | None:
        """The node whose task has this key or id, or ``None``."""
        for node in self.walk():
            if key_or_id in (node.task.id, node.task.key):
                return node
        return None

    def calculate_status(self) -> TaskStatus:
        """The subtree's status: a task's own, rolled up with its children's.

        Every part completed: completed. All finished: failed if any failed, else cancelled
        if any was cancelled. Nothing started: pending. Otherwise in progress.
        """
        statuses = self._own_and_children_statuses()
        if all(s is TaskStatus.COMPLETED for s in statuses):
            return TaskStatus.COMPLETED
        if all(s.is_terminal for s in statuses):
            if TaskStatus.FAILED in statuses:
                return TaskStatus.FAILED
            return TaskStatus.CANCELLED
        if all(s is TaskStatus.PENDING for s in statuses):
            return TaskStatus.PENDING
        return TaskStatus.IN_PROGRESS

    def calculate_progress(self) -> float:
        """The subtree's progress from 0.0 to 1.0: finished parts count as done."""
        parts: list[float] = []
        if not self.task.is_group or not self.children:
            parts.append(1.0 if self.task.is_terminal else self.task.progress)
        parts.extend(child.calculate_progress() for child in self.children)
        return sum(parts) / len(parts)

    def _own_and_children_statuses(self) -> list[TaskStatus]:
        statuses = [child.calculate_status() for child in self.children]
        if not self.task.is_group or not statuses:
            statuses.append(self.task.status)
        return statuses
