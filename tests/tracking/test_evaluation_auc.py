"""A multi-class model's evaluation has ROC-AUC and PR-AUC, scikit-learn's one-vs-rest
macro averages (it showed "-" for both), for the model and for the run before it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.preprocessing import label_binarize

import prodml

if TYPE_CHECKING:
    from tests.tracking.conftest import Example


@pytest.fixture
def digits(example: Example) -> prodml.Project:
    """The digits example (ten classes)."""
    return example("digits")


def test_a_multi_class_evaluation_has_scikit_learns_macro_aucs(digits: prodml.Project) -> None:
    first = digits.fit()
    run = digits.fit()
    result = digits.evaluate().result

    data = digits.load_data()
    assignment = digits.runs_store.artifacts.load(run.artifact("split"))
    test = data.rows(np.flatnonzero(assignment == 2))
    for entry, run_id in ((result["metrics"], run.id), (_previous(result), first.id)):
        model = digits.load_model(run_id)
        probabilities = model.predict_proba(test.X)
        classes = model.classes_.tolist()
        roc = roc_auc_score(test.y, probabilities, multi_class="ovr", labels=classes)
        binarized = label_binarize(test.y, classes=classes)
        pr = average_precision_score(binarized, probabilities, average="macro")
        assert entry["roc_auc"] == pytest.approx(roc, rel=1e-12)
        assert entry["pr_auc"] == pytest.approx(pr, rel=1e-12)
    assert len(classes) == 10 and result["positive_class"] is None


def _previous(result: dict[str, Any]) -> dict[str, float]:
    (entry,) = [b for b in result["baselines"] if b["kind"] == "previous"]
    return dict(entry["metrics"])
