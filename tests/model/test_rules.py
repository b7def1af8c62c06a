"""A plain Python rule as a model: it fits, predicts, saves and loads like one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodml.errors import ModelError
from prodml.model.rules import RuleModel
from prodml.store.artifacts import ArtifactStore

RULES = "def approve_if_income(X):\n    return (X['income'] > 40_000).astype(int)\n"
X = pd.DataFrame({"income": [10_000, 50_000, 39_999, 40_001]})


@pytest.fixture
def rule(tmp_path: Path) -> RuleModel:
    (tmp_path / "rules.py").write_text(RULES)
    return RuleModel.from_reference("rules:rules.py:approve_if_income", tmp_path)


def test_rule_predicts_what_the_function_returns(rule: RuleModel) -> None:
    rule.fit(X, [0, 1, 0, 1])
    assert rule.predict(X).tolist() == [0, 1, 0, 1]
    assert rule.classes_.tolist() == [0, 1]
    np.testing.assert_array_equal(rule.predict_proba(X), [[1, 0], [0, 1], [1, 0], [0, 1]])


def test_rule_keeps_its_source_after_the_file_changes(rule: RuleModel, tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def approve_if_income(X):\n    return [0] * len(X)\n")
    assert rule.fit(X, [0, 1, 0, 1]).predict(X).tolist() == [0, 1, 0, 1]


def test_rule_round_trips_through_a_skops_artifact(rule: RuleModel, tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "artifacts"))
    saved = store.save("run", "model", rule.fit(X, [0, 1, 0, 1]))
    loaded = store.load(saved)
    assert loaded.predict(X).tolist() == [0, 1, 0, 1]


def test_unknown_function_suggests_one(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text(RULES)
    with pytest.raises(
        ModelError, match=r"has no function 'approve_if_incme'; did you mean 'approve_if_income'\?"
    ):
        RuleModel.from_reference("rules:rules.py:approve_if_incme", tmp_path)


def test_rule_returning_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def one(X):\n    return [1]\n")
    rule = RuleModel.from_reference("rules:rules.py:one", tmp_path).fit(X, [0, 1, 0, 1])
    with pytest.raises(ModelError, match=r"returned shape \(1,\) for 4 rows"):
        rule.predict(X)


def test_broken_rule_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def broken(X:\n")
    with pytest.raises(ModelError, match=r"rule rules:rules.py:broken cannot be loaded"):
        RuleModel.from_reference("rules:rules.py:broken", tmp_path)
