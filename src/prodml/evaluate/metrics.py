"""Metrics, computed with scikit-learn's own functions.

Names are flat so runs compare side by side: ``accuracy``, ``f1_macro``,
``precision[malignant]``, ``recall[malignant]``, ``f1[malignant]``, ``support[malignant]``
for classification; ``mae``, ``rmse``, ``r2`` for regression. A run records these;
:func:`full_metrics` adds what an evaluation shows (averages, ROC-AUC, PR-AUC, MAPE).

>>> metrics("classification", [0, 1, 1, 0], [0, 1, 0, 0], labels=(0, 1))["recall[1]"]
0.5
>>> round(metrics("regression", [1.0, 2.0], [1.5, 2.0])["mae"], 3)
0.25
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_absolute_percentage_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from prodml.config import Task


def metrics(task: Task, y_true: Any, y_pred: Any, labels: Sequence[Any] = ()) -> dict[str, float]:
    """Metrics of predictions against the truth, flat and JSON-ready."""
    if task == "regression":
        return {
            "mae": float(mean_absolute_error(y_true, y_pred)),
            "rmse": float(root_mean_squared_error(y_true, y_pred)),
            "r2": float(r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan"),
        }
    labels = list(labels) or sorted(np.unique(np.concatenate([y_true, y_pred])).tolist())
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    result = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
    }
    for i, label in enumerate(labels):
        result[f"precision[{label}]"] = float(precision[i])
        result[f"recall[{label}]"] = float(recall[i])
        result[f"f1[{label}]"] = float(f1[i])
        result[f"support[{label}]"] = float(support[i])
    return result


def full_metrics(
    task: Task,
    y_true: Any,
    y_pred: Any,
    labels: Sequence[Any] = (),
    positive_scores: Any = None,
    positive_class: Any = None,
) -> dict[str, float]:
    """:func:`metrics` with macro and weighted averages and MAPE; with the scores of
    ``positive_class`` (a probability per row), also its ROC-AUC and PR-AUC (average
    precision), whatever the order of the labels.

    >>> got = full_metrics("classification", ["b", "a", "a"], ["b", "a", "b"], ["a", "b"],
    ...                    positive_scores=[0.9, 0.2, 0.6], positive_class="b")
    >>> got["roc_auc"], got["recall_weighted"]
    (1.0, 0.6666666666666666)
    """
    result = metrics(task, y_true, y_pred, labels)
    if task == "regression":
        result["mape"] = float(mean_absolute_percentage_error(y_true, y_pred))
        return result
    labels = list(labels) or sorted(np.unique(np.concatenate([y_true, y_pred])).tolist())
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        result[f"precision_{average}"] = float(precision)
        result[f"recall_{average}"] = float(recall)
        result[f"f1_{average}"] = float(f1)
    is_positive = np.asarray(y_true) == positive_class
    if positive_scores is not None and 0 < is_positive.sum() < len(is_positive):
        result["roc_auc"] = float(roc_auc_score(is_positive, positive_scores))
        result["pr_auc"] = float(average_precision_score(is_positive, positive_scores))
    return result


def confusion(y_true: Any, y_pred: Any, labels: Sequence[Any]) -> list[list[int]]:
    """Counts with true labels as rows and predicted labels as columns, in ``labels`` order."""
    return confusion_matrix(y_true, y_pred, labels=list(labels)).tolist()  # type: ignore[no-any-return]


def headline(task: Task, positive_class: Any = None) -> str:
    """The metric a list of runs shows first: F1 of the positive class, macro F1, or RMSE."""
    if task == "regression":
        return "rmse"
    return f"f1[{positive_class}]" if positive_class is not None else "f1_macro"
