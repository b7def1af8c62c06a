"""The 95% intervals of a comparison: Wilson's score interval of a proportion (the one
``prodml evaluate`` gives its slices), and Newcombe's hybrid score interval of the
difference between two independent proportions, made of the two Wilson intervals.

>>> [round(end, 4) for end in wilson_interval(90, 100)]
[0.8256, 0.9448]
>>> [round(end, 4) for end in newcombe(90, 100, 80, 100)]  # 90% against 80% right
[0.0001, 0.1995]
"""

from __future__ import annotations

import math

import numpy as np

from prodml.evaluate.slices import wilson


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson's 95% interval of ``successes`` out of ``n`` (at least 1)."""
    low, high = wilson(np.array([successes]), np.array([n]))
    return float(low[0]), float(high[0])


def newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """Newcombe's 95% interval of p1 - p2, the proportions ``k1`` of ``n1`` and ``k2`` of
    ``n2`` of two independent samples (Newcombe 1998, method 10)."""
    p1, p2 = k1 / n1, k2 / n2
    (l1, u1), (l2, u2) = wilson_interval(k1, n1), wilson_interval(k2, n2)
    return (
        p1 - p2 - math.hypot(p1 - l1, u2 - p2),
        p1 - p2 + math.hypot(u1 - p1, p2 - l2),
    )
