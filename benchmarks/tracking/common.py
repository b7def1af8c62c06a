"""What every side of the tracking benchmark does the same way, without prodml or MLflow.

The two workloads (data, model, split), the untracked "plain" fit that is the floor, the
metrics prodml records (computed the same way here), the CLI timer and the statistics.
Both ``bench_prodml.py`` and ``bench_mlflow.py`` import this, each in its own environment.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.shared import timed, versions

REPEATS = 5
WORKLOADS = ("breast-cancer", "loans")
#: the class whose test F1 is compared across tools, as a check that they did the same work
POSITIVE = {"breast-cancer": "malignant", "loans": 1}
SPLITS = ("train", "dev", "test")
LOANS_NOT_FEATURES = ["application_id", "applied_at", "gender", "region", "approved"]

Parts = dict[str, tuple[pd.DataFrame, np.ndarray]]


def project_folder(work: Path, name: str) -> Path:
    """Where bench_prodml.py puts the example project (and so the data) of a workload."""
    return work / "prodml" / name


def split_file(work: Path, name: str) -> Path:
    """prodml's split of a workload (0 train, 1 dev, 2 test per row), saved by bench_prodml.py."""
    return work / f"{name}.split.npy"


def load(work: Path, name: str) -> tuple[Parts, list[Any]]:
    """Read a workload's data file and cut it into train/dev/test, as prodml does."""
    data = project_folder(work, name) / "data"
    if name == "breast-cancer":
        frame = pd.read_csv(data / "breast_cancer.csv")
        X, y = frame.drop(columns=["patient_id", "diagnosis"]), frame["diagnosis"].to_numpy()
        # prodml's stratified split has its own seeded allocation: reuse its assignment
        assignment = np.load(split_file(work, name))
    else:
        frame = pd.read_parquet(data / "loans.parquet")
        text = frame.columns[frame.dtypes.map(pd.api.types.is_string_dtype)]
        frame[text] = frame[text].astype("category")
        X, y = frame.drop(columns=LOANS_NOT_FEATURES), frame["approved"].to_numpy()
        at = frame["applied_at"]
        assignment = np.where(at >= "2024-07-01", 2, np.where(at >= "2024-04-01", 1, 0))
    parts = {s: (X[assignment == i], y[assignment == i]) for i, s in enumerate(SPLITS)}
    return parts, sorted(np.unique(y).tolist())


def model(name: str) -> Any:
    """The workload's model, exactly as its prodml.yaml builds it."""
    if name == "breast-cancer":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return HistGradientBoostingClassifier(
        max_iter=200, categorical_features="from_dtype", random_state=0
    )


def scores(estimator: Any, parts: Parts, labels: list[Any]) -> dict[str, float]:
    """prodml's metrics: accuracy, macro F1, per-class precision/recall/F1/support per split."""
    result: dict[str, float] = {}
    for split, (X, y) in parts.items():
        predicted = estimator.predict(X)
        p, r, f, n = precision_recall_fscore_support(y, predicted, labels=labels, zero_division=0)
        result[f"{split}.accuracy"] = float(accuracy_score(y, predicted))
        result[f"{split}.f1_macro"] = float(
            f1_score(y, predicted, labels=labels, average="macro", zero_division=0)
        )
        for i, label in enumerate(labels):
            for metric, values in (("precision", p), ("recall", r), ("f1", f), ("support", n)):
                result[f"{split}.{metric}[{label}]"] = float(values[i])
    return result


def fit_and_score(work: Path, name: str) -> tuple[Any, dict[str, float]]:
    """Load, split, fit and score: everything but the recording."""
    parts, labels = load(work, name)
    estimator = model(name)
    estimator.fit(*parts["train"])
    return estimator, scores(estimator, parts, labels)


def summary(seconds: list[float]) -> dict[str, float]:
    return {"median": statistics.median(seconds), "min": min(seconds), "n": len(seconds)}


def cli_start(command: list[str]) -> dict[str, float]:
    """Wall time of a command (e.g. ``prodml --help``), after one untimed warm-up run."""

    def run() -> None:
        subprocess.run(command, check=True, capture_output=True)

    run()
    return summary([timed(run)[0] for _ in range(REPEATS)])


def beside_python(script: str) -> str:
    """The console script installed next to this interpreter (same environment)."""
    return str(Path(sys.executable).parent / script)


def report(tool: str, workload: Callable[[Path, str], dict[str, Any]]) -> None:
    """Run every workload with ``tool``'s ``workload`` and print one JSON object.

    Called as ``main`` of a bench script: ``argv[1]`` is the work folder; stdout carries
    the JSON alone (whatever the tools print goes to stderr).
    """
    work = Path(sys.argv[1]).resolve()
    with contextlib.redirect_stdout(sys.stderr):
        result = {
            "versions": versions(tool, "scikit-learn", "numpy", "pandas", "skops"),
            "workloads": {name: workload(work, name) for name in WORKLOADS},
            "cli": {
                "python -c pass": cli_start([sys.executable, "-c", "pass"]),
                f"{tool} --help": cli_start([beside_python(tool), "--help"]),
            },
        }
    print(json.dumps(result, indent=2))
