"""Serving with partial automation, measured: single-row requests a second under wrk with the
endpoint at ``full`` and at ``partial``, in alternating phases on the same server, and
the section "## Serving with partial automation" of docs/benchmarks.md written from them.

The project is the serving benchmark's (:func:`benchmarks.serving.bench_prodml.prepare`:
the breast-cancer example's logistic regression, version 1, the primary), measured in two
:func:`cases`: every answer deferred (each request writes a review item beside its log
row, the worst case), and a usual setting (10% deferred, 1% audited). For each number of
WORKERS one ``prodml serve`` runs throughout; the level is switched with
``Project.automate`` (what ``prodml automation`` does) and the load waits SWITCH_SECONDS
for the servers to pick it up; ``--pairs`` pairs of ``--seconds`` phases alternate their
order (full-partial, partial-full...). A request sent after each phase checks the level
in force (its ``X-Prodml-Decided-By``).

Requests a second on a 2-core machine shared with wrk move by 10% or more between two
phases at the same level, more than the cost to find. So the cases are also counted in
instructions, which other work does not move: ``--count-pairs`` pairs of phases on one
more server run by callgrind (:mod:`benchmarks.serving.callgrind`), its level checked
before each phase.

    python -m benchmarks.serving.bench_automation [--seconds 15] [--pairs 3]
        [--count-pairs 2] [--output FILE]
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import prodml
from benchmarks.serving import load
from benchmarks.serving.bench_prodml import prepare
from benchmarks.serving.callgrind import Counter, under_callgrind
from benchmarks.serving.common import (
    WORKERS,
    WORKLOADS,
    beside,
    free_port,
    group_cpu,
    others_cpu,
    server,
)
from benchmarks.shared import machine, replace_section, versions
from prodml.config import Level

WORKLOAD = WORKLOADS[0]
SWITCH_SECONDS = 3.0
TITLE = "## Serving with partial automation"
REASON = "a benchmark: it measures deferral's cost"
#: requests a phase under callgrind, and before it
COUNT_REQUESTS, COUNT_WARM_UP = 300, 30
LEVELS: tuple[Level, Level] = ("full", "partial")
#: the goal of issue 13: partial costs at most this share of full's throughput
GOAL = 0.05


def decided_by(url: str, body: bytes) -> str:
    """Who decided one request's answer (the header ``X-Prodml-Decided-By``)."""
    sent = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(sent, timeout=600) as answer:
        return str(answer.headers.get("X-Prodml-Decided-By"))


@dataclass(frozen=True)
class Case:
    """A load of requests at ``partial``: below ``defer_below`` a person decides (a
    ``deferred`` share of the answers), and ``audit_sample`` of the model's decisions are
    queued too."""

    name: str
    bodies: list[bytes]
    script: Path
    defer_below: float
    audit_sample: float
    deferred: float


def cases(work: Path, folder: Path) -> tuple[list[Case], bytes]:
    """The worst case (every request is the data's row the model is least sure of, with
    the threshold above its confidence) and a usual one (every row of the data in turn,
    the threshold at the 10th percentile of their confidence, 1% audited); and the least
    sure row's request, which a person decides in both."""
    with prodml.Project(folder) as project:
        data, model = project.load_data(), project.load_model()
    confidence = model.predict_proba(data.X).max(axis=1)
    records = [
        {str(name): float(value) for name, value in row.items()} for _, row in data.X.iterrows()
    ]
    bodies = [json.dumps({"dataframe_records": [record]}).encode() for record in records]
    least = int(np.argmin(confidence))
    tenth = float(np.quantile(confidence, 0.10))
    return [
        Case(
            "every answer deferred",
            [bodies[least]],
            load.lua_script(work / "unsure.lua", bodies[least]),
            (1 + float(confidence[least])) / 2,
            0.0,
            1.0,
        ),
        Case(
            "10% deferred, 1% audited",
            bodies,
            load.lua_rotation(work / "rows.lua", bodies),
            tenth,
            0.01,
            float(np.mean(confidence < tenth)),
        ),
    ], bodies[least]


def switch(folder: Path, level: Level, case: Case) -> None:
    """Set the endpoint's level as ``prodml automation`` does: ``partial`` at the case's
    threshold and audit sample."""
    with prodml.Project(folder) as project:
        if level == "partial":
            project.automate(
                project.name,
                level,
                defer_below=case.defer_below,
                audit_sample=case.audit_sample,
                reason=REASON,
            )
        else:
            project.automate(project.name, level, reason=REASON)


def orders(pairs: int) -> list[tuple[Level, Level]]:
    """The levels of each pair, the order flipping each pair."""
    return [("full", "partial") if n % 2 == 0 else ("partial", "full") for n in range(pairs)]


def measured(
    url: str, group: int, folder: Path, case: Case, check: bytes, seconds: int, pairs: int
) -> list[dict[str, Any]]:
    """``pairs`` pairs of wrk phases at full and at partial, with the CPU time the
    server's processes (process ``group``) spent a request, and what the rest of the
    machine spent meanwhile."""
    runs = []
    for order in orders(pairs):
        pair: dict[str, Any] = {}
        for level in order:
            switch(folder, level, case)
            time.sleep(SWITCH_SECONDS)
            print(f"  {case.name}: {level}, {seconds} s", file=sys.stderr)
            before, others = group_cpu(group), others_cpu(group)
            found = load.wrk(f"{url}/invocations", case.script, seconds)
            spent = group_cpu(group) - before
            pair[level] = {
                **found,
                "cpu_ms_per_request": 1000 * spent / max(found["requests"], 1),
                "others_cpu_seconds": others_cpu(group) - others,
                "decided_by": decided_by(url, check),
            }
        runs.append({"order": list(pair), **pair})
    return runs


def counted(
    url: str, counter: Counter, folder: Path, case: Case, check: bytes, requests: int, pairs: int
) -> list[dict[str, Any]]:
    """``pairs`` pairs of phases at full and at partial on a server under callgrind, each
    ``requests`` requests sent one after another (the case's bodies in turn, after a
    warm-up): the server's instructions a request, less its idle work during the phase."""
    idle = counter.idle_rate()
    runs = []
    for order in orders(pairs):
        pair: dict[str, Any] = {}
        for level in order:
            switch(folder, level, case)
            expected = "model" if level == "full" else "person"  # the check's row: unsure
            while decided_by(url, check) != expected:  # until the server applies it
                time.sleep(0.5)
            print(f"  {case.name}: {level}, {requests} requests counted", file=sys.stderr)
            send(url, case.bodies, COUNT_WARM_UP)
            instructions, seconds = counter.count(lambda: send(url, case.bodies, requests))
            pair[level] = {
                "instructions_per_request": (instructions - idle * seconds) / requests,
                "idle_share": idle * seconds / instructions,
            }
        runs.append({"order": list(pair), **pair})
    return runs


def counted_on_one(
    work: Path, project: Path, measured_cases: list[Case], check: bytes, pairs: int
) -> dict[str, list[dict[str, Any]]]:
    """:func:`counted` for each case, on one server (1 worker) under callgrind."""
    if not pairs:
        return {}
    port = free_port()
    command = [sys.executable, beside("prodml"), "serve", "--project", str(project)]
    command = under_callgrind([*command, "--port", str(port), "--workers", "1"], work)
    with server(command, work / "automation-callgrind.log", port) as (url, pid):
        counter = Counter(pid, work)
        return {
            case.name: counted(url, counter, project, case, check, COUNT_REQUESTS, pairs)
            for case in measured_cases
        }


def send(url: str, bodies: list[bytes], requests: int) -> None:
    """``requests`` requests to /invocations, one after another, ``bodies`` in turn."""
    for number in range(requests):
        decided_by(url, bodies[number % len(bodies)])


def cost(pair: dict[str, Any]) -> float:
    """The share of full's requests a second that partial lost."""
    partial, full = pair["partial"]["requests_per_second"], pair["full"]["requests_per_second"]
    return 1.0 - float(partial) / float(full)


def cpu_cost(pair: dict[str, Any]) -> float:
    """How much more CPU time a request took at partial than at full."""
    partial, full = pair["partial"]["cpu_ms_per_request"], pair["full"]["cpu_ms_per_request"]
    return float(partial) / float(full) - 1.0


def section(result: dict[str, Any], command: str) -> str:
    lines = [
        TITLE,
        "",
        "Single-row MLflow requests under wrk, one server, its endpoint switched between "
        "`full` and `partial` automation in alternating phases (the order flips each pair). "
        "Two cases: every request is the row the model is least sure of, with the "
        "threshold above its confidence, so each answer is deferred and queued for review "
        "(the worst case); and every row of the data in turn, with the threshold at the "
        "10th percentile of their confidence and 1% of the model's decisions audited (a "
        "usual setting). The share of deferred answers is that of the rows below the "
        "threshold. Beside the throughput, the CPU time the server's processes spent a "
        "request (less sensitive than throughput to other work on the machine, whose CPU "
        "seconds during the pair are shown).",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Machine: {machine()}; prodml {result['versions']['prodml']}",
        f"- Command: `{command}` at commit {result['commit']} (took {result['took']} s)",
        "",
        "| server | case | pair (first) | full: req/s | partial: req/s | cost "
        "| CPU ms/req, full / partial | CPU cost | others' CPU s | decided by |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    verdicts = []
    for workers, measured_cases in result["servers"].items():
        name = f"prodml, {workers} worker{'s' * (workers != '1')}"
        for case, runs in measured_cases.items():
            for i, pair in enumerate(runs, 1):
                full, partial = pair["full"], pair["partial"]
                others = full["others_cpu_seconds"] + partial["others_cpu_seconds"]
                lines.append(
                    f"| {name} | {case} | {i} ({pair['order'][0]}) "
                    f"| {full['requests_per_second']:,.0f} "
                    f"| {partial['requests_per_second']:,.0f} | {cost(pair):+.1%} "
                    f"| {full['cpu_ms_per_request']:.3f} / {partial['cpu_ms_per_request']:.3f} "
                    f"| {cpu_cost(pair):+.1%} | {others:.1f} "
                    f"| {full['decided_by']} / {partial['decided_by']} |"
                )
            median = statistics.median(cost(pair) for pair in runs)
            cpu = statistics.median(cpu_cost(pair) for pair in runs)
            lines.append(
                f"| {name} | {case} | **median** | | | **{median:+.1%}** | | **{cpu:+.1%}** | | |"
            )
            verdict = "met" if median <= GOAL else "not met"
            verdicts.append(f"{name}, {case}: {median:+.1%}, {verdict}")
    shares = ", ".join(f"{name}: {share:.1%}" for name, share in result["deferred"].items())
    lines += [
        "",
        f"Deferred answers at `partial`: {shares}.",
        "",
        *counted_lines(result["counted"]),
        f"Goal (issue 13): `partial` costs at most {GOAL:.0%} of `full`'s throughput "
        f"(median of the pairs): {'; '.join(verdicts)}. A positive cost is throughput lost.",
        "",
    ]
    if result["counted"]:
        counts = (
            f"{case}: {instruction_cost(runs):+.1%}, "
            f"{'met' if instruction_cost(runs) <= GOAL else 'not met'}"
            for case, runs in result["counted"].items()
        )
        lines[-1:] = [f"In instructions a request (median of the pairs): {'; '.join(counts)}.", ""]
    return "\n".join(lines)


def counted_lines(counted_cases: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The table of instructions a request, with what it measures; none without pairs."""
    if not counted_cases:
        return []
    phases = [pair[level] for runs in counted_cases.values() for pair in runs for level in LEVELS]
    idle = max(phase["idle_share"] for phase in phases)
    lines = [
        "The same cases counted in instructions: one more server (1 worker) run by "
        "`valgrind --tool=callgrind` (`benchmarks/serving/callgrind.py`), "
        f"{COUNT_REQUESTS} requests a phase sent one after another after "
        f"{COUNT_WARM_UP} uncounted ones; the server's instructions (every thread) a "
        "request, less what it runs while idle (the log's checkpoints, the deployment's "
        f"refresh: at most {idle:.1%} of a phase's count). Unlike requests a second, this "
        "count does not move with other work on the machine, so a cost of a few percent "
        "shows; it leaves out waiting (locks, the disk), which a single-row server hardly "
        "does.",
        "",
        "| case | pair (first) | full: instructions/req | partial: instructions/req | cost |",
        "|---|---|---:|---:|---:|",
    ]
    for case, runs in counted_cases.items():
        for i, pair in enumerate(runs, 1):
            full, partial = (pair[level]["instructions_per_request"] for level in LEVELS)
            lines.append(
                f"| {case} | {i} ({pair['order'][0]}) | {full:,.0f} | {partial:,.0f} "
                f"| {partial / full - 1:+.1%} |"
            )
        lines.append(f"| {case} | **median** | | | **{instruction_cost(runs):+.1%}** |")
    return [*lines, ""]


def instruction_cost(runs: list[dict[str, Any]]) -> float:
    """The median over the pairs of how many more instructions partial ran a request."""
    return statistics.median(
        float(pair["partial"]["instructions_per_request"])
        / float(pair["full"]["instructions_per_request"])
        - 1
        for pair in runs
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="seconds of each phase")
    parser.add_argument("--pairs", type=int, default=3, help="pairs of phases")
    parser.add_argument(
        "--count-pairs", type=int, default=2, help="pairs of phases counted by callgrind (0: none)"
    )
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    started = time.perf_counter()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(sys.stderr):
        work = Path(folder)
        project = prepare(work, WORKLOAD)
        measured_cases, check = cases(work, project)
        servers: dict[str, dict[str, Any]] = {}
        for workers in WORKERS:
            port = free_port()
            command = [beside("prodml"), "serve", "--project", str(project), "--port", str(port)]
            command += ["--workers", str(workers)]
            with server(command, work / f"automation-{workers}.log", port) as (url, group):
                servers[str(workers)] = {
                    case.name: measured(url, group, project, case, check, args.seconds, args.pairs)
                    for case in measured_cases
                }
        counted_cases = counted_on_one(work, project, measured_cases, check, args.count_pairs)
    result = {
        "versions": versions("prodml"),
        "commit": commit,
        "took": round(time.perf_counter() - started),
        "servers": servers,
        "counted": counted_cases,
        "deferred": {case.name: case.deferred for case in measured_cases},
    }
    shown = "python -m benchmarks.serving.bench_automation"
    if (args.seconds, args.pairs, args.count_pairs) != (15, 3, 2):
        shown += f" --seconds {args.seconds} --pairs {args.pairs}"
        shown += f" --count-pairs {args.count_pairs}"
    text = args.output.read_text() if args.output.exists() else "# Benchmarks\n"
    args.output.write_text(replace_section(text, TITLE, section(result, shown)))
    print(f"done; see {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
