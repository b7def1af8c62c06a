"""What the deployment tests share: a project with two evaluated versions, and a way to
log traffic as the server logs it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import prodml
from prodml.serve.prediction_log import PredictionLog, log_stream
from prodml.serve.source import RunSource
from prodml.store.log_format import encode_inputs, encode_probabilities, microseconds
from prodml.store.runs import utc_now

CLASSES = ["benign", "malignant"]
#: (request id, probability of malignant, latency in microseconds) of one logged answer
Answer = tuple[str, float, int]
LogAnswers = Callable[[prodml.Project, int, str, Sequence[Answer]], None]


@pytest.fixture(scope="session")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """breast-cancer with two evaluated fits registered: 1 the primary, 2 beside it."""
    folder = prodml.init(tmp_path_factory.mktemp("deploy") / "bc", example="breast-cancer")
    with prodml.Project(folder) as project:
        for _ in range(2):
            run = project.fit()
            project.evaluate(run.id)
            project.register(run.id)
    return folder


@pytest.fixture(scope="session")
def log_answers() -> LogAnswers:
    """Log answers of breast-cancer's ``version`` in ``role``, as the server would."""

    def logged(project: prodml.Project, version: int, role: str, answers: Sequence[Answer]) -> None:
        run_id = project.registry.get("breast-cancer:1").run_id
        served = RunSource(project, run_id).load("breast-cancer")
        names = [c.name for c in served.schema.columns]
        stream = log_stream(dataclasses.replace(served, version=version), role, names, CLASSES)
        inputs, at = encode_inputs([1.0] * len(names)), microseconds(utc_now())
        rows: list[Any] = [
            (stream, rid, at, inputs, encode_probabilities([1.0 - p, p]), latency, None)
            for rid, p, latency in answers
        ]
        log = PredictionLog(project.runs_store.database)
        try:
            log.write(rows).result()
        finally:
            log.close()

    return logged
