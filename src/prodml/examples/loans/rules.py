"""A rule for the loans example: the heuristic a model must beat to be worth deploying.

``baselines: [rules:rules.py:approve_if_income]`` in prodml.yaml puts it beside the model
in ``prodml evaluate``; a rule can also be the model itself (``model: rules:...``).
"""

from __future__ import annotations

import pandas as pd


def approve_if_income(X: pd.DataFrame) -> pd.Series:
    """Approve (1) when the income is at least 40,000 and the credit score at least 650."""
    return ((X["income"] >= 40_000) & (X["credit_score"] >= 650)).astype(int)
