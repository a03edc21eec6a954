"""An edge of a tree, judged: what `taskflow.edges.tree_edges` returns for each reference."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from taskflow.edges.schema import Located, bare, type_names, types_of
from taskflow.exceptions import IncompatibleReference

# What ${KEY.status} and ${KEY.error} carry: the consumer runs once its dependency ended.
STATUS_SCHEMA: Mapping[str, Any] = {"type": "string", "enum": ["completed", "failed", "cancelled"]}
ERROR_SCHEMA: Mapping[str, Any] = {"type": ["string", "null"]}


class ExecutorSchemas(Protocol):
    """What the edges need to know about an executor (an `ExecutorInfo` is one)."""

    @property
    def input_schema(self) -> Mapping[str, Any]: ...

    @property
    def output_schema(self) -> Mapping[str, Any] | None: ...


SchemaLookup = Callable[[str], ExecutorSchemas | None]


class EdgeStatus(enum.StrEnum):
    """How an edge was judged."""

    CHECKED = "checked"
    UNCHECKED = "unchecked"
    WRONG = "wrong"


@dataclasses.dataclass(frozen=True, slots=True)
class Edge:
    """One reference, from a producer's result to a consumer's input field, judged.

    Attributes:
        consumer: The key of the task whose inputs hold the reference.
        consumer_executor: Its executor (``None``: a group).
        field: Where the reference sits (``inputs.rows[0]``).
        reference: The reference as written (``${fetch.result.body}``).
        whole: Whether the string is exactly the reference (else it is formatted into text).
        producer: The key of the task it names.
        producer_executor: Its executor (``None``: a group).
        produced: The schema of the value the field receives (``None``: unknown).
        expected: The consumer's input schema at the field (``None``: anything).
        status: Checked, unchecked or wrong.
        note: What is wrong, or why it could not be checked (empty when checked).
        source: The producer's schema at the end of the path, or where the path stops being
            possible.
    """

    consumer: str
    consumer_executor: str | None
    field: str
    reference: str
    whole: bool
    producer: str
    producer_executor: str | None
    produced: Located | None
    expected: Located | None
    status: EdgeStatus
    note: str = ""
    source: Located | None = None

    @property
    def produced_type(self) -> str:
        """The JSON type(s) the field receives: ``string``, ``integer|null``, ``any`` ..."""
        return type_names(types_of(self.produced)) if self.produced is not None else "any"

    @property
    def source_type(self) -> str:
        """The JSON type(s) of the value the reference names (before any formatting)."""
        return type_names(types_of(self.source)) if self.source is not None else "any"

    @property
    def expected_type(self) -> str:
        """The JSON type(s) the consumer accepts at the field."""
        return type_names(types_of(self.expected)) if self.expected is not None else "any"

    def to_json(self) -> dict[str, Any]:
        """The edge as a JSON object (``taskflow validate --explain --json``)."""
        return {
            "consumer": self.consumer,
            "consumer_executor": self.consumer_executor,
            "field": self.field,
            "reference": self.reference,
            "whole": self.whole,
            "producer": self.producer,
            "producer_executor": self.producer_executor,
            "produced_type": self.produced_type,
            "source_type": self.source_type,
            "expected_type": self.expected_type,
            "produced_schema": bare(self.produced),
            "expected_schema": bare(self.expected),
            "status": self.status.value,
            "note": self.note,
        }

    def error(self) -> IncompatibleReference:
        """The `IncompatibleReference` a wrong edge raises."""
        return IncompatibleReference(
            f"{self.field} = {self.reference}: {self.note}",
            task=self.consumer,
            producer=self.producer,
            reference=self.reference,
            field=self.field,
            produced=bare(self.source),
            expected=bare(self.expected),
        )
