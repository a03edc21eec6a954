from __future__ import annotations

import pytest

from taskflow import Dependency, InvalidTransition, Task, TaskStatus, TaskTreeNode
from taskflow.models import TERMINAL_STATUSES, TRANSITIONS, check_transition, new_task_id

S = TaskStatus


def make(
    key: str,
    status: TaskStatus = S.PENDING,
    *,
    parent: Task | None = None,
    executor: str | None = "noop",
    progress: float = 0.0,
) -> Task:
    task_id = new_task_id()
    return Task(
        id=task_id,
        tree_id=parent.tree_id if parent else task_id,
        parent_id=parent.id if parent else None,
        key=key,
        name=key,
        executor=executor,
        status=status,
        progress=progress,
    )


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PENDING, S.IN_PROGRESS),
        (S.PENDING, S.CANCELLED),
        (S.IN_PROGRESS, S.COMPLETED),
        (S.IN_PROGRESS, S.FAILED),
        (S.IN_PROGRESS, S.CANCELLED),
        (S.IN_PROGRESS, S.PENDING),
        (S.FAILED, S.PENDING),
        (S.CANCELLED, S.PENDING),
    ],
)
def test_allowed_transitions(current: TaskStatus, target: TaskStatus) -> None:
    check_transition("t", current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PENDING, S.COMPLETED),
        (S.PENDING, S.FAILED),
        (S.COMPLETED, S.PENDING),
        (S.COMPLETED, S.FAILED),
        (S.FAILED, S.COMPLETED),
        (S.CANCELLED, S.IN_PROGRESS),
        (S.PENDING, S.PENDING),
    ],
)
def test_forbidden_transitions_raise_with_both_states(
    current: TaskStatus, target: TaskStatus
) -> None:
    with pytest.raises(InvalidTransition, match=f"'{current.value}' to '{target.value}'"):
        check_transition("t", current, target)


def test_completed_is_final_and_terminal_set_matches_table() -> None:
    assert TRANSITIONS[S.COMPLETED] == frozenset()
    assert (
        {s for s in S if s.is_terminal} == TERMINAL_STATUSES == {S.COMPLETED, S.FAILED, S.CANCELLED}
    )


def test_evolve_copies_and_leaves_the_original() -> None:
    task = make("a")
    done = task.evolve(status=S.COMPLETED, result={"x": 1})
    assert (task.status, task.result) == (S.PENDING, None)
    assert (done.status, done.result, done.id, done.key) == (S.COMPLETED, {"x": 1}, task.id, "a")


def test_evolve_rejects_unknown_fields() -> None:
    with pytest.raises(TypeError, match="no field"):
        make("a").evolve(colour="red")


def test_to_dict_is_json_ready() -> None:
    data = make("a").evolve(dependencies=(Dependency("x", required=False),)).to_dict()
    assert data["status"] == "pending"
    assert data["dependencies"] == [{"id": "x", "required": False}]
    assert isinstance(data["created_at"], str)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a", Dependency("a")),
        ({"id": "a"}, Dependency("a")),
        ({"id": "a", "required": False}, Dependency("a", False)),
    ],
)
def test_dependency_parse(raw: object, expected: Dependency) -> None:
    assert Dependency.parse(raw) == expected


@pytest.mark.parametrize("raw", [3, {"required": True}, {"id": "a", "required": "no"}])
def test_dependency_parse_rejects(raw: object) -> None:
    with pytest.raises(TypeError):
        Dependency.parse(raw)


def _tree(*child_statuses: TaskStatus, root_executor: str | None = None) -> TaskTreeNode:
    root = make("root", executor=root_executor)
    node = TaskTreeNode(root)
    for i, status in enumerate(child_statuses):
        node.add_child(TaskTreeNode(make(f"c{i}", status, parent=root)))
    return node


@pytest.mark.parametrize(
    ("children", "expected"),
    [
        ((S.COMPLETED, S.COMPLETED), S.COMPLETED),
        ((S.COMPLETED, S.FAILED), S.FAILED),
        ((S.CANCELLED, S.COMPLETED), S.CANCELLED),
        ((S.FAILED, S.CANCELLED), S.FAILED),
        ((S.PENDING, S.PENDING), S.PENDING),
        ((S.COMPLETED, S.PENDING), S.IN_PROGRESS),
        ((S.IN_PROGRESS,), S.IN_PROGRESS),
    ],
)
def test_group_status_rolls_up(children: tuple[TaskStatus, ...], expected: TaskStatus) -> None:
    assert _tree(*children).calculate_status() is expected


def test_a_task_with_an_executor_counts_its_own_status() -> None:
    tree = _tree(S.COMPLETED, root_executor="noop")
    assert tree.calculate_status() is S.IN_PROGRESS  # root itself still pending
    assert tree.calculate_progress() == pytest.approx(0.5)


def test_progress_counts_finished_children_as_done() -> None:
    root = make("root", executor=None)
    node = TaskTreeNode(root)
    node.add_child(TaskTreeNode(make("a", S.FAILED, parent=root)))
    node.add_child(TaskTreeNode(make("b", S.IN_PROGRESS, parent=root, progress=0.5)))
    assert node.calculate_progress() == pytest.approx(0.75)


def test_from_tasks_builds_the_tree_in_creation_order() -> None:
    root = make("root", executor=None)
    a = make("a", parent=root).evolve(position=2)
    b = make("b", parent=root).evolve(position=1)
    c = make("c", parent=a).evolve(position=3)
    tree = TaskTreeNode.from_tasks([c, a, root, b])
    assert [n.task.key for n in tree.children] == ["b", "a"]
    assert [n.task.key for n in tree.walk()] == ["root", "b", "a", "c"]
    assert tree.find("c") is not None and tree.find("zzz") is None


def test_from_tasks_needs_exactly_one_root() -> None:
    with pytest.raises(ValueError, match="one root"):
        TaskTreeNode.from_tasks([make("a"), make("b")])
