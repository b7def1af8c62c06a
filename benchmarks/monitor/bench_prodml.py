"""Monitor at scale, prodml's side: the log, the floor, and the monitor's passes. Prints one
JSON object.

1. The project and its log (generate.py): ROWS predictions of the breast-cancer example's
   model, a label for each, ``monitor: {window: 10000}``; and, for Evidently, the rows the
   model's reference profile was made of (the held-out rows: every row not in the training
   split) with their true and predicted classes and probabilities, as REFERENCE_FILE.
2. The floor: every row of the log read with Python's sqlite3 (common.read_log), and
   every label (common.read_labels), REPEATS times each, the best kept.
3. The passes, in new processes (passes.py): [first pass, nothing new, one new window] in
   one process, as ``prodml monitor --every`` keeps its monitor; then a new process with
   nothing new, and one after one more window, as ``prodml monitor --once`` runs. Then
   the accuracy and drift share of each window of the first pass, and the load average
   (1 minute) before and after: the machine may be shared.

    python -m benchmarks.monitor.bench_prodml WORK_DIR [--rows N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

import prodml
from benchmarks.monitor import generate
from benchmarks.monitor.common import ROWS, WINDOW, database, read_labels, read_log
from benchmarks.shared import timed, versions

REFERENCE_FILE = "reference.csv"
REPEATS = 3


def reference(folder: Path, file: Path) -> None:
    """The held-out rows, their features, ``truth``, ``predicted`` and one probability
    column per class (named as the class)."""
    with prodml.Project(folder) as project:
        data = project.load_data()
        held = np.setdiff1d(np.arange(len(data.frame)), project.split(data).rows("train"))
        rows = data.frame.iloc[held]
        model = project.load_model(project.registry.get(f"{project.name}:1").run_id)
    probabilities = model.predict_proba(rows[list(data.features)])
    frame = rows[list(data.features)].assign(truth=rows[data.target].astype(str))
    frame["predicted"] = model.classes_[probabilities.argmax(axis=1)].astype(str)
    for k, name in enumerate(model.classes_):
        frame[str(name)] = probabilities[:, k]
    frame.to_csv(file, index=False)


def floor(folder: Path) -> dict[str, float]:
    """The best of REPEATS reads of every row of the log, and of every label."""
    path = database(folder)
    return {
        "log": min(timed(lambda: read_log(path))[0] for _ in range(REPEATS)),
        "labels": min(timed(lambda: read_labels(path))[0] for _ in range(REPEATS)),
    }


def windows(folder: Path, count: int) -> list[dict[str, Any]]:
    """The accuracy and drift share of the first ``count`` windows the monitor stored."""
    query = "SELECT metrics FROM monitor_windows ORDER BY id LIMIT ?"
    with contextlib.closing(sqlite3.connect(database(folder))) as db:
        stored = [json.loads(metrics) for (metrics,) in db.execute(query, (count,))]
    return [{"accuracy": m["accuracy"], "drifted_share": m["drift_share"]} for m in stored]


def passes(folder: Path, *steps: str) -> dict[str, Any]:
    """What passes.py measured in a new process."""
    command = [sys.executable, "-m", "benchmarks.monitor.passes", str(folder), *steps]
    found: dict[str, Any] = json.loads(
        subprocess.run(command, check=True, stdout=subprocess.PIPE).stdout
    )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="a folder for the project and the files")
    parser.add_argument("--rows", type=int, default=ROWS, help=f"predictions (default {ROWS:,})")
    args = parser.parse_args()
    folder = args.work / "project"
    load = [os.getloadavg()[0]]  # the machine is shared: how busy it was
    with contextlib.redirect_stdout(sys.stderr):
        generate.project(folder, WINDOW)
        generated, _ = timed(lambda: generate.log(folder, 0, args.rows))
        reference(folder, args.work / REFERENCE_FILE)
        read = floor(folder)
        every = passes(folder, "pass", "pass", "window", "pass")
        nothing = passes(folder, "pass")
        window = passes(folder, "window", "pass")
    load.append(os.getloadavg()[0])
    first, same, added = every["passes"]
    result = {
        "versions": versions("prodml", "numpy", "pandas", "scipy", "scikit-learn"),
        "rows": args.rows,
        "window": WINDOW,
        "generated_seconds": generated,
        "floor": read,
        "first": first,
        "nothing_new": {"same_process": same, "new_process": nothing["passes"][0]},
        "one_window": {"same_process": added, "new_process": window["passes"][0]},
        "peak_mib": every["peak_mib"],
        "windows": windows(folder, args.rows // WINDOW),
        "load_average": load,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
