"""Agreement between labelers: raw agreement, Cohen's and Fleiss' kappa, Krippendorff's alpha.

Two shapes of input. ``units`` is a (units x coders) array of category codes or numbers
with NaN where a coder gave no value; ``counts`` is a (units x categories) table of how
many values of each category a unit got. :func:`value_counts` turns the first into the
second, and everything else is computed from counts, so a labeler may be missing from any
unit. Only *pairable* units, those with two or more values, say anything about agreement.

A coefficient that is undefined for its input (no pairable unit, or every value in one
category, so that chance agreement is already perfect) raises :class:`DataError` naming
the reason, rather than returning NaN, so a report can show why a number is missing.

>>> units = np.array([[1, 1], [2, 2], [1, 2], [2, 2]], dtype=float)
>>> raw_agreement(units), round(krippendorff_alpha(units), 3)
(0.75, 0.533)
>>> round(cohen_kappa(["a", "b", "a", "b"], ["a", "b", "b", "b"]), 3)
0.5
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from prodml.errors import ConfigError, DataError, did_you_mean, listing

Level = Literal["nominal", "ordinal", "interval"]
LEVELS: tuple[str, ...] = get_args(Level)


def raw_agreement(units: np.ndarray) -> float:
    """The share of agreeing pairs among all pairs of values given to the same unit.

    Pairs are pooled over the pairable units, so a unit of four values (six pairs) weighs
    six times as much as a unit of two (one pair).

    >>> raw_agreement(np.array([[1, 1, 1], [1, 2, np.nan], [3, np.nan, np.nan]]))
    0.75
    """
    return pair_agreement(value_counts(units)[0])


def pair_agreement(counts: np.ndarray) -> float:
    """:func:`raw_agreement` from a (units x categories) count table."""
    counts = _counts(counts)
    per_unit = counts.sum(axis=1)
    pairs = float((per_unit * (per_unit - 1)).sum()) / 2
    if pairs == 0:
        raise DataError("raw agreement needs a unit with two or more values; no unit has")
    return float((counts * (counts - 1)).sum()) / 2 / pairs


def cohen_kappa(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Cohen's kappa of two coders' labels, equal to ``sklearn.metrics.cohen_kappa_score``.

    >>> round(cohen_kappa([0, 0, 1, 1, 2], [0, 1, 1, 1, 2]), 4)
    0.6875
    """
    first, second = np.asarray(a), np.asarray(b)
    if first.ndim != 1 or first.shape != second.shape:
        raise DataError(
            f"Cohen's kappa needs two equally long lists of labels; got {first.shape} and "
            f"{second.shape}"
        )
    if first.size == 0:
        raise DataError("Cohen's kappa needs at least one unit both coders labeled; got none")
    classes, codes = np.unique(np.concatenate([first, second]), return_inverse=True)
    k = len(classes)
    confusion = np.bincount(codes[: first.size] * k + codes[first.size :], minlength=k * k)
    confusion = confusion.reshape(k, k).astype(np.float64)
    # scikit-learn's operations, in its order, so the two agree to the last bit
    sum0, sum1 = confusion.sum(axis=0), confusion.sum(axis=1)
    expected = np.outer(sum0, sum1) / sum0.sum()
    weights = np.ones((k, k))
    np.fill_diagonal(weights, 0)
    chance = np.sum(weights * expected)
    if chance == 0:
        raise DataError(
            f"Cohen's kappa is undefined when both coders give one and the same class "
            f"('{classes[0]}') to every unit"
        )
    return float(1 - np.sum(weights * confusion) / chance)


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of a (units x categories) table whose rows all sum to the same n >= 2.

    Equal to ``statsmodels.stats.inter_rater.fleiss_kappa(counts, method="fleiss")``.

    >>> round(fleiss_kappa(np.array([[3, 0], [0, 3], [2, 1], [1, 2]])), 4)
    0.3333
    """
    table = _counts(counts).astype(np.float64)
    if table.shape[0] == 0:
        raise DataError("Fleiss' kappa needs at least one unit; the table has none")
    per_unit = table.sum(axis=1)
    n = per_unit.max()
    if per_unit.min() != n or n < 2:
        raise DataError(
            "Fleiss' kappa needs the same number (two or more) of values on every unit; "
            f"units have {per_unit.min():g} to {n:g}"
        )
    shares = table.sum(axis=0) / table.sum()
    observed = (((table * table).sum(axis=1) - n) / (n * (n - 1.0))).mean()
    chance = (shares * shares).sum()
    if chance == 1:
        raise DataError(_one_category("Fleiss' kappa", np.flatnonzero(shares)[0]))
    return float((observed - chance) / (1 - chance))


def krippendorff_alpha(units: np.ndarray, level: Level = "nominal") -> float:
    """Krippendorff's alpha of a (units x coders) array with NaN for missing values.

    The coincidence-matrix method of Krippendorff (2011), "Computing Krippendorff's
    Alpha-Reliability". ``nominal``: any two different values disagree by 1; ``ordinal``:
    by the squared rank distance over the values' frequencies; ``interval``: by (a - b)^2.

    >>> units = np.array([[1, 1, np.nan], [2, 2, 2], [3, 3, 1], [np.nan, 2, 2]])
    >>> round(krippendorff_alpha(units), 3), round(krippendorff_alpha(units, "interval"), 3)
    (0.71, 0.265)
    """
    counts, values = value_counts(units)
    return alpha_from_coincidences(coincidences(counts), values, level)


def value_counts(units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(units x categories) counts of each unit's values, and the sorted distinct values.

    >>> counts, values = value_counts(np.array([[1, 3, np.nan], [3, 3, 3]]))
    >>> counts.tolist(), values.tolist()
    ([[1, 1], [0, 3]], [1.0, 3.0])
    """
    array = np.asarray(units, dtype=np.float64)
    if array.ndim != 2:
        raise DataError(f"units must be a (units x coders) table; got shape {array.shape}")
    present = ~np.isnan(array)
    values, codes = np.unique(array[present], return_inverse=True)
    rows = np.broadcast_to(np.arange(array.shape[0])[:, None], array.shape)[present]
    counts = np.zeros((array.shape[0], len(values)), dtype=np.int64)
    np.add.at(counts, (rows, codes.reshape(-1)), 1)
    return counts, values


def coincidences(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's (categories x categories) coincidence matrix of a count table.

    Each pairable unit of m values adds its m(m-1) ordered pairs of values, each weighted
    1 / (m - 1), so the unit adds m in all; units of one value add nothing.

    >>> coincidences(np.array([[2, 1], [1, 0]])).tolist()
    [[1.0, 1.0], [1.0, 0.0]]
    """
    table = _counts(counts).astype(np.float64)
    per_unit = table.sum(axis=1)
    table, per_unit = table[per_unit >= 2], per_unit[per_unit >= 2]
    weighted = table / (per_unit - 1)[:, None]
    matrix: np.ndarray = weighted.T @ table
    matrix[np.diag_indices_from(matrix)] -= weighted.sum(axis=0)
    return matrix


def alpha_from_coincidences(
    matrix: np.ndarray, values: npt.ArrayLike, level: Level = "nominal"
) -> float:
    """Krippendorff's alpha from a coincidence matrix over the sorted category ``values``.

    >>> alpha_from_coincidences(np.array([[2.0, 0.0], [0.0, 2.0]]), [0, 1])
    1.0
    """
    check_level(level)
    matrix = np.asarray(matrix, dtype=np.float64)
    marginals = matrix.sum(axis=1)
    n = marginals.sum()
    if n == 0:
        raise DataError("Krippendorff's alpha needs a unit with two or more values; no unit has")
    used = marginals > 0
    if used.sum() == 1:
        raise DataError(_one_category("Krippendorff's alpha", np.asarray(values)[used][0]))
    delta = _distance(np.asarray(values, dtype=np.float64)[used], marginals[used], level)
    observed = (matrix[np.ix_(used, used)] * delta).sum()
    expected = (np.outer(marginals[used], marginals[used]) * delta).sum()
    return float(1 - (n - 1) * observed / expected)


def check_level(level: str) -> None:
    """Raise :class:`ConfigError` unless ``level`` is one of :data:`LEVELS`."""
    if level not in LEVELS:
        raise ConfigError(
            f"level '{level}' is not one of {listing(LEVELS)}{did_you_mean(level, LEVELS)}"
        )


def _distance(values: np.ndarray, marginals: np.ndarray, level: Level) -> np.ndarray:
    """The squared difference delta^2(c, k) between every two used categories."""
    delta: np.ndarray
    if level == "nominal":
        delta = 1.0 - np.eye(len(values))
    elif level == "interval":
        delta = np.subtract.outer(values, values) ** 2
    else:  # ordinal: the frequencies of the values from c through k, less half of each end's
        cumulative = np.concatenate([[0.0], np.cumsum(marginals)])
        ranks = np.arange(len(values))
        low, high = np.minimum.outer(ranks, ranks), np.maximum.outer(ranks, ranks)
        between = cumulative[high + 1] - cumulative[low]
        delta = (between - np.add.outer(marginals, marginals) / 2) ** 2
    return delta


def _counts(counts: np.ndarray) -> np.ndarray:
    table = np.asarray(counts)
    if table.ndim != 2:
        raise DataError(f"counts must be a (units x categories) table; got shape {table.shape}")
    if table.size and (table.min() < 0 or not np.array_equal(table, np.round(table))):
        raise DataError("counts must be whole numbers of values, zero or more")
    return table.astype(np.int64)


def _one_category(name: str, category: Any) -> str:
    return (
        f"{name} is undefined when every value is in one category ('{category}'): "
        "chance agreement is then already perfect"
    )
