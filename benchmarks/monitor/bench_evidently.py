"""Monitor at scale, Evidently's side: its data drift and classification presets on each
window of the same log. Prints one JSON object.

The log is read as the floor reads it, then decoded with numpy, with each prediction's
last label (common.log_frames). Its first ROWS predictions are cut into the windows of
prodml's first pass (WINDOW predictions each, in the order of the log: one model serves
them all), and each window is compared with the rows prodml's reference profile was made
of (REFERENCE_FILE, written by bench_prodml.py) by ``Report([DataDriftPreset(),
ClassificationPreset()])``, the data definition naming the 30 features as numeric and the
binary classification (true class, predicted class, the positive class's probability).
Wall time of the read and of the reports; each window's accuracy and dataset drift.

    python -m benchmarks.monitor.bench_evidently WORK_DIR --rows N
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import BinaryClassification, DataDefinition, Dataset, Report
from evidently.presets import ClassificationPreset, DataDriftPreset

from benchmarks.monitor.common import ROWS, WINDOW, database, log_frames
from benchmarks.shared import peak_mib, timed, versions

REFERENCE_FILE = "reference.csv"  # as bench_prodml.py writes it
POSITIVE = "malignant"


def frame(features: list[str], log: dict[str, Any], start: int, end: int) -> pd.DataFrame:
    """Predictions ``start`` to ``end - 1`` of the log, as the reference file has them."""
    found = pd.DataFrame(log["features"][start:end], columns=features)
    found["truth"] = log["truth"][start:end]
    found["predicted"] = log["predicted"][start:end]
    found[POSITIVE] = log["positive"][start:end]
    return found


def report(definition: DataDefinition, reference: Dataset, current: pd.DataFrame) -> Any:
    """Both presets on one window; its accuracy and whether its data set drifted."""
    snapshot = Report([DataDriftPreset(), ClassificationPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition), reference
    )
    values = {
        m["config"]["type"].rpartition(":")[2]: m["value"] for m in snapshot.dict()["metrics"]
    }
    return {"accuracy": values["Accuracy"], "drifted_share": values["DriftedColumnsCount"]["share"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="bench_prodml.py's folder")
    parser.add_argument("--rows", type=int, default=ROWS, help="predictions of the first pass")
    args = parser.parse_args()
    with contextlib.redirect_stdout(sys.stderr):
        read, (features, classes, log) = timed(lambda: log_frames(database(args.work / "project")))
        log["positive"] = log["probabilities"][:, classes.index(POSITIVE)]
        definition = DataDefinition(
            numerical_columns=features,
            classification=[
                BinaryClassification(
                    target="truth",
                    prediction_labels="predicted",
                    prediction_probas=POSITIVE,
                    pos_label=POSITIVE,
                )
            ],
        )
        reference = Dataset.from_pandas(
            pd.read_csv(args.work / REFERENCE_FILE), data_definition=definition
        )
        windows, seconds = [], []
        for start in range(0, args.rows - args.rows % WINDOW, WINDOW):
            current = frame(features, log, start, start + WINDOW)
            took, found = timed(lambda current=current: report(definition, reference, current))
            windows.append(found)
            seconds.append(took)
    result = {
        "versions": versions("evidently", "numpy", "pandas", "scipy", "scikit-learn"),
        "read_seconds": read,
        "report_seconds": seconds,
        "windows": windows,
        "peak_mib": peak_mib(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
