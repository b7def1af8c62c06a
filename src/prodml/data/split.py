"""Cut the rows of a data set into train, dev and test, as ``data.split`` says.

Fraction splits (random, stratified, balanced) shuffle each *cell* of rows with a seeded
generator and give it its dev and test counts by the largest-remainder method, so every
cell keeps the configured shares to within one row. A time split cuts at dates. Every
split is checked: a class missing from train or test is an error, a cell too small to
measure is a warning.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from prodml.config import BalancedSplit, SplitSettings, Task, TimeSplit
from prodml.data import SPLIT_NAMES
from prodml.errors import DataError, did_you_mean, listing

TRAIN, DEV, TEST = 0, 1, 2
MISSING = "<missing>"
MIN_COUNT = 10  # cells smaller than this in dev or test are warned about (balanced: min_count)


@dataclass(frozen=True, eq=False)
class Split:
    """Which split every row of a frame belongs to, with per-cell counts and warnings."""

    method: str
    assignment: npt.NDArray[np.int8]
    settings: dict[str, Any]
    counts: pd.DataFrame
    warnings: tuple[str, ...]

    def rows(self, name: str) -> npt.NDArray[np.intp]:
        """Integer positions of the rows in split ``name`` ("train", "dev" or "test")."""
        if name not in SPLIT_NAMES:
            raise DataError(
                f"split '{name}' does not exist; choose one of: "
                f"{listing(SPLIT_NAMES)}{did_you_mean(name, SPLIT_NAMES)}"
            )
        return np.flatnonzero(self.assignment == SPLIT_NAMES.index(name))

    def sizes(self) -> dict[str, int]:
        """Number of rows in each split."""
        counts = np.bincount(self.assignment, minlength=len(SPLIT_NAMES))
        return {name: int(n) for name, n in zip(SPLIT_NAMES, counts, strict=True)}

    def to_record(self) -> dict[str, Any]:
        """The split as plain JSON-serialisable values (for the run record)."""
        return {
            "method": self.method,
            "settings": self.settings,
            "sizes": self.sizes(),
            "counts": _records(self.counts),
            "warnings": list(self.warnings),
        }


def split_rows(
    frame: pd.DataFrame,
    settings: SplitSettings,
    *,
    target: str,
    task: Task,
    time: str | None = None,
) -> Split:
    """Assign every row of ``frame`` to train, dev or test.

    >>> from prodml.config import StratifiedSplit
    >>> frame = pd.DataFrame({"approved": [0] * 70 + [1] * 30})
    >>> split = split_rows(frame, StratifiedSplit(method="stratified", seed=0),
    ...                    target="approved", task="classification")
    >>> split.sizes()
    {'train': 60, 'dev': 20, 'test': 20}
    >>> split.counts.to_dict("records")[1]
    {'approved': 1, 'train': 18, 'dev': 6, 'test': 6}
    """
    _require_column(frame, target, "data.target")
    if len(frame) == 0:
        raise DataError("data has no rows to split; check data.source (and its query or filter)")
    classify = task == "classification"
    if classify and (n_missing := int(frame[target].isna().sum())):
        raise DataError(
            f"data.target '{target}' is missing in {n_missing} rows; a classification "
            "split needs a label on every row; drop or fill those rows"
        )
    found: list[str] = []
    if isinstance(settings, TimeSplit):
        assignment = _by_time(frame, settings, time, found)
    else:
        cell_columns = _allocation_cells(frame, settings, target, task)
        cell, _ = _cells(frame, cell_columns)
        rng = np.random.default_rng(settings.seed)
        assignment = _allocate(cell, settings.dev, settings.test, rng)
    assignment.setflags(write=False)

    key_columns = [target, *settings.on] if isinstance(settings, BalancedSplit) else [target]
    counts = _count_table(frame, assignment, key_columns if classify else [], target)
    if classify:
        found += _check_classes(counts, target, settings)
        found += _small_cells(counts, target, settings)
    return Split(
        method=settings.method,
        assignment=assignment,
        settings=settings.model_dump(mode="json"),
        counts=counts,
        warnings=tuple(found),
    )


def split_report(
    frame: pd.DataFrame,
    split: Split,
    settings: SplitSettings,
    *,
    target: str,
    metadata: Sequence[str],
) -> dict[str, Any]:
    """Rows per split by label, and by label within each metadata column's values, with a
    warning for every dev or test cell too small to measure (``prodml data split``)."""
    by_label = _count_table(frame, split.assignment, [target], target)
    report: dict[str, Any] = {
        "method": split.method,
        "sizes": split.sizes(),
        "by_label": _records(by_label),
        "by_slice": {},
        "warnings": list(split.warnings),
    }
    for column in metadata:
        table = _count_table(frame, split.assignment, [column, target], target)
        report["by_slice"][column] = _records(table)
        report["warnings"] += [
            w for w in _small_cells(table, target, settings) if w not in report["warnings"]
        ]
    return report


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    keys = [c for c in table.columns if c not in SPLIT_NAMES]
    return [
        {**{k: str(row[k]) for k in keys}, **{s: int(row[s]) for s in SPLIT_NAMES}}
        for row in table.to_dict("records")
    ]


def _require_column(frame: pd.DataFrame, column: str, key: str) -> None:
    if column not in frame.columns:
        names = [str(c) for c in frame.columns]
        raise DataError(
            f"{key} '{column}' is not a column of the data; columns are: "
            f"{listing(names)}{did_you_mean(column, names)}"
        )


def _allocation_cells(
    frame: pd.DataFrame, settings: SplitSettings, target: str, task: Task
) -> list[str]:
    """The columns whose joint values form the cells that keep the split shares."""
    if settings.method == "random":
        return []
    if task != "classification":
        raise DataError(
            f"data.split.method '{settings.method}' needs a classification task, and task "
            f"is '{task}'; use method: random (or time) for regression"
        )
    if not isinstance(settings, BalancedSplit):
        return [target]
    for name in settings.on:
        _require_column(frame, name, "data.split.on")
    if target in settings.on or len(set(settings.on)) < len(settings.on):
        raise DataError(
            f"data.split.on {listing(settings.on)} repeats a column or lists the target "
            f"'{target}', which is always balanced on; list each metadata column once"
        )
    return [target, *settings.on]


def _codes(values: pd.Series) -> tuple[npt.NDArray[np.intp], list[Any]]:
    """Integer codes in sorted order of the values; missing values last, as ``<missing>``."""
    codes, uniques = pd.factorize(values, sort=True)
    labels: list[Any] = pd.Index(uniques).tolist()
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(MISSING)
    return codes.astype(np.intp), labels


def _cells(
    frame: pd.DataFrame, columns: Sequence[str]
) -> tuple[npt.NDArray[np.intp], pd.DataFrame]:
    """Each row's cell id (cells numbered in sorted key order) and one key row per cell."""
    if not columns:
        return np.zeros(len(frame), np.intp), pd.DataFrame(index=range(1))
    coded = [_codes(frame[c]) for c in columns]
    order = np.lexsort([codes for codes, _ in reversed(coded)])
    ordered = np.stack([codes[order] for codes, _ in coded])
    starts = np.r_[True, (np.diff(ordered, axis=1) != 0).any(axis=0)]
    cell = np.empty(len(frame), np.intp)
    cell[order] = np.cumsum(starts) - 1
    firsts = ordered[:, starts]
    keys = {
        c: [labels[i] for i in codes]
        for c, (_, labels), codes in zip(columns, coded, firsts, strict=True)
    }
    return cell, pd.DataFrame(keys)


def _allocate(
    cell: npt.NDArray[np.intp], dev: float, test: float, rng: np.random.Generator
) -> npt.NDArray[np.int8]:
    assignment = np.full(len(cell), TRAIN, np.int8)
    order = np.argsort(cell, kind="stable")
    start = 0
    for end in np.cumsum(np.bincount(cell)):
        rows = rng.permutation(order[start:end])
        n_test, n_dev = _largest_remainder(len(rows), test, dev)
        assignment[rows[:n_test]] = TEST
        assignment[rows[n_test : n_test + n_dev]] = DEV
        start = end
    return assignment


def _largest_remainder(n: int, test: float, dev: float) -> tuple[int, int]:
    """Test and dev counts for ``n`` rows; ties go to test, then dev, then train."""
    # rounding strips float noise such as 0.29 * 100 = 28.999999999999996
    quotas = [round(n * test, 9), round(n * dev, 9)]
    quotas.append(n - quotas[0] - quotas[1])
    counts = [int(q) for q in quotas]
    by_remainder = sorted(range(3), key=lambda i: -(quotas[i] - counts[i]))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    return counts[0], counts[1]


def _by_time(
    frame: pd.DataFrame, settings: TimeSplit, column: str | None, found: list[str]
) -> npt.NDArray[np.int8]:
    if column is None:
        raise DataError(
            "data.split.method 'time' needs data.time, the datetime column to split on; "
            "set data.time in prodml.yaml or choose method: stratified"
        )
    _require_column(frame, column, "data.time")
    stamps = _parse_times(frame[column], column)
    if n_missing := int(stamps.isna().sum()):
        raise DataError(
            f"data.time '{column}' is missing in {n_missing} rows; a time split needs a "
            "time on every row; drop or fill those rows, or choose method: stratified"
        )
    test_at = _at(settings.test_after, stamps)
    first = "dev_after" if settings.dev_after is not None else "test_after"
    first_at = _at(settings.dev_after, stamps) if settings.dev_after is not None else test_at
    is_test = (stamps >= test_at).to_numpy()
    is_dev = ((stamps >= first_at) & (stamps < test_at)).to_numpy()
    span = f"data.time '{column}' runs from {stamps.min():%Y-%m-%d} to {stamps.max():%Y-%m-%d}"
    if not is_test.any():
        raise DataError(
            f"data.split.test_after {settings.test_after:%Y-%m-%d} leaves the test set empty: "
            f"{span}; set test_after to a date within that range"
        )
    if (is_test | is_dev).all():
        raise DataError(
            f"data.split.{first} {getattr(settings, first):%Y-%m-%d} leaves the train set empty: "
            f"{span}; set {first} to a later date within that range"
        )
    if settings.dev_after is not None and not is_dev.any():
        found.append(
            f"data.split.dev_after {settings.dev_after:%Y-%m-%d} leaves the dev set empty: no rows "
            f"fall before test_after {settings.test_after:%Y-%m-%d}; set dev_after earlier"
        )
    assignment = np.full(len(frame), TRAIN, np.int8)
    assignment[is_dev] = DEV
    assignment[is_test] = TEST
    return assignment


def _parse_times(values: pd.Series, column: str) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        return values
    if pd.api.types.is_numeric_dtype(values):
        raise DataError(
            f"data.time '{column}' holds numbers (e.g. {values.dropna().iloc[:1].tolist()}), "
            "not dates; store it as dates such as 2024-07-01 or choose method: stratified"
        )
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", UserWarning)  # "could not infer format": dateutil
        try:
            return pd.to_datetime(values)
        except (ValueError, TypeError, OverflowError):
            coerced = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = values[values.notna() & coerced.isna()]
    shown = f" {bad.iloc[0]!r} (row label {bad.index[0]})" if len(bad) else "s in mixed formats"
    raise DataError(
        f"data.time '{column}' holds a value that is not a date:{shown}; fix or drop "
        "it, and write dates as YYYY-MM-DD (optionally with a time)"
    )


def _at(moment: datetime, stamps: pd.Series) -> pd.Timestamp:
    """``moment`` as a timestamp comparable with ``stamps`` (naive or time-zone aware)."""
    at = pd.Timestamp(moment)
    tz = stamps.dt.tz
    if tz is None and at.tz is not None:
        return at.tz_convert(None)
    if tz is not None and at.tz is None:
        return at.tz_localize(tz)
    return at


def _count_table(
    frame: pd.DataFrame, assignment: npt.NDArray[np.int8], columns: list[str], target: str
) -> pd.DataFrame:
    cell, keys = _cells(frame, columns)
    if not columns:
        keys = pd.DataFrame({target: ["all"]})
    n_cells = len(keys)
    table = np.bincount(cell * 3 + assignment, minlength=n_cells * 3).reshape(n_cells, 3)
    counts = pd.DataFrame(table.astype(np.int64), columns=list(SPLIT_NAMES))
    return pd.concat([keys, counts], axis=1)


def _check_classes(counts: pd.DataFrame, target: str, settings: SplitSettings) -> list[str]:
    """Raise for a class missing from train or test; warn for one missing from dev."""
    by_class = counts.groupby(target, sort=False)[list(SPLIT_NAMES)].sum()
    for name in ("test", "train"):
        absent = [str(c) for c in by_class.index[by_class[name] == 0]]
        if absent:
            present = listing(str(c) for c in by_class.index[by_class[name] > 0])
            more = f" (and {len(absent) - 1} more: {listing(absent[1:])})" if absent[1:] else ""
            rows = int(by_class.loc[by_class[name] == 0].sum(axis=1).iloc[0])
            raise DataError(
                f"data.split leaves class '{absent[0]}'{more} out of the {name} set "
                f"({name} has classes: {present}); class '{absent[0]}' has {_rows(rows)}; "
                f"{_class_fix(settings, name)}"
            )
    if by_class["dev"].sum() == 0:
        return []
    return [
        f"data.split leaves class '{c}' out of the dev set; dev scores will not cover it; "
        f"{_class_fix(settings, 'dev')}"
        for c in by_class.index[by_class["dev"] == 0]
    ]


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _class_fix(settings: SplitSettings, name: str) -> str:
    if isinstance(settings, TimeSplit):
        # train ends at dev_after when there is one; the test set starts at test_after
        key = "test_after" if name == "test" or settings.dev_after is None else "dev_after"
        move = "later" if name == "train" else "earlier"
        return f"move data.split.{key} {move} or use method: stratified"
    if settings.method == "random":
        return "use method: stratified, which puts every class in every split"
    if name == "train":
        return "collect more rows of that class or drop it"
    fewer = "balance on fewer columns (data.split.on), " if settings.method == "balanced" else ""
    return f"{fewer}collect more rows of that class, drop it, or raise data.split.{name}"


def _small_cells(counts: pd.DataFrame, target: str, settings: SplitSettings) -> list[str]:
    """One warning per cell with too few rows in a non-empty dev or test set to measure."""
    least = settings.min_count if isinstance(settings, BalancedSplit) else MIN_COUNT
    # the target first, so a cell has one name whichever table finds it (the split's
    # balanced cells, or split_report's by metadata column), and is reported once
    keys = [target, *(c for c in counts.columns if c not in (*SPLIT_NAMES, target))]
    found = []
    for name in ("dev", "test"):
        # a class with no rows in the split is reported once, by _check_classes; an empty
        # dev set (dev: 0, or no dev_after) has no class in it, so it warns about nothing
        by_class = counts.groupby(target, sort=False)[name].sum()
        absent = set(by_class.index[by_class == 0])
        for row in counts.loc[counts[name] < least].to_dict("records"):
            if row[target] in absent:
                continue
            cell = ", ".join(f"{k}={row[k]}" for k in keys)
            found.append(
                f"cell {cell} has {_rows(row[name])} in {name}: too few to measure reliably "
                f"(want at least {least}); {_cell_fix(settings, name)}"
            )
    return found


def _cell_fix(settings: SplitSettings, name: str) -> str:
    if isinstance(settings, BalancedSplit):
        return "merge groups or collect more data"
    if isinstance(settings, TimeSplit):
        key = "test_after" if name == "test" else "dev_after"
        return f"move data.split.{key} earlier or collect more data"
    return f"raise data.split.{name} or collect more data"
