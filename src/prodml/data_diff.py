"""What changed between two recorded data sets: columns, categories and distributions.

Columns added, removed or retyped (another kind or dtype), and the categories a column
gained or lost, come from the two schemas the store recorded. Each column both have and
neither retyped is then tested with the monitor's rule
(:func:`prodml.monitor.drift.drift_report`: a two-sample test, and a difference large
enough to matter): categories from the recorded shares, which give the exact counts;
numbers from the rows themselves, so only when the data set's rows are at hand (its
source still holds that content) and otherwise listed as untested, with the reason.

>>> from datetime import datetime
>>> from prodml.store.datasets import Dataset
>>> def record(shares: dict[str, float]) -> Dataset:
...     column = {"name": "purpose", "kind": "category", "dtype": "category",
...               "nullable": False, "missing_share": 0.0, "categories": shares}
...     return Dataset("f", "x.csv", 1000, "h", {"columns": [column], "rows": 1000},
...                    datetime.now())
>>> found = data_diff(record({"car": 0.6, "home": 0.4}), record({"auto": 0.6, "home": 0.4}))
>>> found["categories"]
[{'column': 'purpose', 'added': ['auto'], 'removed': ['car']}]
>>> found["drift"]["scores"]["purpose"]["drifted"]
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from prodml.monitor.drift import Distribution, drift_report
from prodml.store.datasets import Dataset

#: why a column was not tested
NO_ROWS = "numbers are tested on the rows, and the rows of {side} are not at hand: {why}"
RETYPED = "retyped"


def data_diff(
    a: Dataset,
    b: Dataset,
    rows: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None),
    *,
    why: tuple[str, str] = ("", ""),
    skip: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The differences of ``b`` from ``a``, JSON-ready; ``rows``, each side's rows when at
    hand (``why`` not, for each side), ``skip``, columns not to test (such as the id)."""
    left = {c["name"]: c for c in a.schema.get("columns", [])}
    right = {c["name"]: c for c in b.schema.get("columns", [])}
    both = [name for name in left if name in right]
    retyped = [
        {"column": name, "a": _type(left[name]), "b": _type(right[name])}
        for name in both
        if _type(left[name]) != _type(right[name])
    ]
    changed = {r["column"] for r in retyped}
    categories = [
        {
            "column": name,
            "added": sorted(set(right[name]["categories"]) - set(left[name]["categories"])),
            "removed": sorted(set(left[name]["categories"]) - set(right[name]["categories"])),
        }
        for name in both
        if name not in changed
        and left[name].get("categories") is not None
        and right[name].get("categories") is not None
        and set(left[name]["categories"]) != set(right[name]["categories"])
    ]
    reference: dict[str, Distribution] = {}
    current: dict[str, Distribution] = {}
    untested: dict[str, str] = {name: RETYPED for name in changed}
    for name in both:
        if name in changed or name in skip:
            continue
        sides = [
            _distribution(column, record, frame, label, reason)
            for column, record, frame, label, reason in (
                (left[name], a, rows[0], "A", why[0]),
                (right[name], b, rows[1], "B", why[1]),
            )
        ]
        missing = [s for s in sides if isinstance(s, str)]
        if missing:
            untested[name] = missing[0]
            continue
        reference[name], current[name] = sides  # type: ignore[assignment]  # both Distributions
    report = drift_report(reference, current) if reference else None
    return {
        "a": _side(a),
        "b": _side(b),
        "same_schema": a.schema_hash == b.schema_hash,
        "columns": {
            "added": [n for n in right if n not in left],
            "removed": [n for n in left if n not in right],
            "retyped": retyped,
        },
        "categories": categories,
        "drift": None if report is None else report.to_dict(),
        "untested": untested,
    }


def _side(record: Dataset) -> dict[str, Any]:
    return {
        "fingerprint": record.fingerprint,
        "source": record.source,
        "rows": record.rows,
        "schema": record.schema,
    }


def _type(column: Mapping[str, Any]) -> str:
    return f"{column['kind']} ({column['dtype']})"


def _distribution(
    column: Mapping[str, Any], record: Dataset, frame: pd.DataFrame | None, side: str, why: str
) -> Distribution | str:
    """One side of a column: from its rows when at hand; a category's from its recorded
    shares (exact counts: each share is a count over the rows with a value); else why it
    cannot be tested."""
    if frame is not None and column["name"] in frame.columns:
        return Distribution.from_series(frame[column["name"]])
    shares = column.get("categories")
    if shares is None:
        return NO_ROWS.format(side=side, why=why or "no rows were given")
    present = int(record.schema.get("rows", record.rows)) * (1 - column["missing_share"])
    return Distribution.categorical({key: round(share * present) for key, share in shares.items()})
