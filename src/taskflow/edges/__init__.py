"""Typed edges: references checked against the schemas at both ends before a tree runs.

`tree_edges` judges every reference of a tree — checked, unchecked (the schemas cannot
decide) or wrong (certain to fail) — and `check_edges` raises `IncompatibleReference` for
the first wrong one. `taskflow.executors.check_tasks` runs it, with the executors' schemas.
See docs/trees.md, *Typed edges*.
"""

from __future__ import annotations

from taskflow.edges.edge import (
    ERROR_SCHEMA,
    STATUS_SCHEMA,
    Edge,
    EdgeStatus,
    ExecutorSchemas,
    SchemaLookup,
)
from taskflow.edges.tree import check_edges, edge_problems, tree_edges

__all__ = [
    "ERROR_SCHEMA",
    "STATUS_SCHEMA",
    "Edge",
    "EdgeStatus",
    "ExecutorSchemas",
    "SchemaLookup",
    "check_edges",
    "edge_problems",
    "tree_edges",
]
