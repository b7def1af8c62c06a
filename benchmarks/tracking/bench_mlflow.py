"""Tracking overhead, MLflow side: plain scikit-learn vs the usual MLflow tracked fit.

For each workload (breast-cancer, loans), in a fresh temporary folder with its own
``sqlite:///.../mlflow.db`` store: the first tracked run, which creates the store, then
REPEATS tracked runs interleaved with REPEATS plain fits (load, split, fit, score all
splits; nothing recorded). A tracked run is what the MLflow documentation shows:
``with mlflow.start_run():`` load and split the data, fit, ``log_params(get_params())``,
``log_metrics`` of the same metrics prodml records on train/dev/test, and
``mlflow.sklearn.log_model`` (skops format, MLflow's default off Databricks, with the types
it asks to trust; no signature or input example: prodml records none at fit time either).
``log_model`` infers the model's pip requirements by loading it in a new Python process
unless they are given; a variant that gives them shows what that inference costs.
Also the cold start of ``mlflow --help``. Prints one JSON object.

    python -m benchmarks.tracking.bench_mlflow WORK_DIR   (WORK_DIR as bench_prodml.py left it)
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn

from benchmarks.shared import timed
from benchmarks.tracking.common import (
    POSITIVE,
    REPEATS,
    fit_and_score,
    report,
    summary,
)


def mlflow_name(metric: str) -> str:
    """``test.f1[malignant]`` as MLflow allows it: ``test.f1.malignant``."""
    return metric.replace("[", ".").replace("]", "")


#: the types that log_model refuses to save in skops format until they are trusted, as its
#: error message names them (none for the logistic-regression pipeline)
TRUSTED: dict[str, list[str]] = {
    "breast-cancer": [],
    "loans": [
        "functools.partial",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.utils.validation.check_array",
    ],
}


def tracked(work: Path, name: str, infer: bool = True) -> dict[str, float]:
    """One tracked run; ``infer=False`` names the pip requirements instead of inferring them."""
    requirements = (
        None if infer else [f"{p}=={metadata.version(p)}" for p in ("scikit-learn", "skops")]
    )
    metrics: dict[str, float]
    with mlflow.start_run():
        estimator, metrics = fit_and_score(work, name)
        mlflow.log_params(estimator.get_params())
        mlflow.log_metrics({mlflow_name(k): v for k, v in metrics.items()})
        mlflow.sklearn.log_model(
            estimator,
            name="model",
            skops_trusted_types=TRUSTED[name],
            pip_requirements=requirements,
        )
    return metrics


def workload(work: Path, name: str) -> dict[str, Any]:
    store = work / "mlflow" / name
    store.mkdir(parents=True)
    os.chdir(store)  # the default artifact root is relative to the working directory
    mlflow.set_tracking_uri(f"sqlite:///{store / 'mlflow.db'}")
    fit_and_score(work, name)  # warm-up: imports, file cache, OpenMP threads

    plain: list[float] = []
    runs: list[float] = []
    given: list[float] = []
    first, metrics = timed(lambda: tracked(work, name))
    for _ in range(REPEATS):
        plain.append(timed(lambda: fit_and_score(work, name))[0])
        runs.append(timed(lambda: tracked(work, name))[0])
        given.append(timed(lambda: tracked(work, name, infer=False))[0])
    _, plain_scores = fit_and_score(work, name)
    key = f"test.f1[{POSITIVE[name]}]"
    return {
        "plain": summary(plain),
        "tracked_first": first,
        "tracked": summary(runs),
        "tracked_given": summary(given),
        "test_f1": {"plain": plain_scores[key], "tracked": metrics[key]},
    }


if __name__ == "__main__":
    report("mlflow", workload)
