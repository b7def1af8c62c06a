"""What both sides of the monitor benchmark share, without prodml or Evidently: the sizes,
and the prediction log read from outside with the standard library's sqlite3.

:func:`read_log` is the floor: every row of the log, every column the monitor reads,
fetched into Python, nothing decoded. :func:`log_frames` is how the Evidently side gets
the same rows: the floor's rows, decoded with numpy (the log's row format, see
``prodml.store.log_format``: ``b"d"`` and 8 bytes a float for the inputs, ``b"p"`` and 8
bytes a probability, in the stream's class order, for the answers), with each row's last
label.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

#: predictions in the log, unless --rows says otherwise
ROWS = 1_000_000
#: predictions a window
WINDOW = 10_000
#: the columns of a logged prediction that the monitor reads
LOG = "SELECT id, stream_id, request_id, at_us, inputs, outputs, latency_us FROM predictions"


def database(folder: Path) -> Path:
    """The project's store (its prodml.yaml names no other)."""
    return folder / ".prodml" / "prodml.db"


def read_log(path: Path) -> list[tuple[Any, ...]]:
    """Every row of the log, in the order of its ids."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(f"{LOG} ORDER BY id").fetchall()


def read_labels(path: Path) -> dict[str, Any]:
    """Each request id's last label."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT request_id, label FROM feedback ORDER BY id")
        return {request_id: json.loads(label)["value"] for request_id, label in rows}


def log_frames(path: Path) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """The log's features, class order and arrays: ``id``, ``features`` (a row each),
    ``probabilities`` (a row each), ``predicted`` and ``truth`` (class names)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        columns, classes = db.execute("SELECT columns, classes FROM log_streams").fetchone()
    features, names = json.loads(columns), [str(c) for c in json.loads(classes)]
    rows, labels = read_log(path), read_labels(path)
    ids, _, request_ids, _, inputs, outputs, _ = zip(*rows, strict=True)
    probabilities = _floats(outputs, len(names))
    return (
        features,
        names,
        {
            "id": np.array(ids),
            "features": _floats(inputs, len(features)),
            "probabilities": probabilities,
            "predicted": np.array(names)[probabilities.argmax(axis=1)],
            "truth": np.array([str(labels[r]) for r in request_ids]),
        },
    )


def _floats(blobs: tuple[bytes, ...], width: int) -> np.ndarray:
    raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), 1 + 8 * width)
    return raw[:, 1:].copy().view(np.float64)


def logged(path: Path) -> int:
    """How many predictions the log holds."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        count: int = db.execute("SELECT count(*) FROM predictions").fetchone()[0]
        return count
