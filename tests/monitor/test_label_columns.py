"""Labelled predictions read in bulk, column by column, hold what reading them one row at a
time (:meth:`Monitoring.labelled`, each answer decoded alone) gives: the answers of every
kind (probabilities of the stream's classes, of other classes, a regressor's value, no
probabilities), labels of every JSON kind, several model versions, and the ranges and
marks the monitor reads them by."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from prodml.serve.prediction_log import PredictionLog, entry
from prodml.store.database import Database
from prodml.store.label_columns import LabelColumns
from prodml.store.monitoring import Monitoring

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Monitoring]:
    database = Database(f"sqlite:///{tmp_path / 'labels.db'}")
    store = Monitoring(database)
    rng = np.random.default_rng(2)
    answers: list[dict[str, Any]] = []
    for i in range(600):
        if i < 200:  # version 1: probabilities of its classes, logged in bulk form
            p = float(rng.random())
            answers.append({"label": int(p > 0.5), "probabilities": {"0": 1 - p, "1": p}})
        elif i < 400:  # version 2: a third class, and some answers without probabilities
            shares = rng.dirichlet([1, 1, 1]).tolist()
            said = ["a", "b", "c"][int(np.argmax(shares))]
            keep = i % 7
            answers.append(
                {"label": said, "probabilities": dict(zip("abc", shares, strict=True))}
                if keep
                else {"label": said}
            )
        else:  # version 3: a regressor's values
            answers.append({"value": float(rng.normal())})
    rows = [
        entry(
            f"r{i}",
            "e",
            "m",
            1 + i // 200,
            {"x": float(i)},
            answer,
            0.001,
            created_at=START + timedelta(seconds=i),
        )
        for i, answer in enumerate(answers)
    ]
    log = PredictionLog(database)
    log.write(rows).result()
    log.close()
    kinds: list[Any] = [1, "1", 1.0, 0, "0", True, "a", "b", 2.5, "c"]
    store.add_feedback([(f"r{i}", kinds[i % len(kinds)]) for i in range(0, 600, 2)], "first")
    store.add_feedback([(f"r{i}", kinds[(i + 3) % len(kinds)]) for i in range(0, 600, 3)], "again")
    yield store
    database.dispose()


def same(bulk: LabelColumns, one_by_one: LabelColumns) -> None:
    for field in fields(LabelColumns):
        mine, theirs = getattr(bulk, field.name), getattr(one_by_one, field.name)
        if field.name == "probabilities":
            np.testing.assert_array_equal(mine, theirs)  # nan where both have none
        elif field.name == "classes":
            assert mine == theirs
        else:
            assert mine.tolist() == theirs.tolist(), field.name


@pytest.mark.parametrize(
    "options",
    [{}, {"first_id": 150, "last_id": 450}, {"feedback_after": 250}, {"last_id": 5}],
)
def test_labels_read_in_bulk_are_those_read_one_row_at_a_time(
    store: Monitoring, options: dict[str, int]
) -> None:
    bulk = store.labelled_columns("e", **options)
    one_by_one = LabelColumns.of(store.labelled("e", **options))

    assert len(bulk) == len(one_by_one) > 0
    same(bulk, one_by_one)
    same(bulk[10:20], one_by_one[10:20])


def test_labels_as_text_agree_across_json_kinds(store: Monitoring) -> None:
    labelled = store.labelled_columns("e")
    pairs = {
        (type(value), value): text
        for value, text in zip(labelled.truth.tolist(), labelled.truth_text.tolist(), strict=True)
    }

    assert pairs[(int, 1)] == pairs[(str, "1")] == pairs[(float, 1.0)] == "1"
    assert pairs[(bool, True)] == "True" and pairs[(float, 2.5)] == "2.5"
    assert labelled.classes == ("0", "1")  # the first answer with probabilities: version 1's
    # version 2's answers have other classes: 0.0 for these, nan where none was logged
    version_2 = labelled.probabilities[labelled.model_version == 2]
    assert np.nanmax(version_2) == 0.0 and np.isnan(version_2).any()
