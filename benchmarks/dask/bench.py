"""Scale-out with Dask: one process against a 2-worker LocalCluster on this machine, for the
loans grid search and for batch scoring of a partitioned Parquet data set. Writes the
section "## Scale-out with Dask" of docs/benchmarks.md.

    .venv/bin/python -m benchmarks.dask.bench                 (10,000,000 rows)
    .venv/bin/python -m benchmarks.dask.bench --rows 1000000  (a quick run)

Each side runs in this process, one after the other; the cluster's two workers are
processes of one thread each (as on a real cluster, the model and the training rows are
pickled to them). The data set is written to a new folder in $PRODML_BENCH_TMP (default:
$TMPDIR, else /tmp) as PARTS Parquet files, and deleted at the end.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from dask.distributed import LocalCluster
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

import prodml
from benchmarks.shared import machine, replace_section, timed, versions
from prodml.config import ExecutorSettings
from prodml.data.schema import Schema, infer_schema
from prodml.executor import ONE_PROCESS
from prodml.partitioned import score_parts
from prodml.tracking.search import search

TITLE = "## Scale-out with Dask"
PARTS = 20
FEATURES = ["income", "age", "credit_score", "region"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows to score")
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    options = parser.parse_args()
    parent = os.environ.get("PRODML_BENCH_TMP") or tempfile.gettempdir()
    with (
        tempfile.TemporaryDirectory(dir=parent) as work,
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,  # type: ignore[no-untyped-call]
    ):
        dask = ExecutorSettings(kind="dask", address=cluster.scheduler_address)
        sides = {"one process": ONE_PROCESS, "Dask, 2 workers": dask}
        model, schema, data = _data(Path(work) / "parts", options.rows)
        # one thread per process on both sides (Dask's workers set OMP_NUM_THREADS=1): on two
        # busy cores, scikit-learn's OpenMP threads in one process contend, and slow it
        # several times, which would flatter the cluster
        with threadpool_limits(1):
            searched = {k: _search(Path(work) / k.split(",")[0], v) for k, v in sides.items()}
            scored = {
                k: _score(model, schema, data, Path(work) / f"out {k}", v) for k, v in sides.items()
            }
    text = options.output.read_text() if options.output.exists() else ""
    section = _section(searched, scored, options.rows)
    options.output.write_text(replace_section(text, TITLE, section))
    print(section)


def _search(folder: Path, executor: ExecutorSettings) -> dict[str, Any]:
    """The loans example's grid (four candidates, 3-fold CV, 200 boosting rounds)."""
    with prodml.Project(prodml.init(folder, example="loans")) as project:
        spec, grid = project.settings.model, project.settings.search
        assert grid is not None
        data, split, model = project._prepare(spec)
        seconds, best = timed(
            lambda: search(project._workspace(), model, spec, data, split, grid, executor=executor)
        )
        chosen = (best.model_spec or {})["search"]["best_params"]
        return {"seconds": seconds, "best": chosen, "rows": len(data.frame)}


def _data(folder: Path, rows: int) -> tuple[Any, Schema, Path]:
    """A model fitted on 50,000 rows, and ``rows`` new rows of the same kind in PARTS files."""
    folder.mkdir()
    fit = _rows(np.random.default_rng(0), 50_000)
    model = HistGradientBoostingClassifier(
        max_iter=100, categorical_features="from_dtype", random_state=0
    ).fit(fit[FEATURES].astype({"region": "category"}), fit["approved"])
    rng = np.random.default_rng(1)
    for i, size in enumerate(np.diff(np.linspace(0, rows, PARTS + 1).astype(int))):
        _rows(rng, int(size)).drop(columns="approved").to_parquet(
            folder / f"part-{i:03d}.parquet", row_group_size=250_000
        )
    return model, infer_schema(fit[FEATURES]), folder


def _rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "application_id": np.arange(n),
            "income": rng.gamma(4.0, 10_000.0, n),
            "age": rng.integers(18, 90, n),
            "credit_score": rng.normal(650, 80, n).round(),
            "region": rng.choice(["north", "south", "east", "west"], n),
        }
    )
    score = frame["income"] / 1_000 + (frame["credit_score"] - 650) / 10 + rng.normal(0, 10, n)
    return frame.assign(approved=(score > 40).astype(int))


def _score(
    model: Any, schema: Schema, source: Path, output: Path, executor: ExecutorSettings
) -> dict[str, Any]:
    seconds, scored = timed(
        lambda: score_parts(
            model, schema, source, output, keep=("application_id",), executor=executor
        )
    )
    digest = hashlib.sha256()
    for part in sorted(output.iterdir()):
        digest.update(pd.read_parquet(part).to_csv(index=False).encode())
    return {"seconds": seconds, "rows": scored.rows, "answers": digest.hexdigest()}


def _section(
    searched: dict[str, dict[str, Any]], scored: dict[str, dict[str, Any]], rows: int
) -> str:
    (one, two), (first, second) = searched.values(), scored.values()
    same_search = "the same" if one["best"] == two["best"] else "**different**"
    same_scores = "identical" if first["answers"] == second["answers"] else "**different**"
    table = ["| work | one process | Dask, 2 workers | speed-up |", "|---|---:|---:|---:|"]
    for what, a, b in (
        (f"search, loans grid ({one['rows']:,} rows, 4 candidates x 3 folds)", one, two),
        (f"scoring {rows:,} rows in {PARTS} parts", first, second),
    ):
        table.append(
            f"| {what} | {a['seconds']:.1f} s | {b['seconds']:.1f} s | "
            f"{a['seconds'] / b['seconds']:.2f}x |"
        )
    found = versions("dask", "distributed", "joblib", "scikit-learn")
    return "\n".join(
        [
            TITLE,
            "",
            "The same work in one process and on a `LocalCluster` of two worker processes of "
            "one thread each (`executor: {kind: dask}`): the loans example's grid search, and "
            "`prodml predict` of a partitioned Parquet data set (a task per part, the model "
            "scattered once, the parts committed whole).",
            "",
            f"{datetime.date.today():%Y-%m-%d}; {machine()}; "
            + ", ".join(f"{k} {v}" for k, v in found.items())
            + "; `.venv/bin/python -m benchmarks.dask.bench"
            + ("" if rows == 10_000_000 else f" --rows {rows}")
            + "`.",
            "",
            *table,
            "",
            "The search's time includes the refit of the best candidate and its evaluation, "
            "which run in this process on both sides. "
            f"Search chose {same_search} parameters on both sides ({one['best']}); the scores "
            f"of the two scorings are {same_scores} ({_rate(first)} against {_rate(second)} "
            "rows/s).",
            "",
            "**On this machine** the two workers share its two cores with the scheduler, this "
            "process and other engineers' test runs, so a speed-up near 2x is the ceiling and "
            "less is expected (load average over the last 15 minutes at the end: "
            f"{os.getloadavg()[2]:.1f}); each side ran once, with one thread per process "
            "(scikit-learn's "
            "OpenMP threads limited to 1 in the single process too, as Dask does in its "
            "workers: on two busy cores, two OpenMP threads in one process contended so badly "
            "that a first run (at 200,000 rows) measured the one-process search 15x slower, "
            "not a fair "
            "baseline).",
            "",
            "**On a real cluster** both jobs are embarrassingly parallel, a candidate or a part "
            "per task: the wall time falls close to linearly with workers until there are more "
            "workers than tasks (a grid of 4 candidates uses at most 4 workers: use more "
            "candidates, or let each fit use its cores) or until the shared storage's read "
            "bandwidth is the limit for scoring. The fixed costs are starting the client "
            "(about a second), sending the model and the training rows to each worker once, "
            "and a few milliseconds of scheduling per task, so parts of a few hundred thousand "
            "rows or more keep the overhead under a few percent.",
            "",
        ]
    )


def _rate(run: dict[str, Any]) -> str:
    return f"{run['rows'] / run['seconds']:,.0f}"


if __name__ == "__main__":
    main()
