"""Where a model may decide alone: the coverage-against-error curve of its confidence, and
the threshold that meets a target error.

A prediction whose confidence (a classifier's top probability) is at or above a threshold
is decided by the model; the others are deferred to a person. Lowering the threshold lets
the model decide more (coverage) and err more often among what it decides. On labelled
predictions the module counts, for every candidate threshold, how many would be automatic
and how many of those are wrong, and bounds their error rate from above with the exact
(Clopper-Pearson) one-sided interval, so the bound holds at small counts too.

:func:`threshold_for` picks the lowest threshold whose upper bound is at most the target:
the most coverage for which the data show, with 95% confidence, that the automatic error
is within the target. The guarantee is for the threshold taken alone; a bound checked at
many thresholds and the best one kept is a little optimistic, which is why the bound is
one-sided at 95% and not the estimate itself (measured on the loans example in
``tests/automation/test_threshold.py``: on held-out data the automatic error stays within
the target).

>>> import numpy as np
>>> points = curve(np.array([0.9, 0.8, 0.8, 0.6]), np.array([True, True, False, True]))
>>> [(p.threshold, p.automatic, p.errors) for p in points]
[(0.9, 1, 0), (0.8, 3, 1), (0.6, 4, 1)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from prodml.errors import ConfigError, DataError

#: The one-sided confidence of the error bound.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Point:
    """One threshold: predictions at or above it are automatic (``automatic`` of
    ``total``, ``coverage`` the share), ``errors`` of them wrong; ``error`` their rate and
    ``upper`` its one-sided Clopper-Pearson bound at :data:`CONFIDENCE`."""

    threshold: float
    automatic: int
    total: int
    errors: int

    @property
    def coverage(self) -> float:
        return self.automatic / self.total

    @property
    def error(self) -> float:
        return self.errors / self.automatic

    @property
    def upper(self) -> float:
        """The largest error rate the counts do not rule out at :data:`CONFIDENCE`.

        >>> round(Point(0.9, 100, 100, 0).upper, 4)  # no errors in 100: below 3%
        0.0295
        """
        if self.errors >= self.automatic:
            return 1.0
        return float(stats.beta.ppf(CONFIDENCE, self.errors + 1, self.automatic - self.errors))


def curve(confidence: npt.ArrayLike, correct: npt.ArrayLike) -> list[Point]:
    """Every distinct confidence as a threshold, highest first, with the counts it gives
    on these labelled predictions (``correct[i]``: was prediction ``i`` right)."""
    scores = np.asarray(confidence, dtype=np.float64).ravel()
    right = np.asarray(correct, dtype=bool).ravel()
    if scores.size != right.size:
        raise DataError(
            f"{scores.size:,} confidences but {right.size:,} outcomes; give one of each per "
            "labelled prediction"
        )
    if scores.size == 0:
        raise DataError("no labelled predictions to draw the curve from; label some first")
    if not np.isfinite(scores).all():
        raise DataError("a confidence is NaN or infinite; confidences must be numbers in [0, 1]")
    order = np.argsort(-scores, kind="stable")
    scores, wrong = scores[order], ~right[order]
    errors = np.cumsum(wrong)
    last = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))  # each value's last row
    return [Point(float(scores[i]), int(i + 1), scores.size, int(errors[i])) for i in last]


def threshold_for(points: list[Point], target: float) -> Point:
    """The point of ``points`` (from :func:`curve`) with the lowest threshold whose error's
    upper bound is at most ``target``; a target no threshold reaches is an error that says
    the lowest reachable one.

    >>> points = curve([0.99] * 200 + [0.7] * 100, [True] * 200 + [False] * 10 + [True] * 90)
    >>> [round(p.upper, 4) for p in points]  # 0 errors in 200; 10 in 300
    [0.0149, 0.0559]
    >>> threshold_for(points, 0.06).threshold, threshold_for(points, 0.06).coverage
    (0.7, 1.0)
    >>> threshold_for(points, 0.02).threshold
    0.99
    """
    if not 0 < target < 1:
        raise ConfigError(
            f"target_error {target!r} is outside (0, 1); give the error tolerated among "
            "the model's own decisions, e.g. 0.02"
        )
    meeting = [p for p in points if p.upper <= target]
    if not meeting:
        lowest = min(p.upper for p in points)
        raise ConfigError(
            f"target_error {target:g} cannot be reached on these {points[-1].total:,} "
            f"labelled predictions: the lowest reachable is {lowest:.4f} (its 95% upper "
            "bound); raise the target, label more data, or use defer_below"
        )
    return min(meeting, key=lambda p: p.threshold)


def thinned(points: list[Point], steps: int = 20) -> list[Point]:
    """At most ``steps`` points of a curve, for a table or a chart: at each coverage step
    (5%, 10%... for 20), the point that automates the most without passing it.

    >>> points = curve([0.9, 0.8, 0.7, 0.6], [True, True, False, True])
    >>> [p.coverage for p in thinned(points, steps=2)]
    [0.5, 1.0]
    """
    shown: list[Point] = []
    for step in range(1, steps + 1):
        within = [p for p in points if p.coverage <= step / steps + 1e-12]
        if within and within[-1] not in shown:
            shown.append(within[-1])
    return shown


def as_dict(point: Point) -> dict[str, float | int]:
    """A point as JSON: its counts and rates."""
    return {
        "threshold": point.threshold,
        "coverage": point.coverage,
        "automatic": point.automatic,
        "errors": point.errors,
        "error": point.error,
        "upper": point.upper,
    }
