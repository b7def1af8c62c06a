"""The dashboard at scale: the runs page over 100,000 runs and the monitoring page over
10,000 windows (goals: under 300 ms and 500 ms), on a generated SQLite store, through
the app itself (Starlette's TestClient: no network, the whole page rendered).

    python -m benchmarks.ui.bench_dashboard            # writes "## Dashboard" of docs/benchmarks.md
    python -m benchmarks.ui.bench_dashboard --output /tmp/b.md --runs 1000 --windows 100
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from starlette.testclient import TestClient

import prodml
from benchmarks.shared import HEADER, machine, replace_section, versions
from prodml.store.tables import DriftScoreRow, LogStreamRow, MonitorWindowRow, RunRow
from prodml.ui.app import create_ui

TITLE = "## Dashboard"
FEATURES = 20
CHUNK = 5_000
REPEATS = 15


def generate(project: prodml.Project, runs: int, windows: int) -> None:
    """``runs`` finished fits of the project, and ``windows`` monitor windows of endpoint
    ``bench`` with a drift score per feature each."""
    rng = random.Random(0)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    engine = project.runs_store.database.engine
    with engine.begin() as connection:
        for first in range(0, runs, CHUNK):
            connection.execute(
                insert(RunRow),
                [
                    {
                        "id": uuid.uuid4().hex[:12],
                        "parent_id": None,
                        "project": project.name,
                        "kind": rng.choice(("fit", "fit", "search", "sanity")),
                        "status": rng.choice(("finished", "finished", "failed")),
                        "started_at": start + timedelta(minutes=i),
                        "ended_at": start + timedelta(minutes=i, seconds=30),
                        "host": "bench",
                        "pid": 1,
                        "model_spec": {"factory": "sklearn.linear_model.LogisticRegression"},
                        "params": {"C": rng.random()},
                        "metrics": {
                            f"{split}.{name}": rng.random()
                            for split in ("train", "dev", "test")
                            for name in ("accuracy", "f1[malignant]", "recall[malignant]")
                        },
                        "fit_seconds": rng.random() * 10,
                        "data_fingerprint": uuid.uuid4().hex,
                    }
                    for i in range(first, min(runs, first + CHUNK))
                ],
            )
        # the endpoint's log stream: windows are cut from an endpoint's logged predictions
        connection.execute(
            insert(LogStreamRow),
            [
                {
                    "key": "bench",
                    "endpoint": "bench",
                    "model_name": "bench",
                    "model_version": 1,
                    "role": "primary",
                    "columns": [f"feature_{f:02d}" for f in range(FEATURES)],
                    "format_version": 1,
                }
            ],
        )
        for first in range(0, windows, CHUNK // FEATURES):
            rows = [
                {
                    "endpoint": "bench",
                    "model_name": "bench",
                    "model_version": 1,
                    "starts_at": start + timedelta(hours=i),
                    "ends_at": start + timedelta(hours=i + 1),
                    "first_id": i * 1000 + 1,
                    "last_id": (i + 1) * 1000,
                    "rows": 1000,
                    "metrics": {
                        "requests": 1000,
                        "drift_share": rng.random(),
                        "error_rate": rng.random() / 100,
                        "accuracy": 0.8 + rng.random() / 10,
                        "latency_p99_seconds": rng.random() / 20,
                    },
                    "created_at": start,
                }
                for i in range(first, min(windows, first + CHUNK // FEATURES))
            ]
            ids = connection.execute(insert(MonitorWindowRow).returning(MonitorWindowRow.id), rows)
            connection.execute(
                insert(DriftScoreRow),
                [
                    {
                        "window_id": window_id,
                        "kind": "drift",
                        "column": f"feature_{f:02d}",
                        "method": "wasserstein",
                        "score": rng.random(),
                        "p_value": None,
                        "threshold": 0.5,
                        "threshold_on": "score",
                        "drifted": rng.random() < 0.1,
                    }
                    for window_id in ids.scalars()
                    for f in range(FEATURES)
                ],
            )


def median_ms(client: TestClient, url: str) -> float:
    """The median time of a GET of ``url``, in milliseconds, after one warm-up."""
    assert client.get(url).status_code == 200, url
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        answer = client.get(url)
        times.append(time.perf_counter() - began)
        assert answer.status_code == 200
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--windows", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    folder = prodml.init(Path(tempfile.mkdtemp()) / "bench", example="breast-cancer")
    began = time.perf_counter()
    with prodml.Project(folder) as project:
        generate(project, args.runs, args.windows)
        generated = time.perf_counter() - began
        with TestClient(create_ui(project), client=("127.0.0.1", 50000)) as client:
            measured = {
                "runs, first page (newest first)": median_ms(client, "/ui/runs"),
                "runs, sorted by a metric": median_ms(
                    client, "/ui/runs?sort=-metric:test.accuracy"
                ),
                "runs, filtered (kind and status), page 50": median_ms(
                    client, "/ui/runs?kind=fit&status=finished&page=50"
                ),
                "monitoring, 10,000 windows in 120 columns": median_ms(
                    client, "/ui/monitoring?endpoint=bench"
                ),
            }
    goals = {"runs": 300, "monitoring": 500}
    lines = [
        TITLE,
        "",
        "The dashboard's pages on a generated SQLite store: "
        f"{args.runs:,} runs (newest first, 50 a page) and {args.windows:,} monitor windows of "
        f"{FEATURES} features' drift scores each. Each time is the median of {REPEATS} whole "
        "page loads through the app (Starlette's TestClient: the query, the template, no "
        "network), after one warm-up. Goals: the runs page under 300 ms, the monitoring page "
        "under 500 ms.",
        "",
        f"- Date: {datetime.now(UTC).date().isoformat()}",
        f"- Machine: {machine()}; "
        + ", ".join(f"{k} {v}" for k, v in versions("SQLAlchemy", "starlette", "Jinja2").items()),
        "- Command: `.venv/bin/python -m benchmarks.ui.bench_dashboard` "
        f"(took {time.perf_counter() - began:.0f} s, {generated:.0f} s of it generating the store)",
        "",
        "| page | median ms | goal ms |",
        "|---|---:|---:|",
        *(f"| {name} | {ms:.0f} | {goals[name.split(',')[0]]} |" for name, ms in measured.items()),
        "",
    ]
    text = args.output.read_text() if args.output.exists() else HEADER
    args.output.write_text(replace_section(text, TITLE, "\n".join(lines)))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
