"""Slices: cut the rows into named groups, then score every group at once.

A slicing is one way of cutting (a column, a cross of columns, numeric bins, a boolean
expression, a tag); it gives each row the index of its group, or -1. Classification
scores come from one ``np.bincount`` over (group, true class, predicted class), so a
million rows in a dozen groups take milliseconds. Every score equals scikit-learn's
function on the group's rows exactly: the same formulas, in the same order of
floating-point operations (tests/evaluate/test_slices.py compares them with ``==``).

>>> frame = pd.DataFrame({"region": ["north", "south", "north", "south"]})
>>> cut = slicings(["region"], frame)[0]
>>> cut.names, cut.codes.tolist()
(('region=north', 'region=south'), [0, 1, 0, 1])
>>> confusion = confusion_by_group(cut.codes, 2, np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]), 2)
>>> classification_scores(confusion, [0, 1])["recall[1]"].tolist()
[0.0, 1.0]
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from prodml.config import BinSlice, SliceSpec, WhereSlice
from prodml.errors import ConfigError, DataError, did_you_mean, listing

KEY = "evaluate.slices"
MISSING = "(missing)"
#: joins the columns of a cross into its family name, e.g. "gender x region" with a times sign
CROSS = " \N{MULTIPLICATION SIGN} "


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class Slicing:
    """One way of cutting the rows into named groups."""

    family: str  # "gender", a cross (see CROSS), "income bins", "income < 20000", "tags"
    names: tuple[str, ...]  # one per group: "gender=female", "income in [0, 20000)", "tag:x"
    codes: np.ndarray  # int64, one per row: the group index, or -1 when in no group


def slicings(
    specs: Sequence[SliceSpec], frame: pd.DataFrame, tags: Mapping[str, np.ndarray] | None = None
) -> list[Slicing]:
    """The slicing of each spec, then one per tag; only groups that have rows appear.

    >>> frame = pd.DataFrame({"income": [10_000, 30_000, 60_000, np.nan]})
    >>> [s.names for s in slicings([BinSlice(column="income", bins=(20_000, 50_000))], frame)]
    [('income < 20000', 'income in [20000, 50000)', 'income ≥ 50000', 'income=(missing)')]
    """
    cuts = [_slicing(spec, frame) for spec in specs]
    for tag, mask in (tags or {}).items():
        rows = np.asarray(mask, dtype=bool)
        if rows.shape != (len(frame),):
            raise DataError(f"tag '{tag}' marks {rows.size} rows but the data has {len(frame)}")
        cuts.append(_compact("tags", [f"tag:{tag}"], np.where(rows, 0, -1)))
    return cuts


def confusion_by_group(
    codes: np.ndarray, n_groups: int, y_true: np.ndarray, y_pred: np.ndarray, n_classes: int
) -> np.ndarray:
    """(n_groups, n_classes, n_classes) int64 confusion counts, rows true, columns predicted.

    ``y_*`` are class indices 0..K-1; rows with code -1 are left out. One ``np.bincount``.

    >>> confusion_by_group(np.array([0, 0, 1, -1]), 2, np.array([1, 0, 1, 1]),
    ...                    np.array([1, 1, 0, 0]), 2).tolist()
    [[[0, 1], [0, 1]], [[0, 0], [1, 0]]]
    """
    codes = np.asarray(codes, dtype=np.int64)
    truth, predicted = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if not (codes >= 0).all():
        keep = codes >= 0
        codes, truth, predicted = codes[keep], truth[keep], predicted[keep]
    for y in (truth, predicted):  # an index out of range would count in another cell
        if y.size and not 0 <= y.min() <= y.max() < n_classes:
            raise ValueError(
                f"class indices must be in 0..{n_classes - 1}; got {y.min()}..{y.max()}"
            )
    cells = (codes * n_classes + truth) * n_classes + predicted
    counts = np.bincount(cells, minlength=n_groups * n_classes * n_classes)
    return counts.astype(np.int64, copy=False).reshape(n_groups, n_classes, n_classes)


def classification_scores(confusion: np.ndarray, labels: Sequence[Any]) -> dict[str, np.ndarray]:
    """Per-group scores from per-group confusion counts, equal to scikit-learn's.

    ``count``, ``errors``, ``accuracy``, ``precision_macro``, ``recall_macro``, ``f1_macro``,
    the ``_weighted`` three, and ``precision[L]``, ``recall[L]``, ``f1[L]``, ``support[L]``
    for every label L, each an array with one value per group. An ill-defined precision,
    recall or F1 (nothing predicted, nothing true) is 0, as ``zero_division=0`` gives.
    """
    confusion = np.asarray(confusion, dtype=np.int64)
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    support = confusion.sum(axis=2)  # true_sum in scikit-learn
    predicted = confusion.sum(axis=1)  # pred_sum
    count, correct = support.sum(axis=1), tp.sum(axis=1)
    # scikit-learn: precision tp / pred_sum, recall tp / true_sum, F1 2 tp / (true_sum +
    # pred_sum), each 0 where its denominator is 0 (then tp is 0 too, so dividing by 1 gives it)
    precision = tp / np.where(predicted == 0, 1, predicted)
    recall = tp / np.where(support == 0, 1, support)
    both = support + predicted
    f1 = (2.0 * tp) / np.where(both == 0, 1, both)
    weights = support.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # only a group of no rows is 0 / 0
        scores: dict[str, np.ndarray] = {
            "count": count,
            "errors": count - correct,
            "accuracy": correct / count,
        }
        # np.average and np.nanmean as scikit-learn takes them: a sum along each row (the
        # same pairwise summation as over a 1-D array), then one division
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            scores[f"{name}_macro"] = values.sum(axis=1) / values.shape[1]
            scores[f"{name}_weighted"] = (values * weights).sum(axis=1) / weights.sum(axis=1)
    for i, label in enumerate(labels):
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            scores[f"{name}[{label}]"] = values[:, i]
        scores[f"support[{label}]"] = support[:, i]
    return scores


def regression_scores(
    codes: np.ndarray, n_groups: int, y_true: np.ndarray, y_pred: np.ndarray
) -> dict[str, np.ndarray]:
    """Per group: ``count``, ``mae``, ``rmse``, ``r2`` (nan when count < 2) and ``mape``.

    >>> scores = regression_scores(np.array([0, 0, 1]), 2, np.array([1.0, 3.0, 2.0]),
    ...                            np.array([2.0, 3.0, 2.0]))
    >>> scores["mae"].tolist(), scores["r2"].tolist()
    ([0.5, 0.0], [0.5, nan])
    """
    codes = np.asarray(codes, dtype=np.int64)
    keep = codes >= 0
    count = np.bincount(codes[keep], minlength=n_groups)
    # scikit-learn takes each mean with np.mean over the group's rows, a pairwise sum whose
    # rounding depends on the group's length; np.bincount(weights=) and np.add.reduceat add
    # in other orders and differ in the last bits. So: one stable sort puts each group's
    # rows side by side, in their original order, and each group is one contiguous slice.
    order = np.argsort(codes[keep], kind="stable")
    truth = np.asarray(y_true, dtype=np.float64)[keep][order]
    predicted = np.asarray(y_pred, dtype=np.float64)[keep][order]
    absolute = np.abs(predicted - truth)
    per_row = np.stack(
        [
            absolute,
            (truth - predicted) ** 2,
            absolute / np.maximum(np.abs(truth), np.finfo(np.float64).eps),
            truth,
        ]
    )
    ends = np.cumsum(count)
    sums = np.full((n_groups, 5), np.nan)
    for g in np.flatnonzero(count):
        rows = slice(ends[g] - count[g], ends[g])
        sums[g, :4] = per_row[:, rows].sum(axis=1)
        sums[g, 4] = np.sum((truth[rows] - sums[g, 3] / count[g]) ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):  # groups of no rows: nan
        mae, mse, mape = (sums[:, i] / count for i in range(3))
        residual, spread = sums[:, 1], sums[:, 4]
        # r2_score(force_finite=True): 1 when the residual is 0, 0 when only the spread is
        r2 = np.where(residual == 0, 1.0, np.where(spread == 0, 0.0, 1 - residual / spread))
    return {
        "count": count,
        "mae": mae,
        "rmse": np.sqrt(mse),
        "r2": np.where(count < 2, np.nan, r2),
        "mape": mape,
    }


def wilson(
    successes: np.ndarray, trials: np.ndarray, z: float = 1.959963984540054
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportions (95% by default); nan where trials == 0.

    >>> low, high = wilson(np.array([5]), np.array([10]))
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.2366, 0.7634)
    """
    k, n = np.asarray(successes, dtype=np.float64), np.asarray(trials, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p, z2 = k / n, z * z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # at 0 or n successes one end is exactly 0 or 1; rounding would leave it a hair inside
    low = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return np.where(n == 0, np.nan, low), np.where(n == 0, np.nan, high)


def _slicing(spec: SliceSpec, frame: pd.DataFrame) -> Slicing:
    if isinstance(spec, BinSlice):
        return _bins(spec, frame)
    if isinstance(spec, WhereSlice):
        return _where(spec.where, spec.name or spec.where, frame)
    if isinstance(spec, tuple):
        return _cross(spec, frame)
    if spec in frame.columns:
        return _cross((spec,), frame)
    if spec.isidentifier():  # a bare name is meant as a column, not as an expression
        raise _not_a_column(spec, frame)
    return _where(spec, spec, frame)


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise _not_a_column(column, frame)
    return frame[column]


def _not_a_column(column: str, frame: pd.DataFrame) -> ConfigError:
    columns = [str(c) for c in frame.columns]
    return ConfigError(
        f"{KEY}: '{column}' is not a column of the data; columns are: "
        f"{listing(columns)}{did_you_mean(column, columns)}"
    )


def _cross(columns: tuple[str, ...], frame: pd.DataFrame) -> Slicing:
    """One group per existing combination of the columns' values (missing is a value)."""
    if not columns:
        raise ConfigError(f"{KEY}: an empty list crosses nothing; give two or more columns")
    codes, names = _values(frame, columns[0])
    for column in columns[1:]:
        values, labels = _values(frame, column)
        existing, codes = np.unique(codes * len(labels) + values, return_inverse=True)
        names = [f"{names[e // len(labels)]} & {labels[e % len(labels)]}" for e in existing]
    return Slicing(CROSS.join(columns), tuple(names), codes.astype(np.int64).reshape(-1))


def _values(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, list[str]]:
    """Each row's index among the column's sorted distinct values, missing ones last."""
    codes, uniques = pd.factorize(_column(frame, column), sort=True)
    labels = [f"{column}={value}" for value in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(f"{column}={MISSING}")
    return codes.astype(np.int64), labels


def _bins(spec: BinSlice, frame: pd.DataFrame) -> Slicing:
    column = _column(frame, spec.column)
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise ConfigError(
            f"{KEY}: bins need a numeric column, and '{spec.column}' holds {column.dtype} "
            f"values; list '{spec.column}' itself for one slice per value"
        )
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    name = spec.column
    if isinstance(spec.bins, int):
        names, codes = _quantile_bins(name, values, spec.bins)
    else:
        edges = [_number(e) for e in spec.bins]
        names = [
            f"{name} < {edges[0]}",
            *(f"{name} in [{a}, {b})" for a, b in itertools.pairwise(edges)),
            f"{name} ≥ {edges[-1]}",
        ]
        codes = np.searchsorted(np.asarray(spec.bins, dtype=np.float64), values, side="right")
    missing = np.isnan(values)
    codes = np.where(missing, len(names), codes)
    return _compact(f"{name} bins", [*names, f"{name}={MISSING}"], codes)


def _quantile_bins(name: str, values: np.ndarray, q: int) -> tuple[list[str], np.ndarray]:
    """Bins as ``pd.qcut(values, q, duplicates="drop")`` cuts them: (a, b], the first [a, b]."""
    present = values[~np.isnan(values)]
    if present.size == 0 or present.min() == present.max():  # qcut finds no two edges
        low = _number(present.min()) if present.size else "?"
        return [f"{name} in [{low}, {low}]"], np.zeros(values.shape, dtype=np.int64)
    codes, edges = pd.qcut(values, q, labels=False, retbins=True, duplicates="drop")
    shown = [_number(e) for e in edges]
    names = [
        f"{name} in {'[' if i == 0 else '('}{a}, {b}]"
        for i, (a, b) in enumerate(itertools.pairwise(shown))
    ]
    return names, np.nan_to_num(codes, nan=-1).astype(np.int64)


def _where(expression: str, name: str, frame: pd.DataFrame) -> Slicing:
    """The rows where ``expression`` (evaluated with ``frame.eval``) is true: one group."""
    columns = [str(c) for c in frame.columns]
    try:
        result = frame.eval(expression)
    except Exception as error:  # pandas raises many kinds for a bad expression
        undefined = re.search(r"name '(.+?)' is not defined", str(error))
        hint = did_you_mean(undefined.group(1), columns) if undefined else ""
        reason = f"{type(error).__name__}: {error}"
        raise _bad_expression(expression, reason, columns, hint) from error
    if not isinstance(result, pd.Series) or len(result) != len(frame):
        reason = f"it gives {type(result).__name__} {result!r:.40}, not a value per row"
        raise _bad_expression(expression, reason, columns)
    if not pd.api.types.is_bool_dtype(result):
        reason = f"it gives {result.dtype} values, not true or false"
        raise _bad_expression(expression, reason, columns)
    rows = result.to_numpy(dtype=bool, na_value=False)
    return _compact(name, [name], np.where(rows, 0, -1))


def _bad_expression(
    expression: str, reason: str, columns: list[str], hint: str = ""
) -> ConfigError:
    return ConfigError(
        f"{KEY}: '{expression}' is neither a column nor a true/false expression over the "
        f"columns ({reason}); columns are: {listing(columns)}{hint}"
    )


def _compact(family: str, names: Sequence[str], codes: np.ndarray) -> Slicing:
    """Keep the groups that have rows, in their order, and number them 0..G-1."""
    codes = np.asarray(codes, dtype=np.int64)
    used = np.bincount(codes[codes >= 0], minlength=len(names)) > 0
    renumber = np.append(np.cumsum(used) - 1, -1)  # renumber[-1] keeps -1 as -1
    kept = tuple(n for n, u in zip(names, used, strict=True) if u)
    return Slicing(family, kept, renumber[codes])


def _number(value: float | np.floating[Any]) -> str:
    """An edge as a person writes it: 20000, 0.5, 3.14159 (six significant digits)."""
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return np.format_float_positional(number, precision=6, fractional=False, trim="-")
