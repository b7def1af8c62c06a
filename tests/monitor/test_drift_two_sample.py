"""Chi-square compares two samples: the reference's counts are a sample too (the held-out
rows' predicted classes, say), so a fixed model on unchanged inputs is flagged at the
nominal rate, and a real shift of the shares is still found."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from prodml.monitor.drift import Distribution, drift_report
from prodml.monitor.statistics import chisquare

SHARES = [0.6, 0.3, 0.1]
REFERENCE_ROWS, WINDOW, TRIALS = 2_000, 1_000, 2_000
#: a flag rate of 5% over TRIALS windows, plus three standard deviations of sampling noise
NOMINAL = 0.05 + 3 * math.sqrt(0.05 * 0.95 / TRIALS)


def counts(rng: np.random.Generator, rows: int, shares: list[float]) -> dict[str, int]:
    return dict(zip("abc", rng.multinomial(rows, shares).tolist(), strict=True))


def test_unchanged_classes_are_flagged_at_the_nominal_rate_and_exact_shares_are_not() -> None:
    rng = np.random.default_rng(14)
    two_sample = exact_shares = 0
    for _ in range(TRIALS):
        reference, window = counts(rng, REFERENCE_ROWS, SHARES), counts(rng, WINDOW, SHARES)
        two_sample += chisquare(reference, window)[1] < 0.05
        shares = np.array(list(reference.values())) / REFERENCE_ROWS
        exact_shares += stats.chisquare(list(window.values()), shares * WINDOW).pvalue < 0.05

    assert two_sample / TRIALS <= NOMINAL
    # the reference's shares taken as exact: X2 inflated by about 1 + 1,000 / 2,000, so
    # P(1.5 chi2(2) > 5.99) = 13.6% of the windows flagged
    assert exact_shares / TRIALS > 0.11


def test_a_shift_of_the_class_shares_is_found_by_the_default_rule() -> None:
    rng = np.random.default_rng(15)
    found = []
    for _ in range(200):
        reference = Distribution.categorical(counts(rng, REFERENCE_ROWS, SHARES))
        window = Distribution.categorical(counts(rng, WINDOW, [0.5, 0.35, 0.15]))
        score = drift_report({"(predicted)": reference}, {"(predicted)": window}).scores
        found.append(score["(predicted)"].drifted)

    # a total variation of 0.1, over the 0.04 a test's drift needs, and a non-central
    # chi-square of about 30 on 2 degrees of freedom: a power of 99.9%
    assert sum(found) >= 198
