"""Serving, MLflow side: ``mlflow models serve`` of the same model, with 1 and 2 workers.

For each workload: the same model fitted on the same training rows as prodml's (the data
file and the row positions bench_prodml.py left in WORK_DIR; the 30 feature columns in the
file's order), saved with ``mlflow.sklearn.save_model(model, path, input_example=...)``
(the probe row; MLflow's default skops format), then ``mlflow models serve -m path
--env-manager local --workers N`` measured by :func:`benchmarks.serving.common.measure`.
Prints one JSON object.

    python -m benchmarks.serving.bench_mlflow WORK_DIR   (WORK_DIR as bench_prodml.py left it)
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow.sklearn
import pandas as pd

from benchmarks.serving.common import (
    NOT_FEATURES,
    Workload,
    beside,
    data_file,
    each_server,
    measure,
    report,
    request,
    train_rows_file,
)

#: the types save_model refuses to write in skops format until they are trusted, as its
#: error message names them (none for the logistic-regression pipeline)
TRUSTED: dict[str, list[str]] = {
    "logistic-regression": [],
    "gradient-boosting": [
        "functools.partial",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils.validation.check_array",
    ],
}


def prepare(work: Path, workload: Workload, row: pd.DataFrame) -> tuple[Any, Path]:
    """The workload's model fitted on prodml's training rows, and where it is saved."""
    frame = pd.read_csv(data_file(work, workload))
    train = frame.iloc[json.loads(train_rows_file(work, workload).read_text())]
    model = workload.build()
    model.fit(train.drop(columns=list(NOT_FEATURES)), train["diagnosis"])
    path = work / "mlflow" / workload.name
    mlflow.sklearn.save_model(
        model,
        str(path),
        input_example=row,
        skops_trusted_types=TRUSTED[workload.name],
        pip_requirements=[f"scikit-learn=={metadata.version('scikit-learn')}"],
    )
    return model, path


def workload_result(work: Path, workload: Workload) -> dict[str, Any]:
    print(f"MLflow, {workload.name}", file=sys.stderr)
    sent = request(work, workload)
    row = pd.DataFrame([sent.record])
    model, path = prepare(work, workload, row)
    result: dict[str, Any] = {
        "expected": model.predict(row).tolist()[0],
        "probabilities": model.predict_proba(row).tolist()[0],
    }

    def command(port: int, workers: int) -> list[str]:
        serve = [beside("mlflow"), "models", "serve", "-m", str(path), "-p", str(port)]
        return [*serve, "--env-manager", "local", "--workers", str(workers)]

    result["servers"] = each_server(
        work, workload, "mlflow", command, lambda url: measure(url, sent)
    )
    return result


if __name__ == "__main__":
    report("mlflow", workload_result)
