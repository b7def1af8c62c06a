"""Slice scores equal scikit-learn's and Fairlearn's on every group, exactly; slicings name
and number their groups as documented."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, count  # type: ignore[import-untyped]
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.linear_model import Ridge
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_absolute_percentage_error,
    precision_recall_fscore_support,
    precision_score,
    r2_score,
    recall_score,
    root_mean_squared_error,
)
from sklearn.tree import DecisionTreeClassifier

from prodml.config import BinSlice, SliceSpec, WhereSlice
from prodml.errors import ConfigError
from prodml.evaluate.slices import (
    Slicing,
    classification_scores,
    confusion_by_group,
    regression_scores,
    slicings,
    wilson,
)

DATASETS: dict[str, Callable[..., Any]] = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}
AVERAGES = ("macro", "weighted")


@dataclass(frozen=True)
class Held:
    """A quick model's predictions on the held-out half of a bundled data set."""

    frame: pd.DataFrame  # the features, plus seeded metadata: group (3 values), site (5)
    y_true: np.ndarray
    y_pred: np.ndarray
    labels: list[int]
    specs: tuple[SliceSpec, ...]


def with_metadata(X: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(20240601)
    return X.reset_index(drop=True).assign(
        group=rng.choice(["a", "b", "c"], len(X)),
        site=rng.choice([f"site{i}" for i in range(5)], len(X)),
    )


@pytest.fixture(params=list(DATASETS), scope="module")
def held(request: pytest.FixtureRequest) -> Held:
    X, y = DATASETS[request.param](return_X_y=True, as_frame=True)
    # shallow on purpose: digits then has classes never predicted (zero divisions)
    model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X[::2], y[::2])
    feature = str(X.nunique().idxmax())  # a real feature with many values, to bin
    return Held(
        frame=with_metadata(X[1::2]),
        y_true=y[1::2].to_numpy(),
        y_pred=model.predict(X[1::2]),
        labels=sorted(np.unique(y).tolist()),
        specs=("group", "site", ("group", "site"), BinSlice(column=feature, bins=4)),
    )


def scored(cut: Slicing, held: Held) -> dict[str, np.ndarray]:
    index = {label: i for i, label in enumerate(held.labels)}
    truth, predicted = (np.vectorize(index.__getitem__)(y) for y in (held.y_true, held.y_pred))
    matrix = confusion_by_group(cut.codes, len(cut.names), truth, predicted, len(held.labels))
    return classification_scores(matrix, held.labels)


def sklearn_scores(y_true: np.ndarray, y_pred: np.ndarray, labels: list[int]) -> dict[str, float]:
    p, r, f, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    expected = {
        "count": len(y_true),
        "errors": int(np.sum(y_true != y_pred)),
        "accuracy": accuracy_score(y_true, y_pred),
    }
    for average in AVERAGES:
        for name, score in (("precision", precision_score), ("recall", recall_score)):
            expected[f"{name}_{average}"] = score(
                y_true, y_pred, labels=labels, average=average, zero_division=0
            )
        expected[f"f1_{average}"] = f1_score(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
    for i, label in enumerate(labels):
        expected |= {f"precision[{label}]": p[i], f"recall[{label}]": r[i]}
        expected |= {f"f1[{label}]": f[i], f"support[{label}]": support[i]}
    return expected


def test_classification_scores_equal_sklearn_on_every_group(held: Held) -> None:
    for cut in slicings(held.specs, held.frame):
        scores = scored(cut, held)
        for g, name in enumerate(cut.names):
            rows = cut.codes == g
            expected = sklearn_scores(held.y_true[rows], held.y_pred[rows], held.labels)
            assert {k: scores[k][g] for k in expected} == expected, name
        assert set(scores) == set(expected)  # nothing more, nothing less


def fairlearn_metrics(labels: list[int]) -> dict[str, Callable[..., Any]]:
    """Per-class scores as one-label micro averages, which are the class's own score."""
    metrics: dict[str, Callable[..., Any]] = {"count": count, "accuracy": accuracy_score}
    for name, score in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
        for average in AVERAGES:
            metrics[f"{name}_{average}"] = partial(
                score, labels=labels, average=average, zero_division=0
            )
        for label in labels:
            metrics[f"{name}[{label}]"] = partial(
                score, labels=[label], average="micro", zero_division=0
            )
    return metrics


def test_classification_scores_equal_fairlearn_metricframe(held: Held) -> None:
    """Columns and the cross go to MetricFrame as its sensitive features; bins by name."""
    metrics = fairlearn_metrics(held.labels)
    for spec, cut in zip(held.specs, slicings(held.specs, held.frame), strict=True):
        if isinstance(spec, BinSlice):
            features: pd.DataFrame | np.ndarray = np.array(cut.names)[cut.codes]
        else:
            features = held.frame[[spec] if isinstance(spec, str) else list(spec)]
        by_group = MetricFrame(
            metrics=metrics, y_true=held.y_true, y_pred=held.y_pred, sensitive_features=features
        ).by_group.dropna(how="all")  # a cross lists every combination, even with no rows
        scores = scored(cut, held)
        fairlearn = {prodml_name(key, spec): row.to_dict() for key, row in by_group.iterrows()}
        assert set(fairlearn) == set(cut.names)
        for g, name in enumerate(cut.names):
            assert {k: scores[k][g] for k in metrics} == fairlearn[name], name


def prodml_name(key: Any, spec: SliceSpec) -> str:
    """A MetricFrame group key as prodml names it: ("a", "site1") is "group=a & site=site1"."""
    if isinstance(spec, BinSlice):
        return str(key)  # the bins went in by name
    columns = [spec] if isinstance(spec, str) else list(spec)
    values = key if isinstance(key, tuple) else (key,)
    return " & ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))


def test_regression_scores_equal_sklearn_on_every_group() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    truth, predicted = y[1::2].to_numpy(), Ridge().fit(X[::2], y[::2]).predict(X[1::2])
    frame = with_metadata(X[1::2])
    one_row = np.arange(len(frame)) == 7
    specs: tuple[SliceSpec, ...] = ("group", ("group", "site"), BinSlice(column="bmi", bins=5))
    for cut in slicings(specs, frame, tags={"one_row": one_row}):
        scores = regression_scores(cut.codes, len(cut.names), truth, predicted)
        for g, name in enumerate(cut.names):
            rows = cut.codes == g
            t, p = truth[rows], predicted[rows]
            assert scores["count"][g] == rows.sum()
            assert scores["mae"][g] == mean_absolute_error(t, p), name
            assert scores["rmse"][g] == root_mean_squared_error(t, p), name
            assert scores["mape"][g] == mean_absolute_percentage_error(t, p), name
            if rows.sum() > 1:
                assert scores["r2"][g] == r2_score(t, p), name
            else:  # scikit-learn warns and gives nan
                assert math.isnan(scores["r2"][g]), name


def test_r2_of_a_perfect_or_constant_group_is_finite_as_sklearn_gives_it() -> None:
    codes = np.array([0, 0, 1, 1])
    truth, predicted = np.array([1.0, 2.0, 3.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])
    r2 = regression_scores(codes, 2, truth, predicted)["r2"]
    assert r2.tolist() == [r2_score(truth[:2], predicted[:2]), r2_score(truth[2:], predicted[2:])]
    assert r2.tolist() == [1.0, 0.0]


def textbook_wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson (1927) in counts: (k + z²/2 ± z √(k(n-k)/n + z²/4)) / (n + z²)."""
    centre, half = k + z * z / 2, z * math.sqrt(k * (n - k) / n + z * z / 4)
    return (centre - half) / (n + z * z), (centre + half) / (n + z * z)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (5, 10), (10, 10), (94, 100), (1, 3)])
def test_wilson_interval_matches_the_textbook_formula(k: int, n: int) -> None:
    low, high = wilson(np.array([k]), np.array([n]))
    expected_low, expected_high = textbook_wilson(k, n)
    assert (low[0], high[0]) == pytest.approx((expected_low, expected_high), rel=1e-12, abs=1e-15)
    assert 0.0 <= low[0] <= k / n <= high[0] <= 1.0


def test_wilson_interval_is_nan_without_trials() -> None:
    low, high = wilson(np.array([0, 5]), np.array([0, 10]))
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert round(float(low[1]), 4) == 0.2366 and round(float(high[1]), 4) == 0.7634


def test_confusion_by_group_counts_each_group_and_leaves_out_rows_in_no_group() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 4, 500)
    truth, predicted = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    matrices = confusion_by_group(codes, 4, truth, predicted, 3)
    assert matrices.shape == (4, 3, 3) and matrices.dtype == np.int64
    for g in range(4):
        rows = codes == g
        expected = confusion_matrix(truth[rows], predicted[rows], labels=[0, 1, 2])
        np.testing.assert_array_equal(matrices[g], expected)
    assert matrices.sum() == np.sum(codes >= 0)
    with pytest.raises(ValueError, match=r"^class indices must be in 0\.\.2; got -1\.\.2$"):
        confusion_by_group(codes, 4, np.where(truth == 0, -1, truth), predicted, 3)


PEOPLE = pd.DataFrame(
    {
        "gender": ["female", "male", "female", None, "male", "female"],
        "region": ["north", "north", "south", "south", "north", "north"],
        "income": [12_000.0, 55_000.0, -500.0, 20_000.0, np.nan, 50_000.0],
        "age": [30, 65, 41, 70, 25, 62],
    }
)


def only(spec: SliceSpec) -> tuple[str, tuple[str, ...], list[int]]:
    cut = slicings([spec], PEOPLE)[0]
    return cut.family, cut.names, cut.codes.tolist()


def test_column_has_a_group_per_sorted_value_and_missing_last() -> None:
    assert only("gender") == (
        "gender",
        ("gender=female", "gender=male", "gender=(missing)"),
        [0, 1, 0, 2, 1, 0],
    )


def test_cross_has_a_group_per_existing_combination() -> None:
    assert only(("gender", "region")) == (
        "gender \N{MULTIPLICATION SIGN} region",
        (
            "gender=female & region=north",
            "gender=female & region=south",
            "gender=male & region=north",
            "gender=(missing) & region=south",
        ),
        [0, 2, 1, 3, 2, 0],
    )


def test_expression_and_where_slice_are_one_group() -> None:
    expression = "income < 20000 or age > 60"
    assert only(expression) == (expression, (expression,), [0, 0, 0, 0, -1, 0])
    assert only(WhereSlice(where="age > 60", name="seniors")) == (
        "seniors",
        ("seniors",),
        [-1, 0, -1, 0, -1, 0],
    )
    assert only(WhereSlice(where="age > 60")) == ("age > 60", ("age > 60",), [-1, 0, -1, 0, -1, 0])


def test_edge_bins_are_left_closed_with_rows_below_and_an_open_last_bin() -> None:
    # no income falls in [30000, 50000): that bin does not appear
    assert only(BinSlice(column="income", bins=(0, 20_000, 30_000, 50_000))) == (
        "income bins",
        (
            "income < 0",
            "income in [0, 20000)",
            "income in [20000, 30000)",
            "income ≥ 50000",
            "income=(missing)",
        ),
        [1, 3, 0, 2, 4, 3],
    )


def test_quantile_bins_cut_as_pd_qcut_does() -> None:
    family, names, codes = only(BinSlice(column="age", bins=3))
    assert family == "age bins"
    assert names == ("age in [25, 37.3333]", "age in (37.3333, 63]", "age in (63, 70]")
    assert codes == pd.qcut(PEOPLE["age"], 3, labels=False).tolist()
    # ties: qcut drops repeated edges, and so do the bins
    ties = pd.DataFrame({"x": [1, 1, 1, 1, 1, 2, 3]})
    cut = slicings([BinSlice(column="x", bins=4)], ties)[0]
    assert cut.names == ("x in [1, 1.5]", "x in (1.5, 3]")
    assert cut.codes.tolist() == pd.qcut(ties["x"], 4, labels=False, duplicates="drop").tolist()


def test_tags_are_one_slicing_each_and_may_overlap() -> None:
    tags = {
        "car_noise": np.array([1, 1, 0, 0, 0, 0], dtype=bool),
        "blurry": np.array([0, 1, 1, 0, 0, 0], dtype=bool),
        "unused": np.zeros(6, dtype=bool),
    }
    cuts = slicings(["gender"], PEOPLE, tags)
    assert [(c.family, c.names, c.codes.tolist()) for c in cuts[1:]] == [
        ("tags", ("tag:car_noise",), [0, 0, -1, -1, -1, -1]),
        ("tags", ("tag:blurry",), [-1, 0, 0, -1, -1, -1]),
        ("tags", (), [-1] * 6),  # no rows, no group
    ]


@pytest.mark.parametrize(
    "spec", ["regoin", ("gender", "regoin"), BinSlice(column="regoin", bins=(0, 1))]
)
def test_unknown_column_names_the_key_the_columns_and_the_likely_one(spec: SliceSpec) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^evaluate\.slices: 'regoin' is not a column of the data; columns are: gender, region, income, age; did you mean 'region'\?$",
    ):
        slicings([spec], PEOPLE)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("income <<< 2", "SyntaxError: invalid syntax (<unknown>, line 1)"),
        ("income + 1", "it gives float64 values, not true or false"),
        ("incme < 20000", "UndefinedVariableError: name 'incme' is not defined"),
    ],
)
def test_bad_expression_says_why_and_lists_the_columns(expression: str, reason: str) -> None:
    with pytest.raises(ConfigError) as raised:
        slicings([WhereSlice(where=expression)], PEOPLE)
    message = str(raised.value)
    assert message.startswith(
        f"evaluate.slices: '{expression}' is neither a column nor a true/false expression"
    )
    assert f"({reason})" in message
    assert "columns are: gender, region, income, age" in message
    assert message.endswith("did you mean 'income'?") == expression.startswith("incme")


def test_bins_need_a_numeric_column() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^evaluate\.slices: bins need a numeric column, and 'region' holds (str|object) values; list 'region' itself for one slice per value$",
    ):
        slicings([BinSlice(column="region", bins=3)], PEOPLE)
