"""Realized performance of a window against scikit-learn's metrics, on labels of every
kind: classes never predicted, classes predicted but never true, numbers given as text."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, recall_score

from prodml.monitor.feedback import performance
from prodml.store.monitoring import Labelled

AT = datetime(2026, 1, 1, tzinfo=UTC)


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
    found = performance(rows(said, truth), 2 * n, "classification")
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
    found = performance(rows([1, 0, "1"], [1.0, "0", 1]), 3, "classification")
    assert found["accuracy"] == 1.0
    assert found["recall.1"] == 1.0 and found["f1.0"] == 1.0


def test_mae_equals_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    said, truth = rng.normal(size=50), rng.normal(size=50)
    found = performance(rows(said.tolist(), truth.tolist()), 50, "regression")
    assert found["mae"] == pytest.approx(mean_absolute_error(truth, said), abs=1e-12)


def test_a_window_without_labels_has_only_its_counts() -> None:
    assert performance([], 10, "classification") == {"labelled": 0, "labelled_share": 0.0}


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

    found = performance(labelled, n, "classification")

    for key, who in (("automatic_accuracy", "model"), ("human_agreement", "person")):
        mine = [i for i in range(n) if decided[i] == who]
        expected = accuracy_score([truth[i] for i in mine], [said[i] for i in mine])
        assert found[key] == pytest.approx(expected, abs=1e-12)
    assert "automatic_accuracy" not in performance(labelled[:0], 1, "classification")
    only_people = [r for r in labelled if r.decided_by == "person"]
    assert "automatic_accuracy" not in performance(only_people, n, "classification")
