"""Write the "## Soak" section of docs/benchmarks.md from what bench_soak.py printed.

A table with a row per minute (the server's memory, the store's files, the prediction
log's rows and bytes per prediction, the requests answered and their latency) and a line
per goal saying met or not met. Replaces that one section of the file (other sections stay
as they are; the file is created with a short header if it is missing). Standard library
only.

    python -m benchmarks.soak.report SOAK_JSON --command CMD --seconds S [--output FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from typing import Any

from benchmarks.serving.report import count, ms
from benchmarks.shared import HEADER, machine, replace_section

TITLE = "## Soak"
VERSIONS = ("uvicorn", "scikit-learn", "numpy", "pandas")
#: the goals: memory growth after the first minutes, the write-ahead log's size, how far a
#: minute's store bytes per prediction may stray from the run's, and the latency
GOAL_GROWTH, SETTLED_MINUTE, GOAL_WAL, GOAL_LINEAR, GOAL_P99 = 0.05, 5, 64 * 2**20, 0.25, 0.025

INTRO = """\
Does `prodml serve` hold steady for an hour? One worker serves the breast-cancer example's
model (`prodml init --example breast-cancer`, `prodml fit`, `prodml models register --force`),
logging every answered prediction to the project's SQLite store, under an open loop of single-row
`POST /invocations` requests (`benchmarks/serving/load.py`: sent on schedule whether or not
the earlier ones were answered; latency from when a request was due to the end of its
answer), one minute at a time, after a 5 s warm-up. After each minute: the server's RSS,
the database file and its write-ahead log (*WAL, peak*: the largest it was during the
minute, looked at every second), the rows of the prediction log (the warm-up's included)
and the bytes the store gained per row logged that minute (pages in use, as SQLite counts
them). *answered*: answers of the minute's requests, of any status. Server and load
generator share the machine's cores."""


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def bytes_per_row(before: dict[str, Any], after: dict[str, Any]) -> float | None:
    """Store bytes gained per prediction logged between two samples.

    >>> bytes_per_row({"rows": 10, "store_bytes": 4096}, {"rows": 30, "store_bytes": 12288})
    409.6
    """
    rows = after["rows"] - before["rows"]
    return (after["store_bytes"] - before["store_bytes"]) / rows if rows else None


def table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| minute | RSS, MiB | database, MiB | WAL, MiB | WAL peak, MiB | rows logged "
        "| bytes/row | answered | p50, ms | p99, ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    before = result["start"]
    for m in result["per_minute"]:
        per_row = bytes_per_row(before, m)
        lines.append(
            f"| {m['minute']} | {mib(m['rss_bytes'])} | {mib(m['database_bytes'])} "
            f"| {mib(m['wal_bytes'])} | {mib(m['wal_peak_bytes'])} | {count(m['rows'])} "
            f"| {'—' if per_row is None else count(per_row)} "
            f"| {count(m['answered'])} of {count(m['requests'])} | {ms(m['p50'])} "
            f"| {ms(m['p99'])} |"
        )
        before = m
    return lines


def goals(result: dict[str, Any]) -> list[str]:
    """A line per goal, met or not, with the number beside it."""
    minutes = result["per_minute"]
    # memory: from the end of minute SETTLED_MINUTE on (minute 1 in a shorter run)
    settled = minutes[SETTLED_MINUTE - 1] if len(minutes) > SETTLED_MINUTE else minutes[0]
    last = minutes[-1]
    growth = last["rss_bytes"] / settled["rss_bytes"] - 1
    wal = max(m["wal_peak_bytes"] for m in minutes)
    overall = bytes_per_row(result["start"], last)
    rates = [
        rate
        for before, after in zip([result["start"], *minutes], minutes, strict=False)
        if (rate := bytes_per_row(before, after)) is not None
    ]
    stray = max((abs(rate / overall - 1) for rate in rates), default=0.0) if overall else 0.0
    linear = overall is not None and stray <= GOAL_LINEAR
    p99s = [m["p99"] for m in minutes]
    slowest = None if None in p99s else max(p99s)
    return [
        "",
        f"Goals ({result['rate']:g} requests/s offered for {result['minutes']} min):",
        "",
        f"- memory growth under {GOAL_GROWTH:.0%} after minute {settled['minute']}: "
        f"{growth:+.1%} ({mib(settled['rss_bytes'])} to {mib(last['rss_bytes'])} MiB): "
        f"{verdict(growth < GOAL_GROWTH)}",
        f"- WAL under {mib(GOAL_WAL)} MiB at all times: at most {mib(wal)} MiB: "
        f"{verdict(wal < GOAL_WAL)}",
        f"- store growth linear in the predictions (every minute within "
        f"{GOAL_LINEAR:.0%} of the run's {'—' if overall is None else count(overall)} "
        f"bytes/row): at most {stray:.0%} off: {verdict(linear)}",
        f"- p99 under {ms(GOAL_P99)} ms every minute: "
        f"{'a p99 among unanswered requests' if slowest is None else f'at most {ms(slowest)} ms'}: "
        f"{verdict(slowest is not None and slowest < GOAL_P99)}",
    ]


def section(result: dict[str, Any], command: str, seconds: int) -> str:
    found = result["versions"]
    packages = ", ".join(f"{name} {found[name]}" for name in VERSIONS)
    return "\n".join(
        [
            TITLE,
            "",
            INTRO,
            "",
            f"- Date: {datetime.date.today().isoformat()}",
            f"- Machine: {machine()}; Python {found['python']}; prodml {found['prodml']}, "
            f"{packages}",
            f"- Command: `{command}` (took {seconds} s)",
            "",
            *table(result),
            *goals(result),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("soak", type=Path, help="what bench_soak.py printed")
    parser.add_argument("--command", required=True, help="the command that ran the benchmark")
    parser.add_argument("--seconds", type=int, required=True, help="how long it took")
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    result = json.loads(args.soak.read_text())
    text = args.output.read_text() if args.output.exists() else HEADER
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        replace_section(text, TITLE, section(result, args.command, args.seconds))
    )


if __name__ == "__main__":
    main()
