"""A shadow's pairs, one request answered by both the primary and the shadow: how often the
two answers agree (with Wilson's 95% interval) and how they disagree, McNemar's exact test
on the labelled pairs only one of them got right, and for a regressor the quantiles of
|primary - shadow|.

>>> right = np.array([1.0, 1.0, 0.0, np.nan]), np.array([1.0, 0.0, 0.0, np.nan])
>>> mcnemar(*right)
{'only_primary': 1, 'only_shadow': 0, 'p': 1.0}
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from scipy import stats

from prodml.deploy.intervals import wilson_interval
from prodml.deploy.trial import Answers


def agreement(first: Answers, second: Answers) -> dict[str, Any]:
    """The pairs of two classifiers' answers: how many, the share of equal labels with its
    interval, and the confusion between them (the first's label, then the second's)."""
    pairs = list(zip(first.predicted, second.predicted, strict=True))
    agreeing = sum(x == y for x, y in pairs)
    confusion: dict[str, dict[str, int]] = {}
    for (x, y), count in sorted(Counter(pairs).items()):
        confusion.setdefault(x, {})[y] = count
    return {
        "pairs": len(pairs),
        "agreement": agreeing / len(pairs),
        "interval": wilson_interval(agreeing, len(pairs)),
        "confusion": confusion,
    }


def gaps(first: Answers, second: Answers) -> dict[str, Any]:
    """The pairs of two regressors' values: how many, and the quantiles of |first - second|."""
    values = [(x["value"], y["value"]) for x, y in zip(first.outputs, second.outputs, strict=True)]
    gap = np.abs([x - y for x, y in values])
    quantiles = {f"p{q}": float(np.percentile(gap, q)) for q in (50, 90, 99)}
    return {"pairs": len(gap), "difference": {**quantiles, "max": float(gap.max())}}


def mcnemar(primary: np.ndarray, shadow: np.ndarray) -> dict[str, float]:
    """McNemar's exact test (a two-sided binomial test at 1/2) on the pairs only one side
    got right; each array holds 1 (right), 0 (wrong) or nan (no label) a pair. Empty when
    no pair has a label."""
    if np.isnan(primary).all():
        return {}
    only_primary = int(((primary == 1) & (shadow == 0)).sum())
    only_shadow = int(((shadow == 1) & (primary == 0)).sum())
    discordant = only_primary + only_shadow
    p = stats.binomtest(only_primary, discordant).pvalue if discordant else 1.0
    return {"only_primary": only_primary, "only_shadow": only_shadow, "p": float(p)}
