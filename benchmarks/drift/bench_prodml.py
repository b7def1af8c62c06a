"""Drift, prodml side: ``distributions()`` of both frames, then ``drift_report()``.

End to end from the two data frames: ``distributions(frame)`` builds each column's
``Distribution`` (numbers sorted once, categories counted), on a thread per core, then
``drift_report(reference, current)`` scores every column with the default rule (at
1,000,000 rows: normed Wasserstein for the numbers, Jensen-Shannon for the categories),
and each column's method, score and flag are read from it. One untimed warm-up, then
REPEATS runs. Prints one JSON object (see common.report).

    python -m benchmarks.drift.bench_prodml
"""

from __future__ import annotations

import pandas as pd

from benchmarks.drift.common import Found, report
from prodml.monitor.drift import distributions, drift_report

REPEATS = 5


def run(reference: pd.DataFrame, current: pd.DataFrame) -> Found:
    result = drift_report(distributions(reference), distributions(current))
    return {
        name: {
            "method": score.method,
            "threshold": score.threshold,
            "score": score.score,
            "drifted": score.drifted,
        }
        for name, score in result.scores.items()
    }


if __name__ == "__main__":
    report("prodml", run, REPEATS, warm_up=True)
