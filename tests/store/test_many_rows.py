"""Many-row inserts into SQLite: every row lands once, in order, whatever the count (the
statements split by binary digits), and no statement passes SQLite's variable limit."""

from __future__ import annotations

import sqlite3

import pytest

from prodml.store import many_rows


@pytest.mark.parametrize("count", [0, 1, 3, 64, 100, 128, 129, 1000])
@pytest.mark.parametrize("width", [7, 10])
def test_every_row_is_inserted_once_in_order(count: int, width: int) -> None:
    driver = sqlite3.connect(":memory:")
    columns = [f"c{n}" for n in range(width)]
    driver.execute(f"CREATE TABLE t ({', '.join(columns)})")
    rows = [tuple(f"{row}.{column}" for column in range(width)) for row in range(count)]
    many_rows.insert(driver, f"INSERT INTO t ({', '.join(columns)}) VALUES {{rows}}", rows)
    assert driver.execute("SELECT * FROM t ORDER BY rowid").fetchall() == rows


@pytest.mark.parametrize("width", range(1, 60))
def test_a_statement_takes_the_most_rows_within_the_variable_limit(width: int) -> None:
    most = many_rows.most_rows(width)
    assert most & (most - 1) == 0  # a power of two
    assert most * width <= many_rows.SQLITE_VARIABLES < 2 * most * width


def test_a_conflict_clause_applies_to_every_row_of_a_statement() -> None:
    driver = sqlite3.connect(":memory:")
    driver.execute("CREATE TABLE t (key TEXT UNIQUE, value INTEGER)")
    driver.execute("INSERT INTO t VALUES ('b', 0)")
    rows = [("a", 1), ("b", 2), ("a", 3), ("c", 4)]
    statement = "INSERT INTO t (key, value) VALUES {rows} ON CONFLICT (key) DO NOTHING"
    many_rows.insert(driver, statement, rows)
    # as one INSERT OR IGNORE a row: the first of each key stays
    reference = sqlite3.connect(":memory:")
    reference.execute("CREATE TABLE t (key TEXT UNIQUE, value INTEGER)")
    reference.executemany("INSERT OR IGNORE INTO t VALUES (?, ?)", [("b", 0), *rows])
    query = "SELECT key, value FROM t ORDER BY key"
    assert driver.execute(query).fetchall() == reference.execute(query).fetchall()
