"""An acknowledged prediction is never lost: concurrent clients, ``kill -9`` in the middle of
their traffic, and afterwards every request id that got a 200 is in the prediction log."""

from __future__ import annotations

import os
import signal
import threading
from http.client import HTTPException
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
from sqlalchemy import select

import prodml
from prodml.store.database import Database
from prodml.store.tables import PredictionRow

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Launch

CLIENTS = 12
MAX_REQUESTS = 400  # a client's bound, should the kill never come
KILL_AFTER = 150  # acknowledged requests before the server is killed


def traffic(
    http: Http, url: str, records: list[dict[str, Any]], acked: list[str], failed: list[str]
) -> None:
    """One client: single-record requests until the server is gone."""
    for i in range(MAX_REQUESTS):
        try:
            answer = http.post(f"{url}/predict", {"records": [records[i % len(records)]]})
        except (OSError, HTTPException) as exc:  # refused, reset, or cut off mid-answer
            failed.append(type(exc).__name__)
            return
        if answer.status == 200:
            acked.extend(p["request_id"] for p in answer.json()["predictions"])
        else:
            failed.append(str(answer.status))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bc' / '.prodml' / 'prodml.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_every_acknowledged_prediction_survives_kill_9(
    http: Http,
    launch: Launch,
    store: str,
    tmp_path: Path,
    bc_features: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PRODML_DATABASE_URL", store)
    project = prodml.init(tmp_path / "bc", example="breast-cancer")
    with prodml.Project(project) as opened:
        run = opened.fit()
    server = launch(project, "--run", run.id, env={"PRODML_DATABASE_URL": store})
    records = http.records(bc_features.iloc[:50])
    acked: list[str] = []
    failed: list[str] = []
    clients = [
        threading.Thread(target=traffic, args=(http, server.url, records, acked, failed))
        for _ in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    while len(acked) < KILL_AFTER and any(c.is_alive() for c in clients):
        threading.Event().wait(0.005)
    os.kill(server.process.pid, signal.SIGKILL)
    for client in clients:
        client.join(timeout=60)
    assert server.process.wait(timeout=30) == -signal.SIGKILL

    assert len(acked) >= KILL_AFTER and failed, "the kill came before or after the traffic"
    database = Database(store)
    try:
        with database.session() as session:
            logged = set(session.scalars(select(PredictionRow.request_id)))
    finally:
        database.dispose()
    lost = [request_id for request_id in acked if request_id not in logged]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged predictions are not logged"
