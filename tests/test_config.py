"""The project file: parsed once into typed settings, or one readable error."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from prodml.config import (
    BalancedSplit,
    StratifiedSplit,
    TimeSplit,
    load_settings,
    parse_settings,
)
from prodml.errors import ConfigError

BASE: dict[str, Any] = {
    "project": "p",
    "data": {"source": "data/x.csv", "target": "y"},
    "model": "sklearn.linear_model.LogisticRegression",
}


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def with_data(**changes: Any) -> dict[str, Any]:
    return {**BASE, "data": {**BASE["data"], **changes}}


def test_minimal_file_gets_defaults() -> None:
    settings = parse_settings(BASE)
    assert settings.task == "classification"
    assert settings.model.factory == "sklearn.linear_model.LogisticRegression"
    assert settings.model.params == {}
    assert settings.data.split_settings("classification") == StratifiedSplit(
        method="stratified", dev=0.2, test=0.2, seed=0
    )
    assert settings.data.split_settings("regression").method == "random"


def test_settings_are_frozen() -> None:
    settings = parse_settings(BASE)
    with pytest.raises(ValueError, match="frozen"):
        settings.project = "other"  # type: ignore[misc]


def test_every_split_method_parses() -> None:
    balanced = parse_settings(with_data(split={"method": "balanced", "on": ["gender"]}))
    assert balanced.data.split == BalancedSplit(method="balanced", on=("gender",))
    timed = parse_settings(with_data(split={"method": "time", "test_after": "2024-07-01"}))
    assert isinstance(timed.data.split, TimeSplit)
    assert timed.data.split.test_after == datetime(2024, 7, 1)


def test_yaml_dates_become_midnight(tmp_path: Path) -> None:
    (tmp_path / "prodml.yaml").write_text(
        "project: p\ndata: {source: x.csv, target: y, split: {method: time, test_after: 2024-07-01}}\n"
        "model: sklearn.tree.DecisionTreeClassifier\n"
    )
    split = load_settings(tmp_path).data.split
    assert isinstance(split, TimeSplit) and split.test_after == datetime(2024, 7, 1)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            with_(modle={}),
            r"^unknown key 'modle' in the top level of prodml.yaml; allowed keys are: "
            r"project, task, data, model, search, baselines, evaluate, labels, monitor, store; did you mean 'model'\?$",
        ),
        (
            with_(task="clasification"),
            r"^task 'clasification' is not allowed; choose one of: classification, regression; "
            r"did you mean 'classification'\?$",
        ),
        (
            with_data(split={"method": "stratifed"}),
            r"^data.split.method 'stratifed' is not allowed; choose one of: random, stratified, "
            r"balanced, time; did you mean 'stratified'\?$",
        ),
        (with_data(split={"test": 0.3}), r"^data.split.method is missing; choose one of"),
        (
            with_data(split={"method": "random", "tset": 0.3}),
            r"unknown key 'tset' in data.split .*did you mean 'test'\?$",
        ),
        (
            with_data(split={"method": "random", "test": 1.5}),
            r"^data.split.test 1.5: .*less than 1",
        ),
        (
            with_data(split={"method": "random", "test": 0.5, "dev": 0.5}),
            r"dev 0.5 \+ test 0.5 leaves no training rows",
        ),
        (
            with_data(split={"method": "time"}),
            r"^data.split.test_after is missing from prodml.yaml; set it to a date",
        ),
        (
            with_data(
                split={"method": "time", "test_after": "2024-01-01", "dev_after": "2025-01-01"}
            ),
            r"dev_after 2025-01-01 must come before test_after 2024-01-01",
        ),
        ({"project": "p", "model": "x.Y"}, r"^data is missing from prodml.yaml"),
        (with_data(source={"sql": "select 1"}), r"^data.source.url is missing .*SQLAlchemy URL"),
        (with_(model={"params": {}}), r"^model.factory is missing"),
        (
            with_(
                search={"method": "grid", "params": {"C": {"dist": "uniform", "low": 0, "high": 1}}}
            ),
            r"only random search can sample",
        ),
        (
            with_(
                search={
                    "method": "random",
                    "params": {"C": {"dist": "unifrm", "low": 0, "high": 1}},
                }
            ),
            r"^search.params.C.dist 'unifrm' is not allowed; .*did you mean 'uniform'\?$",
        ),
        (with_(search={"params": {"C": []}}), r"params.C is an empty list"),
        (with_(store={"databse": "x"}), r"did you mean 'database'\?$"),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(
    raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_settings(raw)
    assert "\n" not in str(caught.value)


def test_malformed_yaml_says_where(tmp_path: Path) -> None:
    (tmp_path / "prodml.yaml").write_text("project: p\ndata:\n  target: y\n model: [unclosed\n")
    with pytest.raises(ConfigError, match=r"^prodml.yaml is not valid YAML: line \d+, column \d+"):
        load_settings(tmp_path)


def test_missing_project_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no prodml.yaml in .*prodml init"):
        load_settings(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"), [("", "is empty"), ("- a\n- b\n", "must be a mapping")]
)
def test_empty_or_non_mapping_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "prodml.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path)
