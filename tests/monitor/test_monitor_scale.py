"""The monitor's bulk path gives what reading the log one row at a time gives: the log read
as columns equals its rows decoded one by one, windows cut from chunks equal a cut made a
row at a time, the labels read by range or mark equal a direct reading of the tables, and
a monitor that reads the log and its labels over many passes stores the same windows,
scores, change points and alerts as one pass over all of it."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from prodml.config import MonitorSettings
from prodml.data.profile import ProfileBuilder
from prodml.data.schema import infer_schema
from prodml.monitor import workers
from prodml.monitor.detectors import ADWIN
from prodml.monitor.monitor import Monitor
from prodml.monitor.scoring import Reference
from prodml.monitor.window import Cutter, inputs_frame
from prodml.serve.prediction_log import Entry, PredictionLog
from prodml.store.database import Database
from prodml.store.label_columns import LabelColumns, LabelledLog
from prodml.store.log_columns import LogColumns
from prodml.store.log_format import (
    Stream,
    encode_inputs,
    encode_outputs,
    encode_probabilities,
    microseconds,
)
from prodml.store.monitoring import Logged, Monitoring

START = datetime(2026, 1, 1, tzinfo=UTC)
CLASSES = (0, 1)


@pytest.fixture
def store(database_url: str) -> Iterator[Monitoring]:
    database = Database(database_url)
    yield Monitoring(database)
    database.dispose()


def write(store: Monitoring, rows: list[Entry]) -> None:
    log = PredictionLog(store.database)
    try:
        log.write(rows).result()
    finally:
        log.close()


def row(
    stream: Stream, at: int, inputs: list[Any], outputs: bytes, event: int | None = None
) -> Entry:
    """Prediction ``at`` (seconds after START) of ``stream``, its request id made of both;
    ``event``: the time of its event, in seconds after START, if it has one."""
    request_id = f"{stream.endpoint[:20]}-{at}"
    micros = microseconds(START + timedelta(seconds=at))
    events = None if event is None else microseconds(START + timedelta(seconds=event))
    return (stream, request_id, micros, encode_inputs(inputs), outputs, 1_000 + at % 97, events)


def mixed(endpoint: str, rows: int, seed: int) -> list[Entry]:
    """A log of every kind of row the store keeps, interleaved: float inputs (``b"d"``)
    and mixed ones (``b"j"``, with a metadata field); answers as probabilities (``b"p"``,
    one of them nan), as a JSON object with or without a label, and a regressor's values
    (``b"v"``, or JSON for an integer); decided by the model or by a person; with the
    time of its event (an hour before it arrived), or not."""
    model = Stream(endpoint, "m", 1, "run-a", "primary", ("x1", "x2"), CLASSES)
    person = replace(model, decided_by="person")
    metadata = replace(model, columns=("x1", "x2", "gender"))
    regressor = Stream(endpoint, "m", 2, "run-b", "primary", ("x1", "x2"), None)
    rng = np.random.default_rng(seed)
    found = []
    for at in range(rows):
        x1, x2 = float(rng.normal()), float(rng.normal())
        p = float(rng.random())
        answer = {"label": int(p > 0.5), "probabilities": {"0": 1 - p, "1": p}}
        kind = int(rng.integers(7))
        if kind == 0:
            found.append(row(person, at, [x1, x2], encode_outputs(answer, person)))
        elif kind == 1:
            gender = str(rng.choice(["f", "m"]))
            found.append(row(metadata, at, [x1, int(x2 * 10), gender], encode_outputs(answer)))
        elif kind == 2:
            found.append(row(model, at, [x1, x2], encode_probabilities([math.nan, p])))
        elif kind == 3:
            found.append(row(model, at, [x1, x2], encode_outputs({"label": None}, model)))
        elif kind == 4:
            value = x1 if at % 2 else round(x1 * 10)
            found.append(row(regressor, at, [x1, x2], encode_outputs({"value": value})))
        elif kind == 5:
            found.append(row(model, at, [x1, x2], encode_outputs(answer, model), at - 3600))
        else:
            found.append(row(model, at, [x1, x2], encode_outputs(answer, model)))
    return found


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_the_log_read_as_columns_is_its_rows_decoded_one_by_one(
    store: Monitoring, chunk: int
) -> None:
    endpoint = f"mixed-{uuid4().hex}"
    write(store, mixed(endpoint, 300, seed=chunk))
    bulk = LogColumns.joined(list(store.log_columns(endpoint, chunk=chunk)))
    rows = LogColumns.of(list(store.logged(endpoint)))

    assert len(bulk) == len(rows) == 300
    assert (bulk.at_us < bulk.arrived_us).any() and (bulk.at_us == bulk.arrived_us).any()
    for name in ("id", "at_us", "arrived_us", "model_name", "model_version", "run_id"):
        assert getattr(bulk, name).tolist() == getattr(rows, name).tolist(), name
    assert bulk.decided_by.tolist() == rows.decided_by.tolist()
    assert bulk.latency_seconds.tolist() == rows.latency_seconds.tolist()
    assert bulk.valued.tolist() == rows.valued.tolist()
    np.testing.assert_array_equal(bulk.confidence, rows.confidence)  # nan where none
    labels = [(type(label), label) for label in bulk.label.tolist()]
    assert labels == [(type(label), label) for label in rows.label.tolist()]
    schema = infer_schema(pd.DataFrame({"x1": [0.0, 1.0], "x2": [0.0, 1.0], "gender": ["f", "m"]}))
    pd.testing.assert_frame_equal(inputs_frame(bulk, schema), inputs_frame(rows, schema))
    assert {"d", "j"} <= {tag for tag in _tags(store, "inputs")}
    assert {"p", "j", "v"} <= {tag for tag in _tags(store, "outputs")}


def _tags(store: Monitoring, column: str) -> set[str]:
    with store.database.engine.connect() as connection:
        blobs = connection.execute(text(f"SELECT {column} FROM predictions")).scalars()
        return {bytes(blob[:1]).decode() for blob in blobs}


def cut_one_by_one(
    rows: list[Logged], window: int | float, now: datetime, close: bool = False
) -> list[tuple[list[int], bool]]:
    """The reference: windows cut a row at a time, each of one model's rows (version and
    run), with whether each is partial. A window of predictions closes when it holds
    ``window`` rows, or as a partial one at the row that is the ``window``-th of other
    models after its model's last; one of time holds its model's rows of one slot, and
    closes at the row that takes its model's newest time 5 s (the lateness) past the
    slot's end; a row of a slot closed before it is late (left out). At the end, with
    ``close``, every open window closes, partial; else the slots past by 5 s at ``now``
    of a model with no row in its last 5 s. Windows come in the order they closed: by
    the row that closed them, then by their first row."""
    closed: list[tuple[float, int, list[int], bool]] = []  # closed at, first id, ids
    current: dict[tuple[int, str | None], list[Logged]] = {}
    last: dict[tuple[int, str | None], int] = {}  # the place of each model's last row
    slots: dict[tuple[int, str | None], dict[int, list[Logged]]] = {}  # open, by slot
    newest: dict[tuple[int, str | None], float] = {}  # each model's newest time

    def slot(seconds: float) -> int:
        return math.floor(seconds / window)

    def add(at: float, ids: list[Logged], partial: bool) -> None:
        closed.append((at, ids[0].id, [x.id for x in ids], partial))

    for place, r in enumerate(rows):
        model = (r.model_version, r.run_id)
        if isinstance(window, int):
            for other, held in current.items():  # this row makes an idle model's window close
                if held and other != model and place - last[other] == window:
                    add(r.id, held, True)
                    current[other] = []
            held = current.setdefault(model, [])
            held.append(r)
            last[model] = place
            if len(held) == window:
                add(r.id, held, False)
                current[model] = []
            continue
        seconds = r.created_at.timestamp()
        opened = slots.setdefault(model, {})
        before = newest.get(model, -math.inf)
        if (slot(seconds) + 1) * window + 5.0 > before:  # its slot is still open
            opened.setdefault(slot(seconds), []).append(r)
        newest[model] = max(before, seconds)
        for key in sorted(opened):
            if (key + 1) * window + 5.0 <= newest[model]:
                add(r.id, opened.pop(key), False)
    for held in current.values():
        if held and isinstance(window, int) and close:
            add(math.inf, held, True)
    for model, opened in slots.items():
        idle = newest[model] + 5.0 <= now.timestamp()
        for key in sorted(opened):
            past = idle and (key + 1) * window + 5.0 <= now.timestamp()
            if not (past or close):
                break
            add(math.inf, opened[key], not past)
    return [(ids, partial) for _, _, ids, partial in sorted(closed, key=lambda c: c[:2])]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("window", [7, 60.0])
@pytest.mark.parametrize("close", [False, True])
def test_windows_cut_from_chunks_are_those_cut_a_row_at_a_time(
    seed: int, window: int | float, close: bool
) -> None:
    """Models take over from one another, and a canary's rows come between theirs."""
    rng = np.random.default_rng(seed)
    at, models, rows = START, [(1, "a"), (2, "b"), (0, "c"), (0, "d")], []
    version, run = models[0]
    for i in range(1, 301):
        at += timedelta(seconds=float(rng.exponential(4.0)))
        if rng.random() < 0.03:  # another model serves from here
            version, run = models[int(rng.integers(len(models)))]
        served = models[int(rng.integers(len(models)))] if rng.random() < 0.15 else (version, run)
        rows.append(
            Logged(i, f"r{i}", at, "m", *served[:1], {}, {"label": 1}, 0.9, 0.01, served[1])
        )
    for now in (START + timedelta(seconds=600), at + timedelta(seconds=120)):
        expected = cut_one_by_one(rows, window, now, close)
        assert expected  # the case holds windows
        if isinstance(window, int):
            assert any(partial for _, partial in expected) and len(expected) > 300 // window
        for chunk in (1, 3, 16, 1_000):
            chunks = [LogColumns.of(rows[i : i + chunk]) for i in range(0, len(rows), chunk)]
            cutter = Cutter(window, now, close=close)
            found = [(w.id.tolist(), partial) for w, partial, _ in cutter.cut(chunks)]
            assert found == expected, chunk


def last_labels(store: Monitoring, endpoint: str) -> list[tuple[int, Any, int]]:
    """The reference: (prediction id, last label, its feedback id) of each labelled
    prediction of ``endpoint``, by reading both tables whole."""
    with store.database.engine.connect() as connection:
        predictions = connection.execute(
            text(
                "SELECT p.id, p.request_id FROM predictions p JOIN log_streams s "
                "ON s.id = p.stream_id WHERE s.endpoint = :e ORDER BY p.id"
            ),
            {"e": endpoint},
        ).all()
        feedback = connection.execute(text("SELECT id, request_id FROM feedback ORDER BY id")).all()
        labels: dict[int, Any] = {
            id: label for id, label in connection.execute(text("SELECT id, label FROM feedback"))
        }
    last = {request_id: feedback_id for feedback_id, request_id in feedback}
    return [
        (id, _value(labels[last[request_id]]), last[request_id])
        for id, request_id in predictions
        if request_id in last
    ]


def _value(label: Any) -> Any:
    return (json.loads(label) if isinstance(label, str) else label)["value"]


def test_labels_read_by_range_or_mark_are_the_last_of_each_prediction(
    store: Monitoring,
) -> None:
    endpoint, other = f"labels-{uuid4().hex}", f"other-{uuid4().hex}"
    entries = mixed(endpoint, 400, seed=1)
    write(store, entries + mixed(other, 50, seed=2))
    ids = [entry[1] for entry in entries]
    rng = np.random.default_rng(3)
    marks = []
    for batch in range(3):  # some predictions labelled again, and again
        chosen = rng.choice(len(ids), 150, replace=False)
        store.add_feedback([(ids[i], int(rng.integers(2))) for i in chosen], f"batch {batch}")
        with store.database.engine.connect() as connection:
            marks.append(connection.execute(text("SELECT max(id) FROM feedback")).scalar_one())
    expected = last_labels(store, endpoint)
    decoded = {r.id: r for r in store.logged(endpoint)}

    for first, last, after in [(0, None, 0), (101, 250, 0), *((0, None, m) for m in marks)]:
        read = store.labelled(endpoint, first_id=first, last_id=last, feedback_after=after)
        assert [(r.id, r.truth, r.feedback_id) for r in read] == [
            (id, truth, feedback_id)
            for id, truth, feedback_id in expected
            if first <= id <= (last or id) and feedback_id > after
        ]
        for r in read:
            logged = decoded[r.id]
            assert repr(r.outputs) == repr(logged.outputs)  # repr: one answer holds a nan
            assert (r.created_at, r.model_version, r.run_id, r.decided_by) == (
                logged.created_at,
                logged.model_version,
                logged.run_id,
                logged.decided_by,
            )
    assert len(store.labelled(endpoint, feedback_after=marks[1])) > 0


@pytest.mark.parametrize("chunk", [1, 37, 10_000])
def test_labels_read_with_the_log_are_those_of_a_join_of_both_tables(
    store: Monitoring, chunk: int
) -> None:
    """Labels arrive late, twice for some predictions, never for others, and for another
    endpoint's: each row read with its last label (one read of the log) gives the labelled
    predictions the store's own read of them gives, and a merge of both tables whole."""
    endpoint, other = f"joined-{uuid4().hex}", f"other-{uuid4().hex}"
    entries = mixed(endpoint, 300, seed=chunk)
    write(store, entries + mixed(other, 40, seed=9))
    ids = [entry[1] for entry in entries]
    rng = np.random.default_rng(chunk)
    for batch in range(3):  # later batches label earlier predictions again
        chosen = rng.choice(len(ids), 120, replace=False)
        store.add_feedback([(ids[i], int(rng.integers(2))) for i in chosen], f"batch {batch}")
    store.add_feedback([(f"{other[:20]}-{at}", 1) for at in range(40)], "other")
    labelled = LabelledLog()
    read = LogColumns.joined(list(store.log_columns(endpoint, chunk=chunk, labels=labelled)))
    joined = labelled.columns(store.streams(endpoint))

    assert len(read) == 300 and not store.has_shadow(endpoint)
    sql = store.labelled_columns(endpoint)
    for field in fields(LabelColumns):
        mine, theirs = getattr(joined, field.name), getattr(sql, field.name)
        if field.name == "classes":
            assert mine == theirs
        elif field.name == "probabilities":
            np.testing.assert_array_equal(mine, theirs)
        else:
            assert [(type(v), v) for v in mine.tolist()] == [
                (type(v), v) for v in theirs.tolist()
            ], field.name
    with store.database.engine.connect() as connection:
        predictions = pd.read_sql(text("SELECT id, request_id FROM predictions"), connection)
        feedback = pd.read_sql(text("SELECT id, request_id, label FROM feedback"), connection)
    last = feedback.sort_values("id").drop_duplicates("request_id", keep="last")
    merged = predictions.merge(last, on="request_id", suffixes=("", "_feedback"))
    merged = merged[merged["id"].isin(read.id)].sort_values("id")
    assert len(merged) > 0 and joined.id.tolist() == merged["id"].tolist()
    assert joined.feedback_id.tolist() == merged["id_feedback"].tolist()
    assert joined.truth.tolist() == [_value(label) for label in merged["label"]]


def served(rows: int, seed: int) -> tuple[Reference, list[Entry], list[tuple[str, int]]]:
    """A model's reference, its log (x2 shifted in the middle third, a person deciding
    some rows, version 2 from three quarters on) and the true labels (its error rate
    rising from 5% to 40% halfway)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=2_000), "x2": rng.normal(size=2_000)})
    p = 1 / (1 + np.exp(-2 * frame["x1"].to_numpy()))
    builder = ProfileBuilder(["x1", "x2"])
    builder.update(frame, predicted=(p > 0.5).astype(int), confidence=np.maximum(p, 1 - p))
    reference = Reference("classification", infer_schema(frame), builder.finish(), None, None)
    entries, labels = [], []
    for at in range(rows):
        version = 1 if at < rows * 3 // 4 else 2
        stream = Stream("toy", "toy", version, f"run-{version}", "primary", ("x1", "x2"), CLASSES)
        if rng.random() < 0.1:
            stream = replace(stream, decided_by="person")
        x1 = float(rng.normal())
        x2 = float(rng.normal() + (1.0 if rows // 3 <= at < rows * 2 // 3 else 0.0))
        chance = 1 / (1 + math.exp(-2 * x1))
        entries.append(row(stream, at, [x1, x2], encode_probabilities([1 - chance, chance])))
        wrong = rng.random() < (0.05 if at < rows // 2 else 0.4)
        labels.append((entries[-1][1], int((chance > 0.5) != wrong)))
    return reference, entries, labels


def test_many_passes_store_what_one_pass_over_the_same_log_and_labels_stores(
    tmp_path: Path,
) -> None:
    """The log grows and labels arrive for what was logged between the passes of one
    monitor, then late labels for old predictions; another monitor reads the log and the
    labels in one pass, then the late ones: both keep the same windows, scores, change
    points and alerts."""
    reference, entries, labels = served(3_000, seed=5)
    settings = MonitorSettings.model_validate(
        {
            "window": 200,
            "alerts": [
                {"metric": "drift_share", "above": 0.3, "for": 2},
                {"metric": "mean.x2", "above": 0.5},
            ],
        }
    )
    rng = np.random.default_rng(6)
    parts = np.array_split(np.arange(len(entries)), 15)  # a window a part
    batches = [[labels[i] for i in part if rng.random() < 0.8] for part in parts]
    late = [(request_id, 1 - label) for request_id, label in labels[:300:3]]
    stores = {
        name: Monitoring(Database(f"sqlite:///{tmp_path / name}.db")) for name in ("many", "one")
    }
    monitor = Monitor(stores["many"], settings, lambda name, version, run: reference)
    for part, batch in zip(parts, batches, strict=True):
        write(stores["many"], [entries[i] for i in part])
        monitor.run("toy")
        stores["many"].add_feedback(batch, "test")
        monitor.run("toy")
        assert monitor.run("toy").updated == 0  # nothing new: nothing recomputed
    write(stores["one"], entries)
    for batch in batches:
        stores["one"].add_feedback(batch, "test")
    Monitor(stores["one"], settings, lambda name, version, run: reference).run("toy")
    assert kept(stores["many"]) == kept(stores["one"])

    for store in stores.values():
        store.add_feedback(late, "late")
    monitor.run("toy")  # the stream read again from its start
    Monitor(stores["one"], settings, lambda name, version, run: reference).run("toy")
    many, one = (kept(store) for store in stores.values())
    assert many == one
    windows, scores, points, alerts = one
    assert len(windows) == 15 and len(scores) > 15 * 2
    assert {detector for detector, *_ in points} == {"page_hinkley", "adwin"}
    assert {rule for rule, *_ in alerts} == {"drift_share > 0.3 for 2", "mean.x2 > 0.5"}
    for store in stores.values():
        store.database.dispose()


def test_windows_scored_by_worker_processes_are_those_scored_in_the_pass_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A monitor with two worker processes stores the same windows, metrics (in the same
    order), scores, change points and alerts as one that scores every window itself, and
    its workers scored all but the first windows of the pass."""
    reference, entries, labels = served(3_000, seed=8)
    settings = MonitorSettings.model_validate(
        {"window": 200, "alerts": [{"metric": "drift_share", "above": 0.3, "for": 2}]}
    )
    submitted: list[object] = []

    class Counted(ProcessPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            submitted.append(args[1])
            return super().submit(*args, **kwargs)

    monkeypatch.setattr(workers, "ProcessPoolExecutor", Counted)
    stores = {}
    for count in (1, 2):
        store = stores[count] = Monitoring(Database(f"sqlite:///{tmp_path / str(count)}.db"))
        write(store, entries)
        store.add_feedback(labels, "test")
        Monitor(store, settings, lambda name, version, run: reference, workers=count).run("toy")
    assert len(submitted) == 15 - workers.SERIAL_WINDOWS
    assert kept(stores[1]) == kept(stores[2])
    orders = [[list(w.metrics) for w in store.windows("toy")] for store in stores.values()]
    assert orders[0] == orders[1]
    for store in stores.values():
        store.database.dispose()


def kept(store: Monitoring) -> tuple[list[Any], ...]:
    """What a monitor stored, without its row ids and times; change points and alerts
    sorted (one pass stores them detector by detector and rule by rule, many passes as
    their windows come)."""
    first = {w.id: w.first_id for w in store.windows("toy")}
    return (
        [(w.first_id, w.last_id, w.rows, w.model_version, w.metrics) for w in store.windows()],
        [
            (first[s.window_id], s.kind, s.column, s.method, s.score, s.p_value, s.drifted)
            for s in store.scores("toy")
        ],
        sorted((c.detector, c.started_id, c.detected_id) for c in store.change_points("toy")),
        sorted(
            (a.rule, first[a.window_id], a.value, a.resolved_at is None)
            for a in store.alerts("toy")
        ),
    )


def test_a_new_monitor_each_pass_carries_on_where_the_last_one_stopped(tmp_path: Path) -> None:
    """As ``prodml monitor --once`` runs: a new monitor (a new process) for every pass
    resumes the change detectors from the store and reads only the labels that came since,
    and keeps what one monitor reading everything in one pass keeps; a state saved by
    detectors of other settings is not resumed (the stream is read from its start)."""
    reference, entries, labels = served(3_000, seed=5)
    settings = MonitorSettings.model_validate({"window": 200})
    once = Counting(Database(f"sqlite:///{tmp_path / 'once'}.db"))
    one = Monitoring(Database(f"sqlite:///{tmp_path / 'one'}.db"))

    def fresh(store: Monitoring, **options: Any) -> Monitor:
        return Monitor(store, settings, lambda name, version, run: reference, **options)

    for part in np.array_split(np.arange(len(entries)), 15):
        write(once, [entries[i] for i in part])
        fresh(once).run("toy")
        once.add_feedback([labels[i] for i in part], "test")
        once.read.clear()
        stored = once.windows("toy")
        assert fresh(once).run("toy").updated == sum(  # the windows labelled
            any(
                w.first_id <= i + 1 <= w.last_id and entries[i][0].model_version == w.model_version
                for i in part  # log id i + 1
            )
            for w in stored
        )
        assert fresh(once).run("toy").updated == 0  # nothing new
        # the new labels (then those of the windows they fall in), then none: never all
        assert once.read[0] == len(part) and max(once.read) == len(part)
        assert once.read[-1] == 0
    write(one, entries)
    one.add_feedback(labels, "test")
    fresh(one).run("toy")
    assert kept(once) == kept(one)
    assert {c.detector for c in once.change_points("toy")} == {"page_hinkley", "adwin"}

    once.read.clear()
    fresh(once, detectors=[lambda: ADWIN(delta=0.0001)]).run("toy")
    assert once.read == [len(labels)]  # nothing new, but read again from the start
    saved = once.saved_stream("toy")
    assert saved is not None and saved.detectors[0]["settings"]["delta"] == 0.0001
    assert saved.detectors[0]["read"]["_seen"] == len(labels)
    for store in (once, one):
        store.database.dispose()


class Counting(Monitoring):
    """The store, counting the labelled predictions each read of them returns."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.read: list[int] = []

    def labelled_columns(self, *args: Any, **kwargs: Any) -> LabelColumns:
        found = super().labelled_columns(*args, **kwargs)
        self.read.append(len(found))
        return found


def test_two_passes_at_once_store_each_window_once(tmp_path: Path) -> None:
    """Two monitors (two processes' worth: each its own connections and lock file handle)
    run a pass over the same new log at the same moment: one waits for the other, and the
    windows are those of one pass (they raised a unique-constraint error)."""
    reference, entries, labels = served(2_000, seed=7)
    settings = MonitorSettings.model_validate({"window": 200})
    stores = [Monitoring(Database(f"sqlite:///{tmp_path / 'shared'}.db")) for _ in range(2)]
    write(stores[0], entries)
    stores[0].add_feedback(labels, "test")
    monitors = [Monitor(s, settings, lambda name, version, run: reference) for s in stores]
    start = threading.Barrier(2)

    def one_pass(monitor: Monitor) -> int:
        start.wait()
        return len(monitor.run("toy").windows)

    with ThreadPoolExecutor(2) as pool:
        found = sorted(pool.map(one_pass, monitors))
    assert found == [0, 10]  # one pass stored the ten windows, the other found none new
    assert len(stores[0].windows("toy")) == 10
    for store in stores:
        store.database.dispose()
