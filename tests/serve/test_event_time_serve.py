"""The time of the event a request is about, on a real server of the loans example (whose
``data.time`` is ``applied_at``): given in the rows, as V2 ``parameters.time`` or as
MLflow ``params.time``, it is logged as the prediction's ``event_us`` while ``at_us``
stays its arrival; a request without one logs null; a time without a zone, unreadable or
more than a day ahead is refused with one line naming it; and the monitor cuts replayed
history into windows of its event time."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
import yaml

import prodml
from prodml.store.log_format import microseconds

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Launch, Server

FACTORY = "sklearn.ensemble.HistGradientBoostingClassifier"
PARAMS = {"categorical_features": "from_dtype", "random_state": 0, "max_iter": 10}
HISTORY = datetime(2025, 6, 1, tzinfo=UTC)  # when the replayed applications were made
LATENESS = 1.0  # seconds
PRODML = str(Path(sys.executable).parent / "prodml")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loans example, version 1 the primary of endpoint loans; windows of an hour,
    LATENESS seconds late at most."""
    folder = prodml.init(tmp_path_factory.mktemp("events") / "loans", example="loans")
    file = folder / "prodml.yaml"
    settings = yaml.safe_load(file.read_text(encoding="utf-8"))
    monitor = {"window": "1h", "lateness": f"{LATENESS}s", "min_rows": 10}
    file.write_text(yaml.safe_dump({**settings, "monitor": monitor}), encoding="utf-8")
    with prodml.Project(folder) as opened:
        run = opened.fit(prodml.ModelSpec(factory=FACTORY, params=PARAMS))
        opened.register(run.id, force=True, reason="a test")
    return folder


@pytest.fixture(scope="module")
def server(project: Path, module_launch: Launch) -> Server:
    return module_launch(project)


@pytest.fixture(scope="module")
def features(project: Path) -> pd.DataFrame:
    with prodml.Project(project) as opened:
        data = opened.load_data()
    return data.frame[list(data.features)].dropna().reset_index(drop=True)


def logged(project: Path, ids: list[str]) -> list[tuple[int, int | None]]:
    """(at_us, event_us) of the prediction each request id logged."""
    with contextlib.closing(sqlite3.connect(project / ".prodml" / "prodml.db")) as db:
        rows = dict(
            (request_id, (at, event))
            for request_id, at, event in db.execute(
                "select request_id, at_us, event_us from predictions"
            )
        )
    return [rows[request_id] for request_id in ids]


def v2(http: Http, server: Server, rows: list[dict[str, Any]], parameters: dict[str, Any]) -> Any:
    tensors = [
        {
            "name": name,
            "shape": [len(rows)],
            "datatype": {str: "BYTES", int: "INT64"}.get(type(rows[0][name]), "FP64"),
            "data": [row[name] for row in rows],
        }
        for name in rows[0]
    ]
    return http.post(
        f"{server.url}/v2/models/loans/infer", {"inputs": tensors, "parameters": parameters}
    )


def test_the_monitor_cuts_a_replay_into_windows_of_its_event_time(
    http: Http, server: Server, project: Path, features: pd.DataFrame
) -> None:
    """Three hours of applications replayed within seconds: a window an hour, not one.
    (First in the module: a replay after live requests would be late, every row of it.)"""
    rows = http.records(features.head(90))
    times = [(HISTORY + timedelta(days=5, minutes=2 * k)).isoformat() for k in range(90)]
    for start in range(0, 90, 30):
        body = [{**r, "applied_at": t} for r, t in zip(rows, times, strict=True)][
            start : start + 30
        ]
        assert http.post(f"{server.url}/predict", {"records": body}).status == 200

    time.sleep(LATENESS + 0.5)  # the last hour closes once no row came for the lateness
    with prodml.Project(project) as opened:
        done = opened.monitor()
    replayed = [w for w in done.windows if w.starts_at >= HISTORY + timedelta(days=5)]
    assert [(w.starts_at, w.rows) for w in replayed] == [
        (HISTORY + timedelta(days=5, hours=h), 30) for h in range(3)
    ]


def test_a_time_in_the_rows_or_the_parameters_is_logged_as_the_event_s(
    http: Http, server: Server, project: Path, features: pd.DataFrame
) -> None:
    rows = http.records(features.head(2))
    before = microseconds(datetime.now(UTC))
    at = ["2025-06-01T10:00:00Z", "2025-06-01T12:30:00+02:00"]
    expected = [microseconds(HISTORY + timedelta(hours=10))] * 2
    expected[1] = microseconds(HISTORY + timedelta(hours=10, minutes=30))

    in_rows = http.post(
        f"{server.url}/invocations",
        {"dataframe_records": [{**r, "applied_at": t} for r, t in zip(rows, at, strict=True)]},
    )
    assert in_rows.status == 200, in_rows.body
    by_mlflow = http.post(
        f"{server.url}/invocations", {"dataframe_records": rows, "params": {"time": at[0]}}
    )
    assert by_mlflow.status == 200, by_mlflow.body
    by_v2 = v2(http, server, rows, {"time": at[1]})
    assert by_v2.status == 200, by_v2.body
    without = http.post(f"{server.url}/predict", {"records": rows})
    assert without.status == 200, without.body

    found = logged(project, in_rows.headers["x-request-ids"].split(","))
    assert [event for _, event in found] == expected
    found = logged(project, by_mlflow.headers["x-request-ids"].split(","))
    assert [event for _, event in found] == [expected[0]] * 2
    found = logged(project, by_v2.json()["parameters"]["request_ids"].split(","))
    assert [event for _, event in found] == [expected[1]] * 2
    found = logged(project, [p["request_id"] for p in without.json()["predictions"]])
    assert [event for _, event in found] == [None, None]
    arrivals = [at_us for at_us, _ in found]
    assert all(before <= at_us <= microseconds(datetime.now(UTC)) for at_us in arrivals)


@pytest.mark.parametrize(
    ("time", "problem"),
    [
        ("2025-06-01T10:00:00", "has no time zone"),
        ("yesterday", "is not an ISO 8601 time"),
        (1748772000, "is not text"),
        pytest.param(
            (datetime.now(UTC) + timedelta(days=2)).isoformat(),
            "more than a day ahead",
            id="two days ahead-more than a day ahead",  # the same id in every collection
        ),
    ],
)
def test_a_bad_time_is_refused_naming_the_field_and_what_is_allowed(
    http: Http, server: Server, features: pd.DataFrame, time: Any, problem: str
) -> None:
    rows = http.records(features.head(1))
    answers = {
        "parameters.time": v2(http, server, rows, {"time": time}),
        "row 0, field 'applied_at'": http.post(
            f"{server.url}/predict", {"records": [{**rows[0], "applied_at": time}]}
        ),
        "params.time": http.post(
            f"{server.url}/invocations", {"dataframe_records": rows, "params": {"time": time}}
        ),
    }
    for where, answer in answers.items():
        message = answer.json().get("error") or answer.json().get("message")
        # the V2 and MLflow specs answer every mistake in the input with a 400
        assert answer.status == (422 if where.startswith("row") else 400), answer.body
        assert where in message and problem in message and "ISO 8601" in message, message
        assert "\n" not in message


def test_predict_log_writes_the_file_s_time_as_the_event_s_and_the_arrival_apart(
    project: Path, tmp_path: Path
) -> None:
    """``data.time`` of a batch was its logged time; it is its event time now, and the
    log's time is when the batch was logged (as a served prediction's is)."""
    with prodml.Project(project) as opened:
        frame = opened.load_data().frame.dropna().head(20).copy()
    events = [HISTORY + timedelta(days=10, hours=k) for k in range(20)]
    frame["applied_at"] = [at.isoformat() for at in events]
    frame["application_id"] = [f"batch-{k}" for k in range(20)]
    batch = tmp_path / "batch.csv"
    frame.to_csv(batch, index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODML_", "FORCE_COLOR"))}
    before = microseconds(datetime.now(UTC))
    done = subprocess.run(
        [PRODML, "predict", str(batch), "-o", str(tmp_path / "scored.csv"), "--log"],
        cwd=project,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = logged(project, [f"batch-{k}" for k in range(20)])
    assert [event for _, event in found] == [microseconds(at) for at in events]
    assert all(before <= at_us <= microseconds(datetime.now(UTC)) for at_us, _ in found)
