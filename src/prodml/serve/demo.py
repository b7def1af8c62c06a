"""One request in each protocol to a real ``prodml serve``: the serving step of the demo."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prodml.errors import ProdmlError
from prodml.project import Project


def ask_each_protocol(folder: Path, project: Project) -> Iterator[tuple[str, str, str]]:
    """Serve the project's primary on a free loopback port and ask it once per protocol;
    yields (protocol, request, answer), and stops the server at the end."""
    data = project.load_data()
    record = json.loads(data.X.head(1).to_json(orient="records", date_format="iso"))[0]
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
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


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
