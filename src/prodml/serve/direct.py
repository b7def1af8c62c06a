"""A fitted model's probabilities computed as scikit-learn computes them, without its
checks of every call, for the estimators whose arithmetic is short and known: a
``StandardScaler`` and a ``LogisticRegression``, alone or in a ``Pipeline``.

scikit-learn spends about 0.2 ms a call (0.5 ms on a busy machine) checking an input the
server has already checked (a float64 matrix of the training columns, finite where it
must be) and passing it through the pipeline's steps; the arithmetic of a 100-row batch
takes 30 µs. The functions here are the operations of scikit-learn's own
``StandardScaler.transform`` (subtract ``mean_``, then divide by ``scale_``, in place on a
copy) and ``LogisticRegression.predict_proba`` (``X @ coef_.T + intercept_``; for two
classes scipy's ``expit`` of it in place, stacked as ``[1 - p, p]``; for more,
scikit-learn's own ``softmax``), in the same order on the same dtypes, so they round
alike. A :class:`~prodml.serve.predictor.Predictor` uses them only when they answer its
probe rows bit for bit as ``predict_proba`` does, so a scikit-learn release that changes
its arithmetic sends the calls back through scikit-learn.

>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> X, y = np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 2.0], [3.0, 5.0]]), [0, 0, 1, 1]
>>> model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
>>> bool(np.array_equal(probabilities(model)(X), model.predict_proba(X)))
True
>>> probabilities(make_pipeline(StandardScaler(), "passthrough")) is None
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.extmath import softmax

Step = Callable[[np.ndarray], np.ndarray]


def probabilities(model: Any) -> Step | None:
    """``model.predict_proba`` of a float64 matrix, without scikit-learn's checks; None
    for a model with a step this module does not know (subclasses included: they may
    compute otherwise)."""
    steps = [step for _, step in model.steps] if type(model) is Pipeline else [model]
    *transforms, final = steps
    last = _logistic(final)
    scalers = [_scaler(step) for step in transforms]
    known = [scale for scale in scalers if scale is not None]
    if last is None or len(known) < len(scalers):
        return None

    def predict_proba(matrix: np.ndarray) -> np.ndarray:
        for scale in known:
            matrix = scale(matrix)
        return last(matrix)

    return predict_proba


def _scaler(step: Any) -> Step | None:
    """``StandardScaler.transform`` of a dense float64 matrix, on a copy."""
    if type(step) is not StandardScaler or not hasattr(step, "scale_"):  # fitted
        return None
    mean = step.mean_ if step.with_mean else None
    scale = step.scale_ if step.with_std else None
    if not all(v is None or _floats(v) for v in (mean, scale)):
        return None

    def transform(matrix: np.ndarray) -> np.ndarray:
        matrix = matrix.copy()
        if mean is not None:
            matrix -= mean
        if scale is not None:
            matrix /= scale
        return matrix

    return transform


def _logistic(step: Any) -> Step | None:
    """``LogisticRegression.predict_proba`` of a dense float64 matrix (a dense ``coef_``:
    a sparsified one is multiplied otherwise)."""
    if type(step) is not LogisticRegression or not hasattr(step, "classes_"):
        return None
    coef, intercept = step.coef_, step.intercept_
    if not (_floats(coef) and _floats(intercept)) or coef.ndim != 2:
        return None
    weights = coef.T
    if len(step.classes_) > 2:
        return lambda matrix: softmax(matrix @ weights + intercept, copy=False)

    def binary(matrix: np.ndarray) -> np.ndarray:
        scores = (matrix @ weights + intercept).reshape(-1)
        positive = expit(scores, out=scores)
        return np.stack([1 - positive, positive], axis=1)

    return binary


def _floats(value: Any) -> bool:
    return type(value) is np.ndarray and value.dtype == np.float64
