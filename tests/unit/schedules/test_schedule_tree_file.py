"""The tree file's `schedule:` section: its JSON Schema, and `TreeFile.schedule`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from taskflow.schedules import ScheduleSpec, schedule_of
from taskflow.treefile import TreeFileError, load_tree_file, tree_file_schema

TASKS = "tasks:\n  - {key: a, executor: noop}\n"


def write(tmp_path: Path, schedule: str) -> Path:
    path = tmp_path / "tree.yaml"
    path.write_text(f"name: scheduled\nschedule:\n{schedule}{TASKS}")
    return path


def test_a_valid_section_loads_and_is_passed_through(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "  cron: '*/5 * * * *'\n  timezone: Europe/Berlin\n  start: 2025-01-01T00:00:00Z\n"
        "  jitter: 30s\n  grace: 120\n  misfire: all\n  catch_up: 2h\n  overlap: buffer_one\n",
    )
    tree_file = load_tree_file(path)
    assert tree_file.schedule is not None and tree_file.schedule["cron"] == "*/5 * * * *"
    assert "schedule" not in tree_file.definition  # the tree itself is unchanged
    spec = ScheduleSpec.from_mapping(tree_file.schedule, path="schedule")
    assert spec == schedule_of(yaml.safe_load(path.read_text()))
    assert spec.overlap.value == "buffer_one"


def test_a_file_without_a_section_has_none(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text(f"name: plain\n{TASKS}")
    assert load_tree_file(path).schedule is None


@pytest.mark.parametrize(
    ("section", "location", "line"),
    [
        ("  every: 1h\n  cronn: '* * * * *'\n", "schedule", 3),
        ("  every: 1h\n  cron: '* * * * *'\n", "schedule", 3),
        ("  timezone: UTC\n", "schedule", 3),
        ("  every: [1]\n", "schedule.every", 3),
        ("  every: 5 minutes\n", "schedule.every", 3),
        ("  cron: '* * *'\n", "schedule.cron", 3),
        ("  every: 60\n  misfire: sometimes\n", "schedule.misfire", 4),
        ("  every: 60\n  overlap: queue\n", "schedule.overlap", 4),
        ("  every: 60\n  start: 12\n", "schedule.start", 4),
        ("  every: 60\n  start: next tuesday\n", "schedule.start", 4),
    ],
)
def test_the_schema_rejects_a_bad_shape_naming_the_field_and_line(
    tmp_path: Path, section: str, location: str, line: int
) -> None:
    with pytest.raises(TreeFileError) as caught:
        load_tree_file(write(tmp_path, section))
    assert f"tree.yaml:{line}" in str(caught.value)
    assert f": {location}" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-31",
        "2025-01-31T02:30",
        "2025-01-31 02:30:00",
        "2025-01-31T02:30:00.250Z",
        "2025-01-31T02:30:00+01:00",
        "2025-01-31T02:30+0100",
    ],
)
def test_every_date_time_the_schema_accepts_parses(text: str) -> None:
    schema = {"$defs": tree_file_schema()["$defs"], "$ref": "#/$defs/dateTime"}
    assert Draft202012Validator(schema).is_valid(text)
    assert ScheduleSpec.from_mapping({"every": 60, "start": text}).start is not None


@pytest.mark.parametrize("text", ["30s", "5m", "1h30m", "1d 2h", "90", "1.5h"])
def test_every_duration_the_schema_accepts_parses(text: str) -> None:
    schema = {"$defs": tree_file_schema()["$defs"], "$ref": "#/$defs/duration"}
    assert Draft202012Validator(schema).is_valid(text)
    assert ScheduleSpec.from_mapping({"every": text}, created_at=None).every is not None
