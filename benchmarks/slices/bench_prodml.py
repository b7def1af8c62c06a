"""Sliced metrics, prodml side: per-group scores of the three metadata columns.

For each column, end to end from the frame and the label arrays: ``slicings()`` (one group
per value), ``confusion_by_group()`` (one ``np.bincount``) and ``classification_scores()``,
then each group's accuracy, precision, recall and F1 of class 1 as floats. The labels are
0 and 1, so they are their own class indices. One untimed warm-up, then REPEATS runs of
each column. Prints one JSON object (see common.report).

    python -m benchmarks.slices.bench_prodml
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.slices.common import METRICS, Groups, report
from prodml.evaluate.slices import classification_scores, confusion_by_group, slicings

REPEATS = 7


def score(frame: pd.DataFrame, y_true: np.ndarray, y_pred: np.ndarray, column: str) -> Groups:
    cut = slicings([column], frame)[0]
    confusion = confusion_by_group(cut.codes, len(cut.names), y_true, y_pred, 2)
    scores = classification_scores(confusion, [0, 1])
    return {
        name: {metric: float(scores[metric][g]) for metric in METRICS}
        for g, name in enumerate(cut.names)
    }


if __name__ == "__main__":
    report("prodml", score, REPEATS, warm_up=True)
