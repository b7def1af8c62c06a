"""The synthetic loans: deterministic, realistic, learnable, and shifting on a date."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from prodml.data.loans import (
    GENDERS,
    HOME_OWNERSHIP,
    PURPOSES,
    REGIONS,
    SHIFT_AFTER,
    generate_loans,
)
from prodml.errors import DataError

COLUMNS = [
    "application_id",
    "applied_at",
    "age",
    "income",
    "loan_amount",
    "term_months",
    "credit_score",
    "debt_to_income",
    "employment_years",
    "home_ownership",
    "purpose",
    "gender",
    "region",
    "approved",
]
FEATURES = [
    c for c in COLUMNS if c not in ("application_id", "applied_at", "gender", "region", "approved")
]
DEV_AFTER = "2024-04-01"


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    return generate_loans()


@pytest.fixture(scope="module")
def unshifted() -> pd.DataFrame:
    return generate_loans(shift_after=None)


def _after(frame: pd.DataFrame, day: str) -> pd.Series:
    return frame["applied_at"] >= pd.Timestamp(day)


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    x = frame[FEATURES].copy()
    for column in ("home_ownership", "purpose"):
        x[column] = x[column].astype("category")
    return x


def _pre_shift_model(frame: pd.DataFrame) -> HistGradientBoostingClassifier:
    train = frame[~_after(frame, DEV_AFTER)]
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    return model.fit(_features(train), train["approved"])


def test_same_seed_gives_the_same_frame_and_another_seed_a_different_one() -> None:
    pd.testing.assert_frame_equal(generate_loans(3_000, seed=11), generate_loans(3_000, seed=11))
    assert not generate_loans(3_000, seed=11).equals(generate_loans(3_000, seed=12))


def test_twenty_thousand_rows_take_well_under_a_second() -> None:
    started = time.perf_counter()
    generate_loans()
    assert time.perf_counter() - started < 1.0


def test_columns_come_in_order_with_their_types(loans: pd.DataFrame) -> None:
    assert list(loans.columns) == COLUMNS
    assert loans["application_id"].tolist() == list(range(1, 20_001))
    assert loans["applied_at"].dtype == "datetime64[ns]"
    for column in ("application_id", "age", "term_months", "credit_score", "approved"):
        assert loans[column].dtype == np.int64, column
    for column in ("income", "loan_amount", "debt_to_income", "employment_years"):
        assert loans[column].dtype == np.float64, column
    for column, allowed in [
        ("home_ownership", HOME_OWNERSHIP),
        ("purpose", PURPOSES),
        ("gender", GENDERS),
        ("region", REGIONS),
    ]:
        assert pd.api.types.is_string_dtype(loans[column]), column
        assert set(loans[column]) == set(allowed), column


def test_values_lie_in_realistic_ranges(loans: pd.DataFrame) -> None:
    assert set(loans["term_months"]) == {36, 60}
    assert set(loans["approved"]) == {0, 1}
    assert loans["credit_score"].between(300, 850).all()
    assert loans["debt_to_income"].between(0, 1).all()
    assert loans["age"].between(18, 80).all()
    assert (loans["income"] > 0).all() and (loans["loan_amount"] >= 1_000).all()
    assert 35_000 < loans["income"].median() < 65_000
    assert (
        loans["employment_years"].dropna() <= loans["age"][loans["employment_years"].notna()] - 18
    ).all()


def test_only_a_few_employment_years_are_missing(loans: pd.DataFrame) -> None:
    missing = loans.isna().mean()
    assert 0.005 < missing["employment_years"] < 0.03
    assert missing.drop("employment_years").eq(0).all()


def test_applications_are_sorted_and_spread_over_two_years(loans: pd.DataFrame) -> None:
    applied = loans["applied_at"]
    assert applied.is_monotonic_increasing
    assert applied.min() >= pd.Timestamp("2023-01-01")
    assert applied.max() < pd.Timestamp("2025-01-01")
    per_month = applied.dt.to_period("M").value_counts()
    assert len(per_month) == 24
    assert per_month.min() > 0.5 * per_month.max()
    weekend = applied.dt.day_of_week >= 5
    assert weekend.mean() < 2 / 7  # fewer applications on weekends


def test_about_sixty_percent_are_approved(loans: pd.DataFrame) -> None:
    assert 0.55 <= loans["approved"].mean() <= 0.65
    assert 0.55 <= loans.loc[~_after(loans, SHIFT_AFTER), "approved"].mean() <= 0.65


def test_approval_is_learnable_from_the_features_but_not_from_metadata(
    loans: pd.DataFrame,
) -> None:
    before = loans[~_after(loans, SHIFT_AFTER)]
    holdout = before[_after(before, DEV_AFTER)]
    train = before[~_after(before, DEV_AFTER)]
    model = _pre_shift_model(loans)
    auc = roc_auc_score(holdout["approved"], model.predict_proba(_features(holdout))[:, 1])
    assert auc >= 0.75

    metadata = pd.get_dummies(before[["gender", "region"]]).astype(float)
    by_metadata = LogisticRegression().fit(metadata.loc[train.index], train["approved"])
    metadata_auc = roc_auc_score(
        holdout["approved"], by_metadata.predict_proba(metadata.loc[holdout.index])[:, 1]
    )
    assert 0.45 < metadata_auc < 0.55


def test_region_shifts_income_but_gender_does_not(loans: pd.DataFrame) -> None:
    by_region = loans.groupby("region")["income"].median()
    assert by_region.max() / by_region.min() > 1.1
    by_gender = loans.groupby("gender")["income"].median()
    assert by_gender.max() / by_gender.min() < 1.05


def test_rows_before_the_shift_do_not_depend_on_it(
    loans: pd.DataFrame, unshifted: pd.DataFrame
) -> None:
    before = ~_after(loans, SHIFT_AFTER)
    pd.testing.assert_frame_equal(loans[before], unshifted[before])
    assert not loans[~before].equals(unshifted[~before])


def test_after_the_shift_applicants_are_poorer_younger_and_differently_placed(
    loans: pd.DataFrame, unshifted: pd.DataFrame
) -> None:
    after = _after(loans, SHIFT_AFTER)
    assert loans.loc[after, "income"].mean() < 0.9 * loans.loc[~after, "income"].mean()
    assert loans.loc[after, "age"].mean() < loans.loc[~after, "age"].mean() - 3
    share = loans.groupby(after)["purpose"].value_counts(normalize=True)
    assert share[True, "business"] > share[False, "business"] + 0.08
    regions = loans.groupby(after)["region"].value_counts(normalize=True)
    assert regions[True, "south"] > regions[False, "south"] + 0.05

    same = _after(unshifted, SHIFT_AFTER)
    ratio = unshifted.loc[same, "income"].mean() / unshifted.loc[~same, "income"].mean()
    assert 0.95 < ratio < 1.05


def test_after_the_shift_the_same_credit_score_is_approved_less_often(
    loans: pd.DataFrame, unshifted: pd.DataFrame
) -> None:
    def approval_in_band(frame: pd.DataFrame) -> tuple[float, float]:
        band = frame[frame["credit_score"].between(650, 720)]
        after = _after(band, SHIFT_AFTER)
        return band.loc[~after, "approved"].mean(), band.loc[after, "approved"].mean()

    before, after = approval_in_band(loans)
    assert after < before - 0.15
    before, after = approval_in_band(unshifted)
    assert abs(after - before) < 0.06


def test_a_model_fitted_before_the_shift_overestimates_approvals_after_it(
    loans: pd.DataFrame, unshifted: pd.DataFrame
) -> None:
    def overestimate(frame: pd.DataFrame) -> float:
        after = frame[_after(frame, SHIFT_AFTER)]
        predicted = _pre_shift_model(frame).predict_proba(_features(after))[:, 1]
        return float(predicted.mean() - after["approved"].mean())

    assert overestimate(loans) > 0.1
    assert abs(overestimate(unshifted)) < 0.05


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n": 0}, r"n 0 must be at least 1"),
        ({"start": "2024-01-01", "end": "2023-01-01"}, r"end 2023-01-01 comes before start"),
        ({"shift_after": "next year"}, r"shift_after 'next year' is not a date; write it as"),
    ],
)
def test_bad_arguments_say_what_to_change(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        generate_loans(**arguments)
