"""Baselines: what a model must beat before it is worth deploying.

Always the majority class (the ``print("0")`` model) and a stratified-random guess (for
regression: the mean and the median); then whatever ``baselines:`` in the project file
adds: a rule (``rules:rules.py:approve_if_income``) or any other model factory. Each is
fitted on the training split of the run under evaluation.

>>> import numpy as np, pandas as pd
>>> X, y = pd.DataFrame({"x": range(6)}), np.array([0, 0, 0, 0, 1, 1])
>>> [(b.name, b.model.predict(X[:2]).tolist()) for b in fit_baselines((), "classification",
...  X, y, Path("."))][:1]
[('majority', [0, 0])]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor

from prodml.config import ModelSpec, Task
from prodml.model.factory import build
from prodml.model.rules import RULE_PREFIX

#: The baselines every evaluation has, by task: name to an unfitted model.
ALWAYS: dict[Task, dict[str, Any]] = {
    "classification": {
        "majority": DummyClassifier(strategy="most_frequent"),
        "stratified": DummyClassifier(strategy="stratified", random_state=0),
    },
    "regression": {
        "mean": DummyRegressor(strategy="mean"),
        "median": DummyRegressor(strategy="median"),
    },
}


@dataclass(frozen=True)
class Baseline:
    """A fitted model to compare with, and what kind of baseline it is."""

    name: str
    kind: str  # majority, stratified, mean, median, rule or model
    model: Any


def fit_baselines(
    specs: Sequence[ModelSpec], task: Task, X: Any, y: Any, root: Path
) -> list[Baseline]:
    """The task's standard baselines and the configured ones, fitted on ``X``, ``y``."""
    standard = ALWAYS[task]
    baselines = [Baseline(name, name, clone(model).fit(X, y)) for name, model in standard.items()]
    for i, spec in enumerate(specs):
        if spec.factory in standard:
            continue  # always there
        kind = "rule" if spec.factory.startswith(RULE_PREFIX) else "model"
        model = build(spec, root, key=f"baselines[{i}]")
        baselines.append(Baseline(spec.factory, kind, model.fit(X, y)))
    return baselines
