"""The default drift rule is monotone in the window's size: a feature it finds in windows of
1,000 rows it finds in larger windows too, where the field's rule (a Wasserstein distance
of 0.1 above 1,000 rows) lost it; and unchanged features are not flagged at any size."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from prodml.monitor.drift import DISTANCE_THRESHOLD, Distribution, drift_report
from prodml.monitor.statistics import wasserstein

FEATURES, REFERENCE_ROWS, WINDOWS = 10, 20_000, 30
SHIFT, OUTLIERS, WIDTH = 0.17, 0.02, 50.0


def column(rng: np.random.Generator, rows: int, shift: float) -> Distribution:
    """98% of the rows normal, moved by ``shift``; 2% outliers 50 times wider, unmoved."""
    outlier = rng.random(rows) < OUTLIERS
    return Distribution.numeric(
        np.where(outlier, rng.normal(0.0, WIDTH, rows), rng.normal(shift, 1.0, rows))
    )


def test_the_drifted_feature_is_0_066_from_the_reference_in_ks_distance() -> None:
    # the largest gap between the two distribution functions, midway between the means
    gap = (1 - OUTLIERS) * (2 * stats.norm.cdf(SHIFT / 2) - 1)
    assert gap == pytest.approx(0.066, abs=5e-4)


@pytest.mark.parametrize("rows", [1_000, 2_000, 4_000, 8_000])
def test_a_drifted_feature_is_found_at_every_window_size_and_the_others_are_not(
    rows: int,
) -> None:
    rng = np.random.default_rng(rows)
    names = [f"x{i}" for i in range(FEATURES)]
    reference = {name: column(rng, REFERENCE_ROWS, 0.0) for name in names}
    found = distance_found = others_flagged = 0
    for _ in range(WINDOWS):
        current = {name: column(rng, rows, SHIFT if name == "x0" else 0.0) for name in names}
        report = drift_report(reference, current)
        found += report.scores["x0"].drifted
        others_flagged += any(report.scores[name].drifted for name in names[1:])
        distance_found += wasserstein(reference["x0"], current["x0"]) >= DISTANCE_THRESHOLD

    # documented: found in 97% of windows of 1,000 rows and all larger ones
    assert found >= 0.9 * WINDOWS
    if rows > 1_000:  # where the field's rule measured a distance instead: lost
        assert distance_found <= 0.1 * WINDOWS
    # Holm keeps the chance that a window flags any unchanged feature at 5%: 6 or more of
    # 30 windows has a probability of 0.3%
    assert others_flagged <= 5
