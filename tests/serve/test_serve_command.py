"""``prodml serve`` as a user runs it: its help, the lines it prints once ready, worker
processes, and a clean stop on SIGTERM that keeps every answered prediction."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy import select

import prodml
from prodml.store.tables import PredictionRow

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Launch

PRODML = Path(sys.executable).parent / "prodml"


def test_help_says_it_listens_on_loopback_by_default() -> None:
    result = subprocess.run(
        [str(PRODML), "serve", "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "NO_COLOR": "1", "PATH": ""},
        check=True,
    )
    out = " ".join(result.stdout.split())
    assert "Serve a model over HTTP until Ctrl-C" in out
    assert "The default, loopback, answers only this machine" in out
    for option in ("--host", "--port", "--workers", "--run", "--project"):
        assert option in out
    assert "[default: 127.0.0.1]" in out


def test_workers_serve_and_a_sigterm_stops_them_after_logging_every_answer(
    http: Http, launch: Launch, spare_project: Path, bc_features: pd.DataFrame
) -> None:
    server = launch(spare_project, "--workers", "2")
    records = http.records(bc_features.iloc[:4])
    ids = []
    for _ in range(10):
        answer = http.post(f"{server.url}/predict", {"records": records})
        assert answer.status == 200, answer.body
        ids += [p["request_id"] for p in answer.json()["predictions"]]
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == 0
    server.stop()
    output = server.output[-1]
    assert f"Serving breast-cancer at {server.url}; Ctrl-C stops" in output
    assert "V2      POST /v2/models/breast-cancer/infer" in output
    assert output.rstrip().endswith("stopped")
    with prodml.Project(spare_project) as project, project.runs_store.database.session() as s:
        logged = set(s.scalars(select(PredictionRow.request_id)))
    assert set(ids) <= logged
