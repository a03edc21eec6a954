"""The edges of a tree: each reference in a task's inputs, checked against both ends' schemas.

An **edge** goes from the task a reference names (the *producer*) to the task whose inputs
hold it (the *consumer*), at one field (``inputs.rows[0]``). `tree_edges` judges each one:

* **wrong** — certain to fail: the producer's output schema cannot produce the path (a name
  it does not declare where ``additionalProperties`` is false, an index past ``maxItems``, a
  step into a string ...), what it produces there can never be what the consumer's input
  schema accepts at that field, or the consumer accepts no such field;
* **unchecked** — the schemas do not decide: the producer declares no output schema, the
  path goes where its schema says nothing (``additionalProperties`` not false, a value of
  any type), or the producer may end without completing (no chain of *required*
  dependencies leads to it, so its result may be a failure's or a partial one);
* **checked** — everything else: the path exists, and the types can match.

A reference that is the whole string carries the producer's value; one inside a longer string
makes a string. A group's result holds its children's results by key; ``${KEY.status}`` is
``completed``, ``failed`` or ``cancelled``, ``${KEY.error}`` a string or null.
"""

from __future__ import annotations

import collections
import dataclasses
import difflib
from collections.abc import Collection, Sequence
from typing import Any

from taskflow.edges.compatible import conflict
from taskflow.edges.edge import (
    ERROR_SCHEMA,
    STATUS_SCHEMA,
    Edge,
    EdgeStatus,
    SchemaLookup,
)
from taskflow.edges.schema import Located, Step, declared_names, shown, step, types_of
from taskflow.exceptions import IncompatibleReference
from taskflow.models import Task
from taskflow.references import Site, sites

_TEXT = Located({"type": "string"}, {})


@dataclasses.dataclass(frozen=True, slots=True)
class _Walk:
    """Where a reference's path leads in the producer's output (or status/error) schema."""

    found: Located | None = None  # the schema of the value, if the walk got there
    impossible: str | None = None  # why the path cannot exist
    unknown: str | None = None  # why the schema cannot tell
    last: Located | None = None  # the schema where the walk stopped
    at: str = ""  # the path walked up to there


def _field_path(path: Sequence[str | int]) -> str:
    return "inputs" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


class _Tree:
    """One tree's tasks, indexed for walking references."""

    def __init__(self, tasks: Sequence[Task], lookup: SchemaLookup) -> None:
        self.lookup = lookup
        self.by_id = {task.id: task for task in tasks}
        self.by_key = {task.key: task for task in tasks}
        self.children: dict[str, list[Task]] = {}
        for task in tasks:
            if task.parent_id is not None:
                self.children.setdefault(task.parent_id, []).append(task)
        self._required: dict[tuple[str, str], bool] = {}
        self._walks: dict[tuple[Any, ...], tuple[_Walk, Located]] = {}
        self._conflicts: dict[tuple[int, ...], tuple[str | None, Located, Located]] = {}

    def task(self, key_or_id: str) -> Task | None:
        return self.by_key.get(key_or_id) or self.by_id.get(key_or_id)

    def must_complete(self, consumer: Task, producer: Task) -> bool:
        """Whether ``producer`` has completed whenever ``consumer`` runs: a chain of required
        dependencies leads to it (a group requires each of its descendants)."""
        key = (consumer.id, producer.id)
        known = self._required.get(key)
        if known is None:
            known = self._required[key] = self._requires(consumer, producer.id)
        return known

    def _requires(self, consumer: Task, target: str) -> bool:
        # Breadth first, nearest first: a producer is most often a direct dependency.
        seen: set[str] = set()
        queue = collections.deque(d.id for d in consumer.dependencies if d.required)
        while queue:
            task_id = queue.popleft()
            if task_id == target:
                return True
            if task_id in seen or task_id not in self.by_id:
                continue
            seen.add(task_id)
            task = self.by_id[task_id]
            queue.extend(d.id for d in task.dependencies if d.required)
            if task.executor is None:
                queue.extend(child.id for child in self.children.get(task_id, ()))
        return False

    def label(self, task: Task) -> str:
        return f"{task.key!r} ({task.executor})" if task.executor else f"{task.key!r} (a group)"

    def walk_result(self, task: Task, path: Sequence[str], at: str) -> _Walk:
        if task.executor is None:
            return self._walk_group(task, path, at)
        info = self.lookup(task.executor)
        if info is None:
            return _Walk(unknown=f"executor {task.executor!r} is not registered", at=at)
        if info.output_schema is None:
            return _Walk(unknown=f"{self.label(task)} declares no output schema", at=at)
        walked = self.walk(Located(info.output_schema, info.output_schema), path, at)
        if walked.unknown is None:
            return walked
        unknown = f"the output schema of {self.label(task)} {walked.unknown}"
        return dataclasses.replace(walked, unknown=unknown)

    def walk(self, where: Located, path: Sequence[str], at: str) -> _Walk:
        """`walk_schema`, remembered: many edges walk the same path of the same schema."""
        key = (id(where.schema), id(where.root), at, tuple(path))
        known = self._walks.get(key)
        if known is None:  # the entry keeps ``where`` alive, so its ids stay its own
            known = self._walks[key] = (walk_schema(where, path, at), where)
        return known[0]

    def conflict(self, produced: Located, expected: Located) -> str | None:
        """`conflict`, remembered."""
        key = (id(produced.schema), id(produced.root), id(expected.schema), id(expected.root))
        known = self._conflicts.get(key)
        if known is None:
            known = self._conflicts[key] = (conflict(produced, expected), produced, expected)
        return known[0]

    def _walk_group(self, group: Task, path: Sequence[str], at: str) -> _Walk:
        children = self.children.get(group.id, [])
        if not children:
            return _Walk(unknown=f"{self.label(group)} has no children", at=at)
        keys = [child.key for child in children]
        schema = {
            "type": "object",
            "properties": {key: True for key in keys},
            "required": keys,
            "additionalProperties": False,
        }
        if not path:
            return _Walk(found=Located(schema, schema), at=at)
        child = next((c for c in children if c.key == path[0]), None)
        if child is None:
            hint = _did_you_mean(path[0], keys)
            return _Walk(
                impossible=f"a group's result holds its children's results by key "
                f"({', '.join(keys)}), and {path[0]!r} is none of them{hint}",
                last=Located(schema, schema),
                at=at,
            )
        return self.walk_result(child, path[1:], f"{at}.{path[0]}")


def walk_schema(where: Located, path: Sequence[str], at: str) -> _Walk:
    """Follow ``path`` through a schema, as far as it decides."""
    for part in path:
        found: Step = step(where, part)
        if found.impossible is not None:
            hint = _did_you_mean(part, declared_names(where))
            return _Walk(
                impossible=f"{at} has no {part!r}: {found.impossible}{hint}", last=where, at=at
            )
        at = f"{at}.{part}"
        if found.found is None:
            return _Walk(unknown=f"does not describe {at}", last=where, at=at)
        where = found.found
    return _Walk(found=where, last=where, at=at)


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def _expected(tree: _Tree, consumer: Task, site: Site) -> _Walk:
    """The consumer's input schema at the field where the reference sits."""
    info = tree.lookup(consumer.executor) if consumer.executor is not None else None
    if info is None:
        return _Walk()
    walked = tree.walk(
        Located(info.input_schema, info.input_schema), [str(p) for p in site.path], "inputs"
    )
    if walked.impossible is not None:
        field = _field_path(site.path)
        return dataclasses.replace(
            walked,
            impossible=f"{tree.label(consumer)} accepts no {field}: {walked.impossible}"
            f" (input schema at {walked.at}: {shown(walked.last)})",
        )
    return walked


class _Judge:
    """Judges the edges of one consumer."""

    def __init__(self, tree: _Tree, consumer: Task) -> None:
        self.tree = tree
        self.consumer = consumer

    def edge(self, site: Site) -> Edge | None:
        key, field, *path = site.expression.split(".")
        producer = self.tree.task(key)
        if producer is None:
            return None  # check_tree reports it
        expected = _expected(self.tree, self.consumer, site)
        walked = self._produce(producer, field, path)
        produced = walked.found if site.whole else _TEXT
        status, note = self._judge(producer, field, walked, produced, expected)
        return Edge(
            consumer=self.consumer.key,
            consumer_executor=self.consumer.executor,
            field=_field_path(site.path),
            reference=f"${{{site.expression}}}",
            whole=site.whole,
            producer=producer.key,
            producer_executor=producer.executor,
            produced=produced,
            expected=expected.found,
            status=status,
            note=note,
            source=walked.found if walked.impossible is None else walked.last,
        )

    def _produce(self, producer: Task, field: str, path: Sequence[str]) -> _Walk:
        if field == "result":
            return self.tree.walk_result(producer, path, "result")
        schema = STATUS_SCHEMA if field == "status" else ERROR_SCHEMA
        return self.tree.walk(Located(schema, schema), path, field)

    def _judge(
        self,
        producer: Task,
        field: str,
        walked: _Walk,
        produced: Located | None,
        expected: _Walk,
    ) -> tuple[EdgeStatus, str]:
        if expected.impossible is not None:
            return EdgeStatus.WRONG, expected.impossible
        if produced is _TEXT:
            mismatch = self._mismatch(producer, walked.at, produced, expected.found)
            if mismatch:
                return EdgeStatus.WRONG, mismatch
        if field == "result" and not self.tree.must_complete(self.consumer, producer):
            return EdgeStatus.UNCHECKED, (
                f"{producer.key!r} may end without completing (no chain of required "
                "dependencies leads to it), and then its result is a failure's or a partial one"
            )
        if walked.impossible is not None:
            return EdgeStatus.WRONG, (
                f"{self.tree.label(producer)} cannot produce it: {walked.impossible}"
                + self._schemas(producer, walked.at, walked.last, expected.found)
            )
        if walked.unknown is not None:
            return EdgeStatus.UNCHECKED, walked.unknown
        if produced is _TEXT:
            return EdgeStatus.CHECKED, ""
        mismatch = self._mismatch(producer, walked.at, produced, expected.found)
        if mismatch:
            return EdgeStatus.WRONG, mismatch
        if produced is None or types_of(produced) is None:
            return EdgeStatus.UNCHECKED, (
                f"the output schema of {self.tree.label(producer)} does not say what {walked.at} is"
            )
        return EdgeStatus.CHECKED, ""

    def _mismatch(
        self, producer: Task, at: str, produced: Located | None, expected: Located | None
    ) -> str | None:
        if produced is None or expected is None:
            return None
        reason = self.tree.conflict(produced, expected)
        if reason is None:
            return None
        consumer = self.tree.label(self.consumer)
        if produced is _TEXT:
            return (
                f"a reference inside a longer string makes a string, which {consumer} cannot "
                f"take there: {reason}" + self._schemas(producer, at, produced, expected)
            )
        return (
            f"what {self.tree.label(producer)} produces at {at} can never be what {consumer} "
            f"accepts there: {reason}" + self._schemas(producer, at, produced, expected)
        )

    def _schemas(
        self, producer: Task, at: str, produced: Located | None, expected: Located | None
    ) -> str:
        """Both schema fragments, for the message."""
        if produced is _TEXT:
            made = "the text"
        elif producer.executor is None:
            made = f"result of group {producer.key!r} at {at}"
        else:
            made = f"output schema of {producer.key!r} at {at}"
        wanted = f"input schema of {self.consumer.key!r} there"
        accepted = shown(expected) if expected is not None else "anything"
        return f" ({made}: {shown(produced)}; {wanted}: {accepted})"


def tree_edges(
    tasks: Sequence[Task],
    lookup: SchemaLookup,
    *,
    consumers: Collection[str] | None = None,
) -> list[Edge]:
    """Every edge of a tree whose references `taskflow.check_tree` accepted, judged.

    Args:
        tasks: Every task of the tree.
        lookup: The schemas of an executor id (``ExecutorRegistry.get``), or ``None``.
        consumers: Only the references in these tasks' inputs (ids; default: every task's).
            Tasks that already ended are left out either way (their inputs were used), and so
            are groups (theirs are never used).
    """
    tree: _Tree | None = None  # indexed on the first reference: most trees have few or none
    edges: list[Edge] = []
    for task in tasks:
        if not task.inputs or task.is_terminal or task.executor is None:
            continue  # a group's inputs are never used
        if consumers is not None and task.id not in consumers:
            continue
        judge: _Judge | None = None
        for site in sites(task.inputs):
            tree = tree or _Tree(tasks, lookup)
            judge = judge or _Judge(tree, task)
            edge = judge.edge(site)
            if edge is not None:
                edges.append(edge)
    return edges


def check_edges(
    tasks: Sequence[Task],
    lookup: SchemaLookup,
    *,
    consumers: Collection[str] | None = None,
) -> None:
    """Raise `IncompatibleReference` for the first wrong edge (see `tree_edges`)."""
    for problem in edge_problems(tasks, lookup, consumers=consumers):
        raise problem


def edge_problems(
    tasks: Sequence[Task],
    lookup: SchemaLookup,
    *,
    consumers: Collection[str] | None = None,
) -> list[IncompatibleReference]:
    """An `IncompatibleReference` for every wrong edge, in tree order (see `tree_edges`)."""
    return [
        edge.error()
        for edge in tree_edges(tasks, lookup, consumers=consumers)
        if edge.status is EdgeStatus.WRONG
    ]
