"""Drift: how far each column has moved from the reference, as a score, a threshold and a flag.

Each side of a column is a :class:`Distribution`, numbers or counts of categories, and the
six statistics of :mod:`prodml.monitor.statistics` compare two of them. :func:`drift_report`
scores every column both sides have, with the method given or the one :func:`default_method`
picks, corrects the p-values for testing many columns at once, and says which columns
drifted and whether the data set did.

The default rule is the same at every window size: a two-sample test, and a difference
large enough to matter.

========================================  =============================================
column                                    drifted when
========================================  =============================================
numbers of more than 5 distinct values    ``ks``: p < 0.05 and D >= 0.04
categories, or numbers of <= 5 values     ``chisquare``: p < 0.05 and total variation
                                          >= 0.04
========================================  =============================================

"Values" are the distinct values of both sides together; the p-values of all the columns
of a report that are tested are corrected together (Holm by default) before they are
compared with ``alpha``. KS's D is the largest gap between the two distribution
functions, the total variation distance the largest gap between the shares the two sides
give any set of categories (for two categories, D again). 0.04 (:data:`MIN_EFFECT`) is
the D of a shift of a tenth of a standard deviation of a normal feature.

The rule is monotone in the window's size: the D a test needs falls as windows grow and
the 0.04 stays, so a difference found in a window is found as often or more in a larger
one. The field's size-aware rule (Evidently's ``get_default_stattest``, which this module
followed before) is not: tests up to 1,000 rows, Wasserstein and Jensen-Shannon distances
at 0.1 above, so that a feature whose D against the reference was 0.066 was found in 12 of
12 windows of 1,000 rows and in 2 of 5 of 2,000 (a distance in standard deviations
hardly moves when a few wide outliers make the deviation large). The 0.04 keeps what the
distances were for: a test alone flags ever smaller differences as windows grow.

What the rule promises, checked on seeded data by ``tests/monitor/test_drift_window_sizes.py``
and ``test_drift_two_sample.py``:

- without drift, at most 5% of windows flag any column (Holm keeps the family-wise error
  rate), at every window size;
- a feature whose D against the reference is about 0.066 (a shift of 0.17 standard
  deviations of 98% of its rows; 2% are outliers 50 times wider), one of 10 against
  20,000 reference rows: found in 97% of windows of 1,000 rows, in all of 2,000, 4,000
  and 8,000 (100 windows each), where Wasserstein's 0.1 found it in 1% at 2,000 rows;
- predicted classes whose shares move from 60/30/10% to 50/35/15% (total variation 0.1),
  against 2,000 reference rows: found in every one of 200 windows of 1,000 rows.

A threshold can instead be put on a column's score (drift when score >= threshold): a
constant, or one learned from the reference by :func:`learned_thresholds`.

>>> rng = np.random.default_rng(0)
>>> reference = {
...     "income": Distribution.numeric(rng.normal(50, 10, 5000)),
...     "region": Distribution.categorical({"north": 600, "south": 400}),
... }
>>> current = {
...     "income": Distribution.numeric(rng.normal(55, 10, 5000)),
...     "region": Distribution.categorical({"north": 55, "south": 45}),
... }
>>> report = drift_report(reference, current)
>>> income = report.scores["income"]
>>> income.method, round(income.score, 2), income.drifted
('ks', 0.22, True)
>>> region = report.scores["region"]
>>> region.method, round(region.p_value, 2), region.drifted
('chisquare', 0.33, False)
>>> report.share, report.drifted
(0.5, True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from prodml.errors import ConfigError, DataError, did_you_mean, listing
from prodml.monitor.statistics import (
    METHODS,
    Distribution,
    Method,
    compare,
    distinct_values,
    total_variation,
)

__all__ = [
    "CORRECTIONS",
    "DISTANCE_THRESHOLD",
    "FEW_VALUES",
    "METHODS",
    "MIN_EFFECT",
    "Correction",
    "Distribution",
    "DriftReport",
    "DriftScore",
    "Method",
    "Threshold",
    "default_method",
    "distributions",
    "drift_report",
    "learned_thresholds",
]

Correction = Literal["holm", "bonferroni", "none"]
CORRECTIONS: tuple[Correction, ...] = get_args(Correction)
#: a distance's threshold on its score unless one is given
DISTANCE_THRESHOLD = 0.1
#: a column judged by a test drifts only if its effect (KS's D, or the total variation
#: distance of its shares) is at least this large too
MIN_EFFECT = 0.04
#: the default rule: numbers of at most this many distinct values are taken as categories
FEW_VALUES = 5


def distributions(
    frame: pd.DataFrame, columns: Sequence[str] | None = None
) -> Mapping[str, Distribution]:
    """The :class:`Distribution` of each of ``columns`` (by default all), built each time it
    is looked up and not kept: a report over a large frame holds a few columns at a time.

    >>> distributions(pd.DataFrame({"x": [2.0, 1.0], "y": ["a", "a"]}))["y"].counts
    {'a': 2}
    """
    labels = {str(c): c for c in frame.columns}
    names = list(labels) if columns is None else list(columns)
    _check_columns(names, list(labels), "the frame")
    return _FrameColumns(frame, {name: labels[name] for name in names})


class _FrameColumns(Mapping[str, Distribution]):
    def __init__(self, frame: pd.DataFrame, labels: dict[str, Any]) -> None:
        self._frame, self._labels = frame, labels  # name -> the frame's label

    def __getitem__(self, name: str) -> Distribution:
        return Distribution.from_series(self._frame[self._labels[name]])

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)


def default_method(reference: Distribution, current: Distribution) -> Method:
    """The method the default rule (see the module's docstring) picks for one column: the
    same at every window size.

    >>> numbers = Distribution.numeric(np.arange(2000.0))
    >>> default_method(numbers, Distribution.numeric(np.arange(50_000.0)))
    'ks'
    >>> default_method(Distribution.numeric([1.0, 3.0]), Distribution.numeric([1.0, 2.0]))
    'chisquare'
    """
    numeric = reference.kind == current.kind == "numeric"
    numeric = numeric and distinct_values(reference, current, FEW_VALUES) is None
    return "ks" if numeric else "chisquare"


@dataclass(frozen=True)
class Threshold:
    """A threshold on the score of one method: drift when score >= value."""

    method: Method
    value: float


@dataclass(frozen=True)
class DriftScore:
    """One column's drift: its score, and what it was compared with.

    ``score`` is the statistic (KS's D, chi-square's X2) or the distance; ``p_value`` the
    test's p-value (None for a distance) and ``p_adjusted`` it after the report's correction
    (None when the column is judged on its score). ``threshold_on`` says what ``threshold``
    applies to: drift when p_adjusted < threshold and ``effect`` is at least
    :data:`MIN_EFFECT`, or when score >= threshold. ``effect`` is how large the difference
    is: KS's D, the total variation distance of chi-square's bins, a distance's score.
    """

    column: str
    method: Method
    score: float
    p_value: float | None
    p_adjusted: float | None
    threshold: float
    threshold_on: Literal["p_value", "score"]
    drifted: bool
    effect: float
    reference_rows: int
    current_rows: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; a score that is not finite is None."""
        return {
            key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in asdict(self).items()
        }


@dataclass(frozen=True)
class DriftReport:
    """The drift of each column both sides have, and of the data set as a whole."""

    scores: dict[str, DriftScore]
    correction: Correction
    drift_share: float  # the data set drifted when at least this share of its columns did

    @property
    def share(self) -> float:
        """The share of the columns that drifted."""
        return sum(s.drifted for s in self.scores.values()) / len(self.scores)

    @property
    def drifted(self) -> bool:
        return self.share >= self.drift_share

    @property
    def drifted_columns(self) -> list[str]:
        return [name for name, s in self.scores.items() if s.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "share": self.share,
            "drifted": self.drifted,
            "drift_share": self.drift_share,
            "correction": self.correction,
            "scores": {name: s.to_dict() for name, s in self.scores.items()},
        }


def drift_report(
    reference: Mapping[str, Distribution],
    current: Mapping[str, Distribution],
    *,
    method: Method | None = None,
    thresholds: Mapping[str, float | Threshold] | None = None,
    correction: Correction = "holm",
    alpha: float = 0.05,
    drift_share: float = 0.5,
) -> DriftReport:
    """Score each column of ``reference`` that ``current`` also has.

    A column gets ``method``, else :func:`default_method`'s. A column named in
    ``thresholds`` is judged on its score (drift when score >= threshold), a
    :class:`Threshold` fixing its method too; the others on their method's default: a
    distance at 0.1, a test when its p-value is below ``alpha`` after ``correction``
    ("holm", "bonferroni" or "none") over all the columns so tested and its effect is at
    least :data:`MIN_EFFECT`.
    """
    _check_choice("method", method, METHODS, optional=True)
    _check_choice("correction", correction, CORRECTIONS)
    names = [name for name in reference if name in current]
    if not names:
        raise DataError(
            f"the current data has no column of the reference; the reference has: "
            f"{listing(reference) or '(none)'}; the current data: {listing(current) or '(none)'}"
        )
    given = dict(thresholds or {})
    _check_columns(list(given), names, "both the reference and the current data")

    def scored(name: str) -> tuple[Method, float, float | None, float | None, float, int, int]:
        ref, cur, threshold = reference[name], current[name], given.get(name)  # once each
        chosen = method or default_method(ref, cur)
        if isinstance(threshold, Threshold):
            if method is not None and threshold.method != method:
                raise ConfigError(
                    f"the threshold of column '{name}' is for method '{threshold.method}', "
                    f"not '{method}'; give a threshold for '{method}', or no method"
                )
            chosen, threshold = threshold.method, threshold.value
        elif threshold is not None:
            threshold = float(threshold)
        score, p_value = compare(chosen, ref, cur, name)
        effect = total_variation(ref, cur) if chosen == "chisquare" else score
        return chosen, score, p_value, threshold, effect, ref.rows, cur.rows

    with ThreadPoolExecutor(os.cpu_count()) as pool:  # numpy's sorts and searches free the GIL
        columns = dict(zip(names, pool.map(scored, names), strict=True))
    # the p-values of the columns judged by them, corrected together
    tested = {
        n: p for n, (_, _, p, limit, *_) in columns.items() if p is not None and limit is None
    }
    adjusted = dict(zip(tested, _adjusted(list(tested.values()), correction), strict=True))
    scores = {}
    for name, (chosen, score, p_value, threshold, effect, *rows) in columns.items():
        p_adjusted = adjusted.get(name)
        if p_adjusted is None:
            limit = DISTANCE_THRESHOLD if threshold is None else threshold
            on: Literal["p_value", "score"] = "score"
            drifted = score >= limit
        else:
            limit, on = alpha, "p_value"
            drifted = p_adjusted < alpha and effect >= MIN_EFFECT
        scores[name] = DriftScore(
            name, chosen, score, p_value, p_adjusted, limit, on, bool(drifted), effect, *rows
        )
    return DriftReport(scores, correction, drift_share)


def learned_thresholds(
    reference: pd.DataFrame,
    window: int,
    *,
    method: Method | None = None,
    columns: Sequence[str] | None = None,
) -> dict[str, Threshold]:
    """Thresholds learned from the reference: mean + 3 standard deviations of window scores.

    The rows, in order, are cut into windows of ``window`` rows (the last rows, fewer, only
    ever belong to the rest); each window is scored against all the other rows with
    ``method``, or with the one the default rule picks for a window of that size, and each
    column's threshold is mean + 3 x std (ddof=1) of its windows' scores. For KS and
    chi-square it is on the statistic too: their p-values, uniform on [0, 1] without drift,
    have no useful mean + 3 std. Give the result to :func:`drift_report` as ``thresholds``.

    >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 1.0, 2.0, 4.0, 1.0, 2.0, 3.0]})
    >>> learned_thresholds(frame, 3, method="wasserstein")["x"]  # doctest: +ELLIPSIS
    Threshold(method='wasserstein', value=0.676...)
    """
    _check_choice("method", method, METHODS, optional=True)
    if window < 1:
        raise ConfigError(f"window must be at least 1 row; got {window}")
    count = len(reference) // window
    if count < 3:
        raise DataError(
            f"learning thresholds takes at least 3 windows of {window} rows, so "
            f"{3 * window:,} rows; the reference has {len(reference):,}: give more rows or a "
            "smaller window"
        )
    present = [str(c) for c in reference.columns]
    names = present if columns is None else list(columns)
    _check_columns(names, present, "the reference")
    learned = {}
    for name in names:
        series = reference[name]
        scores, chosen = [], method
        for k in range(count):
            start, stop = k * window, (k + 1) * window
            rest = Distribution.from_series(pd.concat([series.iloc[:start], series.iloc[stop:]]))
            inside = Distribution.from_series(series.iloc[start:stop])
            # the two sides together are the whole column: the rule picks the same each time
            chosen = chosen or default_method(rest, inside)
            scores.append(compare(chosen, rest, inside, name)[0])
        assert chosen is not None
        value = float(np.mean(scores) + 3 * np.std(scores, ddof=1))
        learned[name] = Threshold(chosen, value)
    return learned


def _adjusted(p_values: list[float], correction: Correction) -> list[float]:
    """The p-values after Holm's step-down or Bonferroni's correction (at most 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    if correction == "none" or p.size == 0:
        return p_values
    if correction == "bonferroni":
        return [min(value * p.size, 1.0) for value in p_values]
    order = np.argsort(p, kind="stable")  # Holm: the i-th smallest times (m - i + 1), rising
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1)), 1.0)
    return [float(value) for value in adjusted]


def _check_choice(
    name: str, value: str | None, allowed: Sequence[str], *, optional: bool = False
) -> None:
    if (value is None and optional) or value in allowed:
        return
    raise ConfigError(
        f"{name} '{value}' is not one of: {listing(allowed)}{did_you_mean(value, allowed)}"
    )


def _check_columns(names: Sequence[str], present: Sequence[str], where: str) -> None:
    absent = [name for name in names if name not in present]
    if absent:
        raise DataError(
            f"column '{absent[0]}' is not in {where}; its columns are: {listing(present)}"
            f"{did_you_mean(absent[0], present)}"
        )
