"""Run metrics, and the areas under the ROC and precision-recall curves, equal
scikit-learn's own on the same inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_wine
from sklearn.linear_model import Ridge
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.preprocessing import label_binarize
from sklearn.tree import DecisionTreeClassifier

from prodml.evaluate.metrics import auc, headline, metrics


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


def fitted_probabilities(load: Any, seed: int) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """A real classifier's probabilities on held-out rows, rounded to two places so that
    scores tie, as they do for trees and calibrated models."""
    X, y = load(return_X_y=True)
    model = DecisionTreeClassifier(max_depth=4, random_state=seed).fit(X[::2], y[::2])
    return y[1::2], np.round(model.predict_proba(X[1::2]), 2), model.classes_.tolist()


@pytest.mark.parametrize("load", [load_wine, load_digits])
@pytest.mark.parametrize("seed", range(3))
def test_auc_of_many_classes_is_scikit_learns_one_vs_rest_macro(load: Any, seed: int) -> None:
    truth, probabilities, classes = fitted_probabilities(load, seed)
    probabilities /= probabilities.sum(axis=1, keepdims=True)  # rounding: sum to 1 again

    got = auc(truth, probabilities, classes)

    roc = roc_auc_score(truth, probabilities, multi_class="ovr", labels=classes)
    binarized = label_binarize(truth, classes=classes)
    pr = average_precision_score(binarized, probabilities, average="macro")
    assert got == {"roc_auc": pytest.approx(roc, rel=1e-12), "pr_auc": pytest.approx(pr, rel=1e-12)}


@pytest.mark.parametrize("seed", range(5))
def test_auc_of_two_classes_is_of_the_positive_class_or_else_the_second(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.choice(["no", "yes"], 300, p=[0.8, 0.2])
    yes = np.clip(np.round(rng.normal(np.where(truth == "yes", 0.6, 0.4), 0.2), 2), 0, 1)
    probabilities = np.c_[1 - yes, yes]

    for positive, column in ((None, 1), ("yes", 1), ("no", 0)):
        got = auc(truth, probabilities, ["no", "yes"], positive)

        is_positive = truth == ("yes" if positive is None else positive)
        score = probabilities[:, column]
        assert got["roc_auc"] == pytest.approx(roc_auc_score(is_positive, score), rel=1e-12)
        assert got["pr_auc"] == pytest.approx(
            average_precision_score(is_positive, score), rel=1e-12
        )


def test_auc_leaves_out_a_class_the_truth_never_has() -> None:
    truth, probabilities, classes = fitted_probabilities(load_wine, 0)
    present = truth != classes[2]

    got = auc(truth[present], probabilities[present], classes)

    each = [(truth[present] == c, probabilities[present, i]) for i, c in enumerate(classes[:2])]
    roc = np.mean([roc_auc_score(t, s) for t, s in each])
    pr = np.mean([average_precision_score(t, s) for t, s in each])
    assert got == {"roc_auc": pytest.approx(roc, rel=1e-12), "pr_auc": pytest.approx(pr, rel=1e-12)}
    assert auc(["a", "a"], [[0.6, 0.4], [0.3, 0.7]], ["a", "b"]) == {}
