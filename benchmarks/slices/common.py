"""What both sides of the sliced-metrics benchmark share, without prodml or Fairlearn.

The data (1,000,000 rows from a seeded generator: a binary label, predictions that agree
with it about 85% of the time, three metadata columns of 2, 5 and 12 values), the timer
and the JSON both sides print. ``bench_prodml.py`` and ``bench_fairlearn.py`` import this,
each in its own environment, with the same numpy and pandas: so both see the same rows.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.shared import timed, versions

ROWS = 1_000_000
SEED = 20240601
#: metadata column -> its values (2, 5 and 12 groups)
COLUMNS = {
    "device": ["desktop", "mobile"],
    "region": ["central", "east", "north", "south", "west"],
    "month": [f"2024-{m:02d}" for m in range(1, 13)],
}
#: per group, as prodml names them; all of the positive class 1
METRICS = ("accuracy", "precision[1]", "recall[1]", "f1[1]")

#: group name ("region=north") -> metric -> value, for one column
Groups = dict[str, dict[str, float]]
Values = dict[str, Groups]
#: what each side times: the frame, y_true, y_pred and a column in, its groups' values out
Scorer = Callable[[pd.DataFrame, np.ndarray, np.ndarray, str], Groups]


def data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The metadata frame, the true labels (0/1, 30% positive) and the predictions."""
    rng = np.random.default_rng(SEED)
    frame = pd.DataFrame(
        {
            column: np.asarray(values, dtype=object)[rng.integers(0, len(values), ROWS)]
            for column, values in COLUMNS.items()
        }
    )
    y_true = (rng.random(ROWS) < 0.3).astype(np.int64)
    # how often the prediction is right depends a little on the month, as in real slices
    right = 0.80 + 0.10 * (frame["month"].str[-2:].astype(int).to_numpy() % 2)
    y_pred = np.where(rng.random(ROWS) < right, y_true, 1 - y_true)
    return frame, y_true, y_pred


def summary(seconds: list[float]) -> dict[str, Any]:
    return {"min": min(seconds), "median": statistics.median(seconds), "all": seconds}


def report(tool: str, score: Scorer, repeats: int, warm_up: bool) -> None:
    """Time ``score`` on each column ``repeats`` times and print one JSON object to stdout.

    Called as ``main`` of a bench script; whatever the tools print goes to stderr. The
    values printed are those of the last run.
    """
    with contextlib.redirect_stdout(sys.stderr):
        frame, y_true, y_pred = data()
        if warm_up:  # imports, first allocations
            score(frame, y_true, y_pred, next(iter(COLUMNS)))
        seconds: dict[str, list[float]] = {column: [] for column in COLUMNS}
        values: Values = {}
        for _ in range(repeats):
            for column in COLUMNS:
                took, values[column] = timed(lambda c=column: score(frame, y_true, y_pred, c))
                seconds[column].append(took)
    total = [sum(run) for run in zip(*seconds.values(), strict=True)]
    result = {
        "versions": versions(tool, "scikit-learn", "numpy", "pandas", "scipy"),
        "rows": ROWS,
        "groups": {column: len(names) for column, names in COLUMNS.items()},
        "seconds": {
            "total": summary(total),
            "columns": {column: summary(times) for column, times in seconds.items()},
        },
        "values": values,
    }
    print(json.dumps(result, indent=2))
