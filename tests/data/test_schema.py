"""The input schema: inferred from training rows, and the anomalies it finds in new data."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from prodml.data.loans import generate_loans
from prodml.data.schema import QUANTILES, Schema, infer_schema, validate
from prodml.errors import DataError


def breast_cancer() -> pd.DataFrame:
    frame: pd.DataFrame = load_breast_cancer(as_frame=True).data
    return frame


def mixed() -> pd.DataFrame:
    """Breast cancer measurements plus a column of every other kind."""
    frame = breast_cancer()
    n = len(frame)
    rng = np.random.default_rng(0)
    colour = np.array(["red", "green", "blue"], dtype=object)[rng.integers(0, 3, n)]
    colour[rng.random(n) < 0.05] = None
    return frame.assign(
        visits=rng.integers(0, 50, n),
        whole=rng.integers(0, 10, n).astype(np.float64),
        member=rng.random(n) < 0.3,
        colour=pd.Series(colour, dtype="str"),
        grade=pd.Categorical(rng.choice(["A", "B", "C"], n), categories=["A", "B", "C", "D"]),
        note=[f"customer note {i}" for i in range(n)],
        seen_at=pd.date_range("2024-01-01", periods=n, freq="h"),
    )


LOANS = generate_loans(3_000, seed=11)
FEATURES = [c for c in LOANS.columns if c not in ("application_id", "approved")]
TEXT = ["home_ownership", "purpose", "gender", "region"]


def test_kinds_follow_the_dtypes() -> None:
    schema = infer_schema(mixed(), max_categories=100)
    kinds = {c.name: (c.kind, c.dtype, c.nullable) for c in schema.columns}
    assert kinds["mean radius"] == ("number", "float64", False)
    assert kinds["visits"] == ("integer", "int64", False)
    assert kinds["whole"] == ("number", "float64", False)  # whole floats stay numbers
    assert kinds["member"] == ("boolean", "bool", False)
    assert kinds["colour"] == ("category", "str", True)
    assert kinds["grade"] == ("category", "category", False)
    assert kinds["note"] == ("text", "str", False)
    assert kinds["seen_at"] == ("datetime", "datetime64[us]", False)
    assert schema.rows == 569


def test_number_statistics_equal_numpy() -> None:
    frame = pd.concat([mixed(), LOANS.iloc[:569].reset_index(drop=True)], axis=1)
    schema = infer_schema(frame, max_categories=100)
    numeric = [c for c in schema.columns if c.kind in ("number", "integer")]
    assert len(numeric) == 30 + 2 + 9  # loans: 7 features, the id and the target
    for column in numeric:
        values = frame[column.name].dropna()
        expected = np.quantile(values, list(QUANTILES.values()))
        assert column.quantiles == dict(zip(QUANTILES, expected.tolist(), strict=True))
        assert (column.minimum, column.maximum) == (values.min(), values.max())
    employment = schema.column("employment_years")
    assert employment.nullable
    assert employment.missing_share == frame["employment_years"].isna().mean() > 0


def test_category_shares_equal_value_counts_for_text_and_pandas_categories() -> None:
    frame = mixed()
    schema = infer_schema(frame, max_categories=100)
    for name in ("colour", "grade", "member"):
        shares = frame[name].value_counts(normalize=True)
        shares = shares[shares > 0]  # grade's category "D" has no rows: never seen
        assert schema.column(name).categories == {str(k): v for k, v in shares.items()}
    assert schema.column("colour").missing_share == frame["colour"].isna().mean() > 0
    lengths = frame["colour"].dropna().str.len()
    assert schema.column("colour").length == pytest.approx(
        {"min": lengths.min(), "mean": lengths.mean(), "max": lengths.max()}
    )
    note = schema.column("note")
    assert note.categories is None
    assert note.length == pytest.approx(
        {"min": 15, "mean": frame["note"].str.len().mean(), "max": 17}
    )
    seen_at = schema.column("seen_at")
    assert (seen_at.minimum, seen_at.maximum) == ("2024-01-01T00:00:00", "2024-01-24T16:00:00")
    assert seen_at.quantiles is None


def test_loans_read_as_text_or_as_pandas_categories_give_the_same_statistics() -> None:
    as_text = infer_schema(LOANS, FEATURES)
    as_categories = infer_schema(LOANS.astype({c: "category" for c in TEXT}), FEATURES)
    for text, category in zip(as_text.columns, as_categories.columns, strict=True):
        assert dataclasses.replace(text, dtype="") == dataclasses.replace(category, dtype="")
    assert as_text.column("purpose").dtype == "str"
    assert as_categories.column("purpose").dtype == "category"
    assert set(as_text.column("region").categories or {}) == {
        "north",
        "south",
        "east",
        "west",
        "central",
    }


def test_schema_round_trips_through_json_with_a_stable_hash() -> None:
    for schema in (infer_schema(mixed(), max_categories=100), infer_schema(LOANS, FEATURES)):
        text = json.dumps(schema.to_dict())
        again = Schema.from_dict(json.loads(text))
        assert again == schema
        assert again.hash() == schema.hash()
        assert json.dumps(again.to_dict()) == text


def test_hash_ignores_statistics_and_follows_structure() -> None:
    full = infer_schema(LOANS, FEATURES)
    later = infer_schema(generate_loans(3_000, seed=12), FEATURES)
    assert later.column("income") != full.column("income")
    assert later.hash() == full.hash()
    as_float = infer_schema(LOANS.astype({"age": "float64"}), FEATURES)
    assert as_float.column("age").kind == "number"
    assert as_float.hash() != full.hash()
    without_a_region = infer_schema(LOANS[LOANS["region"] != "east"], FEATURES)
    assert without_a_region.hash() != full.hash()


@pytest.mark.parametrize(
    "frame",
    [LOANS, breast_cancer(), mixed(), LOANS.astype({c: "category" for c in TEXT})],
    ids=["loans", "breast-cancer", "mixed", "loans-categories"],
)
def test_the_training_data_itself_has_no_anomalies(frame: pd.DataFrame) -> None:
    features = [c for c in frame.columns if c not in ("application_id", "approved")]
    schema = infer_schema(frame, features, max_categories=100)
    assert validate(frame[features], schema) == []


def planted() -> pd.DataFrame:
    """LOANS with one anomaly of every kind, at known rows."""
    frame = LOANS[FEATURES].drop(columns="age").assign(comment="checked")
    frame["income"] = frame["income"].astype(object)
    frame.loc[[10, 20, 30], "income"] = ["n/a", "n/a", "unknown"]
    frame.loc[[1, 2, 3, 4, 5], "credit_score"] = np.nan
    frame.loc[100:699, "employment_years"] = np.nan
    frame.loc[[7, 8, 9, 2_999], "loan_amount"] = 1_000_000.0
    frame.loc[[40, 41, 42, 43], "purpose"] = ["bussiness", "bussiness", "bussiness", "wedding"]
    return frame


def test_planted_anomalies_are_found_exactly_errors_first() -> None:
    schema = infer_schema(LOANS, FEATURES)
    frame = planted()
    found = validate(frame, schema, ids=LOANS["application_id"] + 1_000)
    summary = [(a.kind, a.column, a.severity, a.count, a.rows) for a in found]
    jump = frame["employment_years"].isna()
    assert summary == [
        ("missing_column", "age", "error", 0, ()),
        ("wrong_type", "income", "error", 3, (1_011, 1_021, 1_031)),
        ("unexpected_missing", "credit_score", "error", 5, (1_002, 1_003, 1_004, 1_005, 1_006)),
        # the server refuses an unseen category (serve.unseen: reject), so it is an error
        ("unseen_category", "purpose", "error", 4, (1_041, 1_042, 1_043, 1_044)),
        ("out_of_range", "loan_amount", "warning", 4, (1_008, 1_009, 1_010, 4_000)),
        (
            "missing_jump",
            "employment_years",
            "warning",
            int(jump.sum()),
            tuple(LOANS.loc[jump, "application_id"].head(10) + 1_000),
        ),
        ("extra_column", "comment", "warning", 0, ()),
    ]
    assert validate(frame, schema)[1].rows == (10, 20, 30)  # without ids: the index
    answered = validate(frame, schema, unseen="predict")  # the server answers it: a warning
    (unseen,) = [a for a in answered if a.kind == "unseen_category"]
    assert unseen.severity == "warning" and answered[-2] == unseen


def test_messages_name_the_column_the_values_what_is_allowed_and_the_fix() -> None:
    schema = infer_schema(LOANS, FEATURES)
    messages = {a.kind: a.message for a in validate(planted(), schema)}
    # the facts of LOANS that the messages quote
    assert (LOANS["loan_amount"].min(), LOANS["loan_amount"].max()) == (1_000, 104_700)
    assert LOANS["employment_years"].isna().sum() == 39  # 3 of them in the planted rows
    assert list(LOANS["purpose"].value_counts().index[:4]) == [
        "debt_consolidation",
        "car",
        "home_improvement",
        "business",
    ]
    assert messages == {
        "missing_column": "column 'age' (integer) is not in the data, and the model needs it; "
        "add it or rename the column that holds it",
        "wrong_type": "column 'income' expects numbers (number, float64 in training), and 3 "
        "rows hold other values: 'n/a' (2), 'unknown' (1); correct or drop those rows",
        "unexpected_missing": "column 'credit_score' has 5 missing values but had none in "
        "training, so the model never saw one there; fill them or drop those rows",
        "out_of_range": "column 'loan_amount' has 4 values outside the training range 1000 to "
        "104700 (0 below, 4 above; seen 1000 to 1000000); check the units and the source, "
        "or retrain on data that covers them",
        "missing_jump": "column 'employment_years' is missing in 21.2% of the rows (636 of "
        "3000) against 1.3% in training, a rise of 19.9 points where 10.0 are allowed; "
        "find what changed upstream, or raise missing_jump",
        "unseen_category": "column 'purpose' has 2 values never seen in training: "
        "'bussiness' (3), 'wedding' (1); known values are: debt_consolidation, car, "
        "home_improvement, business, medical, education; map them to a known value or "
        "retrain on data that has them (the server refuses such rows: serve.unseen is "
        "reject; set it to predict to have the model answer them); did you mean 'business'?",
        "extra_column": "column 'comment' is not in the schema, so the model ignores it; drop "
        "it, or retrain with it to use it",
    }


def test_a_single_record_from_json_validates() -> None:
    schema = infer_schema(LOANS, FEATURES)
    good = json.loads(LOANS.loc[[5], FEATURES].to_json(orient="records", date_format="iso"))[0]
    assert isinstance(good["applied_at"], str)
    assert validate(pd.DataFrame([good]), schema) == []
    bad = {**good, "income": "n/a", "age": 120, "credit_score": None, "purpose": "vacation"}
    found = validate(pd.DataFrame([bad]), schema, ids=pd.Series(["req-1"]))
    assert [(a.kind, a.column, a.count, a.rows) for a in found] == [
        ("wrong_type", "income", 1, ("req-1",)),
        ("unexpected_missing", "credit_score", 1, ("req-1",)),
        ("unseen_category", "purpose", 1, ("req-1",)),
        ("out_of_range", "age", 1, ("req-1",)),
    ]
    unrecorded = pd.DataFrame([{**good, "employment_years": None}])
    assert [a.kind for a in validate(unrecorded, schema)] == ["missing_jump"]
    assert validate(unrecorded, schema, missing_jump=1.0) == []


@pytest.mark.parametrize("copies", [1, 40], ids=["few-rows", "many-rows"])
def test_harmless_type_differences_pass_and_wrong_values_do_not(copies: int) -> None:
    train = pd.DataFrame(
        {
            "count": [1, 2, 3],
            "amount": [0.5, 1.5, 2.5],
            "when": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
            "member": [True, False, True],
        }
    )
    schema = infer_schema(train)
    harmless: dict[str, list[Any]] = {
        "count": [1.0, 2.0, 3.0],  # as a CSV reader gives them when a value is missing
        "amount": [1, 2, 2],
        "when": ["2024-01-05", "2024-01-05T10:30:00+01:00", "02/03/2024"],
        "member": ["true", "0", False],
    }
    many = {name: values * copies for name, values in harmless.items()}
    assert validate(pd.DataFrame(many), schema) == []
    wrong: dict[str, list[Any]] = {
        "count": [1.5, 2.0, 3.0],
        "amount": [1.0, "lots", 2.0],
        "when": ["2024-01-05", "soon", "2024-13-01"],
        "member": ["true", "maybe", True],
    }
    many = {name: values * copies for name, values in wrong.items()}
    found = validate(pd.DataFrame(many), schema)
    assert [(a.kind, a.column, a.count) for a in found] == [
        ("wrong_type", "count", copies),
        ("wrong_type", "amount", copies),
        ("wrong_type", "when", 2 * copies),
        ("wrong_type", "member", copies),
    ]
    assert "'soon' " in found[2].message and "'2024-13-01' " in found[2].message


def test_mistakes_in_names_and_files_say_how_to_fix_them() -> None:
    schema = infer_schema(LOANS, FEATURES)
    with pytest.raises(
        DataError, match=r"^column 'incme' is not in the schema; .*did you mean 'income'\?$"
    ):
        schema.column("incme")
    with pytest.raises(
        DataError,
        match=r"^'incme' is not a column of the training data; .*did you mean 'income'\?$",
    ):
        infer_schema(LOANS, ["incme"])
    with pytest.raises(DataError, match=r"^cannot infer a schema from a frame of no rows"):
        infer_schema(LOANS.iloc[:0])
    with pytest.raises(
        DataError,
        match=r"^schema format version 2 is not one this prodml reads \(up to 1\); upgrade prodml$",
    ):
        Schema.from_dict({**schema.to_dict(), "format_version": 2})
    with pytest.raises(
        DataError, match=r"^schema column 'age' has kind 'whole'; kinds are: number, "
    ):
        Schema.from_dict(
            {**schema.to_dict(), "columns": [{**schema.to_dict()["columns"][1], "kind": "whole"}]}
        )
    with pytest.raises(DataError, match=r"^ids has 2 values but the data has 3000 rows"):
        validate(LOANS, schema, ids=pd.Series([1, 2]))
