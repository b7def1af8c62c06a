"""The monitoring store on SQLite and PostgreSQL: which labels the monitor reads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from prodml.serve.prediction_log import PredictionLog, entry
from prodml.store.database import Database
from prodml.store.monitoring import FEEDBACK_LOCK, Monitoring

START = datetime(2026, 1, 1, tzinfo=UTC)
ANSWER = {"label": 0, "probabilities": {"0": 0.9, "1": 0.1}}


@pytest.fixture
def store(empty_database_url: str) -> Iterator[Monitoring]:
    database = Database(empty_database_url)
    yield Monitoring(database)
    database.dispose()


def logged(store: Monitoring, endpoint: str, count: int) -> list[str]:
    """``count`` predictions of ``endpoint`` (ids 1 to count on a new store), labels 0."""
    ids = [f"{endpoint}-{i}" for i in range(count)]
    log = PredictionLog(store.database)
    try:
        rows = [
            entry(
                request_id,
                endpoint,
                endpoint,
                1,
                {"x": i},
                ANSWER,
                0.001,
                created_at=START + timedelta(seconds=i),
                run_id="abc123",
                classes=[0, 1],
            )
            for i, request_id in enumerate(ids)
        ]
        log.write(rows).result()
    finally:
        log.close()
    return ids


def test_logged_reads_the_log_back_as_written_in_chunks(store: Monitoring) -> None:
    ids = logged(store, "toy", 7)
    logged(store, "other", 2)
    rows = list(store.logged("toy", after_id=2, chunk=2))  # 5 rows in chunks of 2
    assert [(r.id, r.request_id) for r in rows] == [(i + 1, ids[i]) for i in range(2, 7)]
    first = rows[0]
    assert first.created_at == START + timedelta(seconds=2)
    assert (first.model_name, first.model_version, first.run_id) == ("toy", 1, "abc123")
    assert (first.inputs, first.outputs) == ({"x": 2}, ANSWER)
    assert (first.confidence, first.latency_seconds) == (0.9, 0.001)


def test_labelled_reads_the_last_label_of_a_range_newer_than_a_mark(store: Monitoring) -> None:
    ids = logged(store, "toy", 10)
    logged(store, "other", 3)  # predictions 11 to 13
    store.add_feedback([(ids[i], 0) for i in range(10)], "first")  # feedback rows 1 to 10
    store.add_feedback([(ids[3], 1), (ids[7], 1)], "again")  # rows 11 and 12
    every = store.labelled("toy")
    assert [r.id for r in every] == list(range(1, 11))
    assert [(r.id, r.truth, r.feedback_id) for r in every][2:5] == [
        (3, 0, 3),
        (4, 1, 11),
        (5, 0, 5),
    ]
    assert every[4].created_at == START + timedelta(seconds=4)
    assert every[0].outputs == ANSWER
    newer = store.labelled("toy", feedback_after=10)
    assert [(r.id, r.truth) for r in newer] == [(4, 1), (8, 1)]
    ranged = store.labelled("toy", first_id=4, last_id=6, feedback_after=4)
    assert [(r.id, r.feedback_id) for r in ranged] == [(4, 11), (5, 5), (6, 6)]
    assert store.labelled("other") == []


def test_feedback_transactions_take_turns_on_postgresql(
    fresh_schema_url: str,
) -> None:
    """On PostgreSQL, labels from two clients at once get their ids in commit order: one
    transaction waits for the other's advisory lock."""
    database = Database(fresh_schema_url)
    store = Monitoring(database)
    try:
        ids = logged(store, "toy", 2)
        with database.engine.connect() as holder:
            holder.execute(select(func.pg_advisory_xact_lock(FEEDBACK_LOCK)))  # in flight
            waiting = threading.Thread(target=store.add_feedback, args=([(ids[0], 1)], "t"))
            waiting.start()
            with database.engine.connect() as watcher:
                for _ in range(200):
                    waits = watcher.execute(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                            "AND NOT granted AND classid = :high AND objid = :low"
                        ),
                        {"high": FEEDBACK_LOCK >> 32, "low": FEEDBACK_LOCK & 0xFFFFFFFF},
                    ).scalar_one()
                    if waits or not waiting.is_alive():
                        break
                    time.sleep(0.05)
            assert waits == 1 and waiting.is_alive()
            holder.rollback()
        waiting.join(timeout=30)
        assert [(r.id, r.truth) for r in store.labelled("toy")] == [(1, 1)]
    finally:
        database.dispose()
