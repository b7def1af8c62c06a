"""The monitor benchmark's project: the breast-cancer example, fitted and registered, and a
prediction log of its model's answers with a label for each.

Rows are the example's patients drawn with replacement by a seeded generator, each
measurement times 1 + 1% Gaussian noise (so that no two rows repeat), answered by the
fitted model (``predict_proba``, in bulk), logged through prodml's own prediction log
writer (:class:`prodml.serve.prediction_log.PredictionLog`, the server's) a second apart
from START, and their true diagnosis stored as feedback through the store's bulk path
(:meth:`prodml.store.monitoring.Monitoring.add_feedback`, what ``prodml feedback`` does).
Request ids are time-ordered, as the server's UUIDv7 are.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import prodml
from prodml.data.dataset import Dataset
from prodml.serve.prediction_log import PredictionLog
from prodml.store.log_format import Stream, encode_inputs, encode_probabilities, microseconds

SEED = 20250301
START = datetime(2025, 1, 1, tzinfo=UTC)
#: predictions written in one transaction of the log writer
BATCH = 20_000


def project(folder: Path, window: int) -> Path:
    """The example's project in ``folder``, its model fitted and version 1 of its endpoint,
    with ``monitor: {window: WINDOW}`` (windows of that many predictions)."""
    prodml.init(folder, example="breast-cancer")
    settings = folder / "prodml.yaml"
    text = re.sub(r"^monitor:\n(?:[ #].*\n)*", "", settings.read_text(), flags=re.M)
    settings.write_text(text + f"\nmonitor:\n  window: {window}\n")
    with prodml.Project(folder) as opened:
        opened.fit()
        reason = "a benchmark: it measures the monitor, not the model"
        opened.register(force=True, reason=reason)
    return folder


def log(folder: Path, first: int, rows: int) -> None:
    """Log predictions ``first`` to ``first + rows - 1`` of the benchmark (the same rows
    every time) and a label for each."""
    with prodml.Project(folder) as opened:
        data = opened.load_data()
        version = opened.registry.get(f"{opened.name}:1")
        model = opened.load_model(version.run_id)
        features = list(data.features)
        classes = tuple(model.classes_.tolist())
        stream = Stream(
            opened.name, opened.name, 1, version.run_id, "primary", tuple(features), classes
        )
        writer = PredictionLog(opened.monitoring.database)
        try:
            for start in range(first, first + rows, BATCH):
                inputs, truth = patients(data, start, min(BATCH, first + rows - start))
                answers = model.predict_proba(inputs).tolist()
                entries = [
                    (
                        stream,
                        request_id(start + i),
                        microseconds(START) + (start + i) * 1_000_000,
                        encode_inputs(values),
                        encode_probabilities(probabilities),
                        1_000 + (start + i) % 500,
                        None,  # no event time: each arrived at its own
                    )
                    for i, (values, probabilities) in enumerate(
                        zip(inputs.to_numpy().tolist(), answers, strict=True)
                    )
                ]
                writer.write(entries).result()
                labels = [(entry[1], label) for entry, label in zip(entries, truth, strict=True)]
                opened.monitoring.add_feedback(labels, "benchmark")
        finally:
            writer.close()


def patients(data: Dataset, start: int, count: int) -> tuple[pd.DataFrame, list[Any]]:
    """Rows ``start`` to ``start + count - 1``: the same ones for the same numbers."""
    rng = np.random.default_rng([SEED, start])
    drawn = data.frame.iloc[rng.integers(0, len(data.frame), count)]
    noise = 1.0 + 0.01 * rng.standard_normal((count, len(data.features)))
    inputs = drawn[list(data.features)].reset_index(drop=True) * noise
    return inputs, drawn[data.target].tolist()


def request_id(index: int) -> str:
    """Prediction ``index``'s request id: time-ordered, like the server's UUIDv7."""
    return str(uuid.UUID(int=(index << 64) | 0x7000_8000_0000_0000))
