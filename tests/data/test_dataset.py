"""The project's column roles checked against the data, with did-you-mean."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from prodml.config import DataSettings
from prodml.data.dataset import prepare
from prodml.errors import DataError

FRAME = pd.DataFrame(
    {
        "application_id": [1, 2, 3, 4],
        "income": [10.0, 20.0, 30.0, 40.0],
        "purpose": ["car", "home", "car", "home"],
        "gender": ["f", "m", "f", "m"],
        "applied_at": pd.date_range("2024-01-01", periods=4),
        "approved": [0, 1, 0, 1],
    }
)


def settings(**changes: Any) -> DataSettings:
    base: dict[str, Any] = {
        "source": "loans.csv",
        "target": "approved",
        "id": "application_id",
        "time": "applied_at",
        "metadata": ["gender"],
    }
    return DataSettings.model_validate({**base, **changes})


def test_roles_are_resolved_and_metadata_is_never_a_feature() -> None:
    data = prepare(FRAME, settings(), "classification", "loans.csv")
    assert data.features == ("income", "purpose")
    assert data.metadata == ("gender",)
    assert data.labels == (0, 1)
    assert data.positive_class == 1
    assert isinstance(data.X["purpose"].dtype, pd.CategoricalDtype)
    assert data.y.tolist() == [0, 1, 0, 1]


def test_unknown_target_suggests_the_closest_column() -> None:
    with pytest.raises(
        DataError,
        match=r"^data.target 'approvd' is not a column of loans.csv; columns are: "
        r"application_id, income, purpose, gender, applied_at, approved; "
        r"did you mean 'approved'\?$",
    ):
        prepare(FRAME, settings(target="approvd"), "classification", "loans.csv")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"metadata": ["gendr"]}, r"data.metadata 'gendr' .*did you mean 'gender'\?"),
        ({"time": "applied"}, r"data.time 'applied' .*did you mean 'applied_at'\?"),
        ({"features": ["incme"]}, r"data.features 'incme' .*did you mean 'income'\?"),
        (
            {"features": ["gender"]},
            r"data.features 'gender' is also the target, id, time or a metadata",
        ),
        (
            {"positive_class": 2},
            r"data.positive_class '2' is not a class of 'approved'; classes are: 0, 1",
        ),
    ],
)
def test_column_mistakes_name_key_and_value(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        prepare(FRAME, settings(**changes), "classification", "loans.csv")


def test_positive_class_given_as_text_matches_integer_labels() -> None:
    data = prepare(FRAME, settings(positive_class="0"), "classification", "loans.csv")
    assert data.positive_class == 0


def test_missing_targets_are_an_error_naming_the_rows_the_step_and_the_setting() -> None:
    missing = FRAME.assign(approved=[0.0, float("nan"), 1.0, float("nan")])
    with pytest.raises(
        DataError,
        match=r"data.target 'approved' is missing in 2 rows of new.csv \(application_id 2, 4\), "
        r"and evaluating needs a target on every row: .* set data.missing_target: drop",
    ):
        prepare(missing, settings(), "classification", "new.csv", "evaluating")
    with pytest.raises(DataError, match=r"\(rows 1\), and fitting needs a target"):
        prepare(missing.head(2), settings(id=None), "classification", "loans.csv")


def test_missing_targets_are_left_out_with_missing_target_drop() -> None:
    missing = FRAME.assign(approved=[0.0, float("nan"), 1.0, 1.0])
    kept = missing.dropna(subset=["approved"]).reset_index(drop=True)

    data = prepare(missing, settings(missing_target="drop"), "classification", "loans.csv")

    assert data.frame["application_id"].tolist() == [1, 3, 4]
    assert data.fingerprint == prepare(kept, settings(), "classification", "loans.csv").fingerprint
    with pytest.raises(DataError, match=r"missing in every row of loans\.csv"):
        prepare(
            FRAME.assign(approved=float("nan")),
            settings(missing_target="drop"),
            "classification",
            "loans.csv",
        )


def test_a_single_class_is_refused() -> None:
    with pytest.raises(DataError, match=r"has only one class \(1\)"):
        prepare(FRAME.assign(approved=1), settings(), "classification", "loans.csv")


def test_regression_needs_a_numeric_target() -> None:
    data = prepare(FRAME, settings(target="income", metadata=[]), "regression", "loans.csv")
    assert data.labels == () and data.positive_class is None
    with pytest.raises(
        DataError, match=r"task is regression but data.target 'purpose' is not numeric"
    ):
        prepare(FRAME, settings(target="purpose"), "regression", "loans.csv")
