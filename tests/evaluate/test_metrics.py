"""Run metrics equal scikit-learn's own on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_wine
from sklearn.linear_model import Ridge
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    root_mean_squared_error,
)
from sklearn.tree import DecisionTreeClassifier

from prodml.evaluate.metrics import headline, metrics


@pytest.mark.parametrize("load", [load_wine, load_digits])
def test_classification_metrics_match_sklearn(load: object) -> None:
    X, y = load(return_X_y=True)  # type: ignore[operator]
    predicted = (
        DecisionTreeClassifier(max_depth=3, random_state=0).fit(X[::2], y[::2]).predict(X[1::2])
    )
    truth = y[1::2]
    labels = sorted(set(y.tolist()))
    got = metrics("classification", truth, predicted, labels)
    assert got["accuracy"] == accuracy_score(truth, predicted)
    assert got["f1_macro"] == pytest.approx(f1_score(truth, predicted, average="macro"), abs=0)
    for label in labels:
        assert got[f"precision[{label}]"] == precision_score(
            truth, predicted, labels=[label], average="micro", zero_division=0
        )
        assert got[f"recall[{label}]"] == recall_score(
            truth, predicted, labels=[label], average="micro", zero_division=0
        )
        assert got[f"f1[{label}]"] == pytest.approx(
            f1_score(truth, predicted, labels=[label], average="micro", zero_division=0), abs=1e-15
        )
        assert got[f"support[{label}]"] == float(np.sum(truth == label))


def test_class_never_predicted_scores_zero_not_an_error() -> None:
    got = metrics(
        "classification", np.array(["a", "b", "b"]), np.array(["b", "b", "b"]), ["a", "b"]
    )
    assert got["precision[a]"] == 0.0 and got["recall[a]"] == 0.0
    assert got["recall[b]"] == 1.0


def test_regression_metrics_match_sklearn() -> None:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    predicted = Ridge().fit(X[::2], y[::2]).predict(X[1::2])
    got = metrics("regression", y[1::2], predicted)
    assert got == {
        "mae": mean_absolute_error(y[1::2], predicted),
        "rmse": root_mean_squared_error(y[1::2], predicted),
        "r2": r2_score(y[1::2], predicted),
    }


def test_headline_metric_follows_the_task() -> None:
    assert headline("classification", "malignant") == "f1[malignant]"
    assert headline("classification", None) == "f1_macro"
    assert headline("regression") == "rmse"
