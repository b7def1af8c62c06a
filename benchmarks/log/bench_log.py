"""Prediction log, one side: what ``prodml serve`` logs, how fast, at what cost on disk,
and how fast ``prodml feedback`` attaches labels to it. Prints one JSON object.

Whichever ``prodml`` this environment imports is measured: run.sh runs this script once
with ``PYTHONPATH`` on a worktree of the commit before the new log format ("before"), once
without ("after"), and once more without, with ``--durability power`` (prodml.yaml's
``log: {durability: power}``) and ``--load-only``. The project is the breast-cancer
example (``prodml init --example breast-cancer``, ``prodml fit``, ``prodml models register
--force``; 30 float features, a binary classifier), served by ``prodml serve --workers 1``;
every request is ``POST /invocations`` with ``dataframe_records``
(:func:`benchmarks.serving.common.request`).

1. Bytes per prediction: after one request of ROWS rows (the log's first rows and pages),
   the server is stopped and the store checkpointed; then PREDICTIONS rows in requests of
   ROWS, the server stopped, the store checkpointed again: the file's growth per row.
2. Under wrk's closed loop (after a warm-up), requests of ROWS rows, then of one row: the
   requests a second, the rows the log gained, and the largest the write-ahead log was.
3. Feedback: requests of ROWS rows under wrk until the log holds LABELS predictions, the
   server stopped, the store checkpointed; a CSV ``request_id,label`` of the LABELS
   oldest, and the wall time of ``prodml feedback FILE --project DIR``.

With ``--postgres SERVER``, measure 1 alone, the project's store a new database on that
PostgreSQL server: its growth is that of ``pg_database_size``.

    python -m benchmarks.log.bench_log WORK_DIR [--durability power] [--load-only] [--quick]
    python -m benchmarks.log.bench_log WORK_DIR --postgres SERVER [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import prodml
from benchmarks.log import store
from benchmarks.serving import load
from benchmarks.serving.bench_prodml import fit_and_serve, logged, prodml_cli
from benchmarks.serving.common import (
    NOT_FEATURES,
    WORKLOADS,
    Request,
    ask,
    beside,
    data_file,
    free_port,
    others_cpu,
    project_folder,
    request,
    server,
)
from benchmarks.shared import timed, versions
from prodml.project import DATABASE_ENV

#: the example's own model (a scaled logistic regression)
WORKLOAD = WORKLOADS[0]
#: rows of each request but the single-row ones
ROWS = 100


@dataclass(frozen=True)
class Sizes:
    """How much each measure does: predictions for the size, seconds of each wrk run and
    of its warm-up, and labels for the feedback."""

    predictions: int
    seconds: int
    warm_up: int
    labels: int


FULL = Sizes(predictions=20_000, seconds=15, warm_up=3, labels=1_000_000)
#: to check the scripts end to end, not to quote
QUICK = Sizes(predictions=2_000, seconds=5, warm_up=1, labels=50_000)


def prepare(work: Path, durability: str | None) -> Path:
    """The example project, its log's ``durability`` set, fitted and registered."""
    folder = project_folder(work, WORKLOAD)
    prodml_cli("init", str(folder), "--example", "breast-cancer")
    if durability is not None:
        with (folder / "prodml.yaml").open("a") as settings:
            settings.write(f"\nlog:\n  durability: {durability}\n")
    fit_and_serve(folder)
    return folder


@contextlib.contextmanager
def serving(work: Path, folder: Path, name: str) -> Iterator[tuple[str, int]]:
    """``prodml serve --workers 1`` on a free port (see
    :func:`benchmarks.serving.common.server`); its URL and process group."""
    port = free_port()
    command = [beside("prodml"), "serve", "--project", str(folder), "--port", str(port)]
    with server([*command, "--workers", "1"], work / f"server-{name}.log", port) as running:
        yield running


def answered(url: str, sent: Request) -> None:
    """One request, which must be answered with 200."""
    status = ask(url, sent.body)["status"]
    if status != 200:
        raise RuntimeError(f"the server answered {status}")


@dataclass(frozen=True)
class Store:
    """How a side's store is read: its bytes on disk (settled), its rows logged, its
    migration."""

    size: Callable[[], int]
    rows: Callable[[], int]
    schema: Callable[[], str]


def sqlite_store(folder: Path) -> Store:
    """The project's own SQLite file."""
    return Store(
        lambda: store.checkpointed_size(folder),
        lambda: logged(folder),
        lambda: store.schema(folder),
    )


def postgres_store(url: str) -> Store:
    """A PostgreSQL database."""
    return Store(
        lambda: store.postgres_size(url),
        lambda: store.postgres_rows(url),
        lambda: store.postgres_schema(url),
    )


def bytes_per_prediction(
    work: Path, folder: Path, sent: Request, predictions: int, kept: Store
) -> dict[str, Any]:
    """Measure 1: the store's growth per logged row over ``predictions`` rows."""
    with serving(work, folder, "first") as (url, _):
        answered(url, sent)
    before, rows_before = kept.size(), kept.rows()
    with serving(work, folder, "size") as (url, _):
        for _ in range(predictions // ROWS):
            answered(url, sent)
    after, rows_after = kept.size(), kept.rows()
    rows = rows_after - rows_before
    return {
        "file_bytes_before": before,
        "file_bytes_after": after,
        "rows": rows,
        "bytes_per_row": (after - before) / rows,
    }


def closed_loop(
    url: str, group: int, folder: Path, sent: Request, rows: int, sizes: Sizes
) -> dict[str, Any]:
    """Measures 2 and 3: wrk for ``sizes.seconds`` after a warm-up (one request answered
    between them, so that the warm-up's backlog is done); the rows the log gained, the
    write-ahead log's peak, and the CPU the rest of the machine used meanwhile."""
    invocations = f"{url}/invocations"
    load.wrk(invocations, sent.script, sizes.warm_up)
    answered(url, sent)
    print(f"  wrk, {rows} row(s) a request, {sizes.seconds} s", file=sys.stderr)
    rows_before, cpu_before, started = logged(folder), others_cpu(group), time.perf_counter()
    with store.WalPeak(folder) as wal:
        result = load.wrk(invocations, sent.script, sizes.seconds)
    result["others_cpu_seconds"] = others_cpu(group) - cpu_before
    result["wall_seconds"] = time.perf_counter() - started
    # an answer is sent once its rows are committed: those wrk counted are all in
    result["logged"] = logged(folder) - rows_before
    result["rows_per_request"] = rows
    result["wal_peak_bytes"] = wal.peak
    return result


def fill(url: str, folder: Path, sent: Request, sizes: Sizes) -> int:
    """Requests of ``sent`` under wrk until the log holds ``sizes.labels`` predictions;
    the rows it holds."""
    while (rows := logged(folder)) < sizes.labels:
        print(f"  filling the log: {rows:,} of {sizes.labels:,} rows", file=sys.stderr)
        load.wrk(f"{url}/invocations", sent.script, sizes.seconds)
    return rows


def feedback(work: Path, folder: Path, labels: int) -> dict[str, Any]:
    """Measure 4: ``prodml feedback`` of the ``labels`` oldest predictions (the server
    stopped, the store checkpointed), each labelled with one of the data's classes in
    turn; its wall time, and the labels it says it stored."""
    ids = store.request_ids(folder, labels)
    if len(ids) < labels:
        raise RuntimeError(f"the log holds {len(ids):,} predictions, not {labels:,}")
    classes = classes_of(work)
    path = work / "labels.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["request_id", "label"])
        writer.writerows(
            (request_id, classes[i % len(classes)]) for i, request_id in enumerate(ids)
        )
    command = [beside("prodml"), "feedback", str(path), "--project", str(folder), "--json"]
    print(f"  {' '.join(command)}", file=sys.stderr)
    cpu_before = others_cpu()
    seconds, shown = timed(
        lambda: subprocess.run(command, capture_output=True, text=True, check=True)
    )
    return {
        "labels": labels,
        "seconds": seconds,
        "labels_per_second": labels / seconds,
        "stored": json.loads(shown.stdout)["stored"],
        "others_cpu_seconds": others_cpu() - cpu_before,
        "wall_seconds": seconds,
    }


def classes_of(work: Path) -> list[str]:
    """The values of the data file's target column, sorted."""
    target = NOT_FEATURES[1]
    with data_file(work, WORKLOAD).open(newline="") as file:
        return sorted({row[target] for row in csv.DictReader(file)})


def described(kept: Store, durability: str | None, sizes: Sizes) -> dict[str, Any]:
    """What a side ran: versions, code, its store's migration, its settings."""
    return {
        "versions": versions("prodml", "uvicorn", "scikit-learn", "numpy", "pandas"),
        "wrk": load.wrk_version(),
        "prodml_file": prodml.__file__,
        "schema": kept.schema(),
        "durability": durability or "process",
        "sizes": asdict(sizes),
        "rows_per_request": ROWS,
    }


def on_postgres(work: Path, server: str, sizes: Sizes) -> dict[str, Any]:
    """Measure 1 alone, the project's store a new database on the PostgreSQL ``server``
    (``PRODML_DATABASE_URL``, which the prodml commands and the server read)."""
    # imported here: run.sh's "before" side runs this script on an older prodml without it
    from prodml.store.scratch import scratch_database

    with scratch_database(server, "prodml_bench_") as url:
        os.environ[DATABASE_ENV] = url
        try:
            folder, kept = prepare(work, None), postgres_store(url)
            print("bytes per prediction, PostgreSQL", file=sys.stderr)
            size = bytes_per_prediction(
                work, folder, request(work, WORKLOAD, ROWS), sizes.predictions, kept
            )
            return {**described(kept, None, sizes), "size": size}
        finally:
            del os.environ[DATABASE_ENV]


def measured(work: Path, durability: str | None, load_only: bool, sizes: Sizes) -> dict[str, Any]:
    folder = prepare(work, durability)
    kept = sqlite_store(folder)
    batch, single = request(work, WORKLOAD, ROWS), request(work, WORKLOAD)
    result = described(kept, durability, sizes)
    if not load_only:
        print("bytes per prediction", file=sys.stderr)
        result["size"] = bytes_per_prediction(work, folder, batch, sizes.predictions, kept)
    print("closed loop", file=sys.stderr)
    with serving(work, folder, "load") as (url, group):
        result["batch"] = closed_loop(url, group, folder, batch, ROWS, sizes)
        result["single"] = closed_loop(url, group, folder, single, 1, sizes)
        if not load_only:
            result["filled"] = fill(url, folder, batch, sizes)
    if not load_only:
        print("feedback", file=sys.stderr)
        store.checkpointed_size(folder)
        result["feedback"] = feedback(work, folder, sizes.labels)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="a folder for the project and the servers' logs")
    parser.add_argument(
        "--durability", choices=("process", "power"), help="prodml.yaml's log: {durability: ...}"
    )
    parser.add_argument(
        "--load-only", action="store_true", help="only the closed loops (measures 2 and 3)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    parser.add_argument(
        "--postgres",
        metavar="SERVER",
        help="only measure 1, the store a new database on this PostgreSQL server "
        "(an SQLAlchemy URL), dropped at the end",
    )
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if args.quick else FULL
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON alone
        if args.postgres:
            result = on_postgres(work, args.postgres, sizes)
        else:
            result = measured(work, args.durability, args.load_only, sizes)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
