"""The monitoring store on SQLite and PostgreSQL: which labels the monitor reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from prodml.serve.prediction_log import PredictionLog, entry
from prodml.store.database import Database
from prodml.store.monitoring import Monitoring

START = datetime(2026, 1, 1, tzinfo=UTC)


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
                {"label": 0},
                0.9,
                0.001,
                created_at=START + timedelta(seconds=i),
            )
            for i, request_id in enumerate(ids)
        ]
        log.write(rows).result()
    finally:
        log.close()
    return ids


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
    assert every[0].outputs == {"label": 0}
    newer = store.labelled("toy", feedback_after=10)
    assert [(r.id, r.truth) for r in newer] == [(4, 1), (8, 1)]
    ranged = store.labelled("toy", first_id=4, last_id=6, feedback_after=4)
    assert [(r.id, r.feedback_id) for r in ranged] == [(4, 11), (5, 5), (6, 6)]
    assert store.labelled("other") == []
