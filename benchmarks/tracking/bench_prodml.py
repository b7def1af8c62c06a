"""Tracking overhead, prodml side: plain scikit-learn vs ``prodml.Project(path).fit()``.

For each workload (breast-cancer, loans): the first tracked fit, which creates the
project's SQLite store, then REPEATS tracked fits interleaved with REPEATS plain fits
(load, split, fit, score all splits; nothing recorded). A tracked fit is timed end to
end as a user calls it: reading and checking the data, splitting, fitting, scoring,
saving the skops artifact with its SHA-256 and writing the run to the store; prodml's
own ``fit_seconds`` (the ``model.fit`` call alone) is reported beside it. Also the cold
start of ``prodml --help``. Prints one JSON object.

    python -m benchmarks.tracking.bench_prodml WORK_DIR
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import prodml
from benchmarks.shared import timed
from benchmarks.tracking.common import (
    POSITIVE,
    REPEATS,
    fit_and_score,
    project_folder,
    report,
    split_file,
    summary,
)


def workload(work: Path, name: str) -> dict[str, Any]:
    folder = prodml.init(project_folder(work, name), example=name)
    with prodml.Project(folder) as project:  # the split only: the store stays unopened
        np.save(split_file(work, name), project.split(project.load_data()).assignment)
    fit_and_score(work, name)  # warm-up: imports, file cache, OpenMP threads

    plain: list[float] = []
    tracked: list[float] = []
    fit_seconds: list[float] = []
    with prodml.Project(folder) as project:
        first, run = timed(project.fit)
        for _ in range(REPEATS):
            plain.append(timed(lambda: fit_and_score(work, name))[0])
            seconds, run = timed(project.fit)
            tracked.append(seconds)
            fit_seconds.append(run.fit_seconds)
    _, plain_scores = fit_and_score(work, name)
    key = f"test.f1[{POSITIVE[name]}]"
    return {
        "plain": summary(plain),
        "tracked_first": first,
        "tracked": summary(tracked),
        "fit_seconds": summary(fit_seconds),
        "test_f1": {"plain": plain_scores[key], "tracked": run.metrics[key]},
    }


if __name__ == "__main__":
    report("prodml", workload)
