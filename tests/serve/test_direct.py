"""prodml.serve.direct: a scaled logistic regression's probabilities, bit for bit those of
scikit-learn's ``predict_proba``, and no direct path for a model it does not know."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import prodml
from prodml.serve import direct, predictor
from prodml.serve.direct import probabilities
from prodml.serve.predictor import Predictor, probe_rows
from prodml.serve.source import RunSource

#: batch sizes the server calls a model with: one row, a few, its largest batches
SIZES = (1, 2, 7, 64, 256, 1000)


def data(classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 12 features on very different scales, and labels that depend on them."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(600, 12)) * np.logspace(-2, 2, 12) + np.linspace(-5, 90, 12)
    standard = (rows - rows.mean(axis=0)) / rows.std(axis=0)
    signal = standard[:, 0] + standard[:, 5] + rng.normal(size=len(rows))
    labels = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1]))
    return rows, labels


MODELS: dict[str, Callable[[], Any]] = {
    "scaled": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
    "not centred": lambda: make_pipeline(
        StandardScaler(with_mean=False), LogisticRegression(max_iter=300)
    ),
    "centred only": lambda: make_pipeline(
        StandardScaler(with_std=False), LogisticRegression(max_iter=300)
    ),
    "scaled twice": lambda: make_pipeline(
        StandardScaler(), StandardScaler(), LogisticRegression(max_iter=300)
    ),
    "alone": lambda: LogisticRegression(max_iter=300),
}


#: the models' fit is beside the point: the arithmetic of any coefficients is
NOT_CONVERGED = "ignore::sklearn.exceptions.ConvergenceWarning"


@pytest.mark.filterwarnings(NOT_CONVERGED)
@pytest.mark.parametrize("classes", [2, 3, 5])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_probabilities_are_the_bits_of_scikit_learns_predict_proba(kind: str, classes: int) -> None:
    rows, labels = data(classes)
    model = MODELS[kind]().fit(rows, labels)
    computed = probabilities(model)
    assert computed is not None
    fresh = np.random.default_rng(1).normal(size=(max(SIZES), 12)) * rows.std(0) + rows.mean(0)
    for size in SIZES:
        batch = fresh[:size]
        expected = model.predict_proba(batch)
        got = computed(batch.copy())
        assert got.dtype == expected.dtype and got.shape == (size, classes)
        assert np.array_equal(got, expected), (kind, classes, size)


def test_the_input_is_left_as_it_was() -> None:
    rows, labels = data(2)
    model = MODELS["scaled"]().fit(rows, labels)
    batch = rows[:10].copy()
    computed = probabilities(model)
    assert computed is not None
    computed(batch)
    assert np.array_equal(batch, rows[:10])


class Logistic(LogisticRegression):  # type: ignore[misc]
    """A subclass: it may compute its probabilities otherwise."""


def sparsified() -> LogisticRegression:
    model = LogisticRegression(max_iter=300).fit(*data(2))
    model.sparsify()
    return model


UNKNOWN: dict[str, Callable[[], Any]] = {
    "another scaler": lambda: make_pipeline(MinMaxScaler(), LogisticRegression()).fit(*data(2)),
    "a subclass": lambda: Logistic(max_iter=300).fit(*data(2)),
    "sparse coefficients": sparsified,
    "passthrough": lambda: make_pipeline(StandardScaler(), "passthrough").fit(*data(2)),
    "not fitted": lambda: make_pipeline(StandardScaler(), LogisticRegression()),
}


@pytest.mark.filterwarnings(NOT_CONVERGED)
@pytest.mark.parametrize("kind", sorted(UNKNOWN))
def test_a_model_it_does_not_know_has_no_direct_path(kind: str) -> None:
    assert probabilities(UNKNOWN[kind]()) is None


@pytest.fixture(scope="module")
def served(bc_project: Path) -> Any:
    with prodml.Project(bc_project) as project:
        return RunSource(project).load("breast-cancer")


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")  # fitted on a frame
def test_the_breast_cancer_model_is_called_directly_with_scikit_learns_answers(
    served: Any,
) -> None:
    chosen = Predictor(served)
    assert chosen.direct
    median = np.array(probe_rows(served.schema)[1])  # each column's training median
    rows = np.random.default_rng(2).uniform(0.5, 1.5, (300, len(median))) * median
    checked = [tuple(row) for row in rows.tolist()]
    expected = served.model.predict_proba(rows)
    predicted = chosen.predict(checked)
    assert predicted.probabilities == expected.tolist()
    assert predicted.labels == served.model.classes_[expected.argmax(axis=1)].tolist()


def test_a_direct_path_that_differs_on_the_probe_rows_is_not_used(
    served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def off_by_a_bit(model: Any) -> direct.Step | None:
        exact = probabilities(model)
        assert exact is not None
        return lambda matrix: np.nextafter(exact(matrix), 2.0)

    monkeypatch.setattr(predictor, "probabilities", off_by_a_bit)
    chosen = Predictor(dataclasses.replace(served))
    assert not chosen.direct and chosen.takes_arrays
