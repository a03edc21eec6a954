"""The SQLite writer's statements with their NULLs spelled in the SQL write what binding
``None`` writes, and count what it counts."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from taskflow.storage import writers
from taskflow.storage.writers import SqliteFileWriter, Step, StepMismatch, spell_nulls

COLUMNS = ("id", "a", "b", "c")
INSERT = "INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)"
UPDATE = "UPDATE t SET a = ?, b = ?, c = ? WHERE id = ? AND a IS NOT ?"


def table(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a, b TEXT, c REAL)")
    return conn


def contents(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT id, a, b, c, typeof(a), typeof(b), typeof(c) FROM t").fetchall()


def every_pattern() -> list[tuple[object, ...]]:
    """Rows with each pattern of ``None`` over three columns, twice each."""
    values = (7, "x", 1.5)
    rows = []
    for number, shape in enumerate(list(itertools.product((False, True), repeat=3)) * 2):
        rows.append(
            (number, *(None if none else value for none, value in zip(shape, values, strict=True)))
        )
    return rows


def test_spelled_rows_write_what_bound_rows_write(tmp_path: Path) -> None:
    rows = every_pattern()
    plain, spelled = table(tmp_path / "plain.db"), table(tmp_path / "spelled.db")
    plain.executemany(INSERT, rows)
    for sql, group in spell_nulls(INSERT, rows):
        spelled.executemany(sql, group)
    assert contents(spelled) == contents(plain)
    assert len(contents(plain)) == len(rows)

    updates = [(None, "y", None, number, None) for number in range(0, len(rows), 2)]
    updates += [(1, None, None, number, 7) for number in range(1, len(rows), 2)]
    changed = plain.executemany(UPDATE, updates).rowcount
    counted = sum(
        spelled.executemany(sql, group).rowcount for sql, group in spell_nulls(UPDATE, updates)
    )
    assert counted == changed  # IS NOT NULL selects the same rows, bound or spelled
    assert contents(spelled) == contents(plain)


def test_a_statement_with_a_question_mark_in_a_literal_is_left_as_it_is() -> None:
    sql = "INSERT INTO t (id, a, b, c) VALUES (?, ?, '?', ?)"
    rows = [(1, None, 2.0), (2, 3, None)]
    assert spell_nulls(sql, rows) == [(sql, [rows[0]]), (sql, [rows[1]])]


def test_the_table_of_rewritten_statements_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "_spelled", {})
    monkeypatch.setattr(writers, "SPELLED_MAX", 4)
    for shape in itertools.product((None, 1), repeat=4):
        spell_nulls(INSERT, [shape])
    assert len(writers._spelled) <= 4


async def test_the_writer_counts_every_pattern_against_the_expected_rows(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    table(path).close()
    writer = SqliteFileWriter(str(path))
    try:
        rows = every_pattern()
        await writer.write([Step(INSERT, rows, many=True, nulls=True, expect=len(rows))])
        updates = [(1, None, 2.0, number, 99) for number in range(len(rows))]
        await writer.write([Step(UPDATE, updates, many=True, nulls=True, expect=len(rows))])
        stale = [(2, "z", None, 0, 99), (2, "z", None, 1, 1)]  # row 1 has a = 1: no match
        with pytest.raises(StepMismatch) as caught:
            await writer.write([Step(UPDATE, stale, many=True, nulls=True, expect=2)])
        assert caught.value.rowcount == 1
    finally:
        await writer.close()
    with sqlite3.connect(path) as conn:  # the refused transaction wrote nothing
        assert conn.execute("SELECT DISTINCT a, b, c FROM t").fetchall() == [(1, None, 2.0)]
