"""Rows checked against a schema before pandas: what passes, what it becomes, and the
message of everything refused (row, field, value, what is allowed)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from prodml.data.schema import Schema, infer_schema
from prodml.serve.frame import FrameBuilder, matrix
from prodml.serve.rejection import Rejected
from prodml.serve.validation import FloatRows, RowChecker, joined


@pytest.fixture(scope="module")
def schema() -> Schema:
    train = pd.DataFrame(
        {
            "income": [30e3, 52e3, 75e3],
            "years": [1.0, np.nan, 3.0],
            "age": [25, 40, 61],
            "owner": [True, False, True],
            "region": pd.Categorical(["north", "south", "north"]),
            "seen": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
        }
    )
    return infer_schema(train)


@pytest.fixture
def out_of_range() -> list[str]:
    return []


@pytest.fixture
def checker(schema: Schema, out_of_range: list[str]) -> RowChecker:
    return RowChecker(schema, out_of_range.append)


GOOD = {
    "income": 41000,
    "years": None,
    "age": 33.0,
    "owner": "true",
    "region": "south",
    "seen": "2024-05-01T10:00:00",
}


def test_good_records_become_plain_tuples_in_schema_order(checker: RowChecker) -> None:
    row = checker.record({**GOOD, "extra": "ignored"}, 0)
    assert row == (41000, None, 33, True, "south", "2024-05-01T10:00:00")
    assert type(row[2]) is int  # a whole float in an integer column becomes an int
    assert checker.record({**GOOD, "years": math.nan}, 0)[1] is None  # NaN where allowed


def test_text_values_parse_as_csv_cells_do(checker: RowChecker) -> None:
    cells = {"income": " 41000.5", "years": "", "age": "33", "owner": "0", "region": "north",
             "seen": "2024-05-01"}  # fmt: skip
    assert checker.record(cells, 0, text=True) == (41000.5, None, 33, False, "north", "2024-05-01")


def test_float_records_keep_one_matrix_and_the_model_gets_a_copy_of_it(numbers: Schema) -> None:
    rng = np.random.default_rng(9)
    checker = RowChecker(numbers)
    parts = [
        checker.records([dict(zip(checker.names, map(float, row), strict=True)) for row in values])
        for values in (rng.normal(size=(3, 6)), rng.normal(size=(2, 6)))
    ]
    assert all(type(part) is FloatRows for part in parts)
    rows = joined(parts)
    assert type(rows) is FloatRows and rows == parts[0] + parts[1]
    assert rows.matrix.tolist() == [list(row) for row in rows]  # the same floats, exactly
    given = matrix(rows)
    given *= 2  # a model may write to its input (a transformer with copy=False does)
    assert rows.matrix.tolist() == [list(row) for row in rows]
    mixed = joined([parts[0], [(1.0, 2.0, 3.0, 4.0, 5.0, 6)]])  # an int: no matrix
    assert type(mixed) is list and matrix(mixed)[-1].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"income": "41000"},
            "row 4, field 'income': '41000' is text; expected a number (the column was float64 in training)",
        ),
        ({"income": True}, "row 4, field 'income': true is true/false; expected a number"),
        (
            {"income": None},
            "row 4, field 'income': null is missing, but the column had no missing values in training, so the model never saw one there; send a number",
        ),
        (
            {"income": math.inf},
            "row 4, field 'income': Infinity is not a finite number; expected a number",
        ),
        (
            {"age": 33.5},
            "row 4, field 'age': 33.5 is a fraction; expected a whole number (the column was int64 in training)",
        ),
        (
            {"age": 2**70},
            "row 4, field 'age': 1180591620717411303424 does not fit a 64-bit integer",
        ),
        (
            {"owner": "maybe"},
            "row 4, field 'owner': 'maybe' is text; expected true or false (the column was bool in training)",
        ),
        (
            {"region": "nort"},
            "row 4, field 'region': 'nort' was never seen in training; known values are: north, south; did you mean 'north'?",
        ),
        (
            {"region": ["north"]},
            "row 4, field 'region': [\"north\"] is a list; expected text (the column was category in training)",
        ),
        (
            {"seen": "yesterday"},
            "row 4, field 'seen': 'yesterday' is text; expected an ISO 8601 datetime as text",
        ),
    ],
)
def test_each_wrong_value_is_a_422_naming_row_field_value_and_what_is_allowed(
    checker: RowChecker, change: dict[str, object], message: str
) -> None:
    with pytest.raises(Rejected, match=f"^{re.escape(message)}") as raised:
        checker.record({**GOOD, **change}, 4)
    assert raised.value.status == 422
    assert raised.value.field == next(iter(change))


def test_every_bad_field_of_a_row_is_named_the_first_in_full(checker: RowChecker) -> None:
    record = {k: v for k, v in GOOD.items() if k != "seen"} | {"income": "41000", "age": 33.5}

    with pytest.raises(Rejected) as raised:
        checker.record(record, 4)

    assert raised.value.field == "income"
    assert raised.value.message == (
        "3 fields do not fit the model's input: (1) row 4, field 'income': '41000' is text; "
        "expected a number (the column was float64 in training); (2) row 4, field 'age': "
        "33.5 is a fraction; (3) row 4 has no field 'seen' (datetime)"
    )
    two = {**GOOD, "income": "41000", "age": 33.5}
    for given in (two, list(two.values())):  # as an object, and as a list of values
        with pytest.raises(
            Rejected, match=r"^2 fields .*: \(1\) row 1, .* \(2\) row 1, field 'age'"
        ):
            checker.rows([GOOD, given])
    with pytest.raises(Rejected, match=r"^2 fields .* \(2\) row 2, field 'income': 'y' is text$"):
        checker.column(0, [1.0, "x", "y"])


def test_a_refusal_lists_ten_fields_and_counts_the_rest(checker: RowChecker) -> None:
    with pytest.raises(Rejected) as raised:
        checker.records([{**GOOD, "income": "x"}] * 12)
    assert raised.value.message.startswith("12 fields do not fit the model's input: (1) row 0")
    assert raised.value.message.endswith("(10) row 9, field 'income': 'x' is text; and 2 more")


def test_unseen_values_are_refused_or_answered_as_serve_unseen_says(schema: Schema) -> None:
    one_flag = infer_schema(pd.DataFrame({"member": [True, True], "region": ["n", "s"]}))
    refusing, answering = RowChecker(one_flag), RowChecker(one_flag, unseen="predict")
    with pytest.raises(Rejected, match=r"^row 0, field 'member': false was never seen"):
        refusing.record({"member": False, "region": "n"}, 0)
    with pytest.raises(Rejected, match=r"^row 0, field 'region': 'w' was never seen"):
        refusing.record({"member": True, "region": "w"}, 0)
    assert answering.record({"member": "false", "region": "w"}, 0) == (False, "w")
    # the rest is refused all the same
    with pytest.raises(Rejected, match=r"^row 0, field 'member': 'maybe' is text"):
        answering.record({"member": "maybe", "region": "w"}, 0)


def test_a_missing_field_names_the_fields_and_the_closest_given(checker: RowChecker) -> None:
    record = {k: v for k, v in GOOD.items() if k != "income"} | {"incom": 1}
    with pytest.raises(Rejected) as raised:
        checker.record(record, 2)
    assert raised.value.message == (
        "row 2 has no field 'income' (number); the model needs each of income, years, age, "
        "owner, region, seen; did you mean 'incom'?"
    )


def test_positional_rows_and_columns_check_the_same_way(checker: RowChecker) -> None:
    values = list(GOOD.values())
    assert checker.values(values, 0) == checker.record(GOOD, 0)
    with pytest.raises(Rejected, match=r"^row 1 is 2 values; expected a list of 6 values"):
        checker.values(values[:2], 1)
    assert checker.column(0, [1.0, 2]) == [1.0, 2]
    with pytest.raises(Rejected, match=r"^row 1, field 'income': 'x' is text"):
        checker.column(0, [1.0, "x"])


def test_out_of_range_numbers_pass_and_are_counted(
    checker: RowChecker, out_of_range: list[str]
) -> None:
    checker.record({**GOOD, "income": 1e9, "age": 3}, 0)
    assert out_of_range == ["income", "age"]


def test_checked_rows_make_a_frame_with_the_training_dtypes(schema: Schema) -> None:
    checker = RowChecker(schema)
    rows = [checker.record(GOOD, 0), checker.record({**GOOD, "years": 2.5, "region": "north"}, 1)]
    frame = FrameBuilder(schema)(rows)
    assert frame.dtypes.astype(str).tolist() == [
        "float64", "float64", "int64", "bool", "category", "datetime64[us]",
    ]  # fmt: skip
    assert frame["region"].cat.categories.tolist() == ["north", "south"]
    assert frame["years"].isna().tolist() == [True, False]


# --- many records at once -----------------------------------------------------------------


@pytest.fixture(scope="module")
def numbers() -> Schema:
    rng = np.random.default_rng(7)
    train = pd.DataFrame({f"x{i}": rng.normal(i, 1.0, 50) for i in range(6)})
    train["x2"] = train["x2"].where(train.index % 10 != 0)  # nullable
    return infer_schema(train)


def one_by_one(checker: RowChecker, records: list[Any]) -> list[tuple[Any, ...]]:
    return [checker.record(record, i) for i, record in enumerate(records)]


def test_many_number_records_check_as_one_by_one_and_count_the_same(numbers: Schema) -> None:
    rng = np.random.default_rng(8)
    values = rng.normal(np.arange(6), 2.5, size=(300, 6))  # many beyond the training range
    records = [{f"x{i}": float(v) for i, v in enumerate(row)} | {"extra": "x"} for row in values]
    batch_notes: list[str] = []
    single_notes: list[str] = []

    batch = RowChecker(numbers, batch_notes.append).records(records)
    single = one_by_one(RowChecker(numbers, single_notes.append), records)

    assert batch == single == [tuple(row) for row in values.tolist()]
    assert batch_notes == single_notes and len(single_notes) > 100


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x1": 3}, None),  # an int: allowed, kept as it is
        ({"x2": None}, None),  # null in a nullable column
        ({"x0": None}, "row 4, field 'x0': null"),
        ({"x3": "7"}, "row 4, field 'x3': '7' is text"),
        ({"x4": True}, "row 4, field 'x4': true"),
        ({"x5": float("inf")}, "row 4, field 'x5': Infinity is not a finite number"),
        ({"x5": -float("inf")}, "row 4, field 'x5': -Infinity is not a finite number"),
        ({"x2": float("nan")}, None),  # NaN in a nullable column: missing, as null
        ({"x0": float("nan")}, "row 4, field 'x0': NaN is missing"),
    ],
)
def test_records_that_are_not_all_floats_check_as_one_by_one(
    numbers: Schema, change: dict[str, Any], message: str | None
) -> None:
    records = [{f"x{i}": float(i) for i in range(6)} for _ in range(6)]
    records[4] = records[4] | change
    checker = RowChecker(numbers)
    if message is None:
        assert checker.records(records) == one_by_one(checker, records)
    else:
        with pytest.raises(Rejected, match=re.escape(message)):
            checker.records(records)


def test_records_missing_a_field_or_not_objects_are_refused_by_row(numbers: Schema) -> None:
    checker = RowChecker(numbers)
    good = {f"x{i}": float(i) for i in range(6)}
    with pytest.raises(Rejected, match=r"row 1 has no field 'x3'"):
        checker.records([good, {k: v for k, v in good.items() if k != "x3"}])
    with pytest.raises(Rejected, match=r"row 2 is a list"):
        checker.records([good, good, [1.0] * 6])
    assert checker.records([]) == []


def test_one_checker_finds_the_same_values_whichever_key_objects_and_order_come(
    numbers: Schema,
) -> None:
    # the fast path looks values up by the key objects of the last body's first record
    # (orjson hands out one object a key); every body, in any order of keys, with extra or
    # missing fields, from orjson or json, must find what a fresh checker finds
    rng = np.random.default_rng(3)
    checker = RowChecker(numbers)
    names = [f"x{i}" for i in range(6)]
    for turn in range(40):
        values = rng.normal(size=(int(rng.integers(1, 5)), 6)).tolist()
        order = rng.permutation(6).tolist() if turn % 3 else list(range(6))
        records = [{names[i]: row[i] for i in order} for row in values]
        if turn % 4 == 1:
            records[0]["extra"] = 1.0
        if turn % 7 == 2:
            del records[-1]["x2"]
        body = json.dumps(records).encode()
        for parsed in (orjson.loads(body), json.loads(body), orjson.loads(body)):
            try:
                expected: Any = RowChecker(numbers).records(parsed)
            except Rejected as refused:
                expected = str(refused)
            try:
                found: Any = checker.records(parsed)
            except Rejected as refused:
                found = str(refused)
            assert found == expected
            if type(expected) is FloatRows:
                assert (
                    type(found) is FloatRows and found.matrix.tolist() == expected.matrix.tolist()
                )
