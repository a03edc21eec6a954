"""``taskflow validate --explain`` and ``--strict``: what flows along a tree's edges."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape

from taskflow.cli.common import print_json, stdout
from taskflow.edges import Edge, EdgeStatus, tree_edges
from taskflow.executors import ExecutorRegistry
from taskflow.models import Task
from taskflow.treefile import TreeFile


def show_edges(
    tree_file: TreeFile,
    tasks: Sequence[Task],
    registry: ExecutorRegistry,
    *,
    explain: bool,
    strict: bool,
    as_json: bool,
) -> None:
    """Print a valid tree's edges: all of them (``explain``), the unchecked ones (``strict``).

    Every edge of a valid tree is checked or unchecked (a wrong one made it invalid).
    """
    edges = tree_edges(tasks, registry.get)
    unchecked = [edge for edge in edges if edge.status is EdgeStatus.UNCHECKED]
    if as_json:
        report: dict[str, Any] = {"valid": True, "tasks": len(tasks)}
        if explain:
            report["edges"] = [_as_json(tree_file, edge) for edge in edges]
        if strict:
            report["unchecked"] = [_as_json(tree_file, edge) for edge in unchecked]
        print_json(report)
        return
    noun = "edge" if len(edges) == 1 else "edges"
    checked = len(edges) - len(unchecked)
    counts = f"{len(edges)} {noun}: {checked} checked, {len(unchecked)} unchecked"
    stdout.print(f"{tree_file.path}: valid ({len(tasks)} tasks, {counts})", markup=False)
    if explain:
        for edge in edges:
            made = edge.produced_type if edge.whole else f"{edge.source_type} as text"
            line = f"  {_ends(tree_file, edge)}  {made} -> {edge.expected_type}"
            line += f"  {edge.status.value}" + (f": {edge.note}" if edge.note else "")
            stdout.print(escape(line))
    elif strict and unchecked:
        stdout.print("edges that could not be checked:")
        for edge in unchecked:
            stdout.print(escape(f"  {_ends(tree_file, edge)}: {edge.note}"))


def _ends(tree_file: TreeFile, edge: Edge) -> str:
    line = tree_file.line_of(edge.consumer)
    where = f" (line {line})" if line is not None else ""
    return f"{edge.reference} -> {edge.consumer} {edge.field}{where}"


def _as_json(tree_file: TreeFile, edge: Edge) -> dict[str, Any]:
    return {**edge.to_json(), "line": tree_file.line_of(edge.consumer)}
