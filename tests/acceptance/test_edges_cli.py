"""Typed edges on the command line: ``taskflow validate`` (with ``--explain``, ``--strict``,
``--json``) and ``taskflow run``, in a subprocess, on tree files written here.

The executors (tests/support/edge_executors.py) are imported with
``--import registered_edge_executors``: ``edges.catalog`` declares a precise output schema
with ``$ref``, ``edges.total`` takes a list of numbers, ``edges.untyped`` declares nothing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cli_support import Cli

SUPPORT = Path(__file__).resolve().parents[1] / "support"
IMPORT = ("--import", "registered_edge_executors")


class EdgesCli(Cli):
    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "PYTHONPATH": str(SUPPORT)}


@pytest.fixture
def cli(tmp_path: Path) -> EdgesCli:
    return EdgesCli(tmp_path / "home", f"sqlite:///{tmp_path / 'edges.db'}")


def tree_file(tmp_path: Path, consumer_inputs: str, producer: str = "edges.catalog") -> Path:
    """A two-task tree: ``catalog`` (line 4), then ``sum`` using it (line 6)."""
    path = tmp_path / "tree.yaml"
    path.write_text(
        "name: typed edges\n"
        "tasks:\n"
        f"  - executor: {producer}\n"
        "    key: catalog\n"
        "  - executor: edges.total\n"
        "    key: sum\n"
        "    dependencies: [catalog]\n"
        f"    inputs: {consumer_inputs}\n"
    )
    return path


def validate(cli: Cli, path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return cli.run("validate", str(path), *IMPORT, *flags)


def test_a_misspelt_result_path(cli: Cli, tmp_path: Path) -> None:
    path = tree_file(tmp_path, '{values: "${catalog.result.bdy.items}"}')
    done = validate(cli, path)
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith(
        f"error: {path}:6: task 'sum': inputs.values = ${{catalog.result.bdy.items}}: "
        "'catalog' (edges.catalog) cannot produce it: result has no 'bdy': it declares body, "
        "source, and no other (additionalProperties: false); did you mean 'body'? (output "
        "schema of 'catalog' at result: "
    ), done.stderr
    assert 'input schema of \'sum\' there: {"type": "array", "items": {"type": "number"}})' in (
        " ".join(done.stderr.split())
    )
    ran = cli.run("run", str(path), *IMPORT)
    assert ran.returncode == 2 and "cannot produce it" in ran.stderr  # nothing ran
    assert cli.json("tasks", "list") == []


def test_a_type_mismatch_through_nested_properties_and_list_items(cli: Cli, tmp_path: Path) -> None:
    path = tree_file(tmp_path, '{values: "${catalog.result.body.items.0.name}"}')
    done = validate(cli, path)
    assert done.returncode == 2
    assert " ".join(done.stderr.split()) == (
        f"error: {path}:6: task 'sum': inputs.values = ${{catalog.result.body.items.0.name}}: "
        "what 'catalog' (edges.catalog) produces at result.body.items.0.name can never be what "
        "'sum' (edges.total) accepts there: it is a string, and an array is expected (output "
        'schema of \'catalog\' at result.body.items.0.name: {"type": "string"}; input schema '
        'of \'sum\' there: {"type": "array", "items": {"type": "number"}})'
    )


def test_a_path_through_a_ref(cli: Cli, tmp_path: Path) -> None:
    path = tree_file(tmp_path, '{values: ["${catalog.result.body.items.0.sise}"]}')
    done = validate(cli, path)
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert message.startswith(
        f"error: {path}:6: task 'sum': inputs.values[0] = ${{catalog.result.body.items.0.sise}}"
        ": 'catalog' (edges.catalog) cannot produce it: result.body.items.0 has no 'sise': it "
        "declares name, size, tags, and no other (additionalProperties: false); did you mean "
        "'size'? (output schema of 'catalog' at result.body.items.0: #/$defs/Item = "
    ), message
    fixed = tree_file(tmp_path, '{values: ["${catalog.result.body.items.0.size}"]}')
    explained = validate(cli, fixed, "--explain")
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.splitlines() == [
        f"{fixed}: valid (3 tasks, 1 edge: 1 checked, 0 unchecked)",
        "  ${catalog.result.body.items.0.size} -> sum inputs.values[0] (line 6)  integer -> "
        "number  checked",
    ]


def test_a_producer_without_an_output_schema(cli: Cli, tmp_path: Path) -> None:
    path = tree_file(tmp_path, '{values: "${catalog.result.xs}"}', producer="edges.untyped")
    done = validate(cli, path)
    assert (done.returncode, done.stdout.strip()) == (0, f"{path}: valid (3 tasks)")
    strict = validate(cli, path, "--strict")
    assert strict.returncode == 0
    assert strict.stdout.splitlines() == [
        f"{path}: valid (3 tasks, 1 edge: 0 checked, 1 unchecked)",
        "edges that could not be checked:",
        "  ${catalog.result.xs} -> sum inputs.values (line 6): 'catalog' (edges.untyped) "
        "declares no output schema",
    ]
    report = json.loads(validate(cli, path, "--strict", "--json").stdout)
    assert report["valid"] is True and report["tasks"] == 3
    [unchecked] = report["unchecked"]
    assert unchecked["status"] == "unchecked" and unchecked["line"] == 6
    assert (unchecked["producer"], unchecked["consumer"]) == ("catalog", "sum")
    assert unchecked["expected_schema"] == {"type": "array", "items": {"type": "number"}}


def test_explain_as_json(cli: Cli, tmp_path: Path) -> None:
    path = tree_file(
        tmp_path, '{values: ["${catalog.result.body.count}"], label: "${catalog.status}"}'
    )
    report = json.loads(validate(cli, path, "--explain", "--json").stdout)
    assert [
        (e["field"], e["produced_type"], e["expected_type"], e["status"]) for e in report["edges"]
    ] == [
        ("inputs.values[0]", "integer", "number", "checked"),
        ("inputs.label", "string", "string", "checked"),
    ]
    assert "unchecked" not in report


def test_an_output_that_violates_its_own_schema_at_run_time(cli: Cli, tmp_path: Path) -> None:
    path = tree_file(tmp_path, '{values: ["${catalog.result.body.count}"]}')
    path.write_text(
        path.read_text().replace("key: catalog\n", "key: catalog\n    inputs: {broken: true}\n")
    )
    assert validate(cli, path).returncode == 0  # nothing wrong with the edge itself
    done = cli.run("run", str(path), *IMPORT, "--json")
    assert done.returncode == 1, done.stderr
    tasks = {task["key"]: task for task in json.loads(done.stdout)["tasks"]}
    catalog = tasks["catalog"]
    assert (catalog["status"], catalog["error_type"]) == ("failed", "OutputValidationError")
    assert catalog["error"] == (
        "result.body.items[1].size: '3' is not of type 'integer' (output schema rule 'type' of "
        "executor 'edges.catalog')"
    )
    assert tasks["sum"]["status"] == "cancelled"
