"""One request in each protocol to a real ``prodml serve``: the serving step of the demo."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from prodml.errors import ProdmlError
from prodml.project import Project


@contextlib.contextmanager
def serving(folder: Path) -> Iterator[str]:
    """Run ``prodml serve`` for the project in ``folder`` on a free loopback port until the
    block ends; yields its URL once it is ready."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from prodml.cli import main; main()", "serve", "--port", str(port)],
        cwd=folder,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, server)
        yield url
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def ask_each_protocol(url: str, project: Project) -> Iterator[tuple[str, str, str]]:
    """Ask the server at ``url`` for one prediction in each protocol; yields (protocol,
    request, answer)."""
    data = project.load_data()
    record = records(data.X.head(1))[0]
    name = project.name
    native = _post(f"{url}/predict", {"records": [record]})["predictions"][0]
    yield (
        "prodml",
        "POST /predict {records: [1 row]}",
        f"label {native['label']}, model {native['model']}",
    )
    mlflow = _post(f"{url}/invocations", {"dataframe_records": [record]})
    yield "MLflow", "POST /invocations {dataframe_records: [1 row]}", json.dumps(mlflow)
    inputs = [
        {
            "name": k,
            "shape": [1],
            "datatype": "BYTES" if isinstance(v, str) else "FP64",
            "data": [v],
        }
        for k, v in record.items()
    ]
    v2 = _post(f"{url}/v2/models/{name}/infer", {"id": "demo", "inputs": inputs})
    labels = next(o for o in v2["outputs"] if o["name"] == "label")
    yield (
        "V2",
        f"POST /v2/models/{name}/infer ({len(inputs)} input tensors)",
        f"label {labels['data']}",
    )


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON records (datetimes in ISO 8601)."""
    found: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return found


def send(url: str, rows: list[dict[str, Any]], per_request: int = 1) -> list[str]:
    """Ask ``/predict`` for every record of ``rows``, ``per_request`` at a time, as a client
    would; returns the request id of each answer, in order."""
    return [p["request_id"] for p in answers(url, rows, per_request)]


def answers(url: str, rows: list[dict[str, Any]], per_request: int = 1) -> list[dict[str, Any]]:
    """``/predict``'s answer to every record of ``rows``, asked ``per_request`` at a time:
    each with its request id, label and the model that answered."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(rows), per_request):
        answer = _post(f"{url}/predict", {"records": rows[start : start + per_request]})
        found.extend(answer["predictions"])
    return found


def model_loads(url: str) -> float:
    """How many model versions the server at ``url`` has loaded (``prodml_model_loads``)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("prodml_model_loads_total")
    )


def wait_until(ready: Callable[[], bool], what: str, seconds: float = 30) -> float:
    """Poll ``ready`` every 50 ms until it is true; the seconds it took. ``what`` names the
    wait in the error when ``seconds`` pass first."""
    started = time.perf_counter()
    while not ready():
        if time.perf_counter() - started > seconds:
            raise ProdmlError(f"gave up after {seconds:g} s waiting for {what}")
        time.sleep(0.05)
    return time.perf_counter() - started


def send_feedback(url: str, labels: list[tuple[str, Any]]) -> int:
    """POST the true labels to ``/feedback``; returns how many were stored."""
    body = {"feedback": [{"request_id": i, "label": label} for i, label in labels]}
    stored: int = _post(f"{url}/feedback", body)["stored"]
    return stored


def _post(url: str, payload: Any) -> Any:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait_ready(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ProdmlError(
                f"prodml serve stopped: {server.stderr.read() if server.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise ProdmlError("prodml serve did not get ready within 60 s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
