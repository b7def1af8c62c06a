"""Drift, Evidently side: its data drift report (``DataDriftPreset``) on the two frames.

End to end from the two data frames: ``Dataset.from_pandas`` of each with a
``DataDefinition`` naming the 15 numeric and 5 categorical columns (so that Evidently types
them as prodml does), then ``Report([DataDriftPreset()], include_tests=True).run(current,
reference)``, and each column's method, score and flag read from the snapshot (a column
drifted when its "Value Drift" test failed). Evidently picks each column's method by its
default rule. REPEATS runs, no warm-up (a run takes about a minute). Prints one JSON
object, as bench_prodml.py does.

    python -m benchmarks.drift.bench_evidently
"""

from __future__ import annotations

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

from benchmarks.drift.common import CATEGORICAL, NUMERIC, Found, report

REPEATS = 2
DEFINITION = DataDefinition(numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL))


def run(reference: pd.DataFrame, current: pd.DataFrame) -> Found:
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=DEFINITION),
        Dataset.from_pandas(reference, data_definition=DEFINITION),
    )
    result = snapshot.dict()
    failed = {
        test["name"].removeprefix("Value Drift for column ")
        for test in result["tests"]
        if test["name"].startswith("Value Drift for column ") and test["status"] == "FAIL"
    }
    return {
        metric["config"]["column"]: {
            "method": metric["config"]["method"],
            "threshold": metric["config"]["threshold"],
            "score": float(metric["value"]),
            "drifted": metric["config"]["column"] in failed,
        }
        for metric in result["metrics"]
        if metric["config"]["type"] == "evidently:metric_v2:ValueDrift"
    }


if __name__ == "__main__":
    report("evidently", run, REPEATS, warm_up=False)
