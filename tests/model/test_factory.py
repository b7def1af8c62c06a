"""Models from specs: any scikit-learn-compatible factory, nested for pipelines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from prodml.config import ModelSpec
from prodml.errors import ModelError
from prodml.model.factory import build
from prodml.model.rules import RuleModel


def spec(**fields: Any) -> ModelSpec:
    return ModelSpec.model_validate(fields)


def test_dotted_path_with_params() -> None:
    model = build(
        spec(factory="sklearn.ensemble.HistGradientBoostingClassifier", params={"max_iter": 50}),
        Path("."),
    )
    assert isinstance(model, HistGradientBoostingClassifier)
    assert model.max_iter == 50


def test_nested_specs_build_a_pipeline() -> None:
    model = build(
        spec(
            factory="sklearn.pipeline.Pipeline",
            params={
                "steps": [
                    ["scale", {"factory": "sklearn.preprocessing.StandardScaler"}],
                    [
                        "clf",
                        {
                            "factory": "sklearn.linear_model.LogisticRegression",
                            "params": {"C": 0.3},
                        },
                    ],
                ]
            },
        ),
        Path("."),
    )
    assert isinstance(model, Pipeline)
    assert model.get_params()["clf__C"] == 0.3
    assert type(model.named_steps["scale"]).__name__ == "StandardScaler"


def test_each_build_is_a_fresh_model() -> None:
    made = spec(factory="sklearn.tree.DecisionTreeClassifier")
    assert build(made, Path(".")) is not build(made, Path("."))


def test_factory_from_the_project_folder(tmp_path: Path) -> None:
    (tmp_path / "custommodels.py").write_text(
        "from sklearn.tree import DecisionTreeClassifier\n\n"
        "class Shallow(DecisionTreeClassifier):\n    pass\n"
    )
    assert type(build(spec(factory="custommodels.Shallow"), tmp_path)).__name__ == "Shallow"


def test_rule_reference_builds_a_rule_model(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("def yes(X):\n    return [1] * len(X)\n")
    assert isinstance(build(spec(factory="rules:rules.py:yes"), tmp_path), RuleModel)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"factory": "sklearn.ensemble.RandomForestClasifier"},
            r"^model.factory 'sklearn.ensemble.RandomForestClasifier' cannot be imported: module "
            r"'sklearn.ensemble' has no 'RandomForestClasifier'; did you mean 'RandomForestClassifier'\?$",
        ),
        (
            {"factory": "skleran.linear_model.LogisticRegression"},
            r"no module named 'skleran'; did you mean 'sklearn'\?$",
        ),
        (
            {"factory": "sklearn.linear_modl.LogisticRegression"},
            r"no module named 'sklearn.linear_modl'; did you mean 'sklearn.linear_model'\?$",
        ),
        ({"factory": "LogisticRegression"}, r"is not a dotted path"),
        (
            {"factory": "sklearn.linear_model.LogisticRegression", "params": {"max_iters": 5}},
            r"^model.params 'max_iters' is not a parameter of sklearn.linear_model.LogisticRegression; "
            r".*did you mean 'max_iter'\?$",
        ),
        (
            {"factory": "sklearn.linear_model.LogisticRegression", "params": {"penalty": "l7"}},
            r"^model.params for sklearn.linear_model.LogisticRegression: The 'penalty' parameter",
        ),
        (
            {"factory": "collections.OrderedDict"},
            r"made a OrderedDict, which has no fit and predict",
        ),
        (
            {
                "factory": "sklearn.pipeline.make_pipeline",
                "args": [{"factory": "sklearn.preprocessing.StandardScalar"}],
            },
            r"^model.args\[0\].factory 'sklearn.preprocessing.StandardScalar' .*did you mean 'StandardScaler'",
        ),
        (
            {"factory": "rules:nothere.py:f"},
            r"rule 'rules:nothere.py:f': file .*nothere.py does not exist",
        ),
        ({"factory": "rules:rules.py"}, r"must look like rules:FILE.py:FUNCTION"),
    ],
)
def test_bad_specs_name_the_key_and_the_fix(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        build(spec(**fields), Path("."))
