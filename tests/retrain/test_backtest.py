"""The backtest (``prodml retrain --backtest``): its numbers against a direct computation
with plain scikit-learn fits and metrics, what it leaves out and why, and its refusal of a
history too short to replay."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_absolute_error
from sklearn.neighbors import KNeighborsClassifier

from prodml.config import Settings, parse_settings
from prodml.errors import ConfigError, DataError
from prodml.retrain.backtest import backtest, render_html
from prodml.retrain.spans import rows_or_duration
from prodml.retrain.training import RECEIVED_AT

START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW, HALF_LIFE = timedelta(days=12), timedelta(days=6)
#: labels come this long after their predictions
DELAY = timedelta(days=2)


def settings(task: str, model: str, **retrain: Any) -> Settings:
    return parse_settings(
        {
            "project": "toy",
            "task": task,
            "data": {"source": "data.csv", "target": "y", "time": "at"},
            "model": model,
            "retrain": retrain,
        }
    )


def rows(task: str, n: int, first: datetime, days: float, flip: float, seed: int) -> pd.DataFrame:
    """``n`` rows made over ``days`` from ``first``; after the share ``flip`` of the span,
    the target depends on x2 rather than x1 (the world changed)."""
    rng = np.random.default_rng(seed)
    at = (first + pd.to_timedelta(np.sort(rng.uniform(0, days, n)), unit="D")).floor("s")
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    changed = np.arange(n) >= flip * n
    signal = np.where(changed, x2 - 0.3 * x1, x1) + rng.normal(0, 0.5, n)
    y = (signal > 0).astype(int) if task == "classification" else 3.0 * signal
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y, "at": pd.Series(at).dt.tz_convert(UTC)})


def history_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The labelled history as labelled_history gives it: labels received DELAY later."""
    return frame.assign(**{RECEIVED_AT: frame["at"] + DELAY})


def expected(
    data: pd.DataFrame,
    history: pd.DataFrame,
    model: Any,
    task: str,
    points: int,
) -> list[dict[str, tuple[int, int, float]]]:
    """For each point, by strategy: (rows trained, rows scored, score), computed directly."""
    first, last = history["at"].min(), history["at"].max()
    cuts = [(first + (last - first) * i / (points + 1)).floor("s") for i in range(1, points + 2)]
    cuts[-1] = last
    score = accuracy_score if task == "classification" else mean_absolute_error
    found = []
    for t, end in itertools.pairwise(cuts):
        known = history[(history["at"] <= t) & (history[RECEIVED_AT] <= t)]
        train = pd.concat([data, known.drop(columns=RECEIVED_AT)], ignore_index=True)
        train = train.sort_values("at", kind="stable")
        test = history[(history["at"] > t) & (history["at"] <= end)]
        age = (t - train["at"]).dt.total_seconds().to_numpy()
        sets = {
            "all": (train, None),
            "window": (train[train["at"] >= t - WINDOW], None),
            "weighted": (train, 0.5 ** (age / HALF_LIFE.total_seconds())),
        }
        at_point = {}
        for strategy, (part, weights) in sets.items():
            fitted = clone(model).fit(part[["x1", "x2"]], part["y"], sample_weight=weights)
            value = score(test["y"], fitted.predict(test[["x1", "x2"]]))
            at_point[strategy] = (len(part), len(test), float(value))
        found.append(at_point)
    return found


@pytest.mark.parametrize(
    ("task", "model", "factory"),
    [
        ("classification", LogisticRegression(), "sklearn.linear_model.LogisticRegression"),
        ("regression", Ridge(alpha=1.0), "sklearn.linear_model.Ridge"),
    ],
)
def test_scores_equal_plain_scikit_learn_fits_on_what_was_known_at_each_point(
    task: str, model: Any, factory: str
) -> None:
    data = rows(task, 60, START - timedelta(days=90), 60, 1.0, seed=1)
    history = history_of(rows(task, 90, START, 30, 0.4, seed=2))
    found = backtest(
        data,
        history,
        settings(task, factory, window="12d", half_life="6d"),
        clone(model),
        points=4,
    )
    direct = expected(data, history, model, task, 4)
    assert found.metric == ("accuracy" if task == "classification" else "mae")
    assert found.strategies == ("all", "window", "weighted") and found.skipped == {}
    assert len(found.points) == 4 and found.labelled == 90
    for point, want in zip(found.points, direct, strict=True):
        for strategy, (trained, scored, value) in want.items():
            assert point.rows_trained[strategy] == trained
            assert point.rows_scored == scored
            assert point.scores[strategy] == pytest.approx(value, abs=1e-12)
    # every labelled row after the first part is scored once
    assert sum(p.rows_scored for p in found.points) == int(
        (history["at"] > found.points[0].cutoff).sum()
    )
    for strategy in found.strategies:
        mean = np.mean([want[strategy][2] for want in direct])
        assert found.mean[strategy] == pytest.approx(mean, abs=1e-12)
    means = {s: v for s, v in found.mean.items() if v is not None}
    best = (max if task == "classification" else min)(means.values())
    assert found.winners == tuple(s for s, v in means.items() if v == best)


def test_a_horizon_of_a_duration_or_of_rows_scores_those_after_each_point() -> None:
    data = rows("classification", 40, START - timedelta(days=60), 30, 1.0, seed=3)
    history = history_of(rows("classification", 60, START, 30, 0.5, seed=4))
    chosen = settings("classification", "sklearn.linear_model.LogisticRegression", window=30)
    by_time = backtest(
        data,
        history,
        chosen,
        LogisticRegression(),
        points=3,
        horizon=rows_or_duration("3d", "--horizon"),
    )
    by_rows = backtest(
        data,
        history,
        chosen,
        LogisticRegression(),
        points=3,
        horizon=rows_or_duration("7", "--horizon"),
    )
    for timed, counted in zip(by_time.points, by_rows.points, strict=True):
        after = history[history["at"] > timed.cutoff]
        assert timed.rows_scored == int((after["at"] <= timed.cutoff + timedelta(days=3)).sum())
        assert timed.until == timed.cutoff + timedelta(days=3)
        assert counted.rows_scored == 7 and counted.until == after["at"].iloc[6]
        # a window of 30 rows: the newest 30 known at the point
        assert counted.rows_trained["window"] == 30
    assert by_time.horizon == "3d" and by_rows.horizon == "the next 7 rows"


def test_strategies_the_model_or_settings_cannot_take_are_skipped_with_the_reason() -> None:
    data = rows("classification", 40, START - timedelta(days=60), 30, 1.0, seed=5)
    history = history_of(rows("classification", 40, START, 20, 0.5, seed=6))
    chosen = settings("classification", "sklearn.neighbors.KNeighborsClassifier")
    found = backtest(data, history, chosen, KNeighborsClassifier(3), points=2)
    assert found.strategies == ("all",)
    assert "KNeighborsClassifier.fit takes no sample_weight" in found.skipped["weighted"]
    assert "--window 90d" in found.skipped["window"]
    assert set(found.points[0].scores) == {"all"}
    assert found.to_dict()["skipped"] == found.skipped


def test_too_little_labelled_history_names_the_counts_and_prodml_feedback() -> None:
    data = rows("classification", 40, START - timedelta(days=60), 30, 1.0, seed=7)
    history = history_of(rows("classification", 12, START, 20, 0.5, seed=8))
    chosen = settings("classification", "sklearn.linear_model.LogisticRegression")
    with pytest.raises(
        DataError,
        match=r"has 12 labelled predictions, and a backtest of 5 points needs at least 30 .*"
        r"`prodml feedback FILE`.* --points",
    ):
        backtest(data, history, chosen, LogisticRegression())
    with pytest.raises(ConfigError, match=r"--points 0 is not a number of points"):
        backtest(data, history, chosen, LogisticRegression(), points=0)


def test_a_horizon_that_is_neither_a_duration_nor_rows_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--horizon '30x' is not a duration"):
        rows_or_duration("30x", "--horizon")


def test_the_html_page_holds_the_table_s_numbers() -> None:
    data = rows("classification", 40, START - timedelta(days=60), 30, 1.0, seed=9)
    history = history_of(rows("classification", 40, START, 20, 0.5, seed=10))
    chosen = settings("classification", "sklearn.linear_model.LogisticRegression", window=20)
    found = backtest(data, history, chosen, LogisticRegression(), points=2)
    page = render_html(found, "toy")
    for point in found.points:
        assert f"{point.cutoff:%Y-%m-%d %H:%M:%S}" in page
        for strategy in found.strategies:
            assert f"{point.scores[strategy]:.4f}" in page
    for value in found.mean.values():
        assert value is not None and f"{value:.4f}" in page


def test_a_strategy_left_with_no_rows_to_learn_from_is_not_scored_and_the_others_are() -> None:
    data = rows("classification", 40, START - timedelta(days=60), 30, 1.0, seed=11)
    history = history_of(rows("classification", 40, START, 20, 0.5, seed=12))
    chosen = settings("classification", "sklearn.linear_model.LogisticRegression")
    # a window of one second before each cutoff holds no row: nothing to fit
    found = backtest(
        data, history, chosen, LogisticRegression(), points=2, window=timedelta(seconds=1)
    )
    for point in found.points:
        assert point.rows_trained["window"] == 0 and point.scores["window"] is None
        assert point.rows_trained["all"] > 0 and point.scores["all"] is not None
        assert "window" not in point.winners
    assert found.mean["window"] is None and "window" not in found.winners
