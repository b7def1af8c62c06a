"""Serving, prodml side: ``prodml serve`` with 1 and 2 workers, and the model in-process.

For each workload: ``prodml init --example breast-cancer`` in WORK_DIR, the workload's
model written into prodml.yaml, ``prodml fit``, ``prodml models register --force``, the
positions of the training rows saved for bench_mlflow.py, then the fitted model
(``Project.load_model``) called in a loop on the probe row, and ``prodml serve --workers N``
measured by :func:`benchmarks.serving.common.measure`, counting the rows its prediction log (the
project's SQLite store) gained. Prints one JSON object.

    python -m benchmarks.serving.bench_prodml WORK_DIR
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

import prodml
from benchmarks.serving import load
from benchmarks.serving.common import (
    Workload,
    beside,
    each_server,
    measure,
    others_cpu,
    project_folder,
    report,
    request,
    train_rows_file,
)

#: seconds of each in-process loop
IN_PROCESS_SECONDS = 3.0


def prodml_cli(*arguments: str) -> None:
    """Run the ``prodml`` command of this environment; its output goes to stderr."""
    subprocess.run([beside("prodml"), *arguments], check=True, stdout=sys.stderr)


def fit_and_serve(folder: Path) -> None:
    """Fit the project's model and make it version 1 and the primary of its endpoint. The
    audit gate is passed with --force: these benchmarks measure speed, not the model (an
    older prodml measured as "before", which has no gate and no --force, registers it
    without)."""
    prodml_cli("fit", "--project", str(folder))
    reason = "a benchmark: it measures serving, not the model"
    helptext = subprocess.run(
        [beside("prodml"), "models", "register", "--help"], capture_output=True, text=True
    ).stdout
    forced = ["--force", "--reason", reason] if "--force" in helptext else []
    prodml_cli("models", "register", *forced, "--project", str(folder))


def prepare(work: Path, workload: Workload) -> Path:
    """The workload's project, fitted and registered; its training rows saved."""
    folder = project_folder(work, workload)
    prodml_cli("init", str(folder), "--example", "breast-cancer")
    if workload.yaml:
        settings = folder / "prodml.yaml"
        block = re.compile(r"^model:\n(?:  .*\n)+", re.M)  # the example's model: and its lines
        settings.write_text(block.sub(f"model: {workload.yaml}\n", settings.read_text(), 1))
    fit_and_serve(folder)
    with prodml.Project(folder) as project:
        rows = project.split(project.load_data()).rows("train")
    train_rows_file(work, workload).write_text(json.dumps(rows.tolist()))
    return folder


def calls(call: Callable[[], Any]) -> dict[str, float | None]:
    """``call()`` in a loop for IN_PROCESS_SECONDS after 20 untimed calls: calls a second
    and the percentiles of one call, seconds."""
    for _ in range(20):
        call()
    seconds: list[float] = []
    end = time.perf_counter() + IN_PROCESS_SECONDS
    while (started := time.perf_counter()) < end:
        call()
        seconds.append(time.perf_counter() - started)
    return {
        "calls_per_second": len(seconds) / sum(seconds),
        **{f"p{q}": load.percentile(seconds, len(seconds), q) for q in (50, 90, 99)},
    }


def in_process(model: Any, row: pd.DataFrame) -> dict[str, Any]:
    """``predict_proba`` of one row: as a DataFrame, as a numpy array, and as a numpy
    array with one OpenMP thread (as each prodml server worker runs it)."""
    array = row.to_numpy()
    before, started = others_cpu(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "X does not have valid feature names"
        timed = {
            "dataframe": calls(lambda: model.predict_proba(row)),
            "numpy": calls(lambda: model.predict_proba(array)),
        }
        with threadpool_limits(1):
            timed["numpy, 1 thread"] = calls(lambda: model.predict_proba(array))
    wall = time.perf_counter() - started
    return {**timed, "others_cpu_seconds": others_cpu() - before, "wall_seconds": wall}


def logged(folder: Path) -> int:
    """Rows in the project's prediction log."""
    with contextlib.closing(sqlite3.connect(folder / ".prodml" / "prodml.db")) as database:
        count: int = database.execute("select count(*) from predictions").fetchone()[0]
        return count


def workload_result(work: Path, workload: Workload) -> dict[str, Any]:
    print(f"prodml, {workload.name}", file=sys.stderr)
    folder = prepare(work, workload)
    sent = request(work, workload)
    row = pd.DataFrame([sent.record])
    with prodml.Project(folder) as project:
        model = project.load_model()
    result: dict[str, Any] = {
        "expected": model.predict(row).tolist()[0],
        "probabilities": model.predict_proba(row).tolist()[0],
        "in_process": in_process(model, row),
    }

    def command(port: int, workers: int) -> list[str]:
        serve = [beside("prodml"), "serve", "--project", str(folder), "--port", str(port)]
        return [*serve, "--workers", str(workers)]

    def measured(url: str) -> dict[str, Any]:
        before = logged(folder)  # every answer is committed to the log before it is sent
        return {**measure(url, sent), "logged": logged(folder) - before}

    result["servers"] = each_server(work, workload, "prodml", command, measured)
    return result


if __name__ == "__main__":
    report("prodml", workload_result)
