"""Inserts of many rows into an SQLite store through the driver's own connection, for the
writers that run at a server's request rate (the prediction log, the review items it
commits beside its rows).

SQLAlchemy's execution context, made for every statement, is work such a writer need not
do: its rows are already the driver's values. And the driver's executemany steps a
statement a row, and lets go of the GIL around each step: under load the log thread then
waited for the event loop once a row, and took a third more CPU a row. :func:`insert`
instead runs a statement of up to :func:`most_rows` rows, the rest in statements of
their binary digits (100 rows: 64, 32 and 4), so that a handful of statement texts, each
compiled once and cached by the driver, serve every group.

>>> import sqlite3
>>> driver = sqlite3.connect(":memory:")
>>> _ = driver.execute("CREATE TABLE t (a INTEGER, b TEXT)")
>>> insert(driver, "INSERT INTO t (a, b) VALUES {rows}", [(n, str(n)) for n in range(100)])
>>> driver.execute("SELECT count(*), sum(a) FROM t").fetchone()
(100, 4950)
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Sequence
from typing import Any

#: The most variables the oldest SQLite allows a statement.
SQLITE_VARIABLES = 999


def insert(driver: sqlite3.Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples of equal length) with ``statement``, whose ``{rows}`` stands
    for the VALUES' rows, through the driver's connection ``driver``, inside the
    transaction begun on it."""
    width = len(rows[0]) if rows else 0
    start = 0
    while start < len(rows):
        size = min(most_rows(width), 1 << ((len(rows) - start).bit_length() - 1))
        values = tuple(itertools.chain.from_iterable(rows[start : start + size]))
        driver.execute(_text(statement, width, size), values)
        start += size


def most_rows(width: int) -> int:
    """The most rows of ``width`` values one statement takes: a power of two, within
    :data:`SQLITE_VARIABLES` (7 values: 128 rows, 896 variables).

    >>> most_rows(7), most_rows(10)
    (128, 64)
    """
    return 1 << ((SQLITE_VARIABLES // width).bit_length() - 1)


@functools.cache
def _text(statement: str, width: int, rows: int) -> str:
    """``statement`` with ``rows`` rows of ``width`` placeholders."""
    row = f"({', '.join('?' * width)})"
    return statement.format(rows=", ".join([row] * rows))
