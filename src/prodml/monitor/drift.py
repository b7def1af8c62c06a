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

from prodml.data.profile import _floats, _kind
from prodml.errors import ConfigError, DataError, did_you_mean, listing
from prodml.monitor.statistics import (
    METHODS,
    Distribution,
    Method,
    compare,
    distinct_values,
    total_variation,
)
from prodml.monitor.statistics import score as column_score

__all__ = [
    "CORRECTIONS",
    "DISTANCE_THRESHOLD",
    "FEW_VALUES",
    "LEARNING_WINDOWS",
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
#: learned thresholds: this many simulated windows without drift, a false flag rate of
#: at most 1 / (this + 1) per feature-window
LEARNING_WINDOWS = 199


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
    sample_rows: int = 10_000,
    seed: int = 0,
) -> dict[str, Threshold]:
    """Thresholds learned from the reference rows, with a false flag rate of at most 0.5%
    per feature-window: above the scores of 199 simulated windows without drift.

    Each simulated window is ``window`` rows drawn at random from ``reference`` and
    compared, with ``method`` or the default rule's, with other rows of it, as many as a
    live window is compared with: the profile's sample for numbers (``sample_rows``, 10,000
    as a fit saves it) and every other row for categories (the profile counts them all).
    Where fewer rows are left, a window is compared with all of them, which can only raise
    the threshold. A column's threshold is just above its largest simulated score: a live
    window without drift is one more of the same kind, so it scores above all 199 with a
    chance of at most 1 in 200. For KS and chi-square it is on the statistic too. Give
    the result to :func:`drift_report` as ``thresholds``.

    Measured on the five kinds of feature of ``tests/monitor/test_drift_learned.py`` (20
    references, 100 live windows each, scored against the profile as the monitor does):
    0.42% of the feature-windows flagged for windows of 1,000 rows against 25,000
    reference rows, 0.41% for 500 against 10,000, 0.14% for 2,000 against 6,000 (fewer
    rows left: higher thresholds); a feature 0.066 from the reference in KS distance was
    flagged in 87% of 100 windows of 1,000 rows. The former rule, mean + 3 standard
    deviations of the scores of four or five windows cut in turn, each against all the
    other rows, flagged 2.5%, 2.2% and 8.0% of them, and 9% to 20% on outside data: a few
    scores estimate a deviation badly, and live windows are compared with the profile's
    sample, not with every other row.

    >>> frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=300)})
    >>> learned_thresholds(frame, 100)["x"]  # doctest: +ELLIPSIS
    Threshold(method='ks', value=0.2...)
    """
    _check_choice("method", method, METHODS, optional=True)
    if window < 1:
        raise ConfigError(f"window must be at least 1 row; got {window}")
    if len(reference) < 2 * window:
        raise DataError(
            f"learning thresholds for windows of {window:,} rows takes at least "
            f"{2 * window:,} reference rows (a window, and rows to compare it with); the "
            f"reference has {len(reference):,}: give more rows or a smaller window"
        )
    present = [str(c) for c in reference.columns]
    names = present if columns is None else list(columns)
    _check_columns(names, present, "the reference")
    simulated = [_Simulated(reference[name], method, name) for name in names]
    scores: list[list[float]] = [[] for _ in names]
    rng, size = np.random.default_rng(seed), min(len(reference), window + sample_rows)
    for _ in range(LEARNING_WINDOWS):
        rows = rng.choice(len(reference), size, replace=False)
        for column, found in zip(simulated, scores, strict=True):
            found.append(column.score(rows[:window], rows[window:]))
    # just above the largest: by a billionth, more than two ways of computing one score
    # differ by in their last digits
    return {
        c.name: Threshold(c.method, max(found) + 1e-9 * (1.0 + max(found)))
        for c, found in zip(simulated, scores, strict=True)
    }


class _Simulated:
    """One column of the reference, scored in simulated windows given by row positions:
    as :func:`~prodml.monitor.statistics.score` scores their Distributions, without pandas
    each time."""

    def __init__(self, series: pd.Series, method: Method | None, name: str) -> None:
        self.name = name
        self.whole = Distribution.from_series(series)
        self.method = method or default_method(self.whole, self.whole)
        if self.whole.counts is None:
            self.values = _floats(series, _kind(series))
            finite = np.isfinite(self.values)
            distinct, ranks = np.unique(self.values[finite], return_inverse=True)
            self.ranks = np.full(len(series), -1)  # of each row's value among the distinct
            self.ranks[finite], self.distinct = ranks, distinct.size
        else:
            present = series.notna().to_numpy()
            labels, codes = np.unique(series[present].astype(str).to_numpy(), return_inverse=True)
            self.labels, self.codes = labels.tolist(), np.full(len(series), -1)
            self.codes[present] = codes

    def score(self, inside: np.ndarray, others: np.ndarray) -> float:
        """The score of the rows ``inside`` against the rows ``others`` (for numbers) or
        against every other row (for categories, which the profile counts in full)."""
        if self.whole.counts is not None:
            window = self._counts(inside)
            return column_score(self.method, _without(self.whole, window), window, self.name)
        if self.method == "ks":
            return self._ks(self.ranks[inside], self.ranks[others])
        numbers = (
            Distribution.numeric(self.values[others]),
            Distribution.numeric(self.values[inside]),
        )
        return column_score(self.method, *numbers, self.name)

    def _counts(self, rows: np.ndarray) -> Distribution:
        codes = self.codes[rows]
        counts = np.bincount(codes[codes >= 0], minlength=len(self.labels))
        return Distribution.categorical(dict(zip(self.labels, counts.tolist(), strict=True)))

    def _ks(self, inside: np.ndarray, others: np.ndarray) -> float:
        """KS's D from the ranks of the values, without sorting: the gap between the two
        distribution functions at each distinct value."""
        inside, others = inside[inside >= 0], others[others >= 0]
        if not (inside.size and others.size):  # the error for a side without values
            return column_score("ks", others.astype(float), inside.astype(float), self.name)
        gaps = np.cumsum(np.bincount(inside, minlength=self.distinct)) / inside.size
        gaps -= np.cumsum(np.bincount(others, minlength=self.distinct)) / others.size
        return float(np.abs(gaps).max())


def _without(whole: Distribution, part: Distribution) -> Distribution:
    """The counts of categories of ``whole`` that are not in ``part`` (a part of it)."""
    assert whole.counts is not None and part.counts is not None
    return Distribution.categorical({k: n - part.counts.get(k, 0) for k, n in whole.counts.items()})


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
