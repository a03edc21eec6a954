"""``taskflow schedules ...`` and ``taskflow db prune`` as a user drives them (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import Cli

HOURLY = """\
name: hourly report
schedule: {cron: "0 * * * *", timezone: Europe/Berlin, overlap: skip}
tasks:
  - {key: report, executor: noop, inputs: {n: 1}}
"""


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home", f"sqlite:///{tmp_path / 'cli.db'}")


def test_add_list_show_pause_unpause_backfill_delete(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "hourly.yaml"
    path.write_text(HOURLY)
    added = cli.run("schedules", "add", str(path))
    assert added.returncode == 0, added.stderr
    assert "schedule 'hourly report'" in added.stdout and added.stdout.count("next:") == 3
    assert "no worker is running" in added.stderr
    again = cli.run("schedules", "add", str(path))
    assert again.returncode == 2 and "exists already" in again.stderr
    listed = cli.json("schedules", "list")
    assert [(s["name"], s["state"]) for s in listed] == [("hourly report", "active")]
    shown = cli.json("schedules", "show", "hourly report", "--count", "3")
    assert shown["spec"]["cron"] == "0 * * * *" and len(shown["next_fires"]) == 3
    assert shown["source"] == str(path)
    assert cli.run("schedules", "pause", listed[0]["id"][:6]).returncode == 0  # by id prefix
    assert cli.json("schedules", "show", "hourly report")["state"] == "paused"
    unpaused = cli.run("schedules", "unpause", "hourly report")
    assert unpaused.returncode == 0 and "active" in unpaused.stdout
    filled = cli.json(
        "schedules", "backfill", "hourly report", "--from", "2026-01-01T00:00", "--to",
        "2026-01-01T03:00",
    )  # fmt: skip
    assert [f["nominal"] for f in filled] == [f"2025-12-31T2{h}:00:00+00:00" for h in (3,)] + [
        f"2026-01-01T0{h}:00:00+00:00" for h in (0, 1, 2)
    ]  # Berlin is UTC+1 in winter
    assert cli.json(
        "schedules", "backfill", "hourly report", "--from", "2026-01-01T00:00", "--to",
        "2026-01-01T03:00",
    ) == []  # fmt: skip
    roots = cli.json("tasks", "list", "--roots", "--status", "queued")
    assert {r["id"] for r in roots} == {f["tree_id"] for f in filled}
    bad = cli.run("schedules", "backfill", "hourly report", "--from", "yesterday", "--to", "now")
    assert bad.returncode == 2 and "--from" in bad.stderr
    missing = cli.run("schedules", "show", "nope")
    assert missing.returncode == 2 and "no schedule 'nope'" in missing.stderr
    assert cli.run("schedules", "delete", "hourly report").returncode == 0
    assert cli.json("schedules", "list") == []


def test_add_needs_a_schedule_and_checks_everything(cli: Cli, tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("tasks:\n  - {key: a, executor: noop}\n")
    none = cli.run("schedules", "add", str(plain))
    assert none.returncode == 2 and "--cron or --every" in none.stderr
    made = cli.json("schedules", "add", str(plain), "--every", "90", "--name", "often")
    assert made["spec"]["every"] == 90 and made["name"] == "often"
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "schedule: {every: 1h, timezone: Mars/Olympus}\ntasks:\n  - {key: a, executor: nop}\n"
    )
    refused = cli.run("schedules", "add", str(broken))
    assert refused.returncode == 2 and "broken.yaml:1: schedule.timezone" in refused.stderr
    validated = cli.run("validate", str(broken))
    assert validated.returncode == 2 and "Mars/Olympus" in validated.stderr


def test_db_prune(cli: Cli) -> None:
    assert cli.run("run", str(Path(__file__).parents[2] / "examples" / "demo.yaml")).returncode == 0
    kept = cli.run("db", "prune", "--finished-before", "1d")
    assert kept.returncode == 0 and "deleted 0 trees" in kept.stdout
    pruned = cli.run("db", "prune", "--finished-before", "0")
    assert pruned.returncode == 0 and "deleted 1 trees" in pruned.stdout
    assert cli.json("tasks", "list", "--roots") == []
    bad = cli.run("db", "prune", "--finished-before", "soon")
    assert bad.returncode == 2 and "not a duration" in bad.stderr
    assert json.loads(cli.run("executors", "show", "taskflow.prune", "--json").stdout)["id"] == (
        "taskflow.prune"
    )
