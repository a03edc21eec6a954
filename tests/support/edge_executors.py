"""Executors with typed ends, for the typed-edges tests (registered by importing
``registered_edge_executors``: ``taskflow ... --import registered_edge_executors``).

``edges.catalog`` declares a precise output schema: nested properties, a list of items, and
``$ref`` into ``$defs``, as a pydantic model's schema looks. ``edges.total`` takes a list of
numbers. ``edges.untyped`` declares no output schema. ``edges.loose`` declares one and opts
out of the run-time check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from taskflow import BaseTask

CATALOG_OUTPUT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "body": {"$ref": "#/$defs/Body"},
        "source": {"type": "string"},
    },
    "required": ["body", "source"],
    "additionalProperties": False,
    "$defs": {
        "Body": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
                "count": {"type": "integer", "minimum": 0},
            },
            "required": ["items", "count"],
            "additionalProperties": False,
        },
        "Item": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "size": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["name", "size"],
            "additionalProperties": False,
        },
    },
}


class Catalog(BaseTask):
    """Returns a catalog of items; ``broken: true`` returns one that breaks its own schema."""

    id = "edges.catalog"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {
            "names": {"type": "array", "items": {"type": "string"}, "default": ["ant", "bee"]},
            "broken": {"type": "boolean", "default": False},
        },
        "additionalProperties": False,
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = CATALOG_OUTPUT

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """List the names with their sizes."""
        items = [{"name": name, "size": len(name)} for name in inputs["names"]]
        if inputs["broken"]:
            items[-1]["size"] = str(items[-1]["size"])  # a string where an integer is promised
        return {"body": {"items": items, "count": len(items)}, "source": "test"}


class Total(BaseTask):
    """Adds up a list of numbers."""

    id = "edges.total"
    input_schema: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "properties": {
            "values": {"type": "array", "items": {"type": "number"}},
            "label": {"type": "string", "default": "total"},
        },
        "required": ["values"],
        "additionalProperties": False,
    }
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {"label": {"type": "string"}, "total": {"type": "number"}},
        "required": ["label", "total"],
        "additionalProperties": False,
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Sum the values."""
        return {"label": inputs["label"], "total": sum(inputs["values"])}


class Untyped(BaseTask):
    """Returns its inputs, and says nothing about them."""

    id = "edges.untyped"

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Return the inputs."""
        return dict(inputs)


class Loose(BaseTask):
    """Promises an integer ``n`` and returns a string: its results are not checked."""

    id = "edges.loose"
    check_output = False
    output_schema: ClassVar[Mapping[str, Any] | None] = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
    }

    async def execute(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Break the promise."""
        return {"n": "three"}


ALL = (Catalog, Total, Untyped, Loose)
