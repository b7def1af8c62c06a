"""Serving with a shadow, measured: the primary's latency at a fixed rate without and with a
shadow candidate, in alternating phases on the same server. Prints one JSON object.

The project is the serving benchmark's (:func:`benchmarks.serving.bench_prodml.prepare`:
the breast-cancer example's logistic regression, fitted and registered as version 1, the
primary); the same model is fitted again and registered as version 2, the candidate. For
each number of WORKERS one ``prodml serve`` runs for the whole measurement, and the
candidate is switched in and out beside it (``deploy NAME:2 --shadow`` and
``deploy NAME --stop``, as library calls); a running server picks a change up within its
``reload_seconds`` (1 s), so after each switch the load waits SWITCH_SECONDS.

Before the phases, a warm-up with the shadow on, repeated until the shadow logged a row
for every primary row (so every worker has loaded version 2; it stays loaded, and later
switches load nothing). Then ``--pairs`` pairs of open-loop phases at ``--rate`` requests a
second for ``--seconds`` each, one without the shadow and one with it, the order alternating
from pair to pair (off-on, on-off, ...) so that a drift of the machine's load does not
always favour the same side. Per phase: the open loop's latencies, the rows the prediction
log gained by role (``primary``, ``shadow``), the rows the shadow dropped as the servers'
``/metrics`` count them (``prodml_shadow_dropped_rows``), the version and role that
answered a request sent after the phase (headers ``X-Prodml-Model``, ``X-Prodml-Role``),
and the CPU the rest of the machine used meanwhile.

    python -m benchmarks.serving.bench_shadow WORK_DIR [--seconds 20] [--pairs 3] [--rate 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sqlite3
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prodml
from benchmarks.serving import load
from benchmarks.serving.bench_prodml import prepare, prodml_cli
from benchmarks.serving.common import (
    WORKERS,
    WORKLOADS,
    Request,
    beside,
    free_port,
    others_cpu,
    request,
    server,
)
from benchmarks.shared import versions

#: the example's own model (a scaled logistic regression), primary and candidate alike
WORKLOAD = WORKLOADS[0]
REASON = "a benchmark: it measures the shadow's cost, not the model"
#: seconds to wait after a deployment change: the servers look for one every second
SWITCH_SECONDS = 3.0
#: the warm-up with the shadow on: seconds of load, and how many tries before giving up
WARM_UP, WARM_UP_TRIES = 3.0, 10
#: reads of /metrics after each phase, and what they look for in it
SCRAPES = 10
MLFLOW_REQUESTS = r'^prodml_requests_total\{[^}]*protocol="mlflow"[^}]*\} (\S+)$'
DROPPED = r"^prodml_shadow_dropped_rows_total\{[^}]*\} (\S+)$"
#: a phase's results: the open loop's counts and percentiles, the rows logged, the drops
Phase = dict[str, Any]
#: what a phase keeps of what the open loop returns
LOAD_KEYS = ("requests", "ok", "not_200", "broken", "unanswered", "p50", "p90", "p99")


def roles(folder: Path) -> dict[str, int]:
    """Rows of the project's prediction log by role (primary, shadow)."""
    with contextlib.closing(sqlite3.connect(folder / ".prodml" / "prodml.db")) as database:
        found = database.execute(
            "select s.role, count(*) from predictions p "
            "join log_streams s on s.id = p.stream_id group by s.role"
        ).fetchall()
    return {"primary": 0, "shadow": 0, **dict(found)}


def gained(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {role: after[role] - before.get(role, 0) for role in after}


def answered_by(url: str, body: bytes) -> dict[str, Any]:
    """One request to ``/invocations``: its status, answer, and the version and role that
    answered it (waits for the server's queue: it comes after everything sent before)."""
    sent = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(sent, timeout=120) as answer:
        return {
            "status": answer.status,
            "answer": json.loads(answer.read()),
            "model": answer.headers.get("X-Prodml-Model"),
            "role": answer.headers.get("X-Prodml-Role"),
        }


def dropped(url: str) -> dict[str, Any]:
    """The rows the shadow dropped, from ``/metrics``, summed over the workers heard.

    Each worker has its own counters, and whichever accepts the connection answers: when
    the server is idle the kernel hands nearly every new connection to the same worker, so
    with several workers the others may not be heard (the prediction log's rows by role
    are the check that covers every worker). /metrics is read SCRAPES times on new
    connections; a worker is told from another by its count of MLflow requests, which does
    not move while no load runs."""
    heard: dict[float, float] = {}
    for _ in range(SCRAPES):
        with urllib.request.urlopen(f"{url}/metrics", timeout=30) as answer:
            shown = answer.read().decode()
        served = sum(float(n) for n in re.findall(MLFLOW_REQUESTS, shown, re.M))
        heard[served] = sum(float(n) for n in re.findall(DROPPED, shown, re.M))
    return {"rows": round(sum(heard.values())), "workers_heard": len(heard)}


@dataclass(frozen=True)
class Server:
    """A running ``prodml serve``: its URL and process group, its project, the request."""

    url: str
    group: int
    folder: Path
    sent: Request


class Lineup:
    """The endpoint's shadow candidate, switched on and off through the project's registry."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with prodml.Project(folder) as project:
            self.endpoint = project.name
        self.on = False

    def switch(self, on: bool) -> None:
        if on == self.on:
            return
        with prodml.Project(self.folder) as project:
            deployer = project.deployer()
            if on:
                deployer.deploy(f"{self.endpoint}:2", "shadow", force=True, reason=REASON)
            else:
                deployer.stop(self.endpoint, reason=REASON)
        self.on = on
        time.sleep(SWITCH_SECONDS)


def settled(running: Server) -> dict[str, Any]:
    """:func:`answered_by` of one request once the load has stopped, and a moment more:
    the shadow's copies of the last answers are predicted after those answers."""
    last = answered_by(running.url, running.sent.body)
    time.sleep(0.5)
    return last


def warm_up(running: Server, rate: float) -> int:
    """Open-loop load with the shadow on until the shadow logged a row for every primary
    row of a try (every worker has loaded it); the tries it took."""
    for tries in range(1, WARM_UP_TRIES + 1):
        before = roles(running.folder)
        load.open_loop(f"{running.url}/invocations", running.sent.body, rate, WARM_UP)
        settled(running)
        rows = gained(before, roles(running.folder))
        if rows["primary"] and rows["shadow"] == rows["primary"]:
            return tries
    raise RuntimeError(f"the shadow did not see every request after {WARM_UP_TRIES} tries")


def phase(running: Server, on: bool, rate: float, seconds: float) -> Phase:
    """One open-loop run with the shadow ``on`` or not, and what it left behind."""
    shown = f"{'with' if on else 'without'} a shadow, {rate:g} requests/s, {seconds:g} s"
    print(f"  {shown}", file=sys.stderr)
    url, folder, body = running.url, running.folder, running.sent.body
    drops, rows = dropped(url), roles(folder)
    before, started = others_cpu(running.group), time.perf_counter()
    answered = load.open_loop(f"{url}/invocations", body, rate, seconds)
    wall = time.perf_counter() - started
    others = others_cpu(running.group) - before
    last = settled(running)
    after = dropped(url)
    return {
        **{key: answered[key] for key in LOAD_KEYS},
        "logged": gained(rows, roles(folder)),
        "dropped": after["rows"] - drops["rows"],
        "workers_heard": min(drops["workers_heard"], after["workers_heard"]),
        "answered_by": {key: last[key] for key in ("status", "model", "role")},
        "others_cpu_seconds": others,
        "wall_seconds": wall,
    }


def measured(
    running: Server, lineup: Lineup, rate: float, seconds: float, pairs: int
) -> dict[str, Any]:
    """The warm-up, then ``pairs`` pairs of phases; the shadow is off again at the end."""
    first = answered_by(running.url, running.sent.body)
    lineup.switch(True)
    tries = warm_up(running, rate)
    runs = []
    for number in range(pairs):
        pair: dict[str, Phase] = {}
        for on in (False, True) if number % 2 == 0 else (True, False):
            lineup.switch(on)
            pair["with" if on else "without"] = phase(running, on, rate, seconds)
        runs.append({"order": list(pair), **pair})
    lineup.switch(False)
    return {"first": first, "warm_up_tries": tries, "pairs": runs}


def shadow(work: Path, rate: float, seconds: float, pairs: int) -> dict[str, Any]:
    """The project and its candidate, then a server of each number of WORKERS measured."""
    print(f"prodml with a shadow, {WORKLOAD.name}", file=sys.stderr)
    folder = prepare(work, WORKLOAD)
    prodml_cli("fit", "--project", str(folder))  # the same model again: the candidate
    prodml_cli("models", "register", "--force", "--reason", REASON, "--project", str(folder))
    sent, lineup = request(work, WORKLOAD), Lineup(folder)
    results = {}
    for workers in WORKERS:
        port = free_port()
        serve = [beside("prodml"), "serve", "--project", str(folder), "--port", str(port)]
        command = [*serve, "--workers", str(workers)]
        with server(command, work / f"shadow-{workers}.log", port) as (url, group):
            running = Server(url, group, folder, sent)
            results[str(workers)] = measured(running, lineup, rate, seconds, pairs)
    return {
        "versions": versions("prodml", "uvicorn", "scikit-learn", "numpy", "pandas"),
        "workload": WORKLOAD.name,
        "rate": rate,
        "seconds": seconds,
        "servers": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, help="a folder for the project and the servers' logs")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of each phase")
    parser.add_argument("--pairs", type=int, default=3, help="pairs of phases, without and with")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests a second")
    args = parser.parse_args()
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON alone
        result = shadow(args.work.resolve(), args.rate, args.seconds, args.pairs)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
