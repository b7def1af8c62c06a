"""Train/dev/test splits: shares, reproducibility, time cuts, and the errors users see."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from prodml.config import BalancedSplit, RandomSplit, StratifiedSplit, TimeSplit
from prodml.data import SPLIT_NAMES
from prodml.data.split import DEV, TEST, TRAIN, Split, split_report, split_rows
from prodml.errors import DataError


def stratified(dev: float = 0.2, test: float = 0.2, seed: int = 0) -> StratifiedSplit:
    return StratifiedSplit(method="stratified", dev=dev, test=test, seed=seed)


def time_split(test_after: str, dev_after: str | None = None) -> TimeSplit:
    return TimeSplit.model_validate(
        {"method": "time", "test_after": test_after, "dev_after": dev_after}
    )


def by_time(frame: pd.DataFrame, test_after: str, dev_after: str | None = None) -> Split:
    """The time split of the ``loans`` frame on its ``day`` column."""
    return split_rows(
        frame,
        time_split(test_after, dev_after),
        target="approved",
        task="classification",
        time="day",
    )


def labelled(n_negative: int, n_positive: int) -> pd.DataFrame:
    return pd.DataFrame({"approved": [0] * n_negative + [1] * n_positive})


def loans(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Imbalanced labels, a gender column with a rare value, and a daily time column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "approved": rng.choice([0, 1], size=n, p=[0.8, 0.2]),
            "gender": rng.choice(["female", "male", "other"], size=n, p=[0.49, 0.49, 0.02]),
            "income": rng.normal(50_000, 10_000, size=n),
            "day": pd.date_range("2023-01-01", periods=n, freq="6h"),
        }
    )


def split_counts(split: Split, labels: pd.Series) -> pd.DataFrame:
    """Rows per (label, split) computed from the assignment, not from split.counts."""
    names = pd.Series(np.asarray(SPLIT_NAMES)[split.assignment], index=labels.index)
    return pd.crosstab(labels, names).reindex(columns=list(SPLIT_NAMES), fill_value=0)


def in_splits(by_label: pd.DataFrame, label: int) -> list[int]:
    return [int(by_label[name].loc[label]) for name in SPLIT_NAMES]


# --- fraction splits -------------------------------------------------------------------


def test_stratified_split_gives_each_class_its_shares_by_largest_remainder() -> None:
    frame = labelled(70, 30)
    split = split_rows(frame, stratified(), target="approved", task="classification")

    by_label = split_counts(split, frame["approved"])
    assert in_splits(by_label, 1) == [18, 6, 6]
    assert in_splits(by_label, 0) == [42, 14, 14]
    assert split.counts.to_dict("records") == [
        {"approved": 0, "train": 42, "dev": 14, "test": 14},
        {"approved": 1, "train": 18, "dev": 6, "test": 6},
    ]
    assert split.sizes() == {"train": 60, "dev": 20, "test": 20}


def test_largest_remainder_hands_leftover_rows_to_the_largest_fractions() -> None:
    # 7 rows at 0.3/0.3: quotas 2.1 test, 2.1 dev, 2.8 train -> 2, 2, 3
    # 11 rows at 0.25/0.25: quotas 2.75, 2.75, 5.5 -> 3, 3, 5 (ties go to test, then dev)
    frame = labelled(7, 11)
    split = split_rows(frame, stratified(0.3, 0.3), target="approved", task="classification")
    assert in_splits(split_counts(split, frame["approved"]), 0) == [3, 2, 2]

    split = split_rows(frame, stratified(0.25, 0.25), target="approved", task="classification")
    assert in_splits(split_counts(split, frame["approved"]), 1) == [5, 3, 3]


def test_stratified_shares_match_within_one_row_per_class_on_breast_cancer() -> None:
    data = load_breast_cancer(as_frame=True).frame
    split = split_rows(data, stratified(0.15, 0.25, seed=3), target="target", task="classification")

    by_label = split_counts(split, data["target"])
    for label, row in by_label.iterrows():
        n = int(row.sum())
        assert abs(row["dev"] - 0.15 * n) < 1, label
        assert abs(row["test"] - 0.25 * n) < 1, label
    assert by_label.to_numpy().sum() == len(data) == 569


def test_same_seed_gives_the_same_assignment_and_another_seed_a_different_one() -> None:
    frame = loans()
    first = split_rows(frame, stratified(seed=7), target="approved", task="classification")
    again = split_rows(frame, stratified(seed=7), target="approved", task="classification")
    other = split_rows(frame, stratified(seed=8), target="approved", task="classification")

    assert np.array_equal(first.assignment, again.assignment)
    assert not np.array_equal(first.assignment, other.assignment)
    assert first.counts.equals(other.counts)  # a new seed moves rows, not shares


def test_rows_partition_the_frame_and_match_the_assignment() -> None:
    frame = loans(500)
    split = split_rows(frame, stratified(), target="approved", task="classification")

    parts = [split.rows(name) for name in SPLIT_NAMES]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(len(frame)))
    for code, rows in zip((TRAIN, DEV, TEST), parts, strict=True):
        assert (split.assignment[rows] == code).all()
    assert split.assignment.dtype == np.int8
    assert not split.assignment.flags.writeable


def test_an_unknown_split_name_is_an_error_that_suggests_the_closest() -> None:
    split = split_rows(labelled(70, 30), stratified(), target="approved", task="classification")
    with pytest.raises(DataError, match=r"split 'tests' does not exist; .*did you mean 'test'\?"):
        split.rows("tests")


def test_random_split_of_a_regression_target_has_the_configured_sizes() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"price": rng.normal(size=1000), "size": rng.normal(size=1000)})
    settings = RandomSplit(method="random", dev=0.1, test=0.25, seed=4)
    split = split_rows(frame, settings, target="price", task="regression")

    assert split.sizes() == {"train": 650, "dev": 100, "test": 250}
    assert split.counts.to_dict("records") == [
        {"price": "all", "train": 650, "dev": 100, "test": 250}
    ]
    assert split.warnings == ()
    assert split.method == "random"


def test_random_split_of_a_classification_target_counts_by_label() -> None:
    frame = loans(1000)
    split = split_rows(
        frame, RandomSplit(method="random", seed=0), target="approved", task="classification"
    )
    assert split.counts["approved"].tolist() == [0, 1]
    assert split.counts[list(SPLIT_NAMES)].to_numpy().sum() == 1000
    assert split.sizes() == {"train": 600, "dev": 200, "test": 200}


def test_stratified_split_needs_a_classification_task() -> None:
    frame = pd.DataFrame({"price": np.linspace(0, 1, 50)})
    with pytest.raises(
        DataError, match=r"'stratified' needs a classification task.*method: random"
    ):
        split_rows(frame, stratified(), target="price", task="regression")


def test_target_must_be_a_column_of_the_frame() -> None:
    with pytest.raises(DataError, match=r"data.target 'aproved' is not a column.*'approved'\?"):
        split_rows(labelled(70, 30), stratified(), target="aproved", task="classification")


def test_a_missing_label_is_an_error_naming_the_count() -> None:
    frame = pd.DataFrame({"approved": [0.0, 1.0, None, None] * 10})
    with pytest.raises(DataError, match=r"data.target 'approved' is missing in 20 rows"):
        split_rows(frame, stratified(), target="approved", task="classification")


def test_no_dev_warnings_when_dev_is_configured_empty() -> None:
    frame = labelled(70, 30)
    split = split_rows(frame, stratified(dev=0.0), target="approved", task="classification")

    assert split.sizes()["dev"] == 0
    assert split.warnings == (
        "cell approved=1 has 6 rows in test: too few to measure reliably (want at least 10); "
        "raise data.split.test or collect more data",
    )


# --- balanced --------------------------------------------------------------------------


def balanced(min_count: int = 10, *on: str) -> BalancedSplit:
    return BalancedSplit(method="balanced", on=on or ("gender",), min_count=min_count, seed=0)


def test_balanced_split_keeps_the_shares_of_every_label_and_gender_cell() -> None:
    frame = loans(5000)
    split = split_rows(frame, balanced(), target="approved", task="classification")

    for record in split.counts.to_dict("records"):
        n = record["train"] + record["dev"] + record["test"]
        assert abs(record["dev"] - 0.2 * n) < 1 and abs(record["test"] - 0.2 * n) < 1, record
        cell = (frame["approved"] == record["approved"]) & (frame["gender"] == record["gender"])
        assert int(cell.sum()) == n
        in_test = split.assignment[cell.to_numpy()] == TEST
        assert int(in_test.sum()) == record["test"]
    assert list(split.counts.columns) == ["approved", "gender", "train", "dev", "test"]
    assert len(split.counts) == 6


def test_balanced_split_warns_about_a_cell_too_small_to_measure() -> None:
    frame = pd.DataFrame(
        {
            "approved": [0] * 100 + [1] * 100 + [1] * 20,
            "gender": ["female"] * 50 + ["male"] * 50 + ["female"] * 100 + ["other"] * 20,
        }
    )
    split = split_rows(frame, balanced(), target="approved", task="classification")
    assert split.warnings == (
        "cell approved=1, gender=other has 4 rows in dev: too few to measure reliably "
        "(want at least 10); merge groups or collect more data",
        "cell approved=1, gender=other has 4 rows in test: too few to measure reliably "
        "(want at least 10); merge groups or collect more data",
    )
    relaxed = split_rows(frame, balanced(4), target="approved", task="classification")
    assert relaxed.warnings == ()
    # the report by metadata column finds the same cells: each is said once
    report = split_report(frame, split, balanced(), target="approved", metadata=("gender",))
    assert report["warnings"] == list(split.warnings)


def test_balanced_split_treats_missing_metadata_as_its_own_value() -> None:
    frame = pd.DataFrame({"approved": [0, 1] * 50, "gender": ["female", None] * 50})
    split = split_rows(frame, balanced(1), target="approved", task="classification")
    assert split.counts[["approved", "gender"]].values.tolist() == [
        [0, "female"],
        [1, "<missing>"],
    ]
    assert split.counts["test"].tolist() == [10, 10]


def test_balanced_split_on_an_unknown_column_suggests_the_closest() -> None:
    with pytest.raises(
        DataError,
        match=r"data.split.on 'gendr' is not a column of the data; columns are: approved, "
        r"gender, income, day; did you mean 'gender'\?",
    ):
        split_rows(loans(100), balanced(10, "gendr"), target="approved", task="classification")


# --- time ------------------------------------------------------------------------------


def test_time_split_cuts_exactly_at_test_after() -> None:
    frame = loans()  # every 6 hours, so rows fall exactly on midnight of the cut
    split = by_time(frame, "2023-06-01")
    cut = pd.Timestamp("2023-06-01")
    assert (frame["day"].iloc[split.rows("test")] >= cut).all()
    assert (frame["day"].iloc[split.rows("train")] < cut).all()
    assert cut in set(frame["day"].iloc[split.rows("test")])
    assert split.sizes() == {"train": 604, "dev": 0, "test": 1396}
    assert split.counts["approved"].tolist() == [0, 1]


def test_time_split_puts_rows_from_dev_after_until_test_after_in_dev() -> None:
    frame = loans()
    split = by_time(frame, "2023-06-01", dev_after="2023-04-01")
    dev = frame["day"].iloc[split.rows("dev")]
    assert dev.min() == pd.Timestamp("2023-04-01")
    assert dev.max() == pd.Timestamp("2023-05-31 18:00")
    assert (frame["day"].iloc[split.rows("train")] < pd.Timestamp("2023-04-01")).all()
    assert split.sizes() == {"train": 360, "dev": 244, "test": 1396}


def test_time_split_parses_text_dates() -> None:
    frame = loans(400).assign(day=lambda f: f["day"].dt.strftime("%Y-%m-%d %H:%M"))
    split = by_time(frame, "2023-02-01")
    assert split.sizes()["train"] == 31 * 4


def test_time_split_needs_data_time() -> None:
    with pytest.raises(
        DataError,
        match=r"data.split.method 'time' needs data.time, the datetime column to split on; "
        r"set data.time in prodml.yaml or choose method: stratified",
    ):
        split_rows(loans(), time_split("2023-06-01"), target="approved", task="classification")


def test_time_split_on_an_unknown_column_suggests_the_closest() -> None:
    with pytest.raises(DataError, match=r"data.time 'dya' is not a column.*did you mean 'day'\?"):
        split_rows(
            loans(), time_split("2023-06-01"), target="approved", task="classification", time="dya"
        )


def test_time_split_names_a_value_that_is_not_a_date() -> None:
    frame = loans(100).assign(day=lambda f: f["day"].dt.strftime("%Y-%m-%d"))
    frame.loc[40, "day"] = "last tuesday"
    with pytest.raises(DataError, match=r"data.time 'day' .*not a date: 'last tuesday'"):
        by_time(frame, "2023-01-10")


def test_time_split_names_the_count_of_missing_times() -> None:
    frame = loans(100)
    frame.loc[[3, 5, 8], "day"] = pd.NaT
    with pytest.raises(DataError, match=r"data.time 'day' is missing in 3 rows"):
        by_time(frame, "2023-01-10")


@pytest.mark.parametrize(
    ("test_after", "dev_after", "message"),
    [
        ("2024-06-01", None, r"test_after 2024-06-01 leaves the test set empty"),
        ("2022-06-01", None, r"test_after 2022-06-01 leaves the train set empty"),
        ("2023-06-01", "2022-12-01", r"dev_after 2022-12-01 leaves the train set empty"),
    ],
)
def test_time_split_that_empties_train_or_test_names_the_date_and_the_data_range(
    test_after: str, dev_after: str | None, message: str
) -> None:
    with pytest.raises(DataError, match=message + r".*runs from 2023-01-01 to 2024-05-14"):
        by_time(loans(), test_after, dev_after)


def test_time_split_with_an_empty_dev_window_warns() -> None:
    frame = loans(1000)
    frame = frame[frame["day"].dt.month != 3]
    split = by_time(frame, "2023-04-01", dev_after="2023-03-01")
    assert split.sizes()["dev"] == 0
    assert any("dev_after 2023-03-01 leaves the dev set empty" in w for w in split.warnings)


# --- class checks ----------------------------------------------------------------------


def test_a_class_left_out_of_the_test_set_is_an_error() -> None:
    frame = pd.DataFrame({"label": [0, 1] * 50 + [2]})
    with pytest.raises(
        DataError,
        match=r"data.split leaves class '2' out of the test set \(test has classes: 0, 1\); "
        r"class '2' has 1 row; .*raise data.split.test",
    ):
        split_rows(frame, stratified(), target="label", task="classification")


def test_a_random_split_that_misses_a_class_suggests_stratified() -> None:
    frame = pd.DataFrame({"label": [0] * 200 + [1]})
    settings = RandomSplit(method="random", seed=0)
    with pytest.raises(DataError, match=r"class '1' out of the (test|train) set.*stratified"):
        split_rows(frame, settings, target="label", task="classification")


def test_a_class_that_only_appears_after_the_cut_is_left_out_of_the_train_set() -> None:
    frame = loans(1000)
    frame.loc[(frame["day"] >= "2023-06-01") & (frame.index % 3 == 0), "approved"] = 2
    with pytest.raises(
        DataError, match=r"leaves class '2' out of the train set.*move data.split.test_after later"
    ):
        by_time(frame, "2023-06-01")


def test_a_class_that_only_appears_before_the_cut_is_left_out_of_the_test_set() -> None:
    frame = loans(1000)
    frame.loc[frame["day"] < "2023-01-20", "approved"] = 2
    with pytest.raises(
        DataError,
        match=r"leaves class '2' out of the test set \(test has classes: 0, 1\).*earlier",
    ):
        by_time(frame, "2023-06-01")


def test_a_class_left_out_of_the_dev_set_is_only_a_warning() -> None:
    frame = loans(1000)
    frame.loc[frame["day"] < "2023-01-20", "approved"] = 2
    frame.loc[frame["day"] >= "2023-06-01", "approved"] = frame["approved"].where(
        frame.index % 2 == 1, 2
    )
    split = by_time(frame, "2023-06-01", dev_after="2023-04-01")
    assert split.sizes()["dev"] > 0
    assert [w for w in split.warnings if "class '2'" in w] == [
        "data.split leaves class '2' out of the dev set; dev scores will not cover it; "
        "move data.split.dev_after earlier or use method: stratified"
    ]
    assert not any("approved=2" in w and "in dev" in w for w in split.warnings)


# --- the record ------------------------------------------------------------------------


def test_to_record_round_trips_through_json() -> None:
    split = split_rows(loans(300), balanced(), target="approved", task="classification")
    record = split.to_record()

    assert json.loads(json.dumps(record)) == record
    assert record["method"] == "balanced"
    assert record["settings"] == {
        "method": "balanced",
        "dev": 0.2,
        "test": 0.2,
        "seed": 0,
        "on": ["gender"],
        "min_count": 10,
    }
    assert record["sizes"] == split.sizes()
    assert record["counts"][0] == {
        "approved": "0",
        "gender": "female",
        **{name: int(split.counts[name].iloc[0]) for name in SPLIT_NAMES},
    }
    assert record["warnings"] == list(split.warnings)


def test_time_split_record_holds_its_dates_as_text() -> None:
    split = by_time(loans(), "2023-06-01")
    record = split.to_record()
    assert json.loads(json.dumps(record)) == record
    assert record["settings"]["test_after"] == datetime(2023, 6, 1).isoformat()
