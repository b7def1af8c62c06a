"""Serving with partial automation, measured: single-row requests a second under wrk with the
endpoint at ``full`` and at ``partial``, in alternating phases on the same server, and
the section "## Serving with partial automation" of docs/benchmarks.md written from them.

The project is the serving benchmark's (:func:`benchmarks.serving.bench_prodml.prepare`:
the breast-cancer example's logistic regression, version 1, the primary). Every request
is the data's row the model is least sure of; at ``partial`` the threshold is set above
its confidence, so every answer is deferred and every request writes a review item beside
its log row: the worst case of deferral. For
each number of WORKERS one ``prodml serve`` runs throughout; the level is switched with
``Project.automate`` (what ``prodml automation`` does) and the load waits SWITCH_SECONDS
for the servers to pick it up; ``--pairs`` pairs of ``--seconds`` phases alternate their
order (full-partial, partial-full...). A request sent after each phase checks the level
in force (its ``X-Prodml-Decided-By``).

    python -m benchmarks.serving.bench_automation [--seconds 15] [--pairs 3] [--output FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

import prodml
from benchmarks.serving import load
from benchmarks.serving.bench_prodml import prepare
from benchmarks.serving.common import WORKERS, WORKLOADS, Request, beside, free_port, server
from benchmarks.shared import machine, replace_section, versions
from prodml.config import Level

WORKLOAD = WORKLOADS[0]
SWITCH_SECONDS = 3.0
TITLE = "## Serving with partial automation"
REASON = "a benchmark: it measures deferral's cost"
#: the goal of issue 13: partial costs at most this share of full's throughput
GOAL = 0.05


def decided_by(url: str, body: bytes) -> str:
    """Who decided one request's answer (the header ``X-Prodml-Decided-By``)."""
    sent = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(sent, timeout=60) as answer:
        return str(answer.headers.get("X-Prodml-Decided-By"))


def unsure(work: Path, folder: Path) -> tuple[Request, float]:
    """The request of the data's row the model is least sure of (the first rows are
    answered with a confidence above any threshold), and a threshold above its confidence."""
    with prodml.Project(folder) as project:
        data, model = project.load_data(), project.load_model()
    confidence = model.predict_proba(data.X).max(axis=1)
    least = int(np.argmin(confidence))
    record = {str(name): float(value) for name, value in data.X.iloc[least].items()}
    body = json.dumps({"dataframe_records": [record]}).encode()
    sent = Request(record, body, load.lua_script(work / "unsure.lua", body))
    return sent, (1 + float(confidence[least])) / 2


def measured(
    url: str, folder: Path, sent: Request, above: float, seconds: int, pairs: int
) -> list[dict[str, Any]]:
    """``pairs`` pairs of wrk phases at full and at partial (every answer deferred)."""
    runs = []
    for number in range(pairs):
        pair: dict[str, Any] = {}
        order: tuple[Level, Level] = ("full", "partial") if number % 2 == 0 else ("partial", "full")
        for level in order:
            with prodml.Project(folder) as project:
                threshold = above if level == "partial" else None
                project.automate(project.name, level, defer_below=threshold, reason=REASON)
            time.sleep(SWITCH_SECONDS)
            print(f"  {level}, {seconds} s", file=sys.stderr)
            found = load.wrk(f"{url}/invocations", sent.script, seconds)
            pair[level] = {**found, "decided_by": decided_by(url, sent.body)}
        runs.append({"order": list(pair), **pair})
    return runs


def cost(pair: dict[str, Any]) -> float:
    """The share of full's requests a second that partial lost."""
    partial, full = pair["partial"]["requests_per_second"], pair["full"]["requests_per_second"]
    return 1.0 - float(partial) / float(full)


def section(result: dict[str, Any], command: str) -> str:
    lines = [
        TITLE,
        "",
        "Single-row MLflow requests under wrk, one server, its endpoint switched between "
        "`full` and `partial` automation in alternating phases (the order flips each pair). "
        "At `partial` the threshold is above every answer's confidence: each request is "
        "deferred and writes a review item beside its log row, the worst case.",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {machine()}; prodml {result['versions']['prodml']}",
        f"- Command: `{command}` at commit {result['commit']} (took {result['took']} s)",
        "",
        "| server | pair (first) | full: req/s | partial: req/s | cost | decided by |",
        "|---|---|---:|---:|---:|---|",
    ]
    verdicts = []
    for workers, runs in result["servers"].items():
        name = f"prodml, {workers} worker{'s' * (workers != '1')}"
        for i, pair in enumerate(runs, 1):
            lines.append(
                f"| {name} | {i} ({pair['order'][0]}) | {pair['full']['requests_per_second']:,.0f} "
                f"| {pair['partial']['requests_per_second']:,.0f} | {cost(pair):+.1%} "
                f"| {pair['full']['decided_by']} / {pair['partial']['decided_by']} |"
            )
        median = statistics.median(cost(pair) for pair in runs)
        lines.append(f"| {name} | **median** | | | **{median:+.1%}** | |")
        verdicts.append(f"{name}: {median:+.1%}, {'met' if median <= GOAL else 'not met'}")
    lines += [
        "",
        f"Goal (issue 13): `partial` costs at most {GOAL:.0%} of `full`'s throughput "
        f"(median of the pairs): {'; '.join(verdicts)}. A positive cost is throughput lost.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="seconds of each phase")
    parser.add_argument("--pairs", type=int, default=3, help="pairs of phases")
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(sys.stderr):
        work = Path(folder)
        project = prepare(work, WORKLOAD)
        sent, above = unsure(work, project)
        servers = {}
        for workers in WORKERS:
            port = free_port()
            command = [beside("prodml"), "serve", "--project", str(project), "--port", str(port)]
            command += ["--workers", str(workers)]
            with server(command, work / f"automation-{workers}.log", port) as (url, _):
                servers[str(workers)] = measured(
                    url, project, sent, above, args.seconds, args.pairs
                )
    result = {
        "versions": versions("prodml"),
        "commit": commit,
        "took": round(time.perf_counter() - started),
        "servers": servers,
    }
    shown = "python -m benchmarks.serving.bench_automation"
    if (args.seconds, args.pairs) != (15, 3):
        shown += f" --seconds {args.seconds} --pairs {args.pairs}"
    text = args.output.read_text() if args.output.exists() else "# Benchmarks\n"
    args.output.write_text(replace_section(text, TITLE, section(result, shown)))
    print(f"done; see {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
