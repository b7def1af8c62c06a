"""Realized performance of a window against scikit-learn's metrics, on labels of every
kind: classes never predicted, classes predicted but never true, numbers given as text; and
ROC-AUC and PR-AUC from the logged probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    mean_absolute_error,
    recall_score,
    roc_auc_score,
)
from sklearn.preprocessing import label_binarize

from prodml.monitor.feedback import _sorted_codes, performance
from prodml.store.label_columns import LabelColumns
from prodml.store.monitoring import Labelled

AT = datetime(2026, 1, 1, tzinfo=UTC)


def performance_of(labelled: Sequence[Labelled], *options: Any) -> dict[str, Any]:
    """performance() of these rows, read into columns as the monitor reads them."""
    return performance(LabelColumns.of(labelled), *options)


def rows(said: list[object], truth: list[object]) -> list[Labelled]:
    return [
        Labelled(i, AT, "m", 1, {"label": s}, t, i)
        for i, (s, t) in enumerate(zip(said, truth, strict=True))
    ]


@pytest.mark.parametrize("seed", range(5))
def test_recall_f1_and_accuracy_equal_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    truth = rng.choice(["cat", "dog", "eel", "fox"], n, p=[0.5, 0.3, 0.2, 0.0]).tolist()
    said = rng.choice(["cat", "dog", "eel", "fox"], n, p=[0.4, 0.4, 0.0, 0.2]).tolist()
    found = performance_of(rows(said, truth), 2 * n, "classification")
    classes = sorted(set(truth) | set(said))
    recall = recall_score(truth, said, labels=classes, average=None, zero_division=0)
    f1 = f1_score(truth, said, labels=classes, average=None, zero_division=0)
    assert found["labelled"] == n and found["labelled_share"] == 0.5
    assert found["accuracy"] == pytest.approx(accuracy_score(truth, said), abs=1e-12)
    assert {k for k in found if k.startswith(("recall.", "f1."))} == {
        f"{m}.{c}" for m in ("recall", "f1") for c in classes
    }
    for c, r, f in zip(classes, recall, f1, strict=True):
        assert found[f"recall.{c}"] == pytest.approx(r, abs=1e-12)
        assert found[f"f1.{c}"] == pytest.approx(f, abs=1e-12)


def test_feedback_of_1_or_1_0_matches_a_logged_1() -> None:
    found = performance_of(rows([1, 0, "1"], [1.0, "0", 1]), 3, "classification")
    assert found["accuracy"] == 1.0
    assert found["recall.1"] == 1.0 and found["f1.0"] == 1.0


def test_mae_equals_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    said, truth = rng.normal(size=50), rng.normal(size=50)
    found = performance_of(rows(said.tolist(), truth.tolist()), 50, "regression")
    assert found["mae"] == pytest.approx(mean_absolute_error(truth, said), abs=1e-12)


def test_a_window_without_labels_has_only_its_counts() -> None:
    assert performance_of([], 10, "classification") == {"labelled": 0, "labelled_share": 0.0}


def test_the_model_s_own_accuracy_and_people_s_agreement_are_split_by_who_decided() -> None:
    rng = np.random.default_rng(9)
    n = 300
    truth = rng.integers(0, 2, n).tolist()
    said = [t if rng.random() < 0.8 else 1 - t for t in truth]
    decided = rng.choice(["model", "person", "fallback"], n, p=[0.6, 0.3, 0.1]).tolist()
    labelled = [
        Labelled(i, AT, "m", 1, {"label": s}, t, i, decided_by=d)
        for i, (s, t, d) in enumerate(zip(said, truth, decided, strict=True))
    ]

    found = performance_of(labelled, n, "classification")

    for key, who in (("automatic_accuracy", "model"), ("human_agreement", "person")):
        mine = [i for i in range(n) if decided[i] == who]
        expected = accuracy_score([truth[i] for i in mine], [said[i] for i in mine])
        assert found[key] == pytest.approx(expected, abs=1e-12)
    assert "automatic_accuracy" not in performance_of(labelled[:0], 1, "classification")
    only_people = [r for r in labelled if r.decided_by == "person"]
    assert "automatic_accuracy" not in performance_of(only_people, n, "classification")


def probable(truth: np.ndarray, classes: list[str], rng: np.random.Generator) -> np.ndarray:
    """Probabilities a model might log: the true class likelier, two decimals (ties)."""
    raw = rng.random((truth.size, len(classes))) + 0.6 * (truth[:, None] == classes)
    rounded: np.ndarray = np.round(raw / raw.sum(axis=1, keepdims=True), 2)
    return rounded


def logged(truth: np.ndarray, classes: list[str], shares: np.ndarray) -> list[Labelled]:
    labelled = []
    for i, (t, row) in enumerate(zip(truth.tolist(), shares.tolist(), strict=True)):
        said = classes[row.index(max(row))]
        probabilities = dict(zip(classes, row, strict=True))
        labelled.append(
            Labelled(i, AT, "m", 1, {"label": said, "probabilities": probabilities}, t, i)
        )
    return labelled


@pytest.mark.parametrize("seed", range(3))
def test_roc_and_pr_auc_of_two_classes_are_scikit_learns_of_the_second(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = ["1", "0"]  # the model's order: its second class is the positive one
    truth = rng.choice(classes, 200, p=[0.3, 0.7])
    shares = probable(truth, classes, rng)

    found = performance_of(logged(truth, classes, shares), 200, "classification")

    assert found["roc_auc"] == pytest.approx(roc_auc_score(truth == "0", shares[:, 1]))
    assert found["pr_auc"] == pytest.approx(average_precision_score(truth == "0", shares[:, 1]))


@pytest.mark.parametrize("seed", range(3))
def test_roc_and_pr_auc_of_more_classes_are_scikit_learns_one_vs_rest_macro(seed: int) -> None:
    rng = np.random.default_rng(seed)
    classes = ["cat", "dog", "eel"]
    truth = rng.choice(classes, 300, p=[0.5, 0.3, 0.2])
    shares = probable(truth, classes, rng)
    shares /= shares.sum(axis=1, keepdims=True)  # rounded: sum to 1 again, as sklearn asks
    labelled = logged(truth, classes, shares)
    for row in labelled[::10]:  # a tenth logged no probabilities (a rule answered)
        del row.outputs["probabilities"]
    kept = np.ones(truth.size, dtype=bool)
    kept[::10] = False

    found = performance_of(labelled, 300, "classification")

    roc = roc_auc_score(truth[kept], shares[kept], multi_class="ovr", labels=classes)
    binarized = label_binarize(truth[kept], classes=classes)
    pr = average_precision_score(binarized, shares[kept], average="macro")
    assert (found["roc_auc"], found["pr_auc"]) == (pytest.approx(roc), pytest.approx(pr))
    assert "roc_auc" not in performance_of(rows(["cat"], ["dog"]), 1, "classification")


@pytest.mark.parametrize("positive", ["benign", 0])
def test_roc_and_pr_auc_are_of_the_project_s_positive_class_when_it_sorts_first(
    positive: object,
) -> None:
    """data.positive_class, not the second class of the model's (sorted) order; given as
    the project file gives it (0 for a logged "0")."""
    rng = np.random.default_rng(11)
    classes = ["benign", "malignant"] if positive == "benign" else ["0", "1"]
    truth = rng.choice(classes, 300, p=[0.35, 0.65])
    shares = probable(truth, classes, rng)

    found = performance_of(logged(truth, classes, shares), 300, "classification", positive)

    chosen = str(positive)
    pr = average_precision_score(truth, shares[:, 0], pos_label=chosen)
    assert found["pr_auc"] == pytest.approx(pr, abs=1e-12)
    assert found["roc_auc"] == pytest.approx(
        roc_auc_score(truth == chosen, shares[:, 0]), abs=1e-12
    )
    second = average_precision_score(truth, shares[:, 1], pos_label=classes[1])
    assert abs(pr - second) > 0.01  # the two classes' areas differ: the test can tell them
    # a positive class the model does not have: the second of its two, as before
    other = performance_of(logged(truth, classes, shares), 300, "classification", "neither")
    assert other["pr_auc"] == pytest.approx(second, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_the_classes_of_a_window_are_sorted_as_numpy_sorts_their_texts(seed: int) -> None:
    """Classes are found by hashing the texts, then sorting the few distinct ones: the same
    classes and places as ``np.unique`` over every text (numbers as text sort as text)."""
    rng = np.random.default_rng(seed)
    choices = np.array(["10", "9", "b", "B", "é", "None", "nan", "", "a b"], dtype=object)
    texts = choices[rng.integers(0, rng.integers(1, choices.size + 1), 500)]
    classes, codes = _sorted_codes(texts)
    expected_classes, expected_codes = np.unique(texts.astype(str), return_inverse=True)
    assert classes.tolist() == expected_classes.tolist()
    assert codes.tolist() == expected_codes.tolist()
