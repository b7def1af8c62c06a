"""Sliced metrics, Fairlearn side: one ``MetricFrame`` per metadata column.

Each MetricFrame gets accuracy, precision, recall and F1 of the positive class 1 (the
scikit-learn functions, with ``zero_division=0`` as prodml takes them) and one column as
its sensitive feature; ``by_group`` holds the values. MetricFrame also computes them on
all rows (``overall``): it always does. REPEATS runs of each column, no warm-up (a run of
the three takes about a minute). Prints one JSON object, as bench_prodml.py does.

    python -m benchmarks.slices.bench_fairlearn
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from benchmarks.slices.common import METRICS, Groups, report

REPEATS = 2
#: prodml's metric names -> the scikit-learn function MetricFrame calls on each group
FUNCTIONS = dict(
    zip(
        METRICS,
        [
            accuracy_score,
            partial(precision_score, pos_label=1, zero_division=0),
            partial(recall_score, pos_label=1, zero_division=0),
            partial(f1_score, pos_label=1, zero_division=0),
        ],
        strict=True,
    )
)


def score(frame: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray, column: str) -> Groups:
    by_group = MetricFrame(
        metrics=FUNCTIONS, y_true=y_true, y_pred=y_pred, sensitive_features=frame[column]
    ).by_group
    return {
        f"{column}={value}": {metric: float(row[metric]) for metric in METRICS}
        for value, row in by_group.iterrows()
    }


if __name__ == "__main__":
    report("fairlearn", score, REPEATS, warm_up=False)
