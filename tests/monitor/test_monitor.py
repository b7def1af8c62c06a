"""The monitor over a real store: planted drift found where it is and nowhere else, the
concept change found from feedback, window metrics against numpy and scikit-learn,
windows of time and of count, alerts to a real webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    mean_absolute_error,
    recall_score,
    roc_auc_score,
)
from sqlalchemy import text

from prodml.config import MonitorSettings
from prodml.data.profile import ProfileBuilder
from prodml.data.schema import infer_schema
from prodml.errors import ConfigError, NotFoundError
from prodml.monitor.drift import (
    Distribution,
    distributions,
    drift_report,
    learned_thresholds,
)
from prodml.monitor.monitor import Monitor
from prodml.monitor.scoring import Reference
from prodml.monitor.window import Cutter
from prodml.serve.prediction_log import PredictionLog, entry
from prodml.store.database import Database
from prodml.store.log_columns import LogColumns
from prodml.store.monitoring import Logged, Monitoring
from prodml.store.review import NewItem, ReviewQueue
from prodml.store.runs import utc_now

FEATURES = ["x1", "x2", "x3", "c1", "c2"]
SHIFT_AT, CONCEPT_AT, ROWS = 3_000, 4_500, 6_000
START = datetime(2026, 1, 1, tzinfo=UTC)


def population(n: int, rng: np.random.Generator, shifted: np.ndarray) -> pd.DataFrame:
    """Five features; where ``shifted``, x2's mean moves by one standard deviation and c1's
    shares change, the rest stays as it was."""
    x2 = rng.normal(0.0, 1.0, n) + shifted * 1.0
    c1_shares = np.where(shifted[:, None], [0.2, 0.3, 0.5], [0.5, 0.3, 0.2])
    c1 = np.array(["a", "b", "c"])[(rng.random(n)[:, None] > np.cumsum(c1_shares, 1)).sum(1)]
    return pd.DataFrame(
        {
            "x1": rng.normal(0.0, 1.0, n),
            "x2": x2,
            "x3": rng.exponential(2.0, n),
            "c1": c1,
            "c2": rng.choice(["u", "v"], n, p=[0.7, 0.3]),
        }
    )


def model(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The served 'model': label 1 when x1 + x2 > 0; confidence from a logistic curve."""
    margin = (frame["x1"] + frame["x2"]).to_numpy()
    p1 = 1.0 / (1.0 + np.exp(-2.0 * margin))
    return (p1 > 0.5).astype(int), np.maximum(p1, 1.0 - p1)


def truth(frame: pd.DataFrame, changed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The true labels: the model's rule, 5% noise; where ``changed``, the rule is x1 > x2."""
    before = (frame["x1"] + frame["x2"]).to_numpy() > 0
    after = (frame["x1"] - frame["x2"]).to_numpy() > 0
    label = np.where(changed, after, before)
    flip = rng.random(len(frame)) < 0.05
    return np.where(flip, ~label, label).astype(int)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Monitoring]:
    database = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    yield Monitoring(database)
    database.dispose()


def reference_of(frame: pd.DataFrame) -> Reference:
    labels, confidence = model(frame)
    features = frame[FEATURES]
    builder = ProfileBuilder(FEATURES)
    builder.update(features, predicted=labels, confidence=confidence)
    return Reference(
        "classification", infer_schema(features, FEATURES), builder.finish(), features, features
    )


def log_stream(
    store: Monitoring, frame: pd.DataFrame, version: int = 1, start: int = 0
) -> list[str]:
    """Log every row of ``frame`` as one answered prediction, a second apart (the first
    ``start`` seconds after START)."""
    labels, confidence = model(frame)
    rows, ids = [], []
    records: list[dict[str, Any]] = frame[FEATURES].to_dict("records")  # type: ignore[assignment]
    for i, record in enumerate(records):
        request_id = f"r{version}-{start + i}"
        ids.append(request_id)
        rows.append(
            entry(
                request_id,
                "toy",
                "toy",
                version,
                record,
                {
                    "label": int(labels[i]),
                    "probabilities": {"0": 1 - float(confidence[i]), "1": float(confidence[i])},
                },
                0.001 + (i % 100) / 10_000,
                created_at=START + timedelta(seconds=start + i),
            )
        )
    log = PredictionLog(store.database)
    try:
        log.write(rows).result()
    finally:
        log.close()
    return ids


def planted() -> tuple[Reference, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    reference = reference_of(population(10_000, rng, np.zeros(10_000, dtype=bool)))
    stream = population(ROWS, rng, np.arange(ROWS) >= SHIFT_AT)
    labels = truth(stream, np.arange(ROWS) >= CONCEPT_AT, rng)
    return reference, stream, labels


def test_planted_drift_flags_the_shifted_features_only_after_the_shift(
    store: Monitoring,
) -> None:
    """Windows of 2,000 predictions: KS and chi-square tests, the default rule."""
    reference, stream, _ = planted()
    log_stream(store, stream)
    done = Monitor(store, MonitorSettings(window=2_000), lambda name, version, run: reference).run(
        "toy"
    )
    assert len(done.windows) == ROWS // 2_000
    for w in done.windows:
        scores = [s for s in done.scores if s.window_id == w.id and s.kind == "drift"]
        assert {s.column for s in scores} == set(FEATURES)
        drifted = {s.column for s in scores if s.drifted}
        after = w.last_id > SHIFT_AT  # holds shifted rows (prediction ids start at 1)
        assert drifted == ({"x2", "c1"} if after else set()), (w.first_id, drifted)
        assert w.metrics["drift_share"] == len(drifted) / len(FEATURES)
        assert w.metrics["drift.x2"] == next(s.score for s in scores if s.column == "x2")
    assert {s.method for s in done.scores if s.kind == "drift"} == {"ks", "chisquare"}
    predicted = [s for s in done.scores if s.kind == "prediction" and s.column == "(predicted)"]
    assert [s.drifted for s in predicted] == [False, True, True]  # x2 moves the predictions
    (skew,) = {s.window_id for s in done.scores if s.kind == "skew"}
    assert skew == done.windows[0].id  # the first window against the training rows


def test_learned_thresholds_are_those_of_the_reference_windows(store: Monitoring) -> None:
    reference, stream, _ = planted()
    assert reference.held_out is not None
    log_stream(store, stream)
    settings = MonitorSettings.model_validate({"window": 500, "drift": {"threshold": "learned"}})
    done = Monitor(store, settings, lambda name, version, run: reference).run("toy")
    learned = learned_thresholds(reference.held_out, 500, columns=FEATURES)
    for s in (s for s in done.scores if s.kind == "drift"):
        assert (s.method, s.threshold) == (learned[s.column].method, learned[s.column].value)
        assert s.drifted == (s.score >= learned[s.column].value)
    newest = [s for s in done.scores if s.window_id == done.windows[-1].id and s.kind == "drift"]
    assert {s.column for s in newest if s.drifted} == {"x2", "c1"}


def test_p_value_windows_keep_the_family_wise_error_rate() -> None:
    """Small windows get p-value tests, Holm-corrected over the features: without drift, a
    window flags any feature at most about 5% of the time; with it, every time."""
    reference, _, _ = planted()
    assert reference.profile is not None
    rng = np.random.default_rng(11)
    columns = reference.profile.columns
    before = {c: Distribution.from_profile(columns[c]) for c in FEATURES}
    windows, flagged = 200, 0
    for k in range(windows):
        shifted = np.full(500, k % 2 == 1)
        report = drift_report(before, distributions(population(500, rng, shifted)))
        if k % 2 == 1:
            assert {"x2", "c1"} <= set(report.drifted_columns)
        else:
            flagged += bool(report.drifted_columns)
    assert {s.method for s in report.scores.values()} == {"ks", "chisquare"}
    assert flagged / (windows / 2) <= 0.08  # 5% allowed; the margin is sampling noise


def test_concept_change_is_found_from_feedback_soon_after_it(store: Monitoring) -> None:
    reference, stream, labels = planted()
    ids = log_stream(store, stream)
    monitor = Monitor(store, MonitorSettings(window=500), lambda name, version, run: reference)
    monitor.run("toy")
    assert store.change_points("toy") == []  # no feedback yet: nothing to see
    stored, unknown = store.add_feedback(list(zip(ids, labels.tolist(), strict=True)), "test")
    assert (stored, unknown) == (ROWS, [])
    done = monitor.run("toy")
    assert done.windows == []  # no new predictions, but every window gained its performance
    assert done.updated == ROWS // 500
    changes = store.change_points("toy")
    assert {c.detector for c in changes} == {"page_hinkley", "adwin"}
    for detector in ("page_hinkley", "adwin"):
        found = [c for c in changes if c.detector == detector]
        assert all(c.detected_id > CONCEPT_AT for c in found), found  # none before the change
        first = found[0]
        assert first.detected_id - CONCEPT_AT <= 500, first
        assert abs(first.started_id - CONCEPT_AT) <= 300, first
    # concept_change counts a change in the window where it was found, not where it began
    windows = store.windows("toy")
    found_in = [w.id for c in changes for w in windows if w.first_id <= c.detected_id <= w.last_id]
    assert {w.id: w.metrics["concept_change"] for w in windows if w.metrics["concept_change"]} == {
        id: found_in.count(id) for id in found_in
    }
    # a second pass finds the same change points and stores none again
    assert monitor.run("toy").change_points == []


def test_realized_performance_per_window_equals_scikit_learn(store: Monitoring) -> None:
    reference, stream, labels = planted()
    ids = log_stream(store, stream)
    monitor = Monitor(store, MonitorSettings(window=1_000), lambda name, version, run: reference)
    monitor.run("toy")
    # partial and repeated feedback: every other prediction, first wrong, then right
    half = list(range(0, ROWS, 2))
    store.add_feedback([(ids[i], 1 - int(labels[i])) for i in half], "first try")
    store.add_feedback([(ids[i], int(labels[i])) for i in half], "corrected")
    monitor.run("toy")
    said, _ = model(stream)
    for w in store.windows("toy"):
        rows = [i for i in half if w.first_id <= i + 1 <= w.last_id]
        y, p = labels[rows], said[rows]
        assert w.metrics["labelled"] == len(rows)
        assert w.metrics["labelled_share"] == len(rows) / w.rows
        assert w.metrics["accuracy"] == pytest.approx(accuracy_score(y, p), abs=1e-12)
        recall = recall_score(y, p, labels=[0, 1], average=None, zero_division=0)
        f1 = f1_score(y, p, labels=[0, 1], average=None, zero_division=0)
        assert w.metrics["recall.1"] == pytest.approx(recall[1], abs=1e-12)
        assert w.metrics["f1.0"] == pytest.approx(f1[0], abs=1e-12)


def test_window_metrics_equal_numpy(store: Monitoring) -> None:
    reference, stream, _ = planted()
    stream = stream.head(1_000).copy()
    stream.loc[::10, "x3"] = np.nan  # 10% missing
    stream.loc[5, "c2"] = "never seen"
    stream.loc[7, "x1"] = 1e9  # out of the training range
    log_stream(store, stream)
    errors_log = PredictionLog(store.database)
    for _ in range(3):
        errors_log.write_error("toy", "native", 422, 0.001)
    errors_log.close()  # commits what waits
    with store.database.engine.begin() as connection:  # inside the window's time span
        connection.execute(
            text("update request_errors set created_at = :at"),
            {"at": START + timedelta(seconds=10)},
        )
    monitor = Monitor(store, MonitorSettings(window=1_000), lambda name, version, run: reference)
    (w,) = monitor.run("toy").windows
    m = w.metrics
    latency = np.array([0.001 + (i % 100) / 10_000 for i in range(1_000)])
    assert m["requests"] == 1_000
    assert (m["errors"], m["error_rate"]) == (3, 3 / 1_003)
    for q in (50, 95, 99):
        assert m[f"latency_p{q}_seconds"] == pytest.approx(np.quantile(latency, q / 100))
    assert m["throughput_per_second"] == pytest.approx(1_000 / 999)
    assert m["missing.x3"] == pytest.approx(0.1)
    assert m["mean.x1"] == pytest.approx(stream["x1"].mean())
    assert m["unseen.c2"] == pytest.approx(1 / 1_000)
    assert m["out_of_range.x1"] == pytest.approx(1 / 1_000)
    labels, confidence = model(stream.fillna({"x3": 0.0}))
    assert m["class_share.1"] == pytest.approx(labels.mean())
    assert m["mean_confidence"] == pytest.approx(confidence.mean())


def logged(i: int, at: datetime, version: int = 1) -> Logged:
    return Logged(i, f"r{i}", at, "toy", version, {}, {"label": 1}, 0.9, 0.01)


def cut_ids(rows: list[Logged], window: int | float, now: datetime, chunk: int) -> list[list[int]]:
    """The ids of each window ``cut`` closes, the log read ``chunk`` rows at a time."""
    chunks = [LogColumns.of(rows[start : start + chunk]) for start in range(0, len(rows), chunk)]
    return [w.id.tolist() for w, _, _ in Cutter(window, now).cut(chunks)]


@pytest.mark.parametrize("chunk", [1, 2, 5, 100])
def test_count_windows_close_when_full_or_when_their_version_goes_idle(chunk: int) -> None:
    rows = [logged(i, START, 1) for i in range(1, 8)] + [logged(i, START, 2) for i in range(8, 13)]
    windows = cut_ids(rows, 3, START, chunk)
    assert windows == [[1, 2, 3], [4, 5, 6], [7], [8, 9, 10]]


@pytest.mark.parametrize("chunk", [1, 2, 4, 100])
def test_time_windows_close_once_the_log_or_the_clock_is_past_their_end_and_lateness(
    chunk: int,
) -> None:
    """A slot closes when its model's newest row is 5 s (the lateness) past its end, or
    when the clock is and no row came in the last 5 s (before event time, the clock
    alone closed it: a row logged 5 s past the slot's end is now enough)."""
    rows = [logged(i, START + timedelta(seconds=20 * i), 1) for i in range(6)]  # 0..100 s
    minute = 60.0
    assert cut_ids(rows[:4], minute, START + timedelta(seconds=64), chunk) == []
    assert cut_ids(rows, minute, START + timedelta(seconds=100), chunk) == [[0, 1, 2]]
    assert cut_ids(rows, minute, START + timedelta(seconds=124), chunk) == [[0, 1, 2]]
    assert cut_ids(rows, minute, START + timedelta(seconds=126), chunk) == [
        [0, 1, 2],
        [3, 4, 5],
    ]


def test_windows_of_time_are_aligned_slots_of_the_log(store: Monitoring) -> None:
    reference, stream, _ = planted()
    log_stream(store, stream)  # a prediction a second from START: 100 minutes
    done = Monitor(store, MonitorSettings(window="10m"), lambda name, version, run: reference).run(
        "toy"
    )
    assert [w.rows for w in done.windows] == [600] * 10
    assert [w.starts_at for w in done.windows] == [
        START + timedelta(minutes=10 * k) for k in range(10)
    ]
    assert all(w.metrics["throughput_per_second"] == 1.0 for w in done.windows)
    assert (
        Monitor(store, MonitorSettings(window="10m"), lambda n, v, r: reference).run("toy").windows
        == []
    )


class Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Receiver.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_alert_fires_once_after_n_windows_to_store_and_webhook(store: Monitoring) -> None:
    Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reference, stream, _ = planted()
        log_stream(store, stream)
        settings = MonitorSettings.model_validate(
            {
                "window": 500,
                "alerts": [{"metric": "drift_share", "above": 0.3, "for": 2}],
                "webhooks": [f"http://127.0.0.1:{server.server_address[1]}/hook"],
            }
        )
        done = Monitor(store, settings, lambda name, version, run: reference).run("toy")
    finally:
        server.shutdown()
        server.server_close()
    (alert,) = done.fired
    assert alert.rule == "drift_share > 0.3 for 2"
    assert alert.value == pytest.approx(0.4)
    assert [a.id for a in store.alerts("toy", firing=True)] == [alert.id]
    (body,) = Receiver.bodies
    assert body["event"] == "alert" and body["rule"] == alert.rule and body["endpoint"] == "toy"
    (stored,) = store.alerts("toy")
    assert stored.deliveries["webhooks"][0]["ok"] is True


def test_an_alert_is_resolved_when_the_newest_window_keeps_to_its_rule(
    store: Monitoring,
) -> None:
    reference, stream, _ = planted()
    log_stream(store, stream)
    settings = MonitorSettings.model_validate(
        {"window": 2_000, "alerts": [{"metric": "drift_share", "above": 0.3}]}
    )
    monitor = Monitor(store, settings, lambda name, version, run: reference)
    (fired,) = monitor.run("toy").fired
    assert fired.window_id == store.windows("toy")[1].id  # the first window with the shift
    calm = population(2_000, np.random.default_rng(5), np.zeros(2_000, dtype=bool))
    log_stream(store, calm, start=ROWS)
    done = monitor.run("toy")
    assert (done.fired, [a.id for a in done.resolved]) == ([], [fired.id])
    (alert,) = store.alerts("toy")
    assert alert.resolved_at is not None and store.alerts("toy", firing=True) == []


def test_unknown_alert_metric_is_a_config_error_naming_it(store: Monitoring) -> None:
    settings = MonitorSettings.model_validate(
        {"alerts": [{"metric": "drift_shares", "above": 0.3}]}
    )
    with pytest.raises(ConfigError, match=r"'drift_shares'.*did you mean 'drift_share'"):
        Monitor(store, settings, lambda name, version, run: planted()[0])


def test_feedback_for_unknown_request_ids_is_refused_whole(store: Monitoring) -> None:
    ids = log_stream(store, planted()[1].head(10))
    with pytest.raises(NotFoundError, match=r"1 request id.*nope"):
        store.add_feedback([(ids[0], 1), ("nope", 0)], "test")
    assert store.labelled("toy") == []
    assert store.add_feedback([(ids[0], 1), ("nope", 0)], "test", skip_unknown=True) == (
        1,
        ["nope"],
    )


def test_a_regressor_gets_mae_from_feedback_and_drift_of_its_values(store: Monitoring) -> None:
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"x": rng.normal(0.0, 1.0, 5_000)})
    builder = ProfileBuilder(["x"])
    builder.update(train, predicted=2.0 * train["x"].to_numpy())
    reference = Reference("regression", infer_schema(train, ["x"]), builder.finish(), None, None)
    served = pd.DataFrame({"x": rng.normal(1.0, 1.0, 400)})  # drifted: the mean moved by 1
    values = 2.0 * served["x"].to_numpy()
    rows = [
        entry(f"v{i}", "reg", "reg", 1, {"x": float(x)}, {"value": float(v)}, 0.001)
        for i, (x, v) in enumerate(zip(served["x"], values, strict=True))
    ]
    log = PredictionLog(store.database)
    log.write(rows).result()
    log.close()
    truth = values + rng.normal(0.0, 0.5, len(values))
    store.add_feedback([(f"v{i}", float(t)) for i, t in enumerate(truth)], "test")
    done = Monitor(store, MonitorSettings(window=400), lambda name, version, run: reference).run(
        "reg"
    )
    (window,) = done.windows
    assert window.metrics["mae"] == pytest.approx(mean_absolute_error(truth, values), abs=1e-12)
    assert window.metrics["mean_confidence"] is None
    (value_drift,) = [s for s in done.scores if s.kind == "prediction"]
    assert (value_drift.column, value_drift.method, value_drift.drifted) == (
        "(predicted)",
        "ks",
        True,
    )
    assert done.change_points == []  # detectors watch classification errors only


def test_labels_read_over_many_passes_give_what_one_pass_over_them_gives(
    tmp_path: Path,
) -> None:
    """The monitor reads only the labels received since its last pass; labels in the order
    of the log extend the error stream, a late one makes it read the stream again. The
    change points and window metrics must be those of one pass over the same labels."""
    reference, stream, labels = planted()
    settings = MonitorSettings(window=500)
    pairs = [(f"r1-{i}", int(labels[i])) for i in range(ROWS)]
    batches = [pairs[start : start + 1_000] for start in range(0, ROWS, 1_000)]
    late = [(request_id, 1 - label) for request_id, label in pairs[:100]]  # all wrong now
    stores = []
    for name in ("passes", "once"):
        stores.append(Monitoring(Database(f"sqlite:///{tmp_path / name}.db")))
        log_stream(stores[-1], stream)
    passes, once = stores
    monitor = Monitor(passes, settings, lambda name, version, run: reference)
    monitor.run("toy")
    for batch in batches:
        passes.add_feedback(batch, "test")
        assert monitor.run("toy").updated == 2  # only the two windows the batch labels
        assert monitor.run("toy").updated == 0  # nothing new: nothing recomputed
    for batch in batches:
        once.add_feedback(batch, "test")
    Monitor(once, settings, lambda name, version, run: reference).run("toy")

    def found(store: Monitoring) -> list[tuple[Any, ...]]:
        points = store.change_points()
        return [(c.detector, c.started_id, c.detected_id, c.started_at) for c in points]

    assert found(passes) == found(once)
    assert {detector for detector, *_ in found(once)} == {"page_hinkley", "adwin"}
    assert [w.metrics for w in passes.windows()] == [w.metrics for w in once.windows()]

    for store in stores:
        store.add_feedback(late, "late")
    assert monitor.run("toy").updated == 1  # the late labels' window: the stream read again
    Monitor(once, settings, lambda name, version, run: reference).run("toy")
    assert found(passes) == found(once)
    assert ("adwin", 97) in [(detector, start) for detector, start, *_ in found(once)]
    assert [w.metrics for w in passes.windows()] == [w.metrics for w in once.windows()]
    said, _ = model(stream.head(500))
    truth = np.r_[1 - labels[:100], labels[100:500]]  # the last label counts
    first = passes.windows()[0].metrics
    assert first["accuracy"] == pytest.approx(accuracy_score(truth, said), abs=1e-12)
    for store in stores:
        store.database.dispose()


def test_a_window_records_the_review_queue_as_it_is_scored(store: Monitoring) -> None:
    reference, stream, _ = planted()
    ids = log_stream(store, stream.head(200))
    queue = ReviewQueue(store.database)
    queue.add(
        [
            NewItem(request_id, "toy", {}, "low_confidence", model_version=1)
            for request_id in ids[:30]
        ]
    )
    waiting = queue.backlog("toy")

    monitor = Monitor(store, MonitorSettings(window=100), lambda name, version, run: reference)
    first, second = monitor.run("toy").windows

    for window in (first, second):
        assert window.metrics["queue_size"] == waiting[0] == 30
        age = window.metrics["queue_age_p95_seconds"]
        assert waiting[1] is not None and waiting[1] <= age < waiting[1] + 60


# --- closing the open window; windows too small for a drift verdict ----------------------


@pytest.mark.parametrize("chunk", [1, 3, 100])
def test_close_ends_the_open_window_of_predictions_as_a_partial_one(chunk: int) -> None:
    rows = [logged(i, START, 1) for i in range(1, 9)]
    chunks = [LogColumns.of(rows[s : s + chunk]) for s in range(0, len(rows), chunk)]
    found = [(w.id.tolist(), part) for w, part, _ in Cutter(3, START, close=True).cut(chunks)]
    assert found == [([1, 2, 3], False), ([4, 5, 6], False), ([7, 8], True)]
    assert cut_ids(rows, 3, START, chunk) == [[1, 2, 3], [4, 5, 6]]  # without: it waits


def test_close_ends_the_time_slots_not_yet_past_as_partial_ones() -> None:
    rows = [logged(i, START + timedelta(seconds=20 * i), 1) for i in range(6)]  # 0..100 s
    now = START + timedelta(seconds=66)  # the first minute is past, the second is not
    cutter = Cutter(60.0, now, close=True)
    found = [(w.id.tolist(), part) for w, part, _ in cutter.cut([LogColumns.of(rows)])]
    assert found == [([0, 1, 2], False), ([3, 4, 5], True)]


def test_a_closed_partial_window_is_stored_as_partial_and_the_next_pass_goes_on(
    store: Monitoring,
) -> None:
    reference, stream, _ = planted()
    log_stream(store, stream.head(2_500))
    monitor = Monitor(store, MonitorSettings(window=1_000), lambda n, v, r: reference)
    assert [w.rows for w in monitor.run("toy").windows] == [1_000, 1_000]
    closed = monitor.run("toy", close=True).windows
    assert [(w.rows, w.metrics["partial"]) for w in closed] == [(500, 1)]
    assert store.windows("toy")[-1].metrics["partial"] == 1
    log_stream(store, stream.iloc[2_500:3_500], start=2_500)
    after = monitor.run("toy").windows
    assert [(w.first_id, w.rows, w.metrics["partial"]) for w in after] == [(2_501, 1_000, 0)]


def test_a_window_under_min_rows_gets_software_metrics_but_no_drift_verdict(
    store: Monitoring,
) -> None:
    """Finding 4: windows of a handful of rows were 'drifted' on every feature."""
    reference, stream, _ = planted()
    log_stream(store, stream.head(1_060))
    monitor = Monitor(store, MonitorSettings(window=500), lambda n, v, r: reference)
    big, other = monitor.run("toy").windows
    small = monitor.run("toy", close=True).windows[0]
    assert (small.rows, small.metrics["too_few_rows"], small.metrics["partial"]) == (60, 1, 1)
    assert "drift_share" not in small.metrics and "drift.x1" not in small.metrics
    assert small.metrics["requests"] == 60 and small.metrics["latency_p99_seconds"] > 0
    assert not [s for s in store.scores("toy") if s.window_id == small.id]
    assert big.metrics["too_few_rows"] == 0 and "drift_share" in big.metrics
    lowered = MonitorSettings(window=500, min_rows=50)
    log_stream(store, stream.iloc[1_060:1_120], start=1_060)
    scored = Monitor(store, lowered, lambda n, v, r: reference).run("toy", close=True).windows
    assert scored[0].rows == 60 and "drift_share" in scored[0].metrics
    assert other.rows == 500


def test_min_rows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="min_rows"):
        MonitorSettings(min_rows=0)


def test_alerts_are_checked_on_windows_feedback_changed_and_history_is_kept(
    store: Monitoring,
) -> None:
    """Labels come after their windows were stored: the concept_change rule fires on the
    window where the change was found, is resolved by the next one that kept to it (both
    in one pass, both kept), and feedback reaching those windows again fires nothing."""
    reference, stream, labels = planted()
    ids = log_stream(store, stream)
    settings = MonitorSettings.model_validate(
        {"window": 500, "alerts": [{"metric": "concept_change", "above": 0}]}
    )
    monitor = Monitor(store, settings, lambda name, version, run: reference)
    assert monitor.run("toy").fired == []
    store.add_feedback(list(zip(ids, labels.tolist(), strict=True)), "test")
    done = monitor.run("toy")
    windows = store.windows("toy")
    found = min(c.detected_id for c in store.change_points("toy"))
    (where,) = [w for w in windows if w.first_id <= found <= w.last_id]
    assert [a.window_id for a in done.fired] == [where.id]
    (alert,) = store.alerts("toy")
    assert [a.id for a in done.resolved] == [alert.id] and alert.resolved_at is not None
    after = next(w for w in windows if w.id > where.id and not w.metrics["concept_change"])
    assert alert.resolved_window_id == after.id
    rows = range(where.first_id - 1, where.first_id + 19)  # log id k is row k - 1
    store.add_feedback([(ids[i], 1 - int(labels[i])) for i in rows], "corrected")
    again = monitor.run("toy")
    assert again.updated >= 1 and again.fired == []
    assert len(store.alerts("toy")) == 1


def test_a_shadow_s_copies_are_not_read_into_the_endpoint_s_windows(store: Monitoring) -> None:
    """A shadow's copies, logged between the primary's rows, are no answers: read with
    them, every switch of model closed a window (windows of 50 to 90 rows for 200)."""
    rows = []
    for i in range(30):
        rows.append(entry(f"r{i}", "ep", "ep", 1, {"x": float(i)}, {"value": 1.0}, 0.001))
        copy = entry(f"r{i}", "ep", "ep", 2, {"x": float(i)}, {"value": 2.0}, 0.001, "shadow")
        rows.append(copy)
    log = PredictionLog(store.database)
    log.write(rows).result()
    log.close()

    read = list(store.logged("ep"))
    windows = Cutter(10, utc_now()).cut(store.log_columns("ep", chunk=7))

    assert [(r.request_id, r.model_version) for r in read] == [(f"r{i}", 1) for i in range(30)]
    assert [len(cut.rows) for cut in windows] == [10, 10, 10]


def test_a_window_s_pr_auc_is_of_the_configured_positive_class(store: Monitoring) -> None:
    """data.positive_class 0 sorts first among the model's classes 0 and 1."""
    reference, stream, labels = planted()
    ids = log_stream(store, stream.head(2_000))
    store.add_feedback(list(zip(ids, labels[:2_000].tolist(), strict=True)), "test")
    settings = MonitorSettings(window=1_000)
    Monitor(store, settings, lambda name, version, run: reference, positive_class=0).run("toy")
    _, confidence = model(stream.head(2_000))
    for w in store.windows("toy"):
        rows = slice(w.first_id - 1, w.last_id)
        y, p0 = labels[rows], 1 - confidence[rows]  # the logged probability of "0"
        pr = average_precision_score(y, p0, pos_label=0)
        assert w.metrics["pr_auc"] == pytest.approx(pr, abs=1e-12)
        assert w.metrics["roc_auc"] == pytest.approx(roc_auc_score(y == 0, p0), abs=1e-12)
        assert abs(pr - average_precision_score(y, 1 - p0, pos_label=1)) > 0.01
