"""What the retraining tests share: a small project with a time column, and a way to log
predictions as the server logs them and label them as a person would."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np
import pandas as pd
import pytest
import yaml

import prodml
from prodml.serve.prediction_log import PredictionLog, entry

#: When the toy project's data begin (a row an hour), and its features.
START = datetime(2026, 1, 1, tzinfo=UTC)
FEATURES = ["x1", "x2", "c1"]


def _toy_data(rows: int, seed: int = 0, start: datetime = START) -> pd.DataFrame:
    """Two numbers and a category; y = 1 when x1 + x2 > 0 (5% flipped); an hour apart."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    y = ((x1 + x2 > 0) ^ (rng.random(rows) < 0.05)).astype(int)
    return pd.DataFrame(
        {
            "rid": [f"d{seed}-{i}" for i in range(rows)],
            "at": [start.replace(tzinfo=None) + timedelta(hours=i) for i in range(rows)],
            "x1": x1,
            "x2": x2,
            "c1": rng.choice(["a", "b", "c"], rows),
            "region": rng.choice(["north", "south"], rows),
            "y": y,
        }
    )


def _write_project(
    folder: Path,
    database_url: str,
    *,
    model: dict[str, Any] | None = None,
    time: bool = True,
    audit: Sequence[dict[str, Any]] = (),
    retrain: dict[str, Any] | None = None,
    rows: int = 400,
) -> Path:
    """A toy project in ``folder``, a name of its own, its store at ``database_url``."""
    folder.mkdir(parents=True)
    data = _toy_data(rows)
    data.to_csv(folder / "data.csv", index=False)
    split: dict[str, Any] = (
        {"method": "time", "dev_after": "2026-01-10", "test_after": "2026-01-14"}
        if time
        else {"method": "random", "dev": 0.2, "test": 0.2, "seed": 0}
    )
    settings: dict[str, Any] = {
        "project": f"toy{uuid4().hex[:12]}",
        "task": "classification",
        "data": {
            "source": "data.csv",
            "target": "y",
            "id": "rid",
            "metadata": ["region"],
            **({"time": "at"} if time else {}),
            "split": split,
        },
        "model": model
        or {
            "factory": "sklearn.ensemble.HistGradientBoostingClassifier",
            "params": {"max_iter": 30, "categorical_features": "from_dtype", "random_state": 0},
        },
        "evaluate": {"min_count": 5, "audit": list(audit)},
        "store": {"database": database_url, "artifacts": str(folder / "artifacts")},
    }
    if retrain is not None:
        settings["retrain"] = retrain
    (folder / "prodml.yaml").write_text(yaml.safe_dump(settings))
    return folder


@pytest.fixture
def toy(tmp_path: Path, database_url: str) -> Iterator[prodml.Project]:
    """The toy project on SQLite and on PostgreSQL, with no runs yet."""
    with prodml.Project(_write_project(tmp_path / "toy", database_url)) as project:
        yield project


def _log_rows(
    project: prodml.Project,
    frame: pd.DataFrame,
    *,
    role: str = "primary",
    endpoint: str | None = None,
    version: int = 1,
    prefix: str = "r",
) -> list[str]:
    """Log each row of ``frame`` as the server logs an answer of ``endpoint`` (the
    project's name) at the row's ``at`` time; the request ids (the project's name, ``prefix``
    and the row's position: unique in a store the tests share; a shadow's copy has its
    request's id)."""
    name = endpoint or project.name
    ids = [f"{project.name}-{prefix}{i}" for i in range(len(frame))]
    records: list[dict[str, Any]] = frame[[*FEATURES, "region"]].to_dict("records")  # type: ignore[assignment]
    rows = [
        entry(
            request_id,
            name,
            name,
            version,
            record,
            {"label": int(record["x1"] > 0), "probabilities": {"0": 0.4, "1": 0.6}},
            0.001,
            role=role,
            created_at=pd.Timestamp(at).tz_localize(UTC).to_pydatetime(),
            classes=(0, 1),
        )
        for request_id, record, at in zip(ids, records, frame["at"], strict=True)
    ]
    log = PredictionLog(project.runs_store.database)
    try:
        log.write(rows).result()
    finally:
        log.close()
    return ids


def _give_feedback(project: prodml.Project, labels: dict[str, Any]) -> None:
    """Store ``labels`` (request id to label) as a file of feedback in the project."""
    path = project.path / f"feedback-{uuid4().hex[:8]}.csv"
    pd.DataFrame({"request_id": list(labels), "label": list(labels.values())}).to_csv(
        path, index=False
    )
    stored, unknown = project.feedback(path)
    assert (stored, unknown) == (len(labels), [])


#: The helpers, as fixtures (conftest modules are not imported by name).
ToyData = Callable[..., pd.DataFrame]
WriteProject = Callable[..., Path]
LogRows = Callable[..., list[str]]
GiveFeedback = Callable[[prodml.Project, dict[str, Any]], None]


@pytest.fixture
def toy_data() -> ToyData:
    return _toy_data


@pytest.fixture
def write_project() -> WriteProject:
    return _write_project


@pytest.fixture
def log_rows() -> LogRows:
    return _log_rows


@pytest.fixture
def give_feedback() -> GiveFeedback:
    return _give_feedback
