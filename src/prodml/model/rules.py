"""A plain Python rule wrapped as a model, so a product can launch with a heuristic.

A rule is a function in a file of the project that takes the feature data frame and
returns one prediction per row::

    # rules.py
    def approve_if_income(X):
        return (X["income"] > 40_000).astype(int)

and is named ``rules:rules.py:approve_if_income`` wherever a model factory goes. The
model keeps the file's source, so a saved rule still predicts after the file changes.

>>> import pandas as pd, tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "rules.py").write_text("def big(X):\\n    return (X['x'] > 1).astype(int)\\n")
>>> rule = RuleModel.from_reference("rules:rules.py:big", folder)
>>> rule.fit(pd.DataFrame({"x": [0, 2]}), [0, 1]).predict(pd.DataFrame({"x": [3, 0]})).tolist()
[1, 0]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from prodml.errors import ModelError, did_you_mean

RULE_PREFIX = "rules:"
_compiled: dict[str, Callable[[pd.DataFrame], Any]] = {}


class RuleModel(BaseEstimator):  # type: ignore[misc]
    """A scikit-learn-compatible model whose predictions come from a rule function."""

    def __init__(self, reference: str = "", source: str = "", function: str = "") -> None:
        self.reference = reference
        self.source = source
        self.function = function

    @classmethod
    def from_reference(cls, reference: str, root: Path) -> RuleModel:
        """Read ``rules:FILE.py:FUNCTION`` from the project folder ``root``."""
        parts = reference.removeprefix(RULE_PREFIX).rsplit(":", 1)
        if len(parts) != 2 or not parts[0].endswith(".py"):
            raise ModelError(
                f"rule '{reference}' must look like rules:FILE.py:FUNCTION, "
                "e.g. rules:rules.py:approve_if_income"
            )
        file, function = parts
        path = root / file
        if not path.exists():
            raise ModelError(f"rule '{reference}': file {path} does not exist")
        model = cls(reference=reference, source=path.read_text(encoding="utf-8"), function=function)
        model._rule()  # fail now, with the reason, rather than at fit time
        return model

    def fit(self, X: pd.DataFrame, y: Any = None) -> RuleModel:
        if y is not None:
            values = np.asarray(y)
            if values.dtype.kind in "OUSb" or len(np.unique(values)) <= max(2, len(values) // 2):
                self.classes_ = np.unique(values)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        predictions = np.asarray(self._rule()(X))
        if predictions.shape != (len(X),):
            raise ModelError(
                f"rule {self.reference} returned shape {predictions.shape} for {len(X)} rows; "
                "it must return one prediction per row"
            )
        return predictions

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """A rule is certain: probability 1 for the class it predicts."""
        predictions = self.predict(X)
        certain: np.ndarray = (predictions[:, None] == self.classes_[None, :]).astype(float)
        return certain

    def _rule(self) -> Callable[[pd.DataFrame], Any]:
        key = hashlib.sha256(f"{self.function}\0{self.source}".encode()).hexdigest()
        if key not in _compiled:
            namespace: dict[str, Any] = {"__name__": f"prodml_rule_{key[:8]}"}
            try:
                exec(compile(self.source, self.reference, "exec"), namespace)
            except Exception as exc:
                raise ModelError(f"rule {self.reference} cannot be loaded: {exc}") from None
            function = namespace.get(self.function)
            if not callable(function):
                names = [n for n, v in namespace.items() if callable(v) and not n.startswith("_")]
                raise ModelError(
                    f"rule {self.reference}: the file has no function "
                    f"'{self.function}'{did_you_mean(self.function, names)}"
                )
            _compiled[key] = function
        return _compiled[key]
