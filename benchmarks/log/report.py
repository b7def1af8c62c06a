"""Write the "## Prediction log" section of docs/benchmarks.md from the three JSON results.

Merges what bench_log.py printed for "before" (the commit before the compact log format),
"after" (the working tree) and "after" with ``log: {durability: power}``: one table, a
measure a row, then the checks (which code each side ran, every answer logged, every
label stored, a quiet machine) and a line per goal of issue 11 saying met or not met.
Replaces that one section of the file (other sections stay as they are; the file is
created with a short header if it is missing). Standard library only.

    python -m benchmarks.log.report BEFORE_JSON AFTER_JSON POWER_JSON POSTGRES_JSON \
        --commit COMMIT
        --command CMD --seconds S [--output FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.serving.report import NOISE, count, times, verdict
from benchmarks.shared import HEADER, machine, replace_section

TITLE = "## Prediction log"
VERSIONS = ("uvicorn", "scikit-learn", "numpy", "pandas")
#: the sides, in the table's order, by the key run.sh gives their results
SIDES = ("before", "after", "power", "postgres")
NAMES = {
    "before": "before",
    "after": "after",
    "power": "after, durability power",
    "postgres": "after, PostgreSQL",
}
#: what one prediction of the example holds: 30 float features and 2 probabilities,
#: 8 bytes each, and its time and latency, 8 bytes each
FEATURES, CLASSES = 30, 2
RAW = FEATURES * 8 + CLASSES * 8 + 16
#: the goals of issue 11 (the write-ahead log's: the soak benchmark's, "bounded")
GOAL_RATIO, GOAL_ROWS, GOAL_SINGLE, GOAL_LABELS, GOAL_WAL = 1.5, 50_000, 5_000, 100_000, 64 << 20
#: the sizes bench_log.py runs without --quick
FULL = {"predictions": 20_000, "seconds": 15, "warm_up": 3, "labels": 1_000_000}

INTRO = """\
What does a logged prediction cost, before and after the compact format of the prediction
log (one row per prediction: its values in binary, what its stream shares stored once; a
write-ahead log emptied past 16 MiB; feedback stored with one statement a label)? One
`prodml serve --workers 1` serves the breast-cancer example (`prodml init --example
breast-cancer`, `prodml fit`, `prodml models register --force`: 30 float features, a binary
classifier), logging every answered prediction to the project's SQLite store before it answers.
Every request is `POST /invocations` with `dataframe_records`. *before* is the commit named
below, run from a `git worktree` with `PYTHONPATH` on its `src/` (same environment, same
packages); *after* is the working tree; *power* is *after* with `log: {durability: power}` in
prodml.yaml (every group commit synced to the disk); *PostgreSQL* is *after* with the store a new
database on the machine's PostgreSQL server (`PRODML_DATABASE_URL`), bytes per prediction
alone.

- *Bytes per prediction*: after one request of 100 rows, the server stopped and
  `PRAGMA wal_checkpoint(TRUNCATE)` run on the store; then requests of 100 rows (one at a
  time) until the log gained the predictions named below, the server stopped, the store
  checkpointed again: the database file's growth divided by the rows the log gained.
  On PostgreSQL, the growth of `pg_database_size` (tables, indexes and TOAST; not the
  server's own write-ahead log, which every database shares) over the same requests.
  *Raw*: what a prediction's values take, 30 features x 8 bytes + 2 probabilities x 8 +
  time and latency 16 = 272 bytes.
- *Rows logged a second*: `wrk -t2 -c32 -d15s` (closed loop: 32 connections, each sending
  its next request when the last is answered), after a 3 s wrk warm-up, each request
  100 rows: requests a second x 100. *Single-row requests a second*: the same with one row.
- *Write-ahead log, peak*: the size of `prodml.db-wal`, looked at every 0.5 s during the
  100-row wrk run; the largest seen.
- *Feedback*: requests of 100 rows under wrk until the log holds the predictions named
  below, the server stopped, the store checkpointed; a CSV `request_id,label` of the
  oldest of them, and the wall time of `prodml feedback labels.csv --project DIR` (Python's
  start and the CSV's parsing included): labels a second."""


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def rows_per_second(run: dict[str, Any]) -> float:
    """Rows a wrk run's requests carried a second.

    >>> rows_per_second({"requests_per_second": 512.5, "rows_per_request": 100})
    51250.0
    """
    rate: float = run["requests_per_second"] * run["rows_per_request"]
    return rate


@dataclass(frozen=True)
class Measure:
    """A row of the table and a line of the goals: ``value`` of a side's ``key`` result
    (a side that did not measure it has no ``key``), met when ``met(value)``."""

    label: str  # in the table
    goal: str  # the goal's line, up to the numbers
    key: str
    value: Callable[[Any], float]
    shown: Callable[[float], str]
    met: Callable[[float], bool]
    target: str  # the goal, in the table


MEASURES = (
    Measure(
        "bytes per prediction (store file growth / rows logged)",
        f"Bytes per prediction at most {GOAL_RATIO}x the raw {RAW} bytes "
        f"({count(GOAL_RATIO * RAW)})",
        "size",
        lambda size: float(size["bytes_per_row"]),
        lambda n: f"{count(n)} ({times(n / RAW)} raw)",
        lambda n: n <= GOAL_RATIO * RAW,
        f"at most {count(GOAL_RATIO * RAW)} ({GOAL_RATIO}x raw {RAW})",
    ),
    Measure(
        "rows logged a second, requests of 100 rows",
        f"At least {count(GOAL_ROWS)} rows logged a second with requests of 100 rows",
        "batch",
        rows_per_second,
        count,
        lambda n: n >= GOAL_ROWS,
        f"at least {count(GOAL_ROWS)}",
    ),
    Measure(
        "single-row requests a second",
        f"At least {count(GOAL_SINGLE)} single-row requests a second with logging on",
        "single",
        lambda run: float(run["requests_per_second"]),
        count,
        lambda n: n >= GOAL_SINGLE,
        f"at least {count(GOAL_SINGLE)}",
    ),
    Measure(
        "feedback: labels a second",
        f"At least {count(GOAL_LABELS)} feedback labels a second",
        "feedback",
        lambda fed: float(fed["labels_per_second"]),
        count,
        lambda n: n >= GOAL_LABELS,
        f"at least {count(GOAL_LABELS)}",
    ),
    Measure(
        "write-ahead log, peak during the 100-row wrk run",
        f"Write-ahead log bounded (under {mib(GOAL_WAL)} MiB) under load",
        "batch",
        lambda run: float(run["wal_peak_bytes"]),
        lambda n: f"{mib(n)} MiB",
        lambda n: n < GOAL_WAL,
        f"bounded: under {mib(GOAL_WAL)} MiB",
    ),
)


def table(results: dict[str, Any], commit: str) -> list[str]:
    """A row a measure, a column a side; met or not: the after side's."""
    lines = [
        f"| measure | before ({commit}) | after | after, durability power "
        "| after, PostgreSQL | goal | after: met? |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for m in MEASURES:
        cells = [
            m.shown(m.value(results[side][m.key])) if m.key in results[side] else "—"
            for side in SIDES
        ]
        met = m.met(m.value(results["after"][m.key]))
        lines.append(f"| {m.label} | {' | '.join(cells)} | {m.target} | {verdict(met)} |")
    return lines


def goal_lines(results: dict[str, Any]) -> list[str]:
    """A line per goal: each side that measured it, met or not (before: the number alone)."""
    lines = ["", "Goals (issue 11), on one worker:", ""]
    for m in MEASURES:
        found = []
        for side in SIDES:
            if m.key in results[side]:
                value = m.value(results[side][m.key])
                met = "" if side == "before" else f", {verdict(m.met(value))}"
                found.append(f"{NAMES[side]} {m.shown(value)}{met}")
        lines.append(f"- {m.goal}: {'; '.join(found)}.")
    return lines


def checks(results: dict[str, Any], commit: str) -> list[str]:
    """Which code each side ran; every answer logged, every label stored, no failed
    request; how much else ran on the machine."""
    source = (Path("src") / "prodml").resolve()
    code = {
        side: f"prodml from {'src/' if Path(r['prodml_file']).parent == source else 'elsewhere'}"
        f", its store at migration {r['schema']}"
        for side, r in results.items()
    }
    right = (
        Path(results["before"]["prodml_file"]).parent != source
        and all(Path(results[s]["prodml_file"]).parent == source for s in SIDES[1:])
        and results["before"]["schema"] != results["after"]["schema"]
    )
    lines = [
        "",
        f"- Code: before imported prodml from the worktree of {commit}, its store at migration "
        f"{results['before']['schema']}; after, power and PostgreSQL from src/, their stores at "
        f"{results['after']['schema']}: "
        + (
            "as intended."
            if right
            else "NOT as intended: " + "; ".join(f"{side} {shown}" for side, shown in code.items())
        ),
    ]
    gained, failed, quiet = [], [], []
    for side, r in results.items():
        for key in ("batch", "single"):
            if key not in r:
                continue
            run = r[key]
            answered = run["requests"] * run["rows_per_request"]
            ok = "" if run["logged"] >= answered else " (NOT every answer)"
            gained.append(f"{side} {key} {count(run['logged'])} for {count(answered)}{ok}")
            if run["failed"] or run["not_2xx"]:
                failed.append(
                    f"{side} {key}: {run['failed']} socket errors ({run['timeouts']} timeouts), "
                    f"{run['not_2xx']} answers other than 2xx"
                )
            quiet.append((f"{side} {key}", run))
        if "feedback" in r:
            quiet.append((f"{side} feedback", r["feedback"]))
    lines.append(
        "- Every answer logged: the log gained, during each wrk run, rows for rows answered "
        "as wrk counted them: " + "; ".join(gained) + " (more rows than counted: requests "
        "under way when wrk stopped were answered and logged, but not counted)."
    )
    sizes = [f"{side} {count(r['size']['rows'])}" for side, r in results.items() if "size" in r]
    stored = [
        f"{side} {count(r['feedback']['stored'])} of {count(r['feedback']['labels'])}"
        for side, r in results.items()
        if "feedback" in r
    ]
    lines.append(f"- Rows gained for the bytes per prediction: {'; '.join(sizes)}.")
    lines.append(f"- Labels `prodml feedback` said it stored: {'; '.join(stored)}.")
    lines.append(
        "- Requests not answered with 2xx: " + ("none." if not failed else "; ".join(failed) + ".")
    )
    shares = [(label, run["others_cpu_seconds"] / run["wall_seconds"]) for label, run in quiet]
    busy = [label for label, share in shares if share > NOISE]
    lines.append(
        "- Other work on the machine during each timed run, in cores (CPU seconds outside "
        "the benchmark's processes per wall second): "
        + "; ".join(f"{label} {share:.2f}" for label, share in shares)
        + (
            f": all under {NOISE} core, a quiet machine."
            if not busy
            else f": over {NOISE} core, so disturbed by other work, for: {'; '.join(busy)}."
        )
    )
    return lines


def section(results: dict[str, Any], commit: str, command: str, seconds: int) -> str:
    found = results["after"]["versions"]
    packages = ", ".join(f"{name} {found[name]}" for name in VERSIONS)
    sizes = results["after"]["sizes"]
    quick = (
        []
        if sizes == FULL
        else ["- **A quick run**: it checks the scripts; its numbers are not to be quoted."]
    )
    return "\n".join(
        [
            TITLE,
            "",
            INTRO,
            "",
            f"- Date: {datetime.date.today().isoformat()}",
            f"- Machine: {machine()}; Python {found['python']}; prodml {found['prodml']}, "
            f"{packages}; {results['after']['wrk']}",
            f"- Command: `{command}` (took {seconds} s)",
            f"- Sizes: {count(sizes['predictions'])} predictions for the bytes, "
            f"{sizes['seconds']} s wrk runs after {sizes['warm_up']} s warm-ups, "
            f"{count(sizes['labels'])} labels",
            *quick,
            "",
            *table(results, commit),
            *checks(results, commit),
            *goal_lines(results),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for side in SIDES:
        parser.add_argument(side, type=Path, help=f"what bench_log.py printed for {side}")
    parser.add_argument("--commit", required=True, help="the commit measured as before")
    parser.add_argument("--command", required=True, help="the command that ran the benchmark")
    parser.add_argument("--seconds", type=int, required=True, help="how long it took")
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    results = {side: json.loads(getattr(args, side).read_text()) for side in SIDES}
    text = args.output.read_text() if args.output.exists() else HEADER
    args.output.parent.mkdir(parents=True, exist_ok=True)
    new = section(results, args.commit, args.command, args.seconds)
    args.output.write_text(replace_section(text, TITLE, new))


if __name__ == "__main__":
    main()
