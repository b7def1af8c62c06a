"""The six statistics that compare two samples of one column, and the bins they share.

A side is a :class:`Distribution`: numbers (sorted once, so that every statistic after that
is a merge or a search) or exact counts of categories; the functions also take plain counts
or numbers (a :data:`Sample`). Where scipy has the statistic, the result equals scipy's on
the same samples.

=================  =====================  ===============================================
method             takes                  gives
=================  =====================  ===============================================
``ks``             numbers                (D, p-value): a test
``chisquare``      numbers or categories  (X2, p-value): a test, over :func:`bins`
``wasserstein``    numbers                a distance, in the reference's deviations
``jensenshannon``  numbers or categories  a distance in [0, 1], over :func:`bins`
``psi``            numbers or categories  an index, 0 or more, over :func:`bins`
``hellinger``      numbers or categories  a distance in [0, 1], over :func:`bins`
=================  =====================  ===============================================

:func:`compare` runs one by name, as :mod:`prodml.monitor.drift` does for each column.

>>> score, p_value = compare("jensenshannon", {"a": 60, "b": 40}, {"a": 40, "b": 60})
>>> round(score, 3), p_value
(0.17, None)
>>> compare("ks", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
(0.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, TypeAlias, get_args

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

from prodml.data.profile import CategoricalProfile, ColumnProfile, _floats, _kind
from prodml.errors import ConfigError, DataError, did_you_mean, listing

try:  # ks_2samp's own exact p-value (private: should a release move it, ks_2samp itself)
    from scipy.stats._stats_py import _attempt_exact_2kssamp
except ImportError:  # pragma: no cover - scipy 1.11 to 1.17 have it
    _attempt_exact_2kssamp = None

__all__ = [
    "BIN_VALUES",
    "EXACT_ROWS",
    "METHODS",
    "OTHER",
    "Distribution",
    "Method",
    "Sample",
    "bins",
    "chisquare",
    "compare",
    "distinct_values",
    "hellinger",
    "jensenshannon",
    "ks",
    "psi",
    "score",
    "total_variation",
    "wasserstein",
]

Method = Literal["ks", "chisquare", "wasserstein", "jensenshannon", "psi", "hellinger"]
METHODS: tuple[Method, ...] = get_args(Method)
#: numbers of at most this many distinct values (both sides) get one bin per value
BIN_VALUES = 20
#: the category of the rows a capped profile counted in ``other``
OTHER = "(other)"
#: KS's p-value is exact while both sides have fewer rows than this (see :func:`ks`)
EXACT_ROWS = 10_000


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value
class Distribution:
    """One column's values on one side: numbers, or counts of categories.

    Numbers: ``values``, float64, sorted and read-only, nan and infinities dropped (as
    Evidently does). Categories: ``counts``, each value as text -> rows (at least 1).

    >>> Distribution.numeric([3.0, np.nan, 1.0]).values
    array([1., 3.])
    >>> Distribution.from_series(pd.Series(["a", "b", "a", None])).counts
    {'a': 2, 'b': 1}
    """

    values: np.ndarray | None = None
    counts: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if (self.values is None) == (self.counts is None):
            raise ValueError("give either values (numbers) or counts (categories)")
        if self.values is not None:
            object.__setattr__(self, "values", _sorted(self.values))

    @classmethod
    def numeric(cls, values: np.ndarray | Sequence[float]) -> Distribution:
        return cls(values=np.asarray(values, dtype=np.float64))

    @classmethod
    def categorical(cls, counts: Mapping[str, int]) -> Distribution:
        return cls(counts={str(key): int(n) for key, n in counts.items() if n > 0})

    @classmethod
    def from_series(cls, series: pd.Series) -> Distribution:
        """Numbers, and datetimes as seconds since 1970 (as the profile takes them), are
        numeric; booleans, text and categories are counted, each value as text."""
        kind = _kind(series)
        if kind in ("numeric", "datetime"):
            return cls(values=_floats(series, kind))
        tally = series.value_counts()
        counts: dict[str, int] = {}
        for key, n in zip(tally.index.astype(str), tally.tolist(), strict=True):
            if n > 0:  # a categorical dtype lists its unused categories too
                counts[key] = counts.get(key, 0) + n  # 1 and "1" share a key, as in the profile
        return cls(counts=counts)

    @classmethod
    def from_profile(cls, column: ColumnProfile) -> Distribution:
        """A numeric profile's sample, or a categorical profile's exact counts, with the
        rows it counted in ``other`` as the category "(other)"."""
        if isinstance(column, CategoricalProfile):
            return cls.categorical(column.counts | {OTHER: column.other})
        return cls(values=column.sample)

    @property
    def kind(self) -> Literal["numeric", "categorical"]:
        return "categorical" if self.values is None else "numeric"

    @property
    def rows(self) -> int:
        """How many values there are."""
        return sum(self._counts.values()) if self.values is None else self.values.size

    @cached_property
    def distinct(self) -> int:
        """How many distinct values there are."""
        if self.values is None:
            return len(self._counts)
        return int(np.count_nonzero(self.values[1:] != self.values[:-1])) + min(self.rows, 1)

    @property
    def _counts(self) -> dict[str, int]:
        assert self.counts is not None, "a numeric distribution"
        return self.counts

    @property
    def _values(self) -> np.ndarray:
        assert self.values is not None, "a categorical distribution"
        return self.values


#: what the statistics take for one side: a distribution, counts of categories, or numbers
Sample: TypeAlias = Distribution | Mapping[str, int] | np.ndarray | Sequence[float]


def ks(reference: Sample, current: Sample) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov: (D, p-value), as ``scipy.stats.ks_2samp``.

    D = max over x of |F_ref(x) - F_cur(x)|, the empirical distribution functions. The
    p-value is exact while both sides have fewer than 10,000 rows (:data:`EXACT_ROWS`),
    else Smirnov's asymptotic distribution (``scipy.stats.kstwo``) at n = round(n1 n2 /
    (n1 + n2)): ``ks_2samp``'s own two methods, scipy's ``"auto"`` but at exactly 10,000
    rows, where it takes the exact one. That one cost 1.8 ms a column of a window of
    10,000 rows against a profile's sample of 228, a fifth of a monitor's first pass over
    a million predictions; at 10,000 rows the asymptotic one is within 0.3% of it for
    p >= 0.0001 against 228 rows, 0.9% against 1,000, 2.1% against 10,000 (0.03%, 0.5%
    and 1.3% near p = 0.05).

    >>> ks([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    (0.0, 1.0)
    """
    ref, cur = _pair(reference, current)
    return _ks(*_numbers("ks", "", ref, cur))


def chisquare(reference: Sample, current: Sample) -> tuple[float, float]:
    """Pearson's chi-square test that two samples' counts come from one distribution: (X2, p).

    The 2 x k table of both sides' counts in the bins of :func:`bins` (a bin empty on
    both sides left out), expected counts e = row total x column total / all rows, and
    X2 = sum (o - e)^2 / e on k - 1 degrees of freedom: ``scipy.stats.chi2_contingency(
    table, correction=False)``. A two-sample test, because the reference is a sample too
    (a profile counts the held-out rows, not the population): taking its shares as exact,
    as Evidently's ``scipy.stats.chisquare(o, e)`` does, inflates X2 by about 1 + n / m
    for a window of n rows against m, so that a fixed model on unchanged inputs had 2 of
    15 windows flagged. A category only one side has is a bin like any other (a capped
    profile's "(other)" takes the current side's new values). One bin, or an empty side:
    (0, 1).

    >>> chisquare({"a": 50, "b": 50}, {"a": 30, "b": 10})
    (7.291666666666668, 0.006927517977226505)
    """
    return _chisquare(*bins(reference, current))


def wasserstein(reference: Sample, current: Sample) -> float:
    """The first Wasserstein distance over the reference's standard deviation.

    W1 = integral |F_ref(x) - F_cur(x)| dx, as ``scipy.stats.wasserstein_distance``; the
    spread is ``np.std`` (ddof=0), at least 0.001, as Evidently norms it. On two samples of
    the same size W1 is the mean of |ref_(i) - cur_(i)|, the sorted values side by side.

    >>> wasserstein([0.0, 2.0], [1.0, 3.0])
    1.0
    """
    ref, cur = _pair(reference, current)
    return _wasserstein(*_numbers("wasserstein", "", ref, cur))


def jensenshannon(reference: Sample, current: Sample) -> float:
    """Jensen-Shannon distance in base 2, in [0, 1], of the shares p and q of :func:`bins`:
    sqrt((KL(p || m) + KL(q || m)) / 2) with m = (p + q) / 2, as
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.

    >>> jensenshannon({"a": 1}, {"b": 1})
    1.0
    """
    p, q = _shares(*bins(reference, current))
    return float(distance.jensenshannon(p, q, base=2))


def psi(reference: Sample, current: Sample) -> float:
    """Population stability index of the shares p (reference) and q of :func:`bins`:
    sum (p_i - q_i) ln(p_i / q_i). An empty bin's share becomes 0.0001 on its side, or a
    millionth of that side's smallest share when that is below 0.0001 (Evidently's rule).

    >>> round(psi({"a": 50, "b": 50}, {"a": 90, "b": 10}), 4)
    0.8789
    """
    p, q = (_filled(s) for s in _shares(*bins(reference, current)))
    return float(np.sum((p - q) * np.log(p / q)))


def hellinger(reference: Sample, current: Sample) -> float:
    """Hellinger distance, in [0, 1], of the shares p and q of :func:`bins`:
    sqrt(1 - sum sqrt(p_i q_i)).

    >>> hellinger({"a": 1}, {"a": 3}), hellinger({"a": 1}, {"b": 1})
    (0.0, 1.0)
    """
    p, q = _shares(*bins(reference, current))
    return math.sqrt(1.0 - min(max(float(np.sum(np.sqrt(p * q))), 0.0), 1.0))


def total_variation(reference: Sample, current: Sample) -> float:
    """Total variation distance, in [0, 1], of the shares p and q of :func:`bins`:
    sum |p_i - q_i| / 2, the largest difference between the shares the two sides give any
    set of bins (for two bins, KS's D).

    >>> round(total_variation({"a": 60, "b": 40}, {"a": 45, "b": 45, "c": 10}), 3)
    0.15
    """
    p, q = _shares(*bins(reference, current))
    return float(np.abs(p - q).sum() / 2.0)


def bins(reference: Sample, current: Sample) -> tuple[np.ndarray, np.ndarray]:
    """The counts of each side in the bins chi-square, Jensen-Shannon, PSI and Hellinger use.

    Categories: the reference's, then the current's new ones (all in "(other)" when the
    reference has it). Numbers: one bin per value when both sides together hold at most 20
    distinct values; else Sturges' equal bins over both sides' range, as
    ``np.histogram(side, np.histogram_bin_edges(both, bins="sturges"))`` (Evidently bins
    so when the reference alone has more than 20 values).

    >>> bins([0.0, 1.0], [1.0, 1.0])
    (array([1., 1.]), array([0., 2.]))
    """
    ref, cur = _pair(reference, current)
    if ref.counts is not None:
        return _aligned(ref.counts, cur._counts)
    values = distinct_values(ref, cur, BIN_VALUES)
    if values is not None:
        return _tally(ref._values, values), _tally(cur._values, values)
    edges = _sturges(ref._values, cur._values)
    return _histogram(ref._values, edges), _histogram(cur._values, edges)


def compare(
    method: Method, reference: Sample, current: Sample, column: str = ""
) -> tuple[float, float | None]:
    """(score, p-value) of one column by ``method``: the p-value of a test, None for a
    distance. The errors name ``column`` when it is given.

    >>> compare("psi", {"a": 50, "b": 50}, {"a": 90, "b": 10})[1] is None
    True
    >>> compare("ks", {"a": 1}, {"a": 2}, "region")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    prodml.errors.ConfigError: method 'ks' takes numbers, but column 'region' holds categories; ...
    """
    ref, cur = _checked(method, reference, current, column)
    if method == "ks":
        return _ks(*_numbers(method, column, ref, cur))
    if method == "chisquare":
        return chisquare(*_pair(ref, cur, column))
    return score(method, ref, cur, column), None


def score(method: Method, reference: Sample, current: Sample, column: str = "") -> float:
    """The score of one column by ``method`` alone: :func:`compare`'s first value, without
    a test's p-value (KS's exact one costs most of the time below 10,000 rows a side).

    >>> score("ks", [1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    0.5
    """
    ref, cur = _checked(method, reference, current, column)
    if method == "ks":
        return _ks_statistic(*_numbers(method, column, ref, cur))
    if method == "wasserstein":
        return _wasserstein(*_numbers(method, column, ref, cur))
    _pair(ref, cur, column)
    if method == "chisquare":
        return chisquare(ref, cur)[0]
    return {"jensenshannon": jensenshannon, "psi": psi, "hellinger": hellinger}[method](ref, cur)


def distinct_values(
    reference: Distribution, current: Distribution, limit: int
) -> np.ndarray | None:
    """The distinct values of two numeric sides together, if there are at most ``limit``.

    >>> distinct_values(Distribution.numeric([1.0, 2.0]), Distribution.numeric([2.0, 3.0]), 3)
    array([1., 2., 3.])
    >>> distinct_values(Distribution.numeric([1.0, 2.0]), Distribution.numeric([2.0, 3.0]), 2)
    """
    if reference.distinct > limit or current.distinct > limit:
        return None
    values = np.union1d(reference._values, current._values)
    return values if values.size <= limit else None


def _checked(
    method: Method, reference: Sample, current: Sample, column: str
) -> tuple[Distribution, Distribution]:
    if method not in METHODS:
        raise ConfigError(
            f"method '{method}' is not one of: {listing(METHODS)}{did_you_mean(method, METHODS)}"
        )
    ref, cur = _distribution(reference), _distribution(current)
    for side, values in (("the reference", ref), ("the current data", cur)):
        if values.rows == 0:
            raise DataError(f"column '{column}' has no values in {side}; drift needs some")
    return ref, cur


def _ks(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """``scipy.stats.ks_2samp(ref, cur)`` of two sorted samples (see :func:`ks` for its
    method), without sorting them again or its checks (they took two thirds of its time):
    below EXACT_ROWS a side, scipy's own exact p-value, called as ks_2samp calls it; beyond,
    or where that fails, Smirnov's asymptotic one. Up to 10,000 rows a side, D is rounded
    to a multiple of 1 / lcm(n1, n2), as ks_2samp's default (then exact) method gives it."""
    n1, n2 = int(ref.size), int(cur.size)
    if max(n1, n2) < EXACT_ROWS and _attempt_exact_2kssamp is None:
        result = stats.ks_2samp(ref, cur, method="exact")
        return float(result.statistic), float(result.pvalue)
    d = _ks_statistic(ref, cur)
    if max(n1, n2) <= 10_000:
        lcm = (n1 // math.gcd(n1, n2)) * n2
        d = int(np.round(d * lcm)) * 1.0 / lcm
    if max(n1, n2) < EXACT_ROWS:
        exact, d, p_value = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
        if exact:
            return float(d), float(p_value)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    return float(d), float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def _ks_statistic(ref: np.ndarray, cur: np.ndarray) -> float:
    """scipy's D, from the two sorted samples without sorting again, evaluated only where
    it can be largest: at each value of the smaller sample (the difference of the two
    distribution functions there) and just below it (as at the largest value of either
    sample under it). Between two steps of one function the difference moves one way,
    so its extremes over all values are among these, and they are the same floats:
    searchsorted's counts over each side's size, subtracted, as scipy takes them."""
    steps = ref if ref.size <= cur.size else cur
    differences = [np.zeros(1)]  # at the largest value of all, both functions are 1
    for side in ("left", "right"):
        below = np.searchsorted(ref, steps, side) / ref.size
        differences.append(below - np.searchsorted(cur, steps, side) / cur.size)
    both = np.concatenate(differences)
    return max(float(np.clip(-both.min(), 0, 1)), float(both.max()))


def _wasserstein(ref: np.ndarray, cur: np.ndarray) -> float:
    if ref.size == cur.size:  # the quantile functions step at the same points
        w1 = float(np.mean(np.abs(ref - cur)))
    else:  # scipy's: both distribution functions between each pair of successive values
        both = np.sort(np.concatenate([ref, cur]), kind="stable")  # a merge of two runs
        below = both[:-1]
        gaps = np.abs(
            np.searchsorted(ref, below, "right") / ref.size
            - np.searchsorted(cur, below, "right") / cur.size
        )
        w1 = float(np.dot(gaps, np.diff(both)))
    return w1 / max(float(np.std(ref)), 0.001)


def _chisquare(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    seen = (ref + cur) > 0
    table = np.array([ref[seen], cur[seen]])
    if table.shape[1] < 2 or not table.sum(axis=1).all():
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def _shares(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return ref / ref.sum(), cur / cur.sum()


def _filled(shares: np.ndarray) -> np.ndarray:
    smallest = float(shares[shares > 0].min())
    return np.where(shares > 0, shares, smallest / 1e6 if smallest <= 1e-4 else 1e-4)


def _aligned(ref: Mapping[str, int], cur: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' counts over the reference's categories, then the current's new ones."""
    pooled = dict.fromkeys(ref, 0)
    for key, n in cur.items():
        bin = OTHER if key not in pooled and OTHER in ref else key
        pooled[bin] = pooled.get(bin, 0) + n
    return (
        np.array([ref.get(key, 0) for key in pooled], dtype=np.float64),
        np.array(list(pooled.values()), dtype=np.float64),
    )


def _tally(values: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    """How many of the sorted ``values`` equal each of ``distinct``."""
    return (
        np.searchsorted(values, distinct, "right") - np.searchsorted(values, distinct, "left")
    ).astype(np.float64)


def _sturges(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """``np.histogram_bin_edges(both, bins="sturges")``, from the ends of two sorted arrays."""
    low, high = min(ref[0], cur[0]), max(ref[-1], cur[-1])
    width = (high - low) / (np.log2(ref.size + cur.size) + 1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    count = int(np.ceil((high - low) / width)) if width else 1
    return np.linspace(low, high, count + 1, endpoint=True)


def _histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(values, edges)[0]`` of sorted values within the edges: [a, b) bins,
    the last one closed."""
    cuts = np.searchsorted(values, edges, "left")
    cuts[-1] = values.size
    return np.diff(cuts).astype(np.float64)


def _sorted(values: np.ndarray) -> np.ndarray:
    """Float64, finite and sorted: a read-only view of ``values`` when it already is."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        values = values[finite]
    if values.size > 1 and not (values[1:] >= values[:-1]).all():
        values = np.sort(values)
    values = values.view()  # read-only without freezing the caller's array
    values.flags.writeable = False
    return values


def _pair(
    reference: Sample, current: Sample, column: str = ""
) -> tuple[Distribution, Distribution]:
    ref, cur = _distribution(reference), _distribution(current)
    if ref.kind != cur.kind:
        name = f"column '{column}'" if column else "the column"
        raise DataError(
            f"{name} holds {ref.kind} values in the reference but {cur.kind} values in the "
            "current data; give it one type on both sides"
        )
    return ref, cur


def _distribution(sample: Sample) -> Distribution:
    if isinstance(sample, Distribution):
        return sample
    if isinstance(sample, Mapping):
        return Distribution.categorical(sample)
    return Distribution.numeric(sample)


def _numbers(
    method: Method, column: str, reference: Sample, current: Sample
) -> tuple[np.ndarray, np.ndarray]:
    ref, cur = _pair(reference, current, column)
    if ref.values is None or cur.values is None:
        others = [m for m in METHODS if m not in ("ks", "wasserstein")]
        name = f"column '{column}'" if column else "the column"
        raise ConfigError(
            f"method '{method}' takes numbers, but {name} holds categories; for categories "
            f"use: {listing(others)}"
        )
    return ref.values, cur.values
