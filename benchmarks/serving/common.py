"""What both sides of the serving benchmark do the same way, without prodml or MLflow.

The two workloads (breast-cancer data, two models), the one-row request, a server's life
(start it in a session of its own, wait for ``/ping``, stop the whole session) and the
measurement of a running server. ``bench_prodml.py`` and ``bench_mlflow.py`` import this,
each in its own environment; the load generators are in :mod:`benchmarks.serving.load`.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.serving import load
from benchmarks.shared import versions

#: server processes tried on each side
WORKERS = (1, 2)
#: seconds of each measured load, and of the closed-loop warm-up before them
SECONDS, WARM_UP = 15, 3
#: open-loop rates, requests a second
RATES = (1000, 50)
#: ticks a second, the unit of the CPU times in /proc/stat
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: the CSV's columns that are not features
NOT_FEATURES = ("patient_id", "diagnosis")


@dataclass(frozen=True)
class Workload:
    """A model, as prodml.yaml names it (``model:``) and as scikit-learn builds it."""

    name: str
    yaml: str  # "" keeps the example's own model
    build: Callable[[], Any]


WORKLOADS = (
    Workload(
        "logistic-regression",
        "",
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    ),
    Workload(
        "gradient-boosting",
        "sklearn.ensemble.HistGradientBoostingClassifier",
        HistGradientBoostingClassifier,
    ),
)


def project_folder(work: Path, workload: Workload) -> Path:
    """Where bench_prodml.py makes a workload's project (and so its data file)."""
    return work / "prodml" / workload.name


def data_file(work: Path, workload: Workload) -> Path:
    return project_folder(work, workload) / "data" / "breast_cancer.csv"


def train_rows_file(work: Path, workload: Workload) -> Path:
    """The positions of prodml's training rows in the data file, saved by bench_prodml.py."""
    return work / f"{workload.name}.train.json"


@dataclass(frozen=True)
class Request:
    """What every request of a workload sends: the features of the data file's first row
    (patient 1) as MLflow's ``dataframe_records`` with one row (or of its first ``rows``
    rows: see :func:`request`); and wrk's script for it."""

    record: dict[str, float]
    body: bytes
    script: Path


def request(work: Path, workload: Workload, rows: int = 1) -> Request:
    """The request of ``rows`` rows (the data file's first ones, taken again from the top
    when it has fewer); ``record`` is the first."""
    with data_file(work, workload).open(newline="") as file:
        found = list(csv.DictReader(file))
    records = [
        {name: float(value) for name, value in row.items() if name not in NOT_FEATURES}
        for row in itertools.islice(itertools.cycle(found), rows)
    ]
    body = json.dumps({"dataframe_records": records}).encode()
    name = workload.name if rows == 1 else f"{workload.name}-{rows}-rows"
    return Request(records[0], body, load.lua_script(work / f"{name}.lua", body))


def beside(script: str) -> str:
    """The console script installed next to this interpreter (same environment)."""
    return str(Path(sys.executable).parent / script)


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


@contextlib.contextmanager
def server(command: list[str], log: Path, port: int) -> Iterator[tuple[str, int]]:
    """Start ``command`` (a server on ``port``) in a session of its own, wait until its
    ``/ping`` answers 200, and yield its URL and process group; on the way out, stop the
    whole group (the server and any worker processes): SIGTERM, then SIGKILL after 30 s."""
    url = f"http://127.0.0.1:{port}"
    # `mlflow models serve` starts `uvicorn` by name: this environment's, as if activated
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    print(f"  starting: {' '.join(command)}", file=sys.stderr)
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PATH": path},
        )
    try:
        deadline = time.monotonic() + 180
        while not _pings(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log.read_text().splitlines()[-30:])
                raise RuntimeError(f"{command[0]} did not start on port {port}:\n{tail}")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        _stop(process)


def each_server(
    work: Path,
    workload: Workload,
    side: str,
    command: Callable[[int, int], list[str]],
    measured: Callable[[str], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """For each number of WORKERS: start the server ``command(port, workers)`` (see
    :func:`server`; its output in WORK_DIR), ``measured(url)`` it, stop it; and how much CPU
    time the rest of the machine used meanwhile (:func:`others_cpu`, up to the moment the
    measurement ends and the server is told to stop)."""
    results = {}
    for workers in WORKERS:
        port = free_port()
        log = work / f"{side}-{workload.name}-{workers}.log"
        before, started = others_cpu(), time.perf_counter()
        with server(command(port, workers), log, port) as (url, group):
            result = measured(url)
            result["others_cpu_seconds"] = others_cpu(group) - before
            result["wall_seconds"] = time.perf_counter() - started
        results[str(workers)] = result
    return results


def others_cpu(group: int | None = None) -> float:
    """CPU seconds the machine has spent since boot outside this process, the children it
    has waited for and the processes of ``group`` (a running server's). The difference of
    two calls tells whether anything else ran during a measurement.

    The server's processes are counted while they run, not when they are waited for:
    ``mlflow models serve`` starts uvicorn and exits on SIGTERM without waiting for it.
    """
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    machine = (user + nice + system + irq + softirq + steal) / CLOCK_TICKS
    own = sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )
    return machine - own - (0.0 if group is None else group_cpu(group))


def group_cpu(group: int) -> float:
    """CPU seconds the processes of a process group have used, with their waited children."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (command)"
        except (OSError, IndexError):
            continue  # it exited meanwhile
        if int(fields[2]) == group:  # pgrp; then utime, stime, cutime, cstime
            ticks += sum(int(n) for n in fields[11:15])
    return ticks / CLOCK_TICKS


def _pings(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=5) as answer:
            status: int = answer.status
            return status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def ask(url: str, body: bytes) -> dict[str, Any]:
    """One request to ``/invocations``: its status and its JSON answer."""
    request = urllib.request.Request(
        f"{url}/invocations", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        return {"status": answer.status, "answer": json.loads(answer.read())}


def measure(url: str, request: Request) -> dict[str, Any]:
    """A running server under load: its first answer, its throughput and latency under
    wrk's closed loop (after a warm-up), its latency at each open-loop rate, and how many
    answers with status 200 it sent in all. Before each load one request must be answered,
    so that a server that fell behind finishes its backlog first."""
    invocations = f"{url}/invocations"
    first = ask(url, request.body)
    warm_up = load.wrk(invocations, request.script, WARM_UP)
    ask(url, request.body)
    print(f"  wrk, {SECONDS} s", file=sys.stderr)
    saturated = load.wrk(invocations, request.script, SECONDS)
    offered = {}
    for rate in RATES:
        ask(url, request.body)
        print(f"  open loop, {rate} requests/s, {SECONDS} s", file=sys.stderr)
        offered[str(rate)] = load.open_loop(invocations, request.body, rate, SECONDS)
    ok = 2 + len(RATES) + sum(run["ok"] for run in offered.values())
    ok += sum(run["requests"] - run["not_2xx"] for run in (warm_up, saturated))
    return {"first": first, "saturated": saturated, "offered": offered, "answered_200": ok}


def report(tool: str, result: Callable[[Path, Workload], dict[str, Any]]) -> None:
    """``main`` of a bench script: ``result(work, workload)`` of every workload, printed as
    one JSON object with the versions (``argv[1]`` is the work folder; stdout carries the
    JSON alone: whatever the tools print goes to stderr)."""
    work = Path(sys.argv[1]).resolve()
    with contextlib.redirect_stdout(sys.stderr):
        results = {
            "versions": versions(tool, "scikit-learn", "numpy", "pandas", "uvicorn"),
            "wrk": load.wrk_version(),
            "workloads": {w.name: result(work, w) for w in WORKLOADS},
        }
    print(json.dumps(results, indent=2))
