"""Metrics, computed with scikit-learn's own functions.

Names are flat so runs compare side by side: ``accuracy``, ``f1_macro``,
``precision[malignant]``, ``recall[malignant]``, ``f1[malignant]``, ``support[malignant]``
for classification; ``mae``, ``rmse``, ``r2`` for regression. A run records these;
:func:`full_metrics` adds what an evaluation shows (averages, ROC-AUC, PR-AUC, MAPE); the
areas under the curves (:func:`auc`) are computed here, equal to scikit-learn's.

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
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_absolute_percentage_error,
    precision_recall_fscore_support,
    r2_score,
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
    probabilities: Any = None,
    positive_class: Any = None,
) -> dict[str, float]:
    """:func:`metrics` with macro and weighted averages and MAPE; with ``probabilities``
    (a row each, a column for each of ``labels``), also ROC-AUC and PR-AUC (:func:`auc`).

    >>> got = full_metrics("classification", ["b", "a", "a"], ["b", "a", "b"], ["a", "b"],
    ...                    probabilities=[[0.1, 0.9], [0.8, 0.2], [0.4, 0.6]])
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
    if probabilities is not None:
        result.update(auc(y_true, probabilities, labels, positive_class))
    return result


def auc(
    y_true: Any, probabilities: Any, classes: Sequence[Any], positive_class: Any = None
) -> dict[str, float]:
    """ROC-AUC and PR-AUC (average precision) from each row's probability of each class
    (``probabilities``: a row each, a column for each of ``classes``, in that order).

    Of ``positive_class``, or else of the second of two classes (scikit-learn's positive
    class of a binary target): ``roc_auc_score(y == positive, p)`` and
    ``average_precision_score(y == positive, p)``. Of more classes, one-vs-rest macro: the
    mean over the classes of their own, which is scikit-learn's ``roc_auc_score(y, P,
    multi_class="ovr")`` and ``average_precision_score`` of the binarized truth with
    ``average="macro"``; a class the truth has on every row or on none has no AUC and is
    left out of the mean (scikit-learn refuses). Empty if no class has one. The areas come
    from the ROC and precision-recall curves as scikit-learn draws them, without its
    checks, which cost more than the arithmetic on a window of a few hundred labels.

    >>> truth = ["a", "b", "c", "b"]
    >>> auc(truth, [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.6, 0.3], [0.5, 0.4, 0.1]], "abc")
    {'roc_auc': 0.7777777777777778, 'pr_auc': 0.6944444444444443}
    """
    truth, scores, classes = np.asarray(y_true), np.asarray(probabilities, float), list(classes)
    if positive_class is None and len(classes) == 2:
        positive_class = classes[1]
    chosen = classes if positive_class is None else [positive_class]
    areas = [_areas(truth == c, scores[:, classes.index(c)]) for c in chosen if c in classes]
    found = [pair for pair in areas if pair is not None]
    if not found:
        return {}
    roc, precision = np.mean(found, axis=0)
    return {"roc_auc": float(roc), "pr_auc": float(precision)}


def _areas(positive: np.ndarray, score: np.ndarray) -> tuple[float, float] | None:
    """(ROC-AUC, average precision) of one class against the rest; None unless the truth
    has rows of it and rows not of it."""
    positives = int(positive.sum())
    if positives in (0, positive.size):
        return None
    order = np.argsort(-score, kind="mergesort")
    score, positive = score[order], positive[order]
    # the curves' points: each distinct score as a threshold, highest first
    last = np.r_[np.flatnonzero(np.diff(score)), score.size - 1]
    hits = np.cumsum(positive)[last]
    recall = np.r_[0.0, hits / positives]
    false_alarms = np.r_[0.0, (last + 1 - hits) / (positive.size - positives)]
    precision = hits / (last + 1)
    return float(np.trapezoid(recall, false_alarms)), float(np.sum(np.diff(recall) * precision))


def confusion(y_true: Any, y_pred: Any, labels: Sequence[Any]) -> list[list[int]]:
    """Counts with true labels as rows and predicted labels as columns, in ``labels`` order."""
    return confusion_matrix(y_true, y_pred, labels=list(labels)).tolist()  # type: ignore[no-any-return]


def headline(task: Task, positive_class: Any = None) -> str:
    """The metric a list of runs shows first: F1 of the positive class, macro F1, or RMSE."""
    if task == "regression":
        return "rmse"
    return f"f1[{positive_class}]" if positive_class is not None else "f1_macro"
