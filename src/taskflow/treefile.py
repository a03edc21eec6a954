"""Tree files: YAML or JSON documents that `taskflow run` turns into a tree definition.

The format (its JSON Schema is ``taskflow/schemas/tree-file.schema.json``; ``taskflow schema``
prints it)::

    name: Fetch and merge
    parameters: {base_url: "http://127.0.0.1:8080"}   # used as ${params.base_url}
    defaults: {timeout: 30, retry: 2}                 # for every task that sets neither
    concurrency: 4
    deadline: 600
    tasks:                                            # the root group's children
      - {key: a, executor: http.request, inputs: {url: "${params.base_url}/a"}}
      - {key: merge, executor: aggregate, dependencies: [a]}

The flat JSON task list of the aipartnerupflow lineage is accepted as it is. Errors carry the
file and, where it can be found, the line. Files are read with `taskflow.documents`, which
refuses what would make loading costly or ambiguous: text that is not UTF-8, nesting deeper
than `taskflow.documents.MAX_DEPTH`, YAML aliases standing for more than
`taskflow.documents.MAX_ALIAS_NODES` values, duplicate or non-string keys, and YAML values that
are not JSON.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from taskflow.documents import DocumentError, compose_yaml, decode_utf8, load_json, load_yaml
from taskflow.exceptions import DefinitionError

_PARAMETER = re.compile(r"\$\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")
_WHOLE_PARAMETER = re.compile(r"^\$\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}$")
TASK_DEFAULTS = ("timeout", "soft_timeout", "retry", "priority")


class TreeFileError(DefinitionError):
    """A tree file that cannot be read, parsed or understood; names the file and line."""

    def __init__(
        self, message: str, *, path: str, line: int | None = None, column: int | None = None
    ) -> None:
        where = path + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.column = column


@cache
def tree_file_schema() -> dict[str, Any]:
    """The JSON Schema of tree files."""
    text = resources.files("taskflow").joinpath("schemas/tree-file.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclasses.dataclass(frozen=True, slots=True)
class TreeFile:
    """A loaded tree file: the definition for `TaskManager.create_tree`, and run settings."""

    path: str
    definition: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    concurrency: int | None = None
    user: str | None = None
    text: str = dataclasses.field(default="", repr=False)
    schedule: Mapping[str, Any] | None = None  # the `schedule:` section, as written

    def line_of(self, key: str) -> int | None:
        """The line where the task with this key (or id) is defined, if it can be found."""
        match = re.search(
            rf"^\s*-?\s*\"?(key|id)\"?\s*:\s*[\"']?{re.escape(key)}[\"']?\s*,?\s*$", self.text, re.M
        )
        if match is None:
            match = re.search(
                rf"[\"']?(key|id)[\"']?\s*:\s*[\"']?{re.escape(key)}[\"']?[,}}\s]", self.text
            )
        return self.text.count("\n", 0, match.start()) + 1 if match else None


def _read(path: str | Path) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TreeFileError(f"cannot read the file: {exc.strerror}", path=str(path)) from exc
    try:
        return decode_utf8(data)
    except DocumentError as exc:
        raise _in_file(exc, str(path)) from exc


def _parse(text: str, path: str) -> Any:
    try:
        return load_json(text) if path.endswith(".json") else load_yaml(text)
    except DocumentError as exc:
        raise _in_file(exc, path) from exc


def _in_file(exc: DocumentError, path: str) -> TreeFileError:
    return TreeFileError(exc.message, path=path, line=exc.line, column=exc.column)


def _check_format(data: Any, text: str, path: str) -> None:
    error = best_match(Draft202012Validator(tree_file_schema()).iter_errors(data))
    if error is None:
        return
    location = "".join(
        f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
    ).lstrip(".")
    line = _line_of_path(text, list(error.absolute_path))
    raise TreeFileError(f"{location or 'the document'}: {error.message}", path=path, line=line)


def _check_schedule(data: Mapping[str, Any], text: str, path: str) -> None:
    """The ``schedule:`` section must be a valid schedule (every field checked, cron parsed,
    the time zone known); the error names the field and its line."""
    from taskflow.exceptions import ScheduleError
    from taskflow.schedules import schedule_of

    try:
        schedule_of(data)
    except ScheduleError as exc:
        parts = (exc.field or "schedule").split(".")
        line = _line_of_path(text, parts) or _line_of_path(text, ["schedule"])
        raise TreeFileError(str(exc), path=path, line=line) from exc


def _line_of_path(text: str, parts: list[Any]) -> int | None:
    """Best effort: the line of a path in a YAML/JSON document (via YAML's node marks)."""
    node = compose_yaml(text)
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            break
        if node is None:
            return None
    return node.start_mark.line + 1 if node is not None else None


def parse_assignments(assignments: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs from ``--set``; values are read as YAML, as in a tree file (3 → int).

    A value that YAML cannot read, or that a tree file could not hold, stays the text given.
    """
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise DefinitionError(f"--set {item!r}: expected NAME=VALUE")
        try:
            values[name.strip()] = load_yaml(raw) if raw else ""
        except DocumentError:
            values[name.strip()] = raw
    return values


def _substitute(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and "${" in value:
        whole = _WHOLE_PARAMETER.match(value)
        if whole:
            return params[whole.group(1)]
        return _PARAMETER.sub(lambda m: str(params[m.group(1)]), value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, params) for v in value]
    return value


def _used_parameters(value: Any) -> set[str]:
    return set(_PARAMETER.findall(json.dumps(value)))


def _resolve_parameters(
    document: Mapping[str, Any], overrides: Mapping[str, Any], path: str
) -> dict[str, Any]:
    declared = dict(document.get("parameters") or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise TreeFileError(
            f"--set {', '.join(unknown)}: no such parameter (declared: {known})", path=path
        )
    params = {**declared, **overrides}
    used = _used_parameters(document.get("tasks"))
    missing = sorted(name for name in used if params.get(name) is None)
    if missing:
        raise TreeFileError(
            f"parameter(s) {', '.join(missing)} have no value: declare a default or use --set",
            path=path,
        )
    return params


def _with_defaults(task: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**{k: v for k, v in defaults.items() if k in TASK_DEFAULTS}, **task}
    if merged.get("executor") is None and "children" in merged:  # groups take no attempt limits
        for setting in ("timeout", "soft_timeout", "retry"):
            if setting not in task:
                merged.pop(setting, None)
    if "children" in merged:
        merged["children"] = [_with_defaults(child, defaults) for child in merged["children"]]
    return merged


def load_tree_file(path: str | Path, overrides: Mapping[str, Any] | None = None) -> TreeFile:
    """Read, check and expand a tree file; raise `TreeFileError` naming the file and line."""
    return tree_from_text(_read(path), str(path), overrides)


def tree_from_text(text: str, name: str, overrides: Mapping[str, Any] | None = None) -> TreeFile:
    """Check and expand the text of a tree file (JSON when ``name`` ends with ``.json``, else
    YAML) that did not come from a file — e.g. the body of an HTTP request; errors name
    ``name`` and the line, as `load_tree_file`'s do."""
    data = _parse(text, name)
    _check_format(data, text, name)
    if isinstance(data, list):
        if overrides:
            raise TreeFileError(
                "--set needs a tree file with parameters, not a flat task list", path=name
            )
        return TreeFile(name, data, text=text)
    if data.get("schedule") is not None:
        _check_schedule(data, text, name)
    params = _resolve_parameters(data, overrides or {}, name)
    tasks = _substitute(data["tasks"], params)
    defaults = data.get("defaults") or {}
    root: dict[str, Any] = {
        "name": data.get("name") or Path(name).stem,
        "children": [_with_defaults(task, defaults) for task in tasks],
    }
    for field in ("key", "deadline"):
        if field in data:
            root[field] = data[field]
    return TreeFile(
        name,
        root,
        concurrency=data.get("concurrency"),
        user=data.get("user"),
        text=text,
        schedule=data.get("schedule"),
    )
