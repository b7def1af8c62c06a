"""The training set of a retrained model, against a direct pandas computation; the
labelled history read from a real store: shadow copies and late labels left out."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import prodml
from prodml.config import parse_settings
from prodml.errors import ConfigError
from prodml.retrain.training import LOGGED_AT, RECEIVED_AT, build, labelled_history
from prodml.store.runs import utc_now

if TYPE_CHECKING:
    from tests.retrain.conftest import GiveFeedback, LogRows, ToyData

CUTOFF = datetime(2026, 3, 1, tzinfo=UTC)
SETTINGS = parse_settings(
    {
        "project": "p",
        "model": "sklearn.linear_model.LogisticRegression",
        "data": {"source": "d.csv", "target": "y", "time": "at", "id": "rid"},
    }
)


def sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Data (naive times, unordered) and a labelled history (aware times, labels as
    floats, some received after CUTOFF, some predicted after it)."""
    rng = np.random.default_rng(3)
    at = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 60 * 24, 80), unit="h")
    data = pd.DataFrame(
        {"rid": np.arange(80), "at": at, "x": rng.normal(size=80), "y": rng.integers(0, 2, 80)}
    )
    logged = CUTOFF + pd.to_timedelta(rng.integers(-40 * 24, 5 * 24, 60), unit="h")
    received = logged + pd.to_timedelta(rng.integers(1, 10 * 24, 60), unit="h")
    history = pd.DataFrame(
        {
            "x": rng.normal(size=60),
            "y": rng.integers(0, 2, 60).astype(float),
            "at": logged,
            "rid": [f"r{i}" for i in range(60)],
            "region": "north",  # a column the data lack: left out
            RECEIVED_AT: received,
        }
    )
    return data, history.sort_values("at", kind="stable").reset_index(drop=True)


def expected(data: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """The set by hand: labels received by CUTOFF, rows up to CUTOFF, by time, data first
    on a tie."""
    known = history[history[RECEIVED_AT] <= CUTOFF].assign(y=lambda f: f["y"].astype(int))
    both = pd.concat(
        [
            data.assign(at=data["at"].dt.tz_localize("UTC"), log=False),
            known[["rid", "at", "x", "y"]].assign(log=True),
        ],
        ignore_index=True,
    )
    both = both[both["at"] <= CUTOFF]
    return both.sort_values("at", kind="stable").reset_index(drop=True)


def same(built: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        built.reset_index(drop=True), want.drop(columns="log").reset_index(drop=True)
    )


def test_all_keeps_what_was_known_at_the_cutoff_ordered_by_time() -> None:
    data, history = sample()
    built = build(data, history, SETTINGS, "all", cutoff=CUTOFF)
    want = expected(data, history)
    same(built.frame, want)
    assert built.weights is None
    assert (built.rows_from_data, built.rows_from_log) == (80, int(want["log"].sum()))
    assert 0 < built.rows_from_log < (history["at"] <= CUTOFF).sum()  # late labels went
    assert (built.first, built.last) == (want["at"].min(), want["at"].max())
    assert built.last is not None and built.last <= CUTOFF


def test_since_and_a_window_of_a_duration_or_of_rows() -> None:
    data, history = sample()
    want = expected(data, history)
    since = datetime(2026, 2, 1, tzinfo=UTC)
    built = build(data, history, SETTINGS, "all", cutoff=CUTOFF, since=since)
    same(built.frame, want[want["at"] >= since])
    built = build(data, history, SETTINGS, "window", cutoff=CUTOFF, window=timedelta(days=20))
    same(built.frame, want[want["at"] >= CUTOFF - timedelta(days=20)])
    assert built.first is not None
    assert built.rows_from_data == int((~want["log"] & (want["at"] >= built.first)).sum())
    built = build(data, history, SETTINGS, "window", cutoff=CUTOFF, window=25)
    same(built.frame, want.tail(25))
    assert built.first == want["at"].iloc[-25]


def test_weighted_halves_the_weight_per_half_life_of_age() -> None:
    data, history = sample()
    built = build(data, history, SETTINGS, "weighted", cutoff=CUTOFF, half_life=timedelta(days=7))
    want = expected(data, history)
    age_days = (CUTOFF - want["at"]).dt.total_seconds().to_numpy() / 86_400
    assert built.weights is not None
    np.testing.assert_allclose(built.weights, 0.5 ** (age_days / 7), rtol=0, atol=1e-12)
    # the settings' half-life (30d by default) when none is given
    default = build(data, history, SETTINGS, "weighted", cutoff=CUTOFF)
    assert default.weights is not None
    np.testing.assert_allclose(default.weights, 0.5 ** (age_days / 30), rtol=0, atol=1e-12)
    assert len({built.fingerprint, default.fingerprint}) == 2  # weights are in it


def test_without_a_time_column_data_rows_come_first_and_have_no_age() -> None:
    settings = parse_settings(
        {"project": "p", "model": "m.M", "data": {"source": "d.csv", "target": "y"}}
    )
    data = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    logged = pd.to_datetime(["2026-02-20", "2026-02-11"], utc=True)  # 9 and 18 days
    history = pd.DataFrame({"x": [5.0, 4.0], "y": [1, 1], LOGGED_AT: logged})
    built = build(data, history, settings, "weighted", cutoff=CUTOFF, half_life=timedelta(days=9))
    assert built.frame["x"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert built.weights is not None
    np.testing.assert_allclose(built.weights, [0.25] * 3 + [0.25, 0.5], atol=1e-12)
    assert (built.first, built.last) == (logged[1], logged[0])
    since = build(data, history, settings, "all", cutoff=CUTOFF, since=logged[1])
    assert since.frame["x"].tolist() == [4.0, 5.0]
    alone = build(data, history.iloc[:0], settings, "all", cutoff=CUTOFF)
    assert list(alone.frame.columns) == ["x", "y"] and alone.first is None


def test_a_window_strategy_without_a_window_says_how_to_give_one() -> None:
    data, history = sample()
    with pytest.raises(ConfigError, match=r"strategy window needs a window: give --window 90d"):
        build(data, history, SETTINGS, "window", cutoff=CUTOFF)


def test_labelled_history_leaves_out_shadow_copies_late_labels_and_other_endpoints(
    toy: prodml.Project, toy_data: ToyData, log_rows: LogRows, give_feedback: GiveFeedback
) -> None:
    served = toy_data(30, seed=1, start=datetime(2026, 2, 1, tzinfo=UTC))
    ids = log_rows(toy, served)
    log_rows(toy, served, role="shadow", version=2)  # the same requests, copied
    others = log_rows(toy, served.head(5), endpoint="other", prefix="o")
    truth = dict(zip(ids, served["y"].tolist(), strict=True))
    give_feedback(toy, {rid: truth[rid] for rid in ids[:20]} | dict.fromkeys(others, 1))
    time.sleep(0.01)
    cutoff = utc_now()
    time.sleep(0.01)
    give_feedback(toy, {rid: truth[rid] for rid in ids[20:25]} | {ids[0]: 1 - truth[ids[0]]})

    def want(rows: int) -> pd.DataFrame:
        frame = served.head(rows)
        return pd.DataFrame(
            {
                "x1": frame["x1"],
                "x2": frame["x2"],
                "c1": frame["c1"],
                "region": frame["region"],
                "y": frame["y"],
                "at": frame["at"].dt.tz_localize("UTC"),
                "rid": ids[:rows],
            }
        )

    history = labelled_history(toy, cutoff=cutoff)
    pd.testing.assert_frame_equal(history.drop(columns=RECEIVED_AT), want(20), check_dtype=False)
    assert (history[RECEIVED_AT] <= cutoff).all()
    later = labelled_history(toy, cutoff=utc_now())
    relabelled = want(25).assign(y=lambda f: f["y"].where(f.index > 0, 1 - truth[ids[0]]))
    pd.testing.assert_frame_equal(later.drop(columns=RECEIVED_AT), relabelled, check_dtype=False)
    other = labelled_history(toy, "other", cutoff=utc_now())
    assert other["y"].tolist() == [1] * 5
    assert labelled_history(toy, "nobody", cutoff=utc_now()).empty
