"""The reference profile: the same statistics however the rows are chunked, equal to
numpy's and pandas' on the whole column, a uniform row sample, and a JSON round trip."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp, kstest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from prodml.data.loans import generate_loans
from prodml.data.profile import (
    CONFIDENCE_BINS,
    CategoricalProfile,
    NumericProfile,
    Profile,
    ProfileBuilder,
    profile_chunks,
    profile_frame,
    read_chunks,
)
from prodml.errors import DataError


def loans(n: int = 20_000) -> pd.DataFrame:
    """The loans data with a boolean column too; every kind of column a profile knows."""
    frame = generate_loans(n, seed=11)
    frame["long_term"] = frame["term_months"] == 60
    return frame


def breast_cancer() -> pd.DataFrame:
    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
    return frame


DATA: dict[str, Callable[[], pd.DataFrame]] = {"loans": loans, "breast_cancer": breast_cancer}


def cut(frame: pd.DataFrame, pieces: int, seed: int = 0) -> Iterator[pd.DataFrame]:
    """The frame in ``pieces`` chunks of uneven sizes, some of one row."""
    bounds = np.random.default_rng(seed).choice(np.arange(1, len(frame)), pieces - 1, replace=False)
    edges = [0, *sorted(bounds.tolist()), len(frame)]
    for start, end in itertools.pairwise(edges):
        yield frame.iloc[start:end]


def numeric(profile: Profile, column: str) -> NumericProfile:
    found = profile.columns[column]
    assert isinstance(found, NumericProfile)
    return found


def categorical(profile: Profile, column: str) -> CategoricalProfile:
    found = profile.columns[column]
    assert isinstance(found, CategoricalProfile)
    return found


def seconds(column: pd.Series) -> pd.Series:
    """A datetime column as the profile sees it: seconds since 1970 UTC."""
    if column.dtype.kind == "M":
        return (column - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
    return column


def assert_same_profile(a: Profile, b: Profile) -> None:
    """Equal to the last bit but for mean and std, whose rounding follows the chunks."""
    assert (a.rows, list(a.columns)) == (b.rows, list(b.columns))
    for name, x in a.columns.items():
        y = b.columns[name]
        if isinstance(x, NumericProfile):
            assert isinstance(y, NumericProfile)
            assert (x.kind, x.count, x.missing, x.min, x.max) == (
                y.kind,
                y.count,
                y.missing,
                y.min,
                y.max,
            ), name
            assert x.mean == pytest.approx(y.mean, rel=1e-12, nan_ok=True), name
            assert x.std == pytest.approx(y.std, rel=1e-12, nan_ok=True), name
            np.testing.assert_array_equal(x.sample, y.sample, err_msg=name)
        else:
            assert x == y, name


# --- exact statistics, whatever the chunking ----------------------------------------


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("pieces", [2, 57, 200])
def test_profile_in_many_chunks_equals_the_one_chunk_profile(data: str, pieces: int) -> None:
    frame = DATA[data]()
    whole = profile_frame(frame, sample_size=300, seed=5)

    chunked = profile_chunks(cut(frame, pieces), sample_size=300, seed=5)

    assert_same_profile(chunked, whole)


@pytest.mark.parametrize("data", DATA)
def test_numeric_statistics_equal_numpy_and_pandas_on_the_whole_column(data: str) -> None:
    frame = DATA[data]()
    profile = profile_chunks(cut(frame, 150))

    numbers = [name for name, c in profile.columns.items() if isinstance(c, NumericProfile)]
    assert len(numbers) >= 9
    for name in numbers:
        column, found = seconds(frame[name]), numeric(profile, name)
        values = column.dropna().to_numpy(dtype=np.float64)
        assert (found.count, found.missing) == (values.size, frame[name].isna().sum()), name
        assert (found.min, found.max) == (column.min(), column.max()), name
        assert found.mean == pytest.approx(np.mean(values), rel=1e-12), name
        assert found.std == pytest.approx(np.std(values, ddof=1), rel=1e-12), name
        assert found.std == pytest.approx(column.std(), rel=1e-12), name


def test_each_kind_of_column_is_profiled_as_documented() -> None:
    frame = loans()
    profile = profile_chunks(cut(frame, 30))

    kinds = {name: column.kind for name, column in profile.columns.items()}
    assert kinds == {
        "application_id": "numeric",
        "applied_at": "datetime",
        **dict.fromkeys(["age", "income", "loan_amount", "term_months"], "numeric"),
        **dict.fromkeys(["credit_score", "debt_to_income", "employment_years"], "numeric"),
        **dict.fromkeys(["home_ownership", "purpose", "gender", "region"], "categorical"),
        "approved": "numeric",
        "long_term": "boolean",
    }
    applied = numeric(profile, "applied_at")
    assert applied.min == pd.Timestamp(frame["applied_at"].min()).timestamp()
    assert isinstance(numeric(profile, "age").max, int)  # integer columns keep exact ints
    long_term = categorical(profile, "long_term")
    assert long_term.counts == {
        "False": (~frame["long_term"]).sum(),
        "True": frame["long_term"].sum(),
    }


def test_category_counts_equal_value_counts() -> None:
    frame = loans()
    profile = profile_chunks(cut(frame, 120))

    for name in ["home_ownership", "purpose", "gender", "region"]:
        found = categorical(profile, name)
        expected = frame[name].value_counts()
        assert found.counts == expected.to_dict(), name
        assert list(found.counts) == sorted(found.counts, key=lambda v: (-expected[v], v))
        assert (found.other, found.capped, found.missing, found.count) == (0, False, 0, len(frame))


def test_beyond_max_categories_new_values_count_in_other() -> None:
    frame = loans()
    frame["application_id"] = frame["application_id"].astype(str)
    frame.loc[::10, "purpose"] = None

    profile = profile_chunks(cut(frame, 40), ["application_id", "purpose"], max_categories=4)

    ids, purpose = categorical(profile, "application_id"), categorical(profile, "purpose")
    assert (len(ids.counts), ids.other, ids.capped) == (4, len(frame) - 4, True)
    assert (len(purpose.counts), purpose.capped, purpose.missing) == (4, True, 2_000)
    truth = frame["purpose"].value_counts()
    # a value is counted from its first row on, or never: the counts kept are exact
    assert purpose.counts == {value: truth[value] for value in purpose.counts}
    assert purpose.other == truth.sum() - sum(purpose.counts.values())


# --- the row sample ------------------------------------------------------------------


@pytest.mark.parametrize(("rows", "sample_size"), [(20_000, 2_000), (20_000, 20_000), (300, 2_000)])
def test_the_sample_has_min_k_rows_and_the_same_rows_in_any_chunking(
    rows: int, sample_size: int
) -> None:
    frame = loans(rows)
    profiles = [
        profile_chunks(cut(frame, pieces, seed=pieces), sample_size=sample_size, seed=3)
        for pieces in (2, 13, 100)
    ]

    ids = [p.sample("application_id") for p in profiles]
    assert ids[0].size == min(sample_size, rows)
    assert np.unique(ids[0]).size == ids[0].size
    for other in ids[1:]:
        np.testing.assert_array_equal(other, ids[0])
    other_seed = profile_frame(frame, sample_size=sample_size, seed=4).sample("application_id")
    assert sample_size >= rows or not np.array_equal(other_seed, ids[0])


def test_the_sample_is_the_same_rows_for_every_column() -> None:
    frame = loans()
    profile = profile_chunks(cut(frame, 60), sample_size=1_000)

    rows = frame.set_index("application_id").loc[profile.sample("application_id")]
    for name in ["income", "employment_years", "approved"]:
        np.testing.assert_array_equal(profile.sample(name), rows[name].to_numpy(dtype=float))
    np.testing.assert_array_equal(profile.sample("applied_at"), seconds(rows["applied_at"]))
    assert np.isnan(profile.sample("employment_years")).any()  # missing stays missing


def test_the_sample_is_uniform_over_the_rows_and_the_values() -> None:
    frame = loans()
    profile = profile_chunks(cut(frame, 80), sample_size=2_000, seed=0)

    # the rows come evenly from the whole file, not more from some chunks
    ids = profile.sample("application_id")
    assert kstest(ids, "uniform", args=(0.5, len(frame))).pvalue > 0.01
    # and the values follow each column's distribution
    for name in ["income", "credit_score", "debt_to_income", "applied_at"]:
        full = seconds(frame[name]).to_numpy(dtype=float)
        assert ks_2samp(profile.sample(name), full).pvalue > 0.01, name


# --- model outputs --------------------------------------------------------------------


def test_class_outputs_give_exact_shares_and_a_confidence_histogram() -> None:
    data = load_breast_cancer(as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data.data, data.target)
    labels = np.asarray(data.target_names)[model.predict(data.data)]
    confidence = model.predict_proba(data.data).max(axis=1)
    builder = ProfileBuilder(list(data.data.columns), sample_size=100)
    for rows in np.array_split(np.arange(len(data.data)), 9):
        builder.update(data.data.iloc[rows], predicted=labels[rows], confidence=confidence[rows])

    outputs = builder.finish().outputs

    assert outputs is not None and isinstance(outputs.predicted, CategoricalProfile)
    assert outputs.predicted.shares() == pd.Series(labels).value_counts(normalize=True).to_dict()
    assert outputs.confidence is not None and outputs.confidence_histogram is not None
    histogram = np.histogram(confidence, bins=CONFIDENCE_BINS, range=(0, 1))[0]
    assert list(outputs.confidence_histogram) == histogram.tolist()
    assert outputs.confidence.mean == pytest.approx(confidence.mean(), rel=1e-12)
    assert outputs.confidence.sample.size == 100


def test_regression_outputs_are_profiled_as_numbers() -> None:
    data = load_diabetes(as_frame=True)
    predicted = LinearRegression().fit(data.data, data.target).predict(data.data)
    frame = data.data.assign(row=np.arange(len(data.data)))
    builder = ProfileBuilder(["bmi", "row"], sample_size=50)
    for rows in np.array_split(np.arange(len(frame)), 5):
        builder.update(frame.iloc[rows], predicted=predicted[rows])

    profile = builder.finish()

    assert profile.outputs is not None and profile.outputs.confidence is None
    value = profile.outputs.predicted
    assert isinstance(value, NumericProfile)
    assert (value.count, value.min, value.max) == (442, predicted.min(), predicted.max())
    assert value.std == pytest.approx(np.std(predicted, ddof=1), rel=1e-12)
    # the predicted value is sampled at the same rows as the features
    np.testing.assert_array_equal(value.sample, predicted[profile.sample("row").astype(int)])


# --- saving ---------------------------------------------------------------------------


def test_to_dict_round_trips_exactly_through_json() -> None:
    frame = loans(3_000)
    frame.loc[:, "empty"] = np.nan
    probabilities = np.random.default_rng(0).uniform(0.5, 1.0, len(frame))
    builder = ProfileBuilder(list(frame.columns), sample_size=500, max_categories=3)
    builder.update(frame, predicted=frame["approved"].to_numpy(), confidence=probabilities)
    profile = builder.finish()

    text = json.dumps(profile.to_dict(), allow_nan=False)
    restored = Profile.from_dict(json.loads(text))

    assert restored.to_dict() == profile.to_dict()
    assert_same_profile(restored, profile)
    assert numeric(restored, "empty").count == 0 and np.isnan(numeric(restored, "empty").mean)
    classes = {str(k): n for k, n in frame["approved"].value_counts().items()}
    assert restored.outputs is not None
    assert restored.outputs.predicted == CategoricalProfile("categorical", 0, classes, 0, False)
    assert json.loads(text)["columns"]["age"].keys() == {
        "kind", "count", "missing", "min", "max", "mean", "std", "sample"
    }  # fmt: skip


def test_from_dict_refuses_a_newer_format_and_a_malformed_profile() -> None:
    raw = profile_frame(pd.DataFrame({"x": [1.0, 2.0]})).to_dict()
    with pytest.raises(
        DataError,
        match=r"^profile format version 2 is not one this prodml reads \(up to 1\); upgrade prodml$",
    ):
        Profile.from_dict(raw | {"format_version": 2})
    with pytest.raises(DataError, match=r"^profile format version None is not"):
        Profile.from_dict({"rows": 2})
    with pytest.raises(
        DataError,
        match=r"^profile is not well formed \(KeyError: 'rows'\); it must be what Profile.to_dict\(\) wrote$",
    ):
        Profile.from_dict({k: v for k, v in raw.items() if k != "rows"})
    with pytest.raises(
        DataError,
        match=r"^profile is not well formed \(ValueError: kind 'text' is not one of: numeric, datetime, boolean, categorical\)",
    ):
        Profile.from_dict(raw | {"columns": {"x": raw["columns"]["x"] | {"kind": "text"}}})


# --- reading files in chunks ----------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_read_chunks_profiles_a_file_as_its_frame(tmp_path: Path, suffix: str) -> None:
    frame = loans().drop(columns="applied_at")  # CSV would give datetimes back as text
    path = tmp_path / f"loans{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path, index=False, row_group_size=3_000)
    else:
        frame.to_csv(path, index=False)

    chunks = list(read_chunks(path, chunk_rows=1_500))
    picked = next(read_chunks(path, chunk_rows=100, columns=["region", "income"]))

    assert max(len(c) for c in chunks) == 1_500 and sum(len(c) for c in chunks) == len(frame)
    assert_same_profile(profile_chunks(chunks), profile_frame(frame))
    assert (list(picked.columns), len(picked)) == (["income", "region"], 100)  # file order


def test_read_chunks_names_the_file_and_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "broken.parquet").write_text("not parquet")
    pd.DataFrame({"income": [1.0]}).to_csv(tmp_path / "ok.csv", index=False)

    with pytest.raises(DataError, match=r"'.*loans\.xlsx' is neither Parquet nor CSV; read files"):
        read_chunks(tmp_path / "loans.xlsx")
    with pytest.raises(DataError, match=r"'.*missing\.csv' cannot be read: .*No such file"):
        read_chunks(tmp_path / "missing.csv")
    with pytest.raises(DataError, match=r"'.*broken\.parquet' cannot be read: "):
        read_chunks(tmp_path / "broken.parquet")
    with pytest.raises(
        DataError,
        match=r"column incom is not in '.*ok\.csv'; its columns are: income; did you mean 'income'\?",
    ):
        read_chunks(tmp_path / "ok.csv", columns=["incom"])


def test_the_builder_says_which_rows_and_what_to_give() -> None:
    frame = pd.DataFrame({"income": [1.0, 2.0], "region": ["n", "s"]})
    builder = ProfileBuilder(["income", "region"])
    builder.update(frame, predicted=np.array([0, 1]))

    with pytest.raises(
        DataError,
        match=r"^column region is not in rows 2\.\.2; columns are: income, regon; did you mean 'regon'\?",
    ):
        builder.update(pd.DataFrame({"income": [3.0], "regon": ["n"]}), predicted=np.array([1]))
    with pytest.raises(
        DataError,
        match=r"^rows 2\.\.3 come with no outputs, the rows before them with predicted; give the same",
    ):
        builder.update(frame)
    with pytest.raises(
        DataError,
        match=r"^predicted has shape \(3,\) for rows 2\.\.3; give one value per row, shape \(2,\)",
    ):
        builder.update(frame, predicted=np.array([0, 1, 1]))
    with pytest.raises(
        DataError,
        match=r"^column 'income' holds numeric values in the rows before 2 but categorical values \(str\) in rows 2\.\.3",
    ):
        builder.update(frame.astype(str), predicted=np.array([0, 1]))
    with pytest.raises(DataError, match=r"^confidence 1\.5 in rows 0\.\.1 is outside \[0, 1\]"):
        ProfileBuilder(["income"]).update(frame, confidence=np.array([0.5, 1.5]))
    with pytest.raises(DataError, match=r"^there are no rows to profile"):
        ProfileBuilder(["income"]).finish()
    with pytest.raises(
        DataError,
        match=r"^'region' is a categorical column, so it has no sample \(categories are counted exactly, in \.counts\); columns with a sample are: income$",
    ):
        profile_frame(frame).sample("region")
    with pytest.raises(
        DataError,
        match=r"^'incme' is not a column of the profile, so .*: income; did you mean 'income'\?$",
    ):
        profile_frame(frame).sample("incme")


def test_a_chunk_with_no_value_fits_any_kind_and_true_false_text_stays_boolean_counts() -> None:
    # what read_csv gives in chunks: all-missing floats, then text, then booleans
    chunks = [
        pd.DataFrame({"region": [np.nan, np.nan], "flag": [np.nan, np.nan]}),
        pd.DataFrame({"region": ["n", "s"], "flag": [True, False]}),
        pd.DataFrame({"region": ["n", None], "flag": pd.Series(["True", None], dtype=object)}),
    ]

    profile = profile_chunks(chunks)

    assert categorical(profile, "region") == CategoricalProfile(
        "categorical", 3, {"n": 2, "s": 1}, 0, False
    )
    assert categorical(profile, "flag") == CategoricalProfile(
        "categorical", 3, {"True": 2, "False": 1}, 0, False
    )
