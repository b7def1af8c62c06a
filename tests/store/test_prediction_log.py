"""The prediction log's compact format, its bounded write-ahead log, pruning, the Parquet
archive and the migration of rows logged in the JSON format, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from prodml.serve import prediction_log
from prodml.serve.prediction_log import Entry, PredictionLog, entry
from prodml.store.database import Database
from prodml.store.log_export import export_parquet
from prodml.store.log_format import decode_inputs, encode_inputs, encode_matrix
from prodml.store.log_retention import prune, stats
from prodml.store.monitoring import Monitoring

START = datetime(2026, 1, 1, tzinfo=UTC)
FEATURES = [f"f{i}" for i in range(30)]


@pytest.fixture
def store(empty_database_url: str) -> Iterator[Monitoring]:
    database = Database(empty_database_url)
    yield Monitoring(database)
    database.dispose()


def numeric_rows(count: int, seed: int = 0) -> list[Entry]:
    """``count`` predictions of a 30-feature binary classifier, a second apart."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(count, len(FEATURES)))
    p1 = rng.uniform(size=count)
    return [
        entry(
            f"r-{i}",
            "bc",
            "bc",
            1,
            dict(zip(FEATURES, values[i].tolist(), strict=True)),
            {
                "label": "malignant" if p1[i] > 0.5 else "benign",
                "probabilities": {"benign": 1 - float(p1[i]), "malignant": float(p1[i])},
            },
            0.0015,
            created_at=START + timedelta(seconds=i),
            classes=["benign", "malignant"],
        )
        for i in range(count)
    ]


def write(database: Database, rows: list[Entry]) -> None:
    log = PredictionLog(database)
    try:
        log.write(rows).result()
    finally:
        log.close()


def test_every_kind_of_value_reads_back_exactly_as_it_was_answered(store: Monitoring) -> None:
    answers: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"x": 0.1, "y": -3.5e300}, {"label": 1, "probabilities": {"0": 0.3, "1": 0.7}}),
        ({"x": 2, "y": None}, {"label": 0, "probabilities": {"0": 0.5, "1": 0.5}}),
        ({"x": float("nan"), "y": 1.0}, {"label": 1}),  # no probabilities: kept as JSON
        (
            {"region": "north", "income": 41000.0},
            {"label": 1, "probabilities": {"0": 1.0, "1": 0.0}},
        ),
    ]
    rows = [
        entry(f"r-{i}", "e", "m", 2, inputs, outputs, 0.25, created_at=START, classes=[0, 1])
        for i, (inputs, outputs) in enumerate(answers)
    ]
    rows.append(entry("v", "e", "m", 2, {"x": 1.5}, {"value": 12.25}, 0.5, created_at=START))
    write(store.database, rows)
    logged = list(store.logged("e"))
    assert [r.request_id for r in logged] == ["r-0", "r-1", "r-2", "r-3", "v"]
    assert logged[0].inputs == answers[0][0] and logged[0].outputs == answers[0][1]
    assert logged[1].inputs == {"x": 2, "y": None} and logged[1].confidence == 0.5
    assert np.isnan(logged[2].inputs["x"]) and logged[2].outputs == {"label": 1}
    # a label that is not the most probable class cannot be rebuilt from the probabilities:
    # it is stored as given
    assert logged[3].outputs == answers[3][1] and logged[3].inputs == answers[3][0]
    assert logged[4].outputs == {"value": 12.25} and logged[4].confidence is None
    assert {r.created_at for r in logged} == {START}
    assert [r.latency_seconds for r in logged] == [0.25] * 4 + [0.5]
    assert store.endpoints() == ["e"]


def test_groups_of_any_size_are_stored_whole_in_order_and_exactly(store: Monitoring) -> None:
    # an SQLite store inserts up to 128 rows a statement, a group's rest by its binary
    # digits (100: 64, 32, 4); every size must come out whole and in order
    sizes = [1, 3, 64, 100, 128, 129, 300]
    count = sum(sizes)
    rows = numeric_rows(count)
    log = PredictionLog(store.database)
    try:
        start = 0
        for size in sizes:  # one group commit each
            log.write(rows[start : start + size]).result()
            start += size
    finally:
        log.close()
    logged = list(store.logged("bc"))
    assert [r.request_id for r in logged] == [f"r-{i}" for i in range(count)]
    values = np.random.default_rng(0).normal(size=(count, len(FEATURES)))  # numeric_rows'
    assert [list(r.inputs.values()) for r in logged] == values.tolist()
    assert list(logged[0].inputs) == FEATURES


def test_rows_with_and_without_an_event_time_are_stored_in_order_byte_for_byte(
    store: Monitoring,
) -> None:
    # SQLite inserts a run of rows without an event time by a statement without the column,
    # and binds the blobs as bytearray: the same rows, the same bytes, the same order
    rows = numeric_rows(40)
    timed = {3, 4, 5, 17, 39}
    rows = [
        (*row[:6], 1_700_000_000_000_000 + i if i in timed else None) for i, row in enumerate(rows)
    ]
    write(store.database, rows[:1])
    write(store.database, rows[1:])
    query = "SELECT request_id, at_us, inputs, outputs, latency_us, event_us FROM predictions"
    with store.database.engine.connect() as connection:
        stored = connection.execute(text(f"{query} ORDER BY id")).all()
    assert [tuple(row) for row in stored] == [row[1:] for row in rows]
    assert all(type(row.inputs) is bytes and type(row.outputs) is bytes for row in stored)


def test_a_matrix_of_floats_is_encoded_as_its_rows_are_one_by_one() -> None:
    values = np.array([[0.0, -0.0, 5e-324], [1.7976931348623157e308, -1e-300, 0.1]])
    for matrix in (values, np.asfortranarray(values), values[::-1][::-1]):
        assert encode_matrix(matrix) == [encode_inputs(row) for row in values.tolist()]
    decoded = decode_inputs(encode_matrix(values)[1], ["a", "b", "c"])
    assert decoded == {"a": 1.7976931348623157e308, "b": -1e-300, "c": 0.1}
    assert encode_matrix(np.empty((0, 3))) == []


def test_a_numeric_prediction_costs_at_most_one_and_a_half_times_its_raw_values(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'log.db'}")
    empty = os.path.getsize(tmp_path / "log.db")
    count = 20_000
    rows = numeric_rows(count)
    log = PredictionLog(database)
    futures = [log.write(rows[start : start + 100]) for start in range(0, count, 100)]
    for future in futures:
        future.result()
    log.close()  # its last checkpoint empties the write-ahead log into the file
    found = stats(database)
    assert found.predictions == count
    raw = (len(FEATURES) + 2) * 8 + 8 + 8  # features, probabilities, time, latency
    size = (found.database_bytes or 0) - empty
    assert size / count <= 1.5 * raw, f"{size / count:.0f} bytes a prediction"
    database.dispose()


def test_the_write_ahead_log_is_emptied_once_it_passes_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prediction_log, "WAL_LIMIT", 256 << 10)
    monkeypatch.setattr(prediction_log, "CHECKPOINT_SECONDS", 0.05)
    database = Database(f"sqlite:///{tmp_path / 'log.db'}")
    wal = tmp_path / "log.db-wal"
    log = PredictionLog(database)
    rows = numeric_rows(3_000)
    largest = 0
    try:
        for row in rows:  # a commit a row: the write-ahead log grows by pages per commit
            log.write([row]).result()
            largest = max(largest, wal.stat().st_size)
        assert largest > prediction_log.WAL_LIMIT  # it did pass its limit...
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while wal.stat().st_size > prediction_log.WAL_LIMIT and datetime.now(UTC) < deadline:
            log.write([]).result()
        # ...and was emptied while the log stayed open (a PASSIVE checkpoint never shrinks it)
        assert wal.stat().st_size <= prediction_log.WAL_LIMIT
    finally:
        log.close()
    assert log.count() == len(rows)
    database.dispose()


def test_durability_power_syncs_every_commit(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'log.db'}")
    for durability, expected in (("process", 1), ("power", 2)):  # NORMAL, FULL
        log = PredictionLog(database, durability)  # type: ignore[arg-type]
        log.write(numeric_rows(1)).result()
        connection = log._connection
        assert connection is not None
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == expected
        log.close()
    database.dispose()


def test_prune_keeps_the_newest_and_drops_the_feedback_of_what_it_deleted(
    store: Monitoring,
) -> None:
    rows = numeric_rows(250)
    write(store.database, rows)
    store.add_feedback([(f"r-{i}", "benign") for i in range(0, 250, 10)], "test")
    done = prune(store.database, older_than=START + timedelta(seconds=100))
    assert (done.predictions, done.feedback, done.kept) == (100, 10, 150)
    done = prune(store.database, keep_rows=120)
    assert (done.predictions, done.feedback, done.kept) == (30, 3, 120)
    left = [r.request_id for r in store.logged("bc")]
    assert left == [f"r-{i}" for i in range(130, 250)]
    assert [r.truth for r in store.labelled("bc")] == ["benign"] * 12
    # ids are never used again, so a monitor that read up to the last one misses nothing
    write(store.database, numeric_rows(1, seed=1))
    assert next(store.logged("bc", after_id=250)).id == 251


def test_the_parquet_archive_holds_every_value_as_logged(store: Monitoring, tmp_path: Path) -> None:
    rows = numeric_rows(120)
    write(store.database, rows)
    (written,) = export_parquet(
        store.database, tmp_path / "archive", older_than=START + timedelta(seconds=100)
    )
    assert written.rows == 100
    frame = pd.read_parquet(written.path)
    logged = list(store.logged("bc"))[:100]
    assert frame["request_id"].tolist() == [r.request_id for r in logged]
    for feature in FEATURES:
        assert frame[f"inputs.{feature}"].tolist() == [r.inputs[feature] for r in logged]
    assert frame["label"].tolist() == [r.outputs["label"] for r in logged]
    assert frame["p.malignant"].tolist() == [
        r.outputs["probabilities"]["malignant"] for r in logged
    ]
    assert frame["created_at"].tolist() == [pd.Timestamp(r.created_at) for r in logged]
    assert frame["latency_seconds"].tolist() == [0.0015] * 100


def test_rows_logged_in_the_json_format_are_converted_by_the_migration(
    empty_database_url: str,
) -> None:
    script = ScriptDirectory(str(Path(prediction_log.__file__).parents[1] / "store/migrations"))
    config = Config()
    config.set_main_option("script_location", script.dir)
    engine = create_engine(empty_database_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
        conn.execute(
            text(
                "INSERT INTO predictions (request_id, created_at, endpoint, model_name, "
                "model_version, run_id, role, inputs, outputs, confidence, latency_seconds) "
                "VALUES (:r, :at, 'loans', 'loans', 3, 'abc', 'primary', :i, :o, 0.8, 0.004)"
            ),
            [
                {
                    "r": f"old-{i}",
                    "at": START + timedelta(minutes=i),
                    "i": f'{{"income": {1000.5 * i}, "region": "north"}}',
                    "o": f'{{"label": {i % 2}, "probabilities": {{"0": 0.2, "1": 0.8}}}}',
                }
                for i in range(3)
            ],
        )
    engine.dispose()
    database = Database(empty_database_url)  # opening it migrates it to the newest revision
    logged = list(Monitoring(database).logged("loans"))
    assert [r.request_id for r in logged] == ["old-0", "old-1", "old-2"]
    assert logged[2].inputs == {"income": 2001.0, "region": "north"}
    assert logged[1].outputs == {"label": 1, "probabilities": {"0": 0.2, "1": 0.8}}
    assert logged[2].created_at == START + timedelta(minutes=2)
    assert (logged[0].latency_seconds, logged[0].confidence, logged[0].run_id) == (
        0.004,
        0.8,
        "abc",
    )
    database.dispose()


def test_a_stream_says_who_decided_and_the_model_s_keeps_its_old_key(
    store: Monitoring, tmp_path: Path
) -> None:
    rows = numeric_rows(4)
    by_person = [(replace(row[0], decided_by="person"), *row[1:]) for row in rows[2:]]
    write(store.database, rows[:2] + by_person)
    model_stream = rows[0][0]
    before_0012 = [
        model_stream.endpoint,
        model_stream.model_name,
        model_stream.model_version,
        model_stream.run_id,
        model_stream.role,
        model_stream.columns,
        model_stream.classes,
    ]
    assert model_stream.key == hashlib.sha256(orjson.dumps(before_0012)).hexdigest()
    assert by_person[0][0].key != model_stream.key
    decided = {row.request_id: row.decided_by for _, row in store.newest(10)}
    assert decided == {"r-0": "model", "r-1": "model", "r-2": "person", "r-3": "person"}
    files = export_parquet(store.database, tmp_path / "archive")
    exported = pd.concat([pd.read_parquet(f.path) for f in files])
    assert dict(zip(exported["request_id"], exported["decided_by"], strict=True)) == decided
