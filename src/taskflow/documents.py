"""YAML and JSON documents that hold JSON values, read safely from text that may be hostile.

What `yaml.safe_load` and `json.loads` let through, and what is refused here instead (each
refusal is a `DocumentError` with the line and column where it was found):

- text that is not UTF-8 (a UTF-8 byte order mark is allowed and dropped);
- nesting deeper than `MAX_DEPTH` mappings and lists: the YAML composer, JSON Schema
  validation and every later walk over the value recurse, so a deeper document would end in
  a `RecursionError`;
- YAML aliases that stand for more than `MAX_ALIAS_NODES` nodes in all (a 400-byte "billion
  laughs" document stands for 387 million strings), and aliases to a node that contains them;
- a key that appears twice in one mapping or object (`yaml.safe_load` and `json.loads` keep
  the last one silently), and, in YAML, keys that are not strings (`on:` is read as true);
- YAML values that JSON cannot hold (``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``,
  ``!!timestamp``); plain dates such as ``2024-01-01`` are read as strings;
- integers with more digits than Python converts (`sys.get_int_max_str_digits`).

Refusing costs time and memory in proportion to the text, never to what aliases expand to.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
import sys
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH = 100  # levels of nested mappings and lists in one document
MAX_ALIAS_NODES = 100_000  # nodes (scalars, mappings, lists) that a document's aliases stand for

_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_NOT_JSON = ("binary", "set", "omap", "pairs", "timestamp")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_TOKEN = re.compile(rf"{_JSON_STRING.pattern}|[{{}}\[\],]")
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class DocumentError(ValueError):
    """A document that cannot be read safely; ``line`` and ``column`` count from 1."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def decode_utf8(data: bytes) -> str:
    """The text of ``data``, which must be UTF-8 (a leading byte order mark is dropped).

    Raises:
        DocumentError: naming the byte offset of the first byte that is not UTF-8.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DocumentError("not UTF-8 text: the file starts with a UTF-16 byte order mark")
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        line_start = max(data.rfind(b"\n", 0, offset) + 1, start)
        column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
        raise DocumentError(
            f"not UTF-8 text: byte 0x{data[offset]:02x} at offset {offset} cannot be decoded",
            line=data.count(b"\n", 0, offset) + 1,
            column=column,
        ) from exc


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


class _Refused(yaml.MarkedYAMLError):
    """A well-formed YAML document that a JSON-valued, bounded document may not be."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that bounds depth and alias expansion and keeps to JSON values.

    The checks are made while composing, before anything expands an alias or recurses
    into a node: each node's expanded size and height are known when it is complete, so an
    alias costs one addition, however much it stands for.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._open = 0  # mappings and lists being composed around the current node
        self._aliased = 0  # nodes that the aliases so far stand for
        self._extent: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
        self._keys: dict[int, list[Node]] = {}  # id(mapping node) -> its keys as written

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor or "")
            if target is not None:
                self._count_alias(event.anchor or "", target, event.start_mark)
            return super().compose_node(parent, index)
        if isinstance(event, CollectionStartEvent):
            if self._open >= MAX_DEPTH:
                raise _Refused(_too_deep(), event.start_mark)
            self._open += 1
        node = super().compose_node(parent, index)
        if isinstance(event, CollectionStartEvent):
            self._open -= 1
        if node is not None:
            self._measure(node)
        return node

    def _count_alias(self, anchor: str, target: Node, mark: Any) -> None:
        extent = self._extent.get(id(target))
        if extent is None:
            raise _Refused(f"alias *{anchor} refers to a mapping or list that contains it", mark)
        size, height = extent
        if self._open + height > MAX_DEPTH:
            raise _Refused(_too_deep(), mark)
        self._aliased += size
        if self._aliased > MAX_ALIAS_NODES:
            raise _Refused(
                f"YAML aliases that stand for more than {MAX_ALIAS_NODES} values in all "
                f"(a 'billion laughs'?; at most {MAX_ALIAS_NODES})",
                mark,
            )

    def _measure(self, node: Node) -> None:
        if isinstance(node, ScalarNode):
            self._extent[id(node)] = (1, 0)
            return
        if isinstance(node, MappingNode):
            self._keys[id(node)] = [key for key, _ in node.value]
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value
        extents = [self._extent[id(child)] for child in children]
        self._extent[id(node)] = (
            1 + sum(size for size, _ in extents),
            1 + max((height for _, height in extents), default=0),
        )

    def flatten_mapping(self, node: MappingNode) -> None:
        """Merge keys (``<<``): the mapping's own keys win, then earlier sources over later.

        PyYAML's own version tells keys apart by the identity of their text, which string
        interning makes unreliable: a one-letter key overridden in a merged mapping could
        come back with the value it overrode.
        """
        sources: list[list[tuple[Node, Node]]] = []
        own: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                sources.extend(self._merge_sources(node, value_node))
            else:
                own.append((key_node, value_node))
        if not sources:
            return
        winners: dict[tuple[str, Any], tuple[Node, Node]] = {}
        for pairs in sources:
            for pair in reversed(pairs):  # within a source (flattened), its last pair wins
                winners.setdefault(_identity(pair[0]), pair)
        kept = {id(pair) for pair in winners.values()}
        node.value = [pair for pairs in sources for pair in pairs if id(pair) in kept] + own

    def _merge_sources(self, node: MappingNode, value: Node) -> list[list[tuple[Node, Node]]]:
        sources = value.value if isinstance(value, SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "expected a mapping or list of mappings for merging, but found "
                    + ("scalar" if isinstance(source, ScalarNode) else "sequence"),
                    source.start_mark,
                )
            self.flatten_mapping(source)
        return [source.value for source in sources]

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            self._check_keys(node)
        return super().construct_mapping(node, deep=deep)

    def _check_keys(self, node: MappingNode) -> None:
        # The keys as written: merging (<<) rewrites node.value, and keys it brings in may
        # be overridden by the mapping's own.
        seen: dict[str, Node] = {}
        for key_node in self._keys.get(id(node), [key for key, _ in node.value]):
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise _Refused(_not_a_string(key_node, key), key_node.start_mark)
            first = seen.setdefault(key, key_node)
            if first is not key_node:
                raise _Refused(
                    _duplicate(key, first.start_mark.line + 1, key_node.start_mark.line + 1),
                    key_node.start_mark,
                )

    def construct_yaml_int(self, node: ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # more digits than int() converts
            raise _Refused(_too_long(), node.start_mark) from None

    def construct_not_json(self, node: Node) -> None:
        tag = node.tag.rsplit(":", 1)[-1]
        raise _Refused(
            f"!!{tag} is not a JSON value (only strings, numbers, true/false, null, lists "
            "and mappings are)",
            node.start_mark,
        )


# Plain scalars that look like dates stay strings: JSON has no dates.
_BoundedLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)
for _tag in _NOT_JSON:
    _BoundedLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _BoundedLoader.construct_not_json)


def _identity(key: Node) -> tuple[str, Any]:
    return (key.tag, key.value) if isinstance(key, ScalarNode) else ("", id(key))


def _too_deep() -> str:
    return f"mappings and lists nested more than {MAX_DEPTH} levels deep (at most {MAX_DEPTH})"


def _too_long() -> str:
    return f"an integer with more than {sys.get_int_max_str_digits()} digits"


def _duplicate(key: str, first: int, second: int) -> str:
    where = f"line {first}" if first == second else f"lines {first} and {second}"
    return f"duplicate key {key!r} ({where}): a key may appear only once in a mapping"


def _not_a_string(node: Node, key: Any) -> str:
    if isinstance(node, ScalarNode):
        return (
            f"the key {node.value!r} is read as {json.dumps(key)}, not a string: "
            f"keys must be strings (quote it: {json.dumps(node.value)})"
        )
    return "a key that is a mapping or a list: keys must be strings"


def load_yaml(text: str) -> Any:
    """The value of one YAML document, checked as the module docstring says.

    Raises:
        DocumentError: the document is not valid YAML or is refused; messages of syntax
            errors start with "invalid YAML".
    """
    try:
        return yaml.load(text, Loader=_BoundedLoader)
    except _Refused as exc:
        raise _located(exc.problem or str(exc), exc.problem_mark) from exc
    except yaml.MarkedYAMLError as exc:
        raise _located(f"invalid YAML: {exc.problem or exc}", exc.problem_mark) from exc
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, at an offset
        line, column = _line_and_column(text, exc.position)
        raise DocumentError(
            f"invalid YAML: unacceptable character #x{exc.character:04x}: {exc.reason}",
            line,
            column,
        ) from exc
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {exc}") from exc


def compose_yaml(text: str) -> Node | None:
    """The YAML node graph of ``text`` (for the lines of values), or None if it is refused."""
    try:
        node: Node | None = yaml.compose(text, Loader=_BoundedLoader)
    except yaml.YAMLError:
        return None
    return node


def _located(message: str, mark: Any) -> DocumentError:
    if mark is None:
        return DocumentError(message)
    return DocumentError(message, mark.line + 1, mark.column + 1)


def load_json(text: str) -> Any:
    """The value of a JSON document, checked for depth and duplicate keys.

    Raises:
        DocumentError: the document is not valid JSON or is refused; messages of syntax
            errors start with "invalid JSON".
    """
    try:
        value = json.loads(text, object_pairs_hook=_unique)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from exc
    except _DuplicateKey:  # the scan says which key, and where
        _check_json_structure(text)
        raise DocumentError("a key appears twice in an object") from None
    except RecursionError:  # deeper than the C parser goes (~1000): the scan says where
        _check_json_structure(text)
        raise DocumentError(_too_deep()) from None
    except ValueError as exc:  # the only other one: an integer too long to convert
        digits = re.search(rf"[0-9]{{{sys.get_int_max_str_digits() + 1},}}", text)
        where = _line_and_column(text, digits.start()) if digits else (None, None)
        raise DocumentError(f"invalid JSON: {_too_long()}", *where) from exc
    if _deepest(text) > MAX_DEPTH:
        _check_json_structure(text)
    return value


class _DuplicateKey(Exception):
    """An object with a key twice: `_check_json_structure` finds which, and where."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) < len(pairs):
        raise _DuplicateKey
    return value


def _deepest(text: str) -> int:
    """The nesting depth of a valid JSON text, at C speed (no Python code per character)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(itertools.accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _check_json_structure(text: str) -> None:
    """Depth and duplicate keys, in one pass over the strings and brackets of ``text``.

    Exact for valid JSON: outside strings, brackets, braces and commas are structure, and a
    string right after ``{`` or after a comma inside an object is a key.
    """
    objects: list[dict[str, int] | None] = []  # per open container: its keys' offsets (objects)
    expect_key = False
    for token in _JSON_TOKEN.finditer(text):
        char = text[token.start()]
        if char in "{[":
            if len(objects) >= MAX_DEPTH:
                raise DocumentError(_too_deep(), *_line_and_column(text, token.start()))
            objects.append({} if char == "{" else None)
            expect_key = char == "{"
        elif char in "}]":
            if objects:
                objects.pop()
            expect_key = False
        elif char == ",":
            expect_key = bool(objects) and objects[-1] is not None
        elif expect_key and (seen := objects[-1]) is not None:
            key = json.loads(token.group())
            first = seen.setdefault(key, token.start())
            if first != token.start():
                line, column = _line_and_column(text, token.start())
                first_line = _line_and_column(text, first)[0]
                raise DocumentError(_duplicate(key, first_line, line), line, column)
            expect_key = False
